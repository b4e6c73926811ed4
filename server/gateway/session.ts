/**
 * One gateway session's MCP server (issue 15; MCP 2025-11-25, the SDK's low-level `Server`):
 * what a client sees of the caller's servers and how its requests reach them. The session's
 * {@link GatewayNaming} says which servers it serves and under which names: all of the token's,
 * namespaced (`/mcp`), or one, under its own names and URIs (`/mcp/servers/<id>`); everything
 * else below is the same for both.
 *
 * - `tools/list`, `prompts/list`, `resources/list`, `resources/templates/list`: the served
 *   servers' entries, limited to the token's servers, paged (`catalog.ts`); tools withheld until
 *   approved (tool pinning, issue 16) are neither listed nor callable (a call says why).
 * - `tools/call`: through the shared supervised connection, with the server's tool policy: a
 *   tool that needs confirmation (`needsConfirmation`, the voice agent's rule) is confirmed
 *   through elicitation when the client declared it, and refused with a readable tool error
 *   otherwise. Progress is relayed to the client's progress token, the client's cancellation to
 *   the server, and the result is returned as the server gave it, its resource links under
 *   the session's URIs (so the client can read them back). Each call is audited.
 * - Elicitation: a server's `elicitation/create` during a call is relayed to the client that made
 *   the call (as a request related to that call), in the modes the client declared, and its
 *   answer back; `notifications/elicitation/complete` of an accepted URL-mode request follows.
 *   A client that did not declare the mode gets the server `decline`d. The upstream connection is
 *   shared by the user's sessions, and MCP does not say which request an elicitation belongs to:
 *   it goes to the oldest call in flight on that server that is not already answering one
 *   (`CallToolOptions.onElicitation`), which is the right one whenever a server has one call at a
 *   time from this user.
 * - Sampling: a server's `sampling/createMessage` during a call is relayed to the client that made
 *   the call when it declared sampling, and the client's result (or error) back; otherwise the
 *   server gets an error. Attributed to a call like an elicitation (`CallToolOptions.onSampling`).
 * - Logging: a server's log messages (`notifications/message`) during a call are relayed to the
 *   client as notifications related to that call, at or above the level the client set with
 *   `logging/setLevel` (all of them until it sets one); the upstream's own level is not changed
 *   (its connection is shared). Attributed to a call like an elicitation: the oldest call in
 *   flight on that server (`CallToolOptions.onLog`). Messages outside any call are not relayed.
 * - `resources/read` and `prompts/get`: routed back to their server by URI or name.
 * - `notifications/*_list_changed` when the user's servers or their tools change.
 */
import type { RequestHandlerExtra } from '@modelcontextprotocol/sdk/shared/protocol.js';
import { getSupportedElicitationModes } from '@modelcontextprotocol/sdk/client/index.js';
import { Server } from '@modelcontextprotocol/sdk/server/index.js';
import {
  CallToolRequestSchema,
  CreateMessageResultSchema,
  CreateMessageResultWithToolsSchema,
  ElicitResultSchema,
  ErrorCode,
  GetPromptRequestSchema,
  ListPromptsRequestSchema,
  ListResourceTemplatesRequestSchema,
  ListResourcesRequestSchema,
  ListToolsRequestSchema,
  LoggingLevelSchema,
  McpError,
  ReadResourceRequestSchema,
  UrlElicitationRequiredError,
  SetLevelRequestSchema,
  type CallToolResult,
  type LoggingLevel,
  type LoggingMessageNotification,
  type Prompt,
  type ServerNotification,
  type ServerRequest,
  type Resource,
  type ResourceTemplate,
} from '@modelcontextprotocol/sdk/types.js';
import type { ToolCallRecord } from '../../shared/db/tool-calls.js';
import { describeError } from '../../shared/errors.js';
import type { Logger } from '../../shared/logger.js';
import { McpConnectionError } from '../../shared/mcp/errors.js';
import type { ElicitationHandler } from '../../shared/mcp/elicitation.js';
import type { SamplingHandler } from '../../shared/mcp/connection.js';
import { needsConfirmation } from '../../shared/mcp/tool-policy.js';
import {
  AGGREGATE_NAMING,
  gatewayTools,
  listedTool,
  pageOf,
  withheldGatewayTools,
  type GatewayNaming,
  type GatewayTool,
  type WithheldGatewayTool,
} from './catalog.js';
import { describeChanges } from '../../shared/mcp/tool-pinning.js';
import type { Upstream, UserUpstreams } from './upstreams.js';

/** What the gateway calls itself in `initialize`. */
export const GATEWAY_SERVER_INFO = { name: 'switchboard', title: 'Switchboard', version: '0.1.0' };

/** Longest wait for the client's answer to a confirmation, in milliseconds: 2 minutes. */
export const CONFIRMATION_TIMEOUT_MS = 120_000;

/** Longest wait for the client's answer to a server's relayed elicitation, in ms: 10 minutes. */
export const ELICITATION_RELAY_TIMEOUT_MS = 10 * 60_000;

/**
 * Longest wait for the client's answer to a server's relayed sampling request, in ms: 10 minutes
 * (the client may ask its user to review the prompt and the completion first).
 */
export const SAMPLING_RELAY_TIMEOUT_MS = 10 * 60_000;

/** Who a session acts for. */
export interface GatewayCallerScope {
  userId: number;
  /** The API token's label, recorded with each call. */
  tokenLabel: string;
  /** The server ids the token may use; `null` for all of the user's servers. */
  servers: ReadonlySet<number> | null;
}

/** Options of {@link createGatewayServer}. */
export interface GatewayServerOptions {
  caller: GatewayCallerScope;
  upstreams: UserUpstreams;
  /**
   * Resolves when the servers this session serves were read and first tried (the lease's
   * `ready`, `UpstreamPool.acquire`).
   */
  upstreamsReady: Promise<void>;
  /** Takes each finished call's audit row (the gateway's `ToolCallBatcher`). */
  audit: (record: ToolCallRecord) => void;
  logger: Logger;
  /** The MCP session id, once the transport has one (recorded with each call). */
  sessionId: () => string | undefined;
  /** Called on every request the session answers (idle expiry). */
  onActivity?: () => void;
  /**
   * Which servers the session serves and how it names them: {@link AGGREGATE_NAMING} (the
   * default, `/mcp`) or `singleServerNaming(id)` (`/mcp/servers/<id>`).
   */
  naming?: GatewayNaming;
}

/** The `instructions` of an aggregate session. */
const AGGREGATE_INSTRUCTIONS =
  "Switchboard's MCP gateway: the tools, resources and prompts of your Switchboard MCP servers. " +
  'Tool names are <server>__<tool>; resource URIs are switchboard://server/<id>/<uri>.';

/** The `instructions` of a per-server session. */
const SINGLE_SERVER_INSTRUCTIONS =
  "Switchboard's MCP gateway for one of your Switchboard MCP servers: its tools, resources " +
  'and prompts under their own names and URIs.';

/**
 * Makes the SDK `Server` of one session. Connect it to the session's transport; close it (the
 * transport's close) to end the session. It stops following the upstreams when closed.
 */
export function createGatewayServer(options: GatewayServerOptions): Server {
  const { caller, upstreams, logger } = options;
  const naming = options.naming ?? AGGREGATE_NAMING;
  const server = new Server(GATEWAY_SERVER_INFO, {
    capabilities: {
      tools: { listChanged: true },
      resources: { listChanged: true },
      prompts: { listChanged: true },
      logging: {},
    },
    instructions: naming.serverId === null ? AGGREGATE_INSTRUCTIONS : SINGLE_SERVER_INSTRUCTIONS,
  });

  /** True for the servers this session serves: its token's, and its one server's. */
  const serves = (serverId: number) =>
    (caller.servers === null || caller.servers.has(serverId)) &&
    (naming.serverId === null || serverId === naming.serverId);
  const allowed = (upstream: Upstream) => serves(upstream.row.id);
  /**
   * Why a per-server session's server is not served now (deleted, deactivated, or skipped by
   * the upstreams, e.g. a configuration that cannot be used), for the answer of a request that
   * needs it; `undefined` when it is served, and always for an aggregate session. Asked after
   * {@link served}, once the servers were read.
   */
  const unavailable = (): string | undefined => {
    const id = naming.serverId;
    if (id === null || upstreams.servers.some((upstream) => upstream.row.id === id)) {
      return undefined;
    }
    const skipped = upstreams.skipped.find((entry) => entry.serverId === id);
    return skipped
      ? `the server ${skipped.name} is not served through the gateway: ${skipped.reason}`
      : `the server ${id} is no longer served through the gateway: it was deleted or deactivated in Switchboard`;
  };
  let ready = false;
  /** The user's servers once their first connections were tried (only the first list waits). */
  const served = async (): Promise<Upstream[]> => {
    options.onActivity?.();
    if (!ready) {
      // A per-server session also waits for its one server (which may be new to the upstreams).
      const read = options.upstreamsReady;
      await (naming.serverId === null ? read : upstreams.settle(naming.serverId, read));
      ready = true;
    }
    return upstreams.servers.filter(allowed);
  };
  /** The session's tools, named once and kept until the upstreams change (not per call). */
  let catalogue: GatewayTool[] | undefined;
  const tools = async () => {
    await served();
    return (catalogue ??= gatewayTools(upstreams.servers, caller.servers, naming));
  };

  // Tell the client when what it lists may have changed (only once initialized).
  const unsubscribe = upstreams.onChange((change, serverIds) => {
    // Another session's servers (opened for it, or their tools) change nothing listed here.
    if (serverIds && ![...serverIds].some(serves)) return;
    catalogue = undefined;
    if (!server.transport) return;
    const send = (notify: () => Promise<void>) =>
      void notify().catch((error: unknown) =>
        logger.debug({ err: error }, 'cannot send a list_changed notification'),
      );
    send(() => server.sendToolListChanged());
    if (change === 'servers') {
      send(() => server.sendResourceListChanged());
      send(() => server.sendPromptListChanged());
    }
  });
  server.onclose = () => unsubscribe();

  // The client's logging level (replacing the SDK's own handler, whose filter only its
  // `sendLoggingMessage` applies); relayed messages below it are not sent.
  let logLevel: LoggingLevel | undefined;
  server.setRequestHandler(SetLevelRequestSchema, (request) => {
    logLevel = request.params.level;
    return {};
  });
  const relayLog =
    (extra: RequestHandlerExtra<ServerRequest, ServerNotification>) =>
    (message: LoggingMessageNotification['params']) => {
      if (logLevel !== undefined && severity(message.level) < severity(logLevel)) return;
      void extra
        .sendNotification({ method: 'notifications/message', params: message })
        .catch(() => undefined);
    };

  server.setRequestHandler(ListToolsRequestSchema, async (request) => {
    const page = pageOf(await tools(), request.params?.cursor);
    return { tools: page.items.map(listedTool), nextCursor: page.nextCursor };
  });

  server.setRequestHandler(CallToolRequestSchema, async (request, extra) => {
    const name = request.params.name;
    const entry = (await tools()).find((tool) => tool.name === name);
    if (!entry) {
      const withheld = withheldGatewayTools(upstreams.servers, caller.servers, naming).find(
        (tool) => tool.name === name,
      );
      if (withheld) throw new McpError(ErrorCode.InvalidParams, withheldToolAnswer(withheld));
      const why = unavailable();
      throw new McpError(ErrorCode.InvalidParams, `Unknown tool: ${name}${why ? `: ${why}` : ''}`);
    }
    const { upstream, tool } = entry;
    if (needsConfirmation(tool, upstream.row.toolPolicy)) {
      const refusal = await confirm(server, entry, extra);
      if (refusal) return refusal;
    }
    const progressToken = request.params._meta?.progressToken;
    const startedAt = new Date();
    const started = performance.now();
    let ok = false;
    let error: string | null = null;
    try {
      const result = await upstream.connection.callTool(tool.name, request.params.arguments ?? {}, {
        signal: extra.signal,
        onElicitation: relayElicitation(server, extra, logger),
        onSampling: relaySampling(server, extra),
        onLog: relayLog(extra),
        onProgress:
          progressToken === undefined
            ? undefined
            : (progress) =>
                void extra
                  .sendNotification({
                    method: 'notifications/progress',
                    params: { ...progress, progressToken },
                  })
                  .catch(() => undefined),
      });
      ok = result.isError !== true;
      if (!ok) error = firstText(result) ?? 'the tool reported an error';
      return withGatewayUris(result, upstream.row.id, naming);
    } catch (thrown) {
      error = describeError(thrown);
      if (extra.signal.aborted) throw thrown;
      const pages = thrown instanceof McpConnectionError ? thrown.urlElicitations : undefined;
      const modes = getSupportedElicitationModes(server.getClientCapabilities()?.elicitation);
      if (pages && modes.supportsUrlMode) {
        // The server needs the user on a web page first (MCP 2025-11-25, -32042): passed on as
        // the same error, for the client to show the pages and retry.
        throw new UrlElicitationRequiredError(
          pages.map((page) => ({ mode: 'url' as const, ...page })),
          `${upstream.row.name} needs the user to open a page before ${tool.name} can run`,
        );
      }
      return toolError(`${tool.name} on ${upstream.row.name} failed: ${callFailure(thrown)}`);
    } finally {
      options.audit({
        userId: caller.userId,
        serverId: upstream.row.id,
        toolName: tool.name,
        roomName: null,
        sessionId: options.sessionId() ?? null,
        startedAt,
        durationMs: Math.round(performance.now() - started),
        ok,
        error,
        source: 'gateway',
        tokenLabel: caller.tokenLabel,
      });
    }
  });

  server.setRequestHandler(ListPromptsRequestSchema, async (request) => {
    const prompts = await promptsOf(await served(), naming);
    const page = pageOf(prompts, request.params?.cursor);
    return { prompts: page.items.map((entry) => entry.prompt), nextCursor: page.nextCursor };
  });

  server.setRequestHandler(GetPromptRequestSchema, async (request) => {
    const prompts = await promptsOf(await served(), naming);
    const entry = prompts.find((prompt) => prompt.prompt.name === request.params.name);
    if (!entry) {
      const why = unavailable();
      throw new McpError(
        ErrorCode.InvalidParams,
        `Unknown prompt: ${request.params.name}${why ? `: ${why}` : ''}`,
      );
    }
    const client = usableClient(entry.upstream);
    return client.getPrompt({ ...request.params, name: entry.originalName });
  });

  server.setRequestHandler(ListResourcesRequestSchema, async (request) => {
    const lists = await Promise.all(
      (await served()).filter(hasResources).map(async (upstream) => {
        const found = await listAll(upstream, (client, cursor) =>
          client.listResources({ cursor }).then((page) => ({
            items: page.resources,
            nextCursor: page.nextCursor,
          })),
        );
        return found.map((resource): Resource => ({
          ...resource,
          uri: naming.resourceUri(upstream.row.id, resource.uri),
        }));
      }),
    );
    const page = pageOf(lists.flat(), request.params?.cursor);
    return { resources: page.items, nextCursor: page.nextCursor };
  });

  server.setRequestHandler(ListResourceTemplatesRequestSchema, async (request) => {
    const lists = await Promise.all(
      (await served()).filter(hasResources).map(async (upstream) => {
        const found = await listAll(upstream, (client, cursor) =>
          client.listResourceTemplates({ cursor }).then((page) => ({
            items: page.resourceTemplates,
            nextCursor: page.nextCursor,
          })),
        );
        return found.map((template): ResourceTemplate => ({
          ...template,
          uriTemplate: naming.resourceUri(upstream.row.id, template.uriTemplate),
        }));
      }),
    );
    const page = pageOf(lists.flat(), request.params?.cursor);
    return { resourceTemplates: page.items, nextCursor: page.nextCursor };
  });

  server.setRequestHandler(ReadResourceRequestSchema, async (request) => {
    const target = naming.parseResourceUri(request.params.uri);
    const upstream =
      target && (await served()).find((candidate) => candidate.row.id === target.serverId);
    if (!target || !upstream) {
      const why = unavailable();
      throw new McpError(
        -32002,
        `Resource not found: ${request.params.uri}${why ? `: ${why}` : ''}`,
        {
          uri: request.params.uri,
        },
      );
    }
    const result = await usableClient(upstream).readResource({
      ...request.params,
      uri: target.uri,
    });
    return {
      ...result,
      contents: result.contents.map((content) => ({
        ...content,
        uri: naming.resourceUri(upstream.row.id, content.uri),
      })),
    };
  });

  return server;
}

/**
 * Asks the client to confirm a call of a tool that needs it. Resolves to `undefined` when the
 * user accepted, else to the tool error the call answers with.
 */
async function confirm(
  server: Server,
  { upstream, tool }: GatewayTool,
  extra: RequestHandlerExtra<ServerRequest, ServerNotification>,
): Promise<CallToolResult | undefined> {
  const elicitation = server.getClientCapabilities()?.elicitation as
    { form?: object; url?: object } | undefined;
  const canAskForm =
    elicitation !== undefined && (elicitation.form !== undefined || elicitation.url === undefined);
  const serverName = upstream.row.name;
  if (!canAskForm) {
    return toolError(
      `${tool.name} was not run: ${serverName} asks for a confirmation before tools that can ` +
        'change or delete things, and this MCP client cannot ask one (it did not declare the ' +
        "elicitation capability). To run such tools from this client, set the server's tool " +
        `policy to confirm "never" in Switchboard (dashboard: ${serverName}, Tool policy; or ` +
        `PUT /api/mcp/servers/${upstream.row.id} with {"toolPolicy":{"confirm":"never"}}).`,
    );
  }
  const title = tool.title ?? tool.annotations?.title ?? tool.name;
  let answer;
  try {
    answer = await extra.sendRequest(
      {
        method: 'elicitation/create',
        params: {
          mode: 'form',
          message: `${serverName} wants to run "${title}", which can change or delete things. Run it?`,
          requestedSchema: {
            type: 'object',
            properties: {
              confirm: {
                type: 'boolean',
                title: `Run ${title}`,
                description: `Yes runs ${tool.name} on ${serverName} once.`,
                default: false,
              },
            },
            required: ['confirm'],
          },
        },
      },
      ElicitResultSchema,
      { timeout: CONFIRMATION_TIMEOUT_MS },
    );
  } catch (error) {
    return toolError(
      `${tool.name} was not run: the confirmation was not answered (${describeError(error)}).`,
    );
  }
  if (answer.action === 'accept' && answer.content?.confirm === true) return undefined;
  const how = answer.action === 'accept' ? 'answered no' : `${answer.action}d`;
  return toolError(`${tool.name} was not run: the user ${how} when asked to confirm it.`);
}

/**
 * The handler of one gateway call's elicitations: each request goes to the client as a request
 * related to its `tools/call` (the client's answer comes back as it is), when the client declared
 * the request's mode; otherwise the server gets `decline`. A client that fails to answer within
 * {@link ELICITATION_RELAY_TIMEOUT_MS} (or errs) answers `cancel`. For an accepted URL-mode
 * request the server's `notifications/elicitation/complete` is passed on to the client.
 */
export function relayElicitation(
  server: Server,
  extra: RequestHandlerExtra<ServerRequest, ServerNotification>,
  logger: Logger,
): ElicitationHandler {
  return async (params, context) => {
    const modes = getSupportedElicitationModes(server.getClientCapabilities()?.elicitation);
    const url = params.mode === 'url';
    if (url ? !modes.supportsUrlMode : !modes.supportsFormMode) return { action: 'decline' };
    try {
      const result = await extra.sendRequest(
        { method: 'elicitation/create', params },
        ElicitResultSchema,
        { signal: context.signal, timeout: ELICITATION_RELAY_TIMEOUT_MS },
      );
      if (url && result.action === 'accept') {
        const elicitationId = params.elicitationId;
        void context.completed.then(() =>
          extra
            .sendNotification({
              method: 'notifications/elicitation/complete',
              params: { elicitationId },
            })
            .catch(() => undefined),
        );
      }
      return result;
    } catch (error) {
      logger.info({ err: error }, 'the client did not answer an elicitation; answering cancel');
      return { action: 'cancel' };
    }
  };
}

/**
 * The handler of one gateway call's sampling requests (MCP 2025-11-25, "Sampling"): each goes to
 * the client as a request related to its `tools/call`, and the client's result (or error) goes
 * back to the server as it is. A client that did not declare sampling (or, for a request that
 * offers tools, `sampling.tools`) gets nothing: the server gets an error saying so. The client
 * keeps its human in the loop (MCP: it SHOULD let the user review the request and the result).
 */
export function relaySampling(
  server: Server,
  extra: RequestHandlerExtra<ServerRequest, ServerNotification>,
): SamplingHandler {
  return async (params, context) => {
    const sampling = server.getClientCapabilities()?.sampling;
    const withTools = params.tools !== undefined || params.toolChoice !== undefined;
    if (!sampling || (withTools && !sampling.tools)) {
      throw new McpError(
        ErrorCode.InvalidRequest,
        `The MCP client that made this call does not support sampling${withTools ? ' with tools' : ''}`,
      );
    }
    return extra.sendRequest(
      { method: 'sampling/createMessage', params },
      withTools ? CreateMessageResultWithToolsSchema : CreateMessageResultSchema,
      { signal: context.signal, timeout: SAMPLING_RELAY_TIMEOUT_MS },
    );
  };
}

/**
 * The result with its resource links and embedded resources under the session's URIs
 * (`naming.resourceUri`: gateway URIs on `/mcp`, the server's own on a per-server endpoint), so
 * the client can read them back through `resources/read`; everything else (text, images, audio,
 * structured content) exactly as the server gave it.
 *
 * @param result the server's result.
 * @param serverId the server that gave it.
 * @param naming the session's naming; default {@link AGGREGATE_NAMING}.
 */
export function withGatewayUris(
  result: CallToolResult,
  serverId: number,
  naming: GatewayNaming = AGGREGATE_NAMING,
): CallToolResult {
  if (!Array.isArray(result.content)) return result;
  const content = result.content.map((item) => {
    if (item.type === 'resource_link')
      return { ...item, uri: naming.resourceUri(serverId, item.uri) };
    if (item.type === 'resource') {
      return {
        ...item,
        resource: { ...item.resource, uri: naming.resourceUri(serverId, item.resource.uri) },
      };
    }
    return item;
  });
  return { ...result, content };
}

/** Why a withheld tool cannot be called (issue 16), naming none of the server's new text. */
function withheldToolAnswer({ name, upstream, state, changes }: WithheldGatewayTool): string {
  const why =
    state === 'changed'
      ? `it changed since it was approved (${describeChanges(changes)})`
      : `it is new on ${upstream.row.name} since its tools were approved`;
  return (
    `${name} is withheld: ${why}. The owner of ${upstream.row.name} (or an admin) must approve ` +
    'it in the Switchboard dashboard (Servers, Tools) or with POST ' +
    `/api/mcp/servers/${upstream.row.id}/tools/approve before it can be used.`
  );
}

/** The rank of a log level (RFC 5424 order, `debug` lowest); an unknown level ranks highest. */
function severity(level: string): number {
  const rank = (LoggingLevelSchema.options as readonly string[]).indexOf(level);
  return rank < 0 ? LoggingLevelSchema.options.length : rank;
}

/** A tool result the client's model can read, marked as an error. */
function toolError(text: string): CallToolResult {
  return { content: [{ type: 'text', text }], isError: true };
}

function firstText(result: CallToolResult): string | undefined {
  const text = result.content?.find((item) => item.type === 'text');
  return text && 'text' in text ? text.text.slice(0, 500) : undefined;
}

/** Why a call failed, for the tool error. */
function callFailure(error: unknown): string {
  return error instanceof McpConnectionError ? error.message : describeError(error);
}

function hasResources(upstream: Upstream): boolean {
  return upstream.connection.info?.capabilities?.resources !== undefined;
}

/** The SDK client of a connected server. @throws McpError when the server is down. */
function usableClient(upstream: Upstream) {
  const client = upstream.connection.sdkClient;
  if (!client || upstream.connection.status !== 'connected') {
    throw new McpError(
      ErrorCode.InternalError,
      `${upstream.row.name} is not connected${
        upstream.connection.lastError ? `: ${upstream.connection.lastError.message}` : ''
      }`,
    );
  }
  return client;
}

/** Most pages read from one server for one list (a server that pages forever is cut off). */
const MAX_UPSTREAM_PAGES = 50;
/** Most entries kept from one server's list (a server that lists without end is cut off). */
const MAX_UPSTREAM_ITEMS = 5_000;

/** Every page of one server's list; a server that is down or fails gives none (logged by the caller). */
async function listAll<T>(
  upstream: Upstream,
  page: (
    client: NonNullable<Upstream['connection']['sdkClient']>,
    cursor: string | undefined,
  ) => Promise<{ items: T[]; nextCursor?: string }>,
): Promise<T[]> {
  const client = upstream.connection.sdkClient;
  if (!client || upstream.connection.status !== 'connected') return [];
  const items: T[] = [];
  let cursor: string | undefined;
  try {
    for (let pages = 0; pages < MAX_UPSTREAM_PAGES && items.length < MAX_UPSTREAM_ITEMS; pages++) {
      const result = await page(client, cursor);
      items.push(...result.items.slice(0, MAX_UPSTREAM_ITEMS - items.length));
      cursor = result.nextCursor;
      if (!cursor) break;
    }
  } catch {
    // A server that cannot list right now shows nothing; the others still do.
  }
  return items;
}

interface GatewayPrompt {
  prompt: Prompt;
  originalName: string;
  upstream: Upstream;
}

/**
 * The prompts of the served servers, named by `naming` (`<server slug>__<prompt>` in server id
 * order on `/mcp`, their own names on a per-server endpoint).
 */
async function promptsOf(served: Upstream[], naming: GatewayNaming): Promise<GatewayPrompt[]> {
  const withPrompts = served.filter(
    (upstream) => upstream.connection.info?.capabilities?.prompts !== undefined,
  );
  const lists = await Promise.all(
    withPrompts.map((upstream) =>
      listAll(upstream, (client, cursor) =>
        client
          .listPrompts({ cursor })
          .then((page) => ({ items: page.prompts, nextCursor: page.nextCursor })),
      ),
    ),
  );
  const taken = new Set<string>();
  return withPrompts.flatMap((upstream, index) => {
    const prompts = lists[index]!;
    const names = naming.names(
      upstream.row.name,
      prompts.map((prompt) => prompt.name),
      taken,
    );
    return prompts.map((prompt, i) => ({
      prompt: { ...prompt, name: names[i]! },
      originalName: prompt.name,
      upstream,
    }));
  });
}
