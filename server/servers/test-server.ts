/**
 * The Test button (`POST /api/mcp/servers/:id/test`) and the tool list of one server
 * (`GET /api/mcp/servers/:id/tools`, with each tool's pin state, issue 16): everything they do
 * besides parsing the request. Both are trusted listings: a server whose tools were never pinned
 * is pinned by them (trust on first use, `shared/db/tool-pins.ts`). A server
 * the status monitor holds live is tested over that connection; any other is connected once
 * ({@link probeServer}) under the process's connection guards, and closed again. Either way the
 * stored status is brought up to date, and the tools are named as the agent advertises them.
 */
import type { OAuthClientProvider } from '@modelcontextprotocol/sdk/client/auth.js';
import type { Tool } from '@modelcontextprotocol/sdk/types.js';
import { authorizationRequiredReason } from '../../shared/mcp/oauth/index.js';
import { accountProvider, accountStore } from '../../shared/db/oauth-accounts.js';
import type { OAuthDeps } from '../oauth/authorization.js';
import type { Database } from '../../shared/db/open.js';
import type { McpServerRow } from '../../shared/db/schema.js';
import {
  listServers,
  updateServerStatus,
  type ServerStatusPatch,
  type ServerStore,
} from '../../shared/db/servers.js';
import { describeError } from '../../shared/errors.js';
import type { Logger } from '../../shared/logger.js';
import { advertiseTools, type AdvertisedTool } from '../../shared/mcp/advertised-tools.js';
import { advertiseResourceTools } from '../../shared/mcp/resource-tools.js';
import type { ConnectionGuards } from '../../shared/mcp/connection-guards.js';
import { McpConnection, type ConnectionInfo } from '../../shared/mcp/connection.js';
import { SecretScrubber, secretsOfColumns } from '../../shared/mcp/secret-scrubber.js';
import { configFromColumns, type McpServerConfig } from '../../shared/mcp/server-config.js';
import {
  CONFIRM_TOOL_NAME,
  confirmToolDefinition,
  needsConfirmation,
} from '../../shared/mcp/tool-policy.js';
import type { SecretBox } from '../../shared/secrets.js';
import {
  NO_PINS,
  WITHHELD_TOOL_NAME,
  pinStatusOf,
  withheldToolDefinition,
  type PinState,
  type ToolChanges,
  type ToolPinSet,
} from '../../shared/mcp/tool-pinning.js';
import { pinToolsOnFirstUse, readServerToolPins } from '../../shared/db/tool-pins.js';
import { HttpError } from '../http/errors.js';
import { connectionMetadata, type ServerWatcher } from '../status/monitor.js';
import { declineElicitation } from '../../shared/mcp/elicitation.js';

/**
 * Most tools one answer of `POST /:id/test` or `GET /:id/tools` lists: a server may list
 * thousands (each with a schema), and an answer must stay bounded (DESIGN §9.4). The first ones,
 * in the server's order, are shown; `toolCount` (or the `X-Total-Count` header) says how many
 * there are. The agent is not bound by this: it advertises its own bounded set.
 */
export const MAX_TOOLS_SHOWN = 500;

/** Result of `POST /api/mcp/servers/:id/test`. */
export type TestResult =
  | {
      status: 'connected';
      serverInfo: { name: string; version: string } | undefined;
      transport: string;
      /** Every tool the server listed (after the skipped ones), shown or not. */
      toolCount: number;
      /** The first {@link MAX_TOOLS_SHOWN} of them, as the agent advertises them. */
      tools: AdvertisedTool[];
      /** True when `tools` holds fewer than `toolCount`. */
      truncated: boolean;
      latencyMs: number;
    }
  | { status: 'error'; error: string; latencyMs: number };

/** What {@link testServer} and {@link currentTools} need. */
export interface TestServerDeps {
  db: Database;
  /** Opens the servers' sealed secrets (`DatabaseHandle.secrets`). */
  secrets: SecretBox;
  logger: Logger;
  /** The status monitor: its live connections are used, and it is told to retry; default none. */
  watcher?: ServerWatcher;
  /** The guards a probed server connects under (the process's, from `server/main.ts`). */
  guards: ConnectionGuards;
  /** What an `oauth` server's owner's tokens need (database store, `PUBLIC_URL`); default none. */
  oauth?: OAuthDeps;
}

/**
 * The probe options of an `oauth` server: a provider over its owner's stored tokens (refreshed
 * when they expire; without usable ones the probe fails with `needs_authorization`). Other
 * servers need nothing.
 */
function oauthProbe(deps: TestServerDeps, row: McpServerRow): Pick<ProbeOptions, 'authProvider'> {
  const oauth = deps.oauth;
  if (row.auth.type !== 'oauth' || !oauth) return {};
  return {
    authProvider: (scrubber) =>
      accountProvider(oauth, row, accountStore(oauth, row), {
        onTokens: (tokens) => {
          scrubber.add(tokens.access_token);
          scrubber.add(tokens.refresh_token);
        },
      }),
  };
}

/** Options of {@link probeServer}. */
export interface ProbeOptions {
  guards: ConnectionGuards;
  /** The user's token, for a `user-token` server. */
  userToken?: string;
  /**
   * The OAuth provider of an `oauth` server, made with the probe's scrubber so that the tokens it
   * obtains are scrubbed from errors.
   */
  authProvider?: (scrubber: SecretScrubber) => OAuthClientProvider;
}

/** The outcome of {@link probeServer}. */
export type ProbeResult =
  | {
      ok: true;
      connection: McpConnection;
      info: ConnectionInfo;
      tools: Tool[];
      patch: ServerStatusPatch;
    }
  | { ok: false; error: string; patch: ServerStatusPatch };

/**
 * Connects a server once (no retries), lists its tools, and returns the status patch describing
 * the result. On success the connection is left open and returned (the caller closes it); on
 * failure it is closed. Never throws: a config that does not validate is reported as the error.
 *
 * @param options.guards the connection guards; a stdio server counts against its owner's share
 *   of `guards.stdioLimiter` too.
 * @param options.userToken a user's token, for a server with `user-token` auth.
 */
export async function probeServer(
  row: McpServerRow,
  logger: Logger,
  options: ProbeOptions,
): Promise<ProbeResult> {
  let connection: McpConnection | undefined;
  const scrubber = new SecretScrubber([...secretsOfColumns(row), options.userToken]);
  try {
    connection = new McpConnection(configFromColumns(row), {
      ...options.guards,
      logger,
      label: row.name,
      scrubber,
      userToken: options.userToken,
      authProvider: options.authProvider?.(scrubber),
      serverId: row.id,
      ownerId: row.userId,
      // Declared as in a session (so the same tools are listed); nobody here can answer.
      onElicitation: declineElicitation,
    });
    const info = await connection.connect();
    const tools = await connection.listTools();
    return {
      ok: true,
      connection,
      info,
      tools,
      patch: {
        connectionStatus: 'connected',
        lastConnected: new Date(),
        lastError: null,
        metadata: connectionMetadata(info, tools, row.toolFilter),
      },
    };
  } catch (error) {
    await connection?.close();
    // Scrubbed at the connection already; again here for errors raised before it existed.
    const message = describeError(error, (text) => scrubber.scrub(text));
    // An `oauth` server whose owner must (re)connect the account: not an error of the server.
    const connectionStatus = authorizationRequiredReason(error) ? 'needs_authorization' : 'error';
    return { ok: false, error: message, patch: { connectionStatus, lastError: message } };
  }
}

/**
 * The advertised tools of one server, named as the agent names them: the user's earlier active
 * servers' tools (from their stored metadata) are taken first, so collisions resolve the same way.
 *
 * @param taken the names in use, filled with every name given out; default a new set.
 */
export function advertisedToolsFor(
  server: McpServerRow,
  tools: readonly Tool[],
  userServers: readonly McpServerRow[],
  taken = new Set<string>(),
): AdvertisedTool[] {
  for (const other of userServers) {
    if (other.id >= server.id || !other.isActive) continue;
    const names = other.metadata.toolNames ?? [];
    advertiseTools(
      other.name,
      names.map((name) => ({ name, inputSchema: { type: 'object' } })),
      { filter: other.toolFilter, taken },
    );
  }
  return advertiseTools(server.name, tools, { filter: server.toolFilter, taken });
}

/**
 * A tool as `GET /:id/tools` lists it: advertised, whether a call waits for a spoken yes, and
 * how it stands against its pin (issue 16). The tools Switchboard adds itself (the confirm tool,
 * the withheld-tools tool, the resource tools) have no pin fields.
 */
export interface SessionTool extends AdvertisedTool {
  /** True when a call waits for the user's spoken yes (the server's `tool_policy.confirm`). */
  needsConfirmation: boolean;
  /** See {@link PinState}; `off` when the server's `pinTools` is false. */
  pinState?: PinState | 'off';
  /** True when sessions and the gateway do not offer it until it is approved. */
  withheld?: boolean;
  /** {@link toolHash} of its definition now. */
  hash?: string;
  /** For a `changed` tool: what changed against its pin. */
  changes?: ToolChanges;
}

/**
 * The tools of one server as a voice session sees them, exactly: its advertised tools (see
 * {@link advertisedToolsFor}), each marked with whether it needs confirmation and with its pin
 * state, then the server's confirm tool (`<server>__confirm_action`) when any tool offered needs
 * confirmation, then `<server>__withheld_tools` when any tool is withheld, as `McpToolset` adds
 * them. Withheld tools are listed (so they can be approved) though a session does not offer them;
 * they keep their names, as a session reserves them.
 *
 * @param pins the server's pins when its `pinTools` is on (default: none yet, so every tool is
 *   `new`); ignored when it is off (every tool `off`, none withheld).
 * @param resources the server declared the `resources` capability: its resource tools
 *   (`<server>__list_resources`, `…__list_resource_templates`, `…__read_resource`, those its tool
 *   filter lets through) follow, as a session adds them. Default false.
 */
export function sessionToolsFor(
  server: McpServerRow,
  tools: readonly Tool[],
  userServers: readonly McpServerRow[],
  pins: ToolPinSet = NO_PINS,
  resources = false,
): SessionTool[] {
  const taken = new Set<string>();
  const advertised = advertisedToolsFor(server, tools, userServers, taken);
  const byName = new Map(tools.map((tool) => [tool.name, tool]));
  const listed: SessionTool[] = advertised.map((entry) => {
    const tool = byName.get(entry.originalName)!;
    const listedTool: SessionTool = {
      ...entry,
      needsConfirmation: needsConfirmation(tool, server.toolPolicy),
    };
    if (!server.pinTools) return { ...listedTool, pinState: 'off', withheld: false };
    const status = pinStatusOf(tool, pins);
    return {
      ...listedTool,
      pinState: status.state,
      withheld: status.state !== 'pinned',
      hash: status.hash,
      ...(status.changes ? { changes: status.changes } : {}),
    };
  });
  if (listed.some((tool) => tool.needsConfirmation && !tool.withheld)) {
    const [confirm] = advertiseTools(
      server.name,
      [{ name: CONFIRM_TOOL_NAME, inputSchema: { type: 'object' } }],
      { taken },
    );
    listed.push({ ...confirm!, ...confirmToolDefinition(server.name), needsConfirmation: false });
  }
  const withheld = listed.filter((tool) => tool.withheld);
  if (withheld.length > 0) {
    const [entry] = advertiseTools(
      server.name,
      [{ name: WITHHELD_TOOL_NAME, inputSchema: { type: 'object' } }],
      { taken },
    );
    listed.push({
      ...entry!,
      ...withheldToolDefinition(
        server.name,
        withheld.map((tool) => tool.name),
      ),
      needsConfirmation: false,
    });
  }
  if (resources) {
    const resourceTools = advertiseResourceTools(server.name, { filter: server.toolFilter, taken });
    for (const tool of resourceTools) listed.push({ ...tool, needsConfirmation: false });
  }
  return listed;
}

/** True when a live connection was made from exactly the stored config of `row`. */
function sameConfig(config: McpServerConfig, row: McpServerRow): boolean {
  try {
    return JSON.stringify(config) === JSON.stringify(configFromColumns(row));
  } catch {
    return false;
  }
}

/** The `connected` answer for `tools`, advertised as the agent would among the user's servers. */
async function connectedResult(
  deps: TestServerDeps,
  row: McpServerRow,
  tools: readonly Tool[],
  info: ConnectionInfo | undefined,
  latencyMs: number,
): Promise<TestResult> {
  const store: ServerStore = { db: deps.db, secrets: deps.secrets };
  // The Test button is a trusted listing: a server never pinned is pinned now (best effort: a
  // failure leaves it to the next listing, and the test still answers).
  await pinsAfterListing(deps, row, tools).catch((error: unknown) =>
    deps.logger.warn({ serverId: row.id, err: error }, 'cannot pin the tools'),
  );
  const advertised = advertisedToolsFor(row, tools, await listServers(store, row.userId));
  return {
    status: 'connected',
    serverInfo: info?.serverInfo,
    transport: info?.transport ?? row.transport,
    // After the tool filter: what the agent gets (`advertised` is filtered).
    toolCount: advertised.length,
    tools: advertised.slice(0, MAX_TOOLS_SHOWN),
    truncated: advertised.length > MAX_TOOLS_SHOWN,
    latencyMs,
  };
}

/**
 * Tests a server through the monitor's live connection (tools listed again, then a ping), so
 * the Test button of a healthy server needs no second process, which a full stdio cap would
 * refuse. `undefined` when the monitor holds no live connection for exactly the stored config.
 */
async function testLive(deps: TestServerDeps, row: McpServerRow): Promise<TestResult | undefined> {
  const live = deps.watcher?.connection(row.id);
  if (!live || (live.status !== 'connected' && live.status !== 'degraded')) return undefined;
  if (!sameConfig(live.config, row)) return undefined;
  const started = performance.now();
  try {
    const tools = await live.refreshTools();
    const latencyMs = await live.ping();
    const info = live.info;
    await updateServerStatus(deps.db, row.id, {
      connectionStatus: 'connected',
      lastConnected: new Date(),
      lastError: null,
      metadata: connectionMetadata(info, tools, row.toolFilter),
    });
    return await connectedResult(deps, row, tools, info, latencyMs);
  } catch (error) {
    // The monitor records the failure and reconnects on its own; the caller sees it now.
    return {
      status: 'error',
      error: describeError(error, (text) => live.scrubber.scrub(text)),
      latencyMs: Math.round(performance.now() - started),
    };
  }
}

/**
 * The Test button: tests a stored server now and records the outcome. A server the monitor holds
 * live (same config, connected or degraded) is tested over that connection; any other is probed
 * once under `deps.guards`, its status patch stored (for a `user-token` server, whose status
 * belongs to the sessions, only the tool list on success), and the probe closed. An active server
 * the monitor has not connected is then synced, so it is retried now that someone looks at it.
 *
 * @param row the stored server (already scoped to the caller).
 * @param userToken a user's token, for a server with `user-token` auth (the live connection is
 *   never used for one).
 * @returns the answer of `POST /:id/test`; a failure to connect is an `error` answer, not thrown.
 * @throws whatever the database throws while recording the outcome.
 */
export async function testServer(
  deps: TestServerDeps,
  row: McpServerRow,
  userToken?: string,
): Promise<TestResult> {
  if (row.auth.type !== 'user-token') {
    const answer = await testLive(deps, row);
    if (answer) return answer;
  }
  const started = performance.now();
  const result = await probeServer(row, deps.logger, {
    guards: deps.guards,
    userToken,
    ...oauthProbe(deps, row),
  });
  const latencyMs = Math.round(performance.now() - started);
  // A user-token server's status belongs to the sessions, and a disabled server's stays
  // `disconnected` (nothing keeps it connected): a test of either only refreshes its tools.
  const patch =
    row.isActive && row.auth.type !== 'user-token'
      ? result.patch
      : result.ok
        ? { metadata: result.patch.metadata }
        : {};
  await updateServerStatus(deps.db, row.id, patch);
  let answer: TestResult;
  if (result.ok) {
    await result.connection.close();
    answer = await connectedResult(deps, row, result.tools, result.info, result.info.latencyMs);
  } else {
    answer = { status: 'error', error: result.error, latencyMs };
  }
  // A server the monitor had given up on is retried now that someone is looking at it.
  if (row.isActive && deps.watcher?.connection(row.id)?.status !== 'connected') {
    void deps.watcher?.sync(row.id);
  }
  return answer;
}

/**
 * The server's tools as it lists them now (every one, before the tool filter), and whether it
 * declared the `resources` capability: the monitor's live connection when it holds the server
 * connected, otherwise a one-off probe under `deps.guards` (closed again).
 *
 * @param userToken a user's token, for a `user-token` server (the monitor holds no connection of
 *   one: its tools can only be listed with some user's token).
 * @throws HttpError 422 for a `user-token` server without `userToken`; 503 `mcp_unavailable` when
 *   the probe cannot connect (its error status is stored first, except for a `user-token`
 *   server, whose status belongs to the sessions).
 */
export async function listedTools(
  deps: TestServerDeps,
  row: McpServerRow,
  userToken?: string,
): Promise<ListedTools> {
  const live = deps.watcher?.connection(row.id);
  if (live?.status === 'connected') {
    return { tools: live.tools, resources: live.info?.capabilities?.resources !== undefined };
  }
  if (row.auth.type === 'user-token' && !userToken) {
    throw new HttpError(
      422,
      'user_token_required',
      `MCP server ${row.id} ("${row.name}") is called with each user's own token (auth ` +
        "user-token), so Switchboard cannot list its tools by itself. Give a user's token: " +
        `POST /api/mcp/servers/${row.id}/test or POST /api/mcp/servers/${row.id}/tools/approve ` +
        'with {"userToken": "…"} in the body.',
    );
  }
  const result = await probeServer(row, deps.logger, {
    guards: deps.guards,
    userToken,
    ...oauthProbe(deps, row),
  });
  if (!result.ok) {
    if (row.isActive && row.auth.type !== 'user-token') {
      await updateServerStatus(deps.db, row.id, result.patch);
    }
    throw new HttpError(
      503,
      'mcp_unavailable',
      `MCP server ${row.id} cannot be reached: ${result.error}`,
    );
  }
  await result.connection.close();
  return {
    tools: result.tools,
    resources: result.info.capabilities?.resources !== undefined,
  };
}

/** What {@link listedTools} found: the server's tools and whether it has resources. */
export interface ListedTools {
  tools: readonly Tool[];
  /** The server declared the `resources` capability at `initialize`. */
  resources: boolean;
}

/**
 * The server's pins for tools just listed over a trusted path (the Test button, the tool list):
 * when its `pinTools` is on and its tools were never pinned, they are pinned now (trust on first
 * use, `pinToolsOnFirstUse`). Read only when it is off.
 *
 * @throws whatever the database throws.
 */
export function pinsAfterListing(
  deps: Pick<TestServerDeps, 'db'>,
  row: McpServerRow,
  tools: readonly Tool[],
): Promise<ToolPinSet> {
  return row.pinTools
    ? pinToolsOnFirstUse(deps.db, row.id, tools)
    : readServerToolPins(deps.db, row.id);
}

/**
 * The tools of `GET /:id/tools` (and of the answer to `POST /:id/tools/approve`): the server's
 * tools now ({@link listedTools}), pinned on first use, advertised as the agent would with their
 * pin states ({@link sessionToolsFor}).
 *
 * @param listed the server's tools when the caller has just listed them; default listed now.
 * @returns every advertised tool (the route shows the first {@link MAX_TOOLS_SHOWN}).
 * @throws HttpError (503 `mcp_unavailable`) when the server cannot be reached.
 */
export async function currentTools(
  deps: TestServerDeps,
  row: McpServerRow,
  listed?: ListedTools,
): Promise<SessionTool[]> {
  const { tools, resources } = listed ?? (await listedTools(deps, row));
  const pins = await pinsAfterListing(deps, row, tools);
  const store: ServerStore = { db: deps.db, secrets: deps.secrets };
  return sessionToolsFor(row, tools, await listServers(store, row.userId), pins, resources);
}
