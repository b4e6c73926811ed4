/**
 * One live connection to one MCP server, over the SDK's `Client` and client transports
 * (MCP spec 2025-11-25, "Lifecycle" and "Transports"). Both the agent (one per server of a
 * session) and the API (the status monitor and the "test" button) use this class.
 */
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import type { StreamableHTTPError } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { OAuthClientProvider } from '@modelcontextprotocol/sdk/client/auth.js';
import type { OAuthTokens } from '@modelcontextprotocol/sdk/shared/auth.js';
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import { AjvJsonSchemaValidator } from '@modelcontextprotocol/sdk/validation/ajv';
import type {
  JsonSchemaType,
  JsonSchemaValidator,
  jsonSchemaValidator,
} from '@modelcontextprotocol/sdk/validation/types.js';
import { z } from 'zod';
import {
  CreateMessageRequestSchema,
  ElicitRequestSchema,
  ElicitationCompleteNotificationSchema,
  ErrorCode,
  ListToolsResultSchema,
  LoggingMessageNotificationSchema,
  McpError,
  ToolSchema,
  type CallToolResult,
  type CreateMessageRequest,
  type CreateMessageResult,
  type CreateMessageResultWithTools,
  type ElicitResult,
  type Implementation,
  type LoggingMessageNotification,
  type Progress,
  type ReadResourceResult,
  type Resource,
  type ResourceTemplate,
  type ServerCapabilities,
  type Tool,
} from '@modelcontextprotocol/sdk/types.js';
import type { Logger } from '../logger.js';
import { createOAuthProvider, isOAuth } from './auth.js';
import { CallAbortRelay } from './call-abort-relay.js';
import { CallDeadlines, TimedCall } from './call-deadlines.js';
import {
  ELICITATION_CAPABILITY,
  type ElicitationHandler,
  type ElicitationParams,
} from './elicitation.js';
import { describeError } from '../errors.js';
import { McpConnectionError } from './errors.js';
import {
  DEFAULT_MAX_MESSAGE_BYTES,
  messageTooLarge,
  type McpMessageTooLargeError,
} from './message-limit.js';
import { classifyRequestError } from './request-errors.js';
import type { ConnectionStatus, McpServerConfig } from './server-config.js';
import { SecretScrubber, configSecrets, scrubbingLogger } from './secret-scrubber.js';
import { StderrLog, type StderrLimits, type StderrRepeats } from './stderr-log.js';
import { resolveStdioCommand } from './command-guard.js';
import type { StdioProcessAdmission } from './stdio-process-limiter.js';
import type { ConnectionGuards } from './connection-guards.js';
import { StdioProcessTransport, StrayStdoutError } from './stdio-transport.js';
import type { StdioSandbox } from './sandbox/stdio-sandbox.js';
import { toolDefinitionProblem } from './tool-definition.js';
import { GuardedNetwork } from './guarded-network.js';
import { createRemoteTransport, createStdioTransport, shouldFallBackToSse } from './transports.js';
import { assertStaticUrlAllowed, type UrlPolicy } from './url-policy.js';

/** What Switchboard tells servers about itself at `initialize`. */
export const CLIENT_INFO: Implementation = { name: 'switchboard', version: '0.1.0' };

/** A `tools/list` page whose tools are checked one by one (see `#usableTools`). */
const LenientToolsPageSchema = ListToolsResultSchema.extend({ tools: z.array(z.unknown()) });

/** C0 controls and DEL, replaced in tool names before they are logged. */
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f]/g;

/** Pages of `tools/list` followed before giving up on a server that never stops paginating. */
const MAX_TOOL_PAGES = 100;

/** Default most resources (or templates) one listing returns; later pages are not read. */
export const MAX_LISTED_RESOURCES = 500;

/**
 * The SDK's AJV validator of tool output schemas, made at its first use. The SDK `Client` makes
 * one AJV instance (about 22 KB) per client and uses it only for the tools its own `listTools`
 * cached, which this connection never calls (it lists through `request`): a monitor's hundreds
 * of connections would each hold an instance for nothing.
 */
class LazyJsonSchemaValidator implements jsonSchemaValidator {
  #validator?: AjvJsonSchemaValidator;

  getValidator<T>(schema: JsonSchemaType): JsonSchemaValidator<T> {
    this.#validator ??= new AjvJsonSchemaValidator();
    return this.#validator.getValidator<T>(schema);
  }
}

/** What the server said about itself when the connection was made. */
export interface ConnectionInfo {
  serverInfo?: Implementation;
  capabilities?: ServerCapabilities;
  instructions?: string;
  /** The transport actually used: `sse` when a `streamable-http` server only spoke HTTP+SSE. */
  transport: McpServerConfig['transport'];
  /** The protocol version client and server agreed on at `initialize` (MCP spec, "Lifecycle"). */
  protocolVersion?: string;
  /** Time from the start of `connect()` to a completed `initialize`, in milliseconds. */
  latencyMs: number;
}

/**
 * Options of {@link McpConnection}: the process's {@link ConnectionGuards} (URL policy, stdio
 * allow list, message limit, sandbox, process cap), applied here, and this connection's own.
 */
export interface McpConnectionOptions extends ConnectionGuards {
  /** Logger for connection events; each line carries `label`. */
  logger: Logger;
  /** A name for logs and errors, e.g. the server's display name. */
  label?: string;
  /** Called on every status change, with the error that caused it when there is one. */
  onStatusChange?: (status: ConnectionStatus, error?: McpConnectionError) => void;
  /**
   * Called when the server sends `notifications/tools/list_changed` (debounced by 100 ms);
   * call {@link McpConnection.listTools} to get the new list.
   */
  onToolsListChanged?: () => void;
  /**
   * Called when the transport reports an error while connected (for Streamable HTTP, e.g. its
   * server-sent event stream broke), so a supervisor can check the server at once instead of at
   * the next ping.
   */
  onTransportError?: (error: Error) => void;
  /**
   * Milliseconds a stdio server gets to exit after its stdin closes, and its process group again
   * after SIGTERM, before SIGKILL; default 2000.
   */
  killGraceMs?: number;
  /** Bounds on a stdio server's stderr in the log; default `DEFAULT_STDERR_LIMITS`. */
  stderrLimits?: Partial<StderrLimits>;
  /**
   * The stderr lines earlier connections to this server logged, so a restarted server's same
   * failure is counted rather than logged again (a supervisor shares one); default none.
   */
  stderrRepeats?: StderrRepeats;
  /** Clock of the stderr rate limit, in milliseconds; default `Date.now`. */
  now?: () => number;
  /**
   * The token of the user whose session connects, for servers with `auth: { type: 'user-token' }`
   * (sent as `Authorization: Bearer` and `X-User-Token`). Connecting such a server without it
   * fails with `connect_failed`. Ignored by other servers.
   */
  userToken?: string;
  /**
   * The OAuth provider of a Streamable HTTP or SSE server whose credentials are not in its config:
   * a user's authorization code grant (`AuthorizationCodeProvider`). Used instead of the
   * provider an OAuth `auth` config would build; ignored for stdio and WebSocket. Every token it
   * hands out or saves is added to the connection's scrubber.
   */
  authProvider?: OAuthClientProvider;
  /**
   * Scrubs the server's secrets from every error message, log line and stderr note of the
   * connection (DESIGN §9.2). The connection adds the config's secrets, the user token and every
   * OAuth token it obtains. Pass one to share it (a supervisor's reconnects, the caller's own
   * messages); default a new one.
   */
  scrubber?: SecretScrubber;
  /** The stored server's id: names its sandbox's private directory and host uid; default none. */
  serverId?: number;
  /**
   * The stored server's owner (`users.id`): its stdio process then counts against that user's
   * cap of `stdioLimiter` (`forUser`) as well as the process's; default none (the process's cap
   * only).
   */
  ownerId?: number;
  /**
   * Answers the server's `elicitation/create` requests (MCP 2025-11-25, "Elicitation") that no
   * call in flight takes (see {@link CallToolOptions.onElicitation}); `declineElicitation` where
   * nobody can answer (the status monitor, the Test button). With it the connection declares the
   * elicitation capability, form and URL modes, at `initialize`, and times its tool calls itself
   * so that a call waiting for the user's answer does not time out (`call-deadlines.ts`).
   * Default none: no capability is declared, and a server that asks anyway gets the SDK's error.
   */
  onElicitation?: ElicitationHandler;
  /**
   * Declares the sampling capability (MCP 2025-11-25, "Client Features › Sampling") at
   * `initialize`, for a client that relays a server's `sampling/createMessage` to an MCP client
   * of its own (the gateway): a request during a call goes to that call's
   * {@link CallToolOptions.onSampling}, found as an elicitation's handler is; one no call takes is
   * refused with an error. Used only with `onElicitation` (the kind of connection that keeps
   * track of its calls in flight). Default false: nothing is declared.
   */
  sampling?: boolean;
}

/**
 * Answers one `sampling/createMessage` request (MCP 2025-11-25, "Sampling") with the result an
 * LLM gave; throws (an `McpError` for a JSON-RPC error the server reads) to refuse it.
 */
export type SamplingHandler = (
  params: CreateMessageRequest['params'],
  context: { signal: AbortSignal },
) => Promise<CreateMessageResult | CreateMessageResultWithTools>;

/**
 * How long a stdio server has, after a line on stdout that is not JSON-RPC, to complete
 * initialize before that line is taken as the reason it cannot (ms).
 */
const STRAY_STDOUT_GRACE_MS = 1_000;

/** Longest a task-augmented tool call may run in all, by default (ms). */
const TASK_TOTAL_TIMEOUT_MS = 10 * 60_000;

/** Options of {@link McpConnection.callTool}. */
export interface CallToolOptions {
  /** Aborts the call (the SDK then sends `notifications/cancelled`). */
  signal?: AbortSignal;
  /**
   * Called with each `notifications/progress` the server sends for this call. Only a call with
   * this set carries a progress token, so only such a call can report progress, and only its
   * timeout is restarted by each report.
   */
  onProgress?: (progress: Progress) => void;
  /**
   * Upper bound on the whole call however often progress restarts its timeout; default none.
   * Used only with `onProgress`, and for a task-only tool, whose whole task it bounds (default
   * 10 minutes there).
   */
  maxTotalTimeoutMs?: number;
  /** Overrides the server's `timeoutMs` for this call (restarted by each progress report). */
  timeoutMs?: number;
  /**
   * Answers the elicitation requests the server sends while this call runs; used only on a
   * connection made with `onElicitation` (which answers the rest). MCP gives a client no way to
   * tell which of its requests an `elicitation/create` belongs to (the SDK client does not expose
   * the stream it came on, and stdio has none), so a request goes to the oldest call in flight
   * with a handler that is not already answering one, else to the oldest call with a handler,
   * else to the connection's handler. With one call at a time, as in a voice session, it is
   * always the right one. Read when a request arrives, not when the call is made: it may be set
   * on this options object after `callTool` returned, before the caller's turn of the event loop
   * ends (no request of the server can arrive before then).
   */
  onElicitation?: ElicitationHandler;
  /**
   * Takes the server's log messages (`notifications/message`, MCP 2025-11-25 "Logging") that
   * arrive while this call runs; used only on a connection made with `onElicitation` (the one
   * kind that keeps track of its calls in flight). MCP gives a client no way to tell which request
   * a notification belongs to, so a message goes to the oldest call in flight with this set, as
   * an elicitation does (always the right one with one call at a time). Messages no call takes
   * are dropped. Called synchronously; it should not throw (a throw is logged and ignored).
   */
  onLog?: (message: LoggingMessageNotification['params']) => void;
  /**
   * Answers the server's sampling requests while this call runs; used only on a connection made
   * with `sampling` (see {@link McpConnectionOptions.sampling}). Attributed to a call as an
   * elicitation is: the oldest call in flight with a handler.
   */
  onSampling?: SamplingHandler;
}

/** Longest delay `setTimeout` takes (about 24.8 days): the SDK's timer of a self-timed call. */
const NO_SDK_TIMEOUT_MS = 2_147_483_647;

/**
 * After a URL-mode elicitation is accepted, the calls in flight keep their deadlines held until
 * the server says the out-of-band step is done (`notifications/elicitation/complete`), at most
 * this long (ms): the user is in their browser meanwhile.
 */
export const URL_ELICITATION_HOLD_MS = 10 * 60_000;

/** A promise that never settles: the `completed` of a form-mode elicitation. */
const NEVER = new Promise<void>(() => {});

/** The handlers of a call in flight ({@link CallToolOptions}). */
type CallHandlers = Pick<CallToolOptions, 'onElicitation' | 'onLog' | 'onSampling'>;

/**
 * A tool call in flight on a connection that answers elicitation: its deadline, the signal the SDK
 * gets, and what an elicitation, sampling request or log message looks for (`call-deadlines.ts`).
 */
class InFlightCall extends TimedCall {
  /** Elicitations of this call being answered now. */
  eliciting = 0;
  readonly #options: CallHandlers;

  /**
   * @param timeoutMs its idle deadline in milliseconds (`Infinity` for a task-augmented call,
   *   bounded by its task).
   * @param source the caller's signal, relayed to the SDK (none for a task-augmented call).
   * @param options the call's handlers, read when a request or message arrives.
   */
  constructor(timeoutMs: number, source: AbortSignal | undefined, options: CallHandlers) {
    super(timeoutMs, source);
    this.#options = options;
  }

  /** The call's own elicitation handler, if it has one ({@link CallToolOptions.onElicitation}). */
  get handler(): ElicitationHandler | undefined {
    return this.#options.onElicitation;
  }

  /** Takes the server's log messages while it runs ({@link CallToolOptions.onLog}). */
  get onLog(): CallToolOptions['onLog'] {
    return this.#options.onLog;
  }

  /** Answers the server's sampling requests while it runs ({@link CallToolOptions.onSampling}). */
  get onSampling(): SamplingHandler | undefined {
    return this.#options.onSampling;
  }
}

/**
 * A connection to one MCP server. Create it, `connect()`, then `listTools()` and `callTool()`;
 * `close()` ends it, and for a stdio server ends the server's whole process group (stdin closed,
 * then SIGTERM, then SIGKILL; see {@link StdioProcessTransport}).
 */
export class McpConnection {
  readonly config: McpServerConfig;
  readonly #logger: Logger;
  readonly #label: string;
  readonly #onStatusChange?: McpConnectionOptions['onStatusChange'];
  readonly #onToolsListChanged?: () => void;
  readonly #onTransportError?: (error: Error) => void;
  readonly #userToken?: string;
  readonly #urlPolicy: UrlPolicy;
  readonly #allowedCommands?: readonly string[];
  /** The absolute path `#checkCommand` resolved the stdio command to. */
  #stdioCommand?: string;
  readonly #maxMessageBytes: number;
  /** Set when the server sent a message over the limit; the connection is then closed. */
  #tooLarge?: McpMessageTooLargeError;
  readonly #scrubber: SecretScrubber;
  readonly #scrub = (text: string): string => this.#scrubber.scrub(text);
  /** The OAuth provider, made once so its token outlives the Streamable HTTP → SSE fallback. */
  #authProvider?: OAuthClientProvider;
  #client?: Client;
  #transport?: Transport;
  /** The last stdio transport started, kept after it closes to say how its process ended. */
  #stdio?: StdioProcessTransport;
  /** The checked fetch/lookup of the live remote transport; closed with it (see `#teardown`). */
  #network?: GuardedNetwork;
  #status: ConnectionStatus = 'disconnected';
  #lastError?: McpConnectionError;
  #closing = false;
  readonly #stdioLimiter: StdioProcessAdmission | undefined;
  readonly #sandbox: StdioSandbox | undefined;
  readonly #serverId: number | undefined;
  readonly #killGraceMs: number | undefined;
  /** A stdio server's stderr: bounded log lines, and the tail quoted in errors. */
  readonly #stderr: StderrLog;
  #info?: ConnectionInfo;
  #protocolVersion?: string;
  #tools: Tool[] = [];
  /** Tools the server runs only as tasks (`execution.taskSupport: "required"`), from the listing. */
  #taskOnly: ReadonlySet<string> = new Set();
  readonly #onElicitation?: ElicitationHandler;
  readonly #sampling: boolean;
  /** With `onElicitation`: the calls in flight, oldest first, and their deadlines. */
  readonly #deadlines?: CallDeadlines<InFlightCall>;
  /** URL-mode elicitations waiting for `notifications/elicitation/complete`, by elicitationId. */
  readonly #urlWaits = new Map<string, () => void>();

  /**
   * @param config how to reach the server (validated with `mcpServerConfigSchema`).
   * @param options logger, label and status listener.
   */
  constructor(config: McpServerConfig, options: McpConnectionOptions) {
    this.config = config;
    this.#label = options.label ?? describeTarget(config);
    this.#scrubber = options.scrubber ?? new SecretScrubber();
    for (const secret of configSecrets(config)) this.#scrubber.add(secret);
    this.#scrubber.add(options.userToken);
    this.#logger = scrubbingLogger(
      options.logger.child({ mcpServer: this.#label }),
      this.#scrubber,
    );
    this.#onStatusChange = options.onStatusChange;
    this.#onToolsListChanged = options.onToolsListChanged;
    this.#onTransportError = options.onTransportError;
    this.#stdioLimiter =
      options.ownerId === undefined
        ? options.stdioLimiter
        : options.stdioLimiter?.forUser(options.ownerId);
    this.#sandbox = options.sandbox;
    this.#serverId = options.serverId;
    this.#killGraceMs = options.killGraceMs;
    this.#stderr = new StderrLog({
      logger: this.#logger,
      limits: options.stderrLimits,
      now: options.now,
      scrub: (text) => this.#scrubber.scrub(text),
      repeats: options.stderrRepeats,
    });
    this.#userToken = options.userToken;
    this.#authProvider =
      options.authProvider && scrubbingTokens(options.authProvider, this.#scrubber);
    this.#urlPolicy = options.urlPolicy ?? { allowPrivateNetworks: true };
    this.#allowedCommands = options.allowedCommands;
    this.#maxMessageBytes = options.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES;
    this.#onElicitation = options.onElicitation;
    this.#sampling = options.sampling === true && this.#onElicitation !== undefined;
    if (this.#onElicitation) {
      this.#deadlines = new CallDeadlines<InFlightCall>(
        config.timeoutMs / 10,
        (timeoutMs) =>
          new McpError(ErrorCode.RequestTimeout, 'Request timed out', { timeout: timeoutMs }),
      );
    }
  }

  /** The current status (DESIGN §5). */
  get status(): ConnectionStatus {
    return this.#status;
  }

  /** Scrubs this server's secrets (and tokens obtained so far) from a text. */
  get scrubber(): SecretScrubber {
    return this.#scrubber;
  }

  /** The error behind the last `error` status, if any. */
  get lastError(): McpConnectionError | undefined {
    return this.#lastError;
  }

  /** What the server said at `initialize`; undefined before the first successful connect. */
  get info(): ConnectionInfo | undefined {
    return this.#info;
  }

  /** The tools from the last `listTools()`. */
  get tools(): readonly Tool[] {
    return this.#tools;
  }

  /**
   * Process id of a stdio server's child process while it runs, otherwise `null`. Sandboxed, it
   * is bubblewrap's outer process: signalling it ends everything in the sandbox.
   */
  get pid(): number | null {
    return this.#transport instanceof StdioProcessTransport ? this.#transport.pid : null;
  }

  /**
   * The MCP SDK `Client` of the live connection, undefined before `connect()` and after a loss or
   * `close()`. For measuring Switchboard against the bare SDK on the very same transport and
   * server process (`npm run bench`); calls made through it bypass the error mapping above.
   */
  get sdkClient(): Client | undefined {
    return this.#client;
  }

  /**
   * Connects and runs the MCP `initialize` handshake, within the server's `timeoutMs`.
   * For `streamable-http`, a 4xx answer to the first POST makes it retry over HTTP+SSE, as the
   * spec's "Backwards Compatibility" section describes.
   *
   * @returns what the server said about itself and how long it took.
   * @throws McpConnectionError `connect_failed` or `connect_timeout`; the status is then `error`
   *   (or stays `disconnected` when `close()` was called meanwhile).
   */
  async connect(): Promise<ConnectionInfo> {
    if (this.#client) throw new Error('McpConnection.connect() called twice; create a new one');
    this.#closing = false;
    this.#setStatus('connecting');
    const started = performance.now();
    try {
      let transportKind = this.config.transport;
      // Both checks are synchronous, so they add no wait before a stdio child process starts.
      // A remote host's addresses are checked when the transport connects to them (its lookup).
      if (this.config.transport === 'stdio') this.#checkCommand();
      else assertStaticUrlAllowed(this.config.url, this.#urlPolicy);
      if (this.#closing) {
        throw new McpConnectionError('connect_failed', `Connection to ${this.#label} was closed`);
      }
      try {
        await this.#connectWith(this.#createTransport());
      } catch (error) {
        if (!this.#closing && this.#sandboxSetupFailed()) {
          // bubblewrap itself failed to set up the sandbox's network namespace before the
          // server ran (seen rarely, under load: `bwrap: loopback: Failed RTM_NEWADDR`); the
          // server never started, so starting it once more is safe.
          this.#logger.warn({ err: error }, 'sandbox setup failed; starting the server once more');
          await this.#connectWith(this.#createTransport());
        } else if (
          this.#closing ||
          this.config.transport !== 'streamable-http' ||
          !shouldFallBackToSse(error)
        ) {
          throw error;
        } else {
          this.#logger.info(
            { status: (error as StreamableHTTPError).code },
            'server refused Streamable HTTP; falling back to HTTP+SSE',
          );
          transportKind = 'sse';
          await this.#connectWith(this.#createTransport({ overSse: true }));
        }
      }
      // close(), or the server hanging up, may have ended the client while connect() awaited.
      const client = this.#liveClient();
      if (!client) {
        throw new McpConnectionError(
          'connect_failed',
          `Connection to ${this.#label} was closed while connecting${this.#stderrNote()}`,
        );
      }
      this.#info = {
        serverInfo: client.getServerVersion(),
        capabilities: client.getServerCapabilities(),
        instructions: client.getInstructions(),
        transport: transportKind,
        protocolVersion: this.#protocolVersion,
        latencyMs: roundMs(performance.now() - started),
      };
      this.#setStatus('connected');
      this.#logger.info(
        { transport: transportKind, latencyMs: this.#info.latencyMs },
        'mcp server connected',
      );
      return this.#info;
    } catch (error) {
      const tooLarge = messageTooLarge(error) ?? this.#tooLarge;
      const failure = this.#scrubbed(
        error instanceof McpConnectionError
          ? error
          : new McpConnectionError(
              'connect_failed',
              `Could not connect to ${this.#label}: ${tooLarge ? tooLarge.message : (this.#processEnded() ?? describeError(error, this.#scrub))}${this.#stderrNote()}`,
              { cause: error },
            ),
      );
      await this.#teardown();
      // After close() the caller ended the attempt: the status stays `disconnected`.
      if (!this.#closing) this.#fail(failure);
      throw failure;
    }
  }

  /**
   * Lists every tool, following `nextCursor` pagination (MCP spec, "Pagination").
   *
   * @throws McpConnectionError `not_connected`, or `request_failed` when the server answers
   *   with an error or never ends its pagination.
   */
  async listTools(): Promise<Tool[]> {
    const client = this.#requireClient();
    const tools: Tool[] = [];
    const seen = new Set<string>();
    let cursor: string | undefined;
    try {
      for (let page = 0; page < MAX_TOOL_PAGES; page++) {
        const result = await client.request(
          { method: 'tools/list', params: cursor ? { cursor } : undefined },
          LenientToolsPageSchema,
          { timeout: this.config.timeoutMs },
        );
        tools.push(...this.#usableTools(result.tools));
        cursor = result.nextCursor;
        if (!cursor) {
          this.#tools = tools;
          this.#taskOnly = new Set(
            tools.filter((tool) => tool.execution?.taskSupport === 'required').map((t) => t.name),
          );
          return tools;
        }
        if (seen.has(cursor)) break;
        seen.add(cursor);
      }
    } catch (error) {
      throw this.#requestError('tools/list', error);
    }
    throw new McpConnectionError(
      'request_failed',
      `${this.#label} kept paginating tools/list (more than ${MAX_TOOL_PAGES} pages or a repeated cursor)`,
    );
  }

  /**
   * The tools of one page that match the spec's `Tool` schema. One malformed tool is skipped with
   * a log line instead of failing the whole listing (which the SDK's `listTools` would do).
   */
  #usableTools(raw: readonly unknown[]): Tool[] {
    const tools: Tool[] = [];
    for (const candidate of raw) {
      const parsed = ToolSchema.safeParse(candidate);
      const name = (candidate as { name?: unknown } | null)?.name;
      // A name as it may be logged: never control characters, never huge.
      const shown = typeof name === 'string' ? name.slice(0, 128).replace(CONTROL, '?') : undefined;
      if (!parsed.success) {
        this.#logger.warn(
          { tool: shown, reason: parsed.error.message },
          'mcp tool skipped: its definition does not match the MCP Tool schema',
        );
        continue;
      }
      const problem = toolDefinitionProblem(parsed.data);
      if (problem) {
        this.#logger.warn({ tool: shown, reason: problem }, `mcp tool skipped: ${problem}`);
        continue;
      }
      tools.push(parsed.data);
    }
    return tools;
  }

  /**
   * Calls a tool by its original MCP name, within the server's `timeoutMs`. A tool the last
   * listing marked task-only runs as an MCP task (see {@link McpConnection.#callToolAsTask}).
   *
   * @param name the tool's name on the server (not the advertised name).
   * @param args the tool's arguments, matching its `inputSchema`.
   * @returns the raw result; a result with `isError: true` is returned, not thrown.
   * @throws McpConnectionError `not_connected`, `connection_lost` or `request_failed`.
   */
  callTool(
    name: string,
    args: Record<string, unknown>,
    options: CallToolOptions = {},
  ): Promise<CallToolResult> {
    // Not an async function: it only picks the path, and an async layer here would add promise
    // ticks to every call's latency (`npm run bench`, toolCallOverhead).
    let client: Client;
    try {
      client = this.#requireClient();
    } catch (error) {
      return Promise.reject(error as Error);
    }
    if (this.#taskOnly.has(name)) return this.#callToolAsTask(client, name, args, options);
    if (this.#deadlines) return this.#callToolTimed(client, this.#deadlines, name, args, options);
    return this.#callToolPlain(client, name, args, options);
  }

  /** A call on a connection that does not answer elicitation, timed by the SDK's timer. */
  async #callToolPlain(
    client: Client,
    name: string,
    args: Record<string, unknown>,
    options: CallToolOptions,
  ): Promise<CallToolResult> {
    const relay = options.signal ? new CallAbortRelay(options.signal) : undefined;
    try {
      const result = await client.callTool({ name, arguments: args }, undefined, {
        timeout: options.timeoutMs ?? this.config.timeoutMs,
        signal: relay?.signal,
        // A progress token goes out only when the caller listens: it costs the server a bigger
        // request to parse (about 5 % of a fast stdio call). With it, each progress report
        // restarts the timeout (MCP spec, "Progress"), so a long call that reports stays alive.
        ...(options.onProgress && {
          onprogress: options.onProgress,
          resetTimeoutOnProgress: true,
          maxTotalTimeout: options.maxTotalTimeoutMs,
        }),
      });
      return result as CallToolResult;
    } catch (error) {
      throw this.#requestError(`tools/call ${name}`, error, options.signal);
    } finally {
      relay?.done();
    }
  }

  /**
   * A call on a connection that answers elicitation: timed by the connection's
   * {@link CallDeadlines} (held while an elicitation is answered) instead of the SDK's timer, and
   * registered so that an elicitation can find it. A deadline that runs out aborts the request
   * as the SDK's own timeout does (`notifications/cancelled`, then `RequestTimeout`).
   */
  async #callToolTimed(
    client: Client,
    deadlines: CallDeadlines<InFlightCall>,
    name: string,
    args: Record<string, unknown>,
    options: CallToolOptions,
  ): Promise<CallToolResult> {
    // One object per call: the SDK's signal, the deadline and the entry elicitations look for.
    const call = new InFlightCall(
      options.timeoutMs ?? this.config.timeoutMs,
      options.signal,
      options,
    );
    const onProgress = options.onProgress;
    const answered = client.callTool({ name, arguments: args }, undefined, {
      timeout: NO_SDK_TIMEOUT_MS,
      signal: call.signal,
      ...(onProgress && {
        onprogress: (progress: Progress) => {
          call.touch();
          onProgress(progress);
        },
        resetTimeoutOnProgress: true,
        maxTotalTimeout: options.maxTotalTimeoutMs,
      }),
    });
    // The SDK sends the request before its first await, so the call is listed (and its deadline
    // starts being checked) after the request is on its way, while the server works: not on the
    // call's latency. The server cannot answer, ask or report progress before the next await.
    deadlines.add(call);
    try {
      return (await answered) as CallToolResult;
    } catch (error) {
      // Aborted by anything but its deadline (the caller's signal, the one an elicitation's
      // handler made it follow, a close): cancelled, never counted as the server's timeout.
      throw this.#requestError(
        `tools/call ${name}`,
        error,
        call.timedOut ? undefined : call.signal,
      );
    } finally {
      call.done();
    }
  }

  /**
   * Answers one `elicitation/create`: hands it to the call it most likely belongs to (see
   * {@link CallToolOptions.onElicitation}) or the connection's handler, holding every call's
   * deadline meanwhile (and, for an accepted URL-mode request, until the server completes it or
   * {@link URL_ELICITATION_HOLD_MS} has passed). A handler that throws answers `cancel`.
   */
  async #elicit(params: ElicitationParams, signal: AbortSignal): Promise<ElicitResult> {
    const calls = this.#deadlines!.toArray().filter((call) => call.handler);
    const call = calls.find((candidate) => candidate.eliciting === 0) ?? calls[0];
    const handler = call?.handler ?? this.#onElicitation!;
    const release = this.#deadlines!.pauseAll();
    let completed = NEVER;
    const url = params.mode === 'url' ? params.elicitationId : undefined;
    if (url !== undefined) {
      completed = new Promise<void>((resolve) => this.#urlWaits.set(url, resolve));
    }
    if (call) call.eliciting++;
    let result: ElicitResult = { action: 'cancel' };
    try {
      result = await handler(params, { signal, completed, call });
      return result;
    } catch (error) {
      this.#logger.warn({ err: error }, 'elicitation handler failed; answering cancel');
      return result;
    } finally {
      if (call) call.eliciting--;
      this.#logger.info(
        { mode: params.mode ?? 'form', action: result.action },
        'mcp server elicitation answered',
      );
      if (url !== undefined && result.action === 'accept') {
        // Held until the server completes it, or for URL_ELICITATION_HOLD_MS at most.
        const timer = setTimeout(() => {
          this.#urlWaits.delete(url);
          release();
        }, URL_ELICITATION_HOLD_MS);
        timer.unref();
        void completed.then(() => {
          clearTimeout(timer);
          release();
        });
      } else {
        if (url !== undefined) this.#urlWaits.delete(url);
        release();
      }
    }
  }

  /**
   * Answers one `sampling/createMessage`: handed to the oldest call in flight that takes sampling
   * requests ({@link CallToolOptions.onSampling}), holding every call's deadline meanwhile (the
   * answer may wait for a person, as an elicitation's does); refused when no call takes it.
   *
   * @throws McpError `InvalidRequest` when no call in flight takes sampling requests; what the
   *   handler throws otherwise (the SDK answers the server with it as a JSON-RPC error).
   */
  async #sample(
    params: CreateMessageRequest['params'],
    signal: AbortSignal,
  ): Promise<CreateMessageResult | CreateMessageResultWithTools> {
    const call = this.#deadlines!.find((candidate) => candidate.onSampling !== undefined);
    if (!call) {
      throw new McpError(
        ErrorCode.InvalidRequest,
        'Sampling is available only during a tool call from an MCP client that supports it',
      );
    }
    const release = this.#deadlines!.pauseAll();
    let answered = false;
    try {
      const result = await call.onSampling!(params, { signal });
      answered = true;
      return result;
    } finally {
      release();
      this.#logger.info({ answered }, 'mcp server sampling request relayed');
    }
  }

  /**
   * `notifications/message`: handed to the oldest call in flight that takes log messages
   * ({@link CallToolOptions.onLog}); dropped when none does.
   */
  #logged(message: LoggingMessageNotification['params']): void {
    const call = this.#deadlines?.find((candidate) => candidate.onLog !== undefined);
    if (!call) return;
    try {
      call.onLog!(message);
    } catch (error) {
      this.#logger.debug({ err: error }, 'a log message handler failed');
    }
  }

  /** `notifications/elicitation/complete`: the out-of-band step of a URL elicitation is done. */
  #elicitationCompleted(elicitationId: string): void {
    const resolve = this.#urlWaits.get(elicitationId);
    this.#urlWaits.delete(elicitationId);
    if (!resolve) {
      this.#logger.debug('elicitation/complete for an elicitation not waiting; ignored');
      return;
    }
    resolve();
  }

  /**
   * A tool the server runs only as a task (`execution.taskSupport: "required"`, MCP 2025-11-25
   * "Tasks"): the call is task-augmented through the SDK (`experimental.tasks.callToolStream`),
   * which polls `tasks/get` at the server's interval until the result. Each status message is
   * handed to `onProgress` (`progress` counts the reports, `message` is the server's status), so
   * a voice session can speak it. Aborting the signal stops polling and sends `tasks/cancel`.
   * The whole task is bounded by `maxTotalTimeoutMs` (default 10 minutes); each request within it
   * by the server's `timeoutMs`.
   */
  async #callToolAsTask(
    client: Client,
    name: string,
    args: Record<string, unknown>,
    options: CallToolOptions,
  ): Promise<CallToolResult> {
    const total = AbortSignal.timeout(options.maxTotalTimeoutMs ?? TASK_TOTAL_TIMEOUT_MS);
    const signal = options.signal ? AbortSignal.any([options.signal, total]) : total;
    let taskId: string | undefined;
    let reports = 0;
    // Found by an elicitation like any call (a task is bounded by its total, not a deadline).
    const call = this.#deadlines?.add(
      new InFlightCall(Infinity, undefined, {
        // Read when asked, as on any call; a task takes no sampling requests.
        get onElicitation() {
          return options.onElicitation;
        },
        get onLog() {
          return options.onLog;
        },
      }),
    );
    try {
      const stream = client.experimental.tasks.callToolStream(
        { name, arguments: args },
        undefined,
        {
          task: {},
          signal,
          timeout: options.timeoutMs ?? this.config.timeoutMs,
          onprogress: options.onProgress,
        },
      );
      for await (const message of stream) {
        if (message.type === 'taskCreated') taskId = message.task.taskId;
        if (message.type === 'taskStatus' && message.task.statusMessage) {
          options.onProgress?.({ progress: ++reports, message: message.task.statusMessage });
        }
        if (message.type === 'result') return message.result as CallToolResult;
        if (message.type === 'error') throw message.error;
      }
      throw new Error(`the task of ${name} ended without a result`);
    } catch (error) {
      if (signal.aborted && taskId) {
        void client.experimental.tasks.cancelTask(taskId).catch(() => undefined);
      }
      if (total.aborted && !options.signal?.aborted) {
        throw this.#scrubbed(
          new McpConnectionError(
            'timeout',
            `tools/call ${name} on ${this.#label} did not finish its task in time`,
            { cause: error },
          ),
        );
      }
      throw this.#requestError(`tools/call ${name}`, error, options.signal);
    } finally {
      call?.done();
    }
  }

  /**
   * Sends an MCP `ping` (never a second `initialize`).
   *
   * @param timeoutMs how long to wait for the answer; default the server's `timeoutMs`.
   * @returns the round trip in milliseconds.
   * @throws McpConnectionError when not connected or the ping fails or times out.
   */
  async ping(timeoutMs = this.config.timeoutMs): Promise<number> {
    const client = this.#requireClient();
    const started = performance.now();
    try {
      await client.ping({ timeout: timeoutMs });
    } catch (error) {
      throw this.#requestError('ping', error);
    }
    return roundMs(performance.now() - started);
  }

  /**
   * Lists the server's resources (MCP spec 2025-11-25, "Resources › Listing Resources"),
   * following `nextCursor` pagination, within the server's `timeoutMs` per page. Like every
   * request it goes through the message-size guard (`maxMessageBytes`) and the error mapping.
   *
   * @param limit most resources returned (pages are read until this many are collected); default
   *   {@link MAX_LISTED_RESOURCES}.
   * @throws McpConnectionError `not_connected`, or `request_failed` when the server answers with
   *   an error (for example a server without the `resources` capability) or never ends its
   *   pagination.
   */
  async listResources(limit = MAX_LISTED_RESOURCES): Promise<Resource[]> {
    return this.#listPaged('resources/list', limit, async (client, cursor) => {
      const page = await client.listResources(cursor ? { cursor } : undefined, {
        timeout: this.config.timeoutMs,
      });
      return { items: page.resources, nextCursor: page.nextCursor };
    });
  }

  /**
   * Lists the server's resource templates (MCP spec 2025-11-25, "Resources › Resource
   * Templates"), paginated like {@link McpConnection.listResources}.
   *
   * @param limit most templates returned; default {@link MAX_LISTED_RESOURCES}.
   * @throws McpConnectionError as {@link McpConnection.listResources} does.
   */
  async listResourceTemplates(limit = MAX_LISTED_RESOURCES): Promise<ResourceTemplate[]> {
    return this.#listPaged('resources/templates/list', limit, async (client, cursor) => {
      const page = await client.listResourceTemplates(cursor ? { cursor } : undefined, {
        timeout: this.config.timeoutMs,
      });
      return { items: page.resourceTemplates, nextCursor: page.nextCursor };
    });
  }

  /**
   * Reads one resource by URI (MCP spec 2025-11-25, "Resources › Reading Resources"), within the
   * server's `timeoutMs`; a template's resource is read by its filled-in URI.
   *
   * @param uri the resource's URI, as listed (or a template's URI with its variables filled in).
   * @param options.signal aborts the request (the SDK then sends `notifications/cancelled`).
   * @returns the contents as the server sent them: text or base64 `blob` items.
   * @throws McpConnectionError `not_connected`, `cancelled`, `timeout`, `connection_lost` or
   *   `request_failed` (an unknown URI is the server's error `-32002`, mapped to `request_failed`).
   */
  async readResource(
    uri: string,
    options: { signal?: AbortSignal } = {},
  ): Promise<ReadResourceResult> {
    const client = this.#requireClient();
    try {
      return await client.readResource(
        { uri },
        { timeout: this.config.timeoutMs, signal: options.signal },
      );
    } catch (error) {
      throw this.#requestError('resources/read', error, options.signal);
    }
  }

  /** Reads pages of a paginated list until `limit` items, the last page, or a repeated cursor. */
  async #listPaged<T>(
    what: string,
    limit: number,
    page: (
      client: Client,
      cursor: string | undefined,
    ) => Promise<{ items: T[]; nextCursor?: string }>,
  ): Promise<T[]> {
    const client = this.#requireClient();
    const items: T[] = [];
    const seen = new Set<string>();
    let cursor: string | undefined;
    try {
      for (let count = 0; count < MAX_TOOL_PAGES; count++) {
        const result = await page(client, cursor);
        items.push(...result.items);
        cursor = result.nextCursor;
        if (!cursor || items.length >= limit) return items.slice(0, limit);
        if (seen.has(cursor)) break;
        seen.add(cursor);
      }
    } catch (error) {
      throw this.#requestError(what, error);
    }
    throw new McpConnectionError(
      'request_failed',
      `${this.#label} kept paginating ${what} (more than ${MAX_TOOL_PAGES} pages or a repeated cursor)`,
    );
  }

  /** Closes the connection and ends a stdio server's process. Safe to call more than once. */
  async close(): Promise<void> {
    this.#closing = true;
    this.#urlWaits.clear();
    await this.#teardown();
    this.#setStatus('disconnected');
  }

  async #connectWith(transport: Transport): Promise<void> {
    const onToolsListChanged = this.#onToolsListChanged;
    const client = new Client(CLIENT_INFO, {
      capabilities: this.#onElicitation
        ? { elicitation: ELICITATION_CAPABILITY, ...(this.#sampling && { sampling: {} }) }
        : {},
      jsonSchemaValidator: new LazyJsonSchemaValidator(),
      // The SDK's own refresh reads one page only; we list (paginated) when told to.
      listChanged: onToolsListChanged
        ? { tools: { autoRefresh: false, debounceMs: 100, onChanged: () => onToolsListChanged() } }
        : undefined,
    });
    client.onclose = () => this.#onTransportClosed(client);
    if (this.#onElicitation) {
      client.setRequestHandler(ElicitRequestSchema, (request, extra) =>
        this.#elicit(request.params, extra.signal),
      );
      client.setNotificationHandler(ElicitationCompleteNotificationSchema, (notification) =>
        this.#elicitationCompleted(notification.params.elicitationId),
      );
      client.setNotificationHandler(LoggingMessageNotificationSchema, (notification) =>
        this.#logged(notification.params),
      );
    }
    if (this.#sampling) {
      client.setRequestHandler(CreateMessageRequestSchema, (request, extra) =>
        this.#sample(request.params, extra.signal),
      );
    }
    const onTransportError = this.#onTransportError;
    // Stray output on stdout during initialize: if initialize has not completed a second after
    // it, the line is the likely reason, and the connect fails with it instead of waiting for
    // the timeout. A server that prints a banner and then answers is not held up.
    let strayTimer: NodeJS.Timeout | undefined;
    let onStray: ((error: StrayStdoutError) => void) | undefined;
    const stray = new Promise<never>((_, reject) => {
      onStray = (error) => {
        strayTimer ??= setTimeout(
          () =>
            reject(
              new McpConnectionError(
                'connect_failed',
                `Could not connect to ${this.#label}: ${this.#scrub(error.message)} (stdout is for MCP messages only: a server must log to stderr)${this.#stderrNote()}`,
                { cause: error },
              ),
            ),
          STRAY_STDOUT_GRACE_MS,
        );
      };
    });
    client.onerror = (error) => {
      if (error instanceof StrayStdoutError && this.#status === 'connecting') onStray?.(error);
      const tooLarge = messageTooLarge(error);
      if (tooLarge) this.#refuseTooLarge(tooLarge);
      this.#logger.debug({ err: error }, 'mcp transport error');
      if (this.#status === 'connected' && this.#client === client) onTransportError?.(error);
    };
    this.#client = client;
    this.#transport = transport;
    if (transport instanceof StdioProcessTransport) this.#stdio = transport;
    const timeoutMs = this.config.timeoutMs;
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () =>
          reject(
            new McpConnectionError(
              'connect_timeout',
              `${this.#label} did not complete initialize within ${timeoutMs} ms${this.#stderrNote()}`,
            ),
          ),
        timeoutMs,
      );
    });
    // The SDK tells the transport the negotiated version after `initialize` (HTTP transports put
    // it in a header); listening there is the one place the SDK exposes it, on every transport.
    const setProtocolVersion = transport.setProtocolVersion?.bind(transport);
    transport.setProtocolVersion = (version: string) => {
      this.#protocolVersion = version;
      setProtocolVersion?.(version);
    };
    try {
      await Promise.race([client.connect(transport, { timeout: timeoutMs }), deadline, stray]);
    } catch (error) {
      await this.#teardown();
      throw error;
    } finally {
      clearTimeout(timer);
      clearTimeout(strayTimer);
      onStray = undefined;
    }
  }

  /**
   * Builds the config's transport (see `transports.ts`), or HTTP+SSE for a `streamable-http`
   * server that fell back; a remote one gets a network of its own.
   */
  #createTransport(options: { overSse?: boolean } = {}): Transport {
    const config = this.config;
    if (config.transport === 'stdio') {
      return createStdioTransport(config, {
        command: this.#stdioCommand ?? resolveStdioCommand(config.command, this.#allowedCommands),
        label: this.#label,
        logger: this.#logger,
        maxMessageBytes: this.#maxMessageBytes,
        stderr: this.#stderr,
        killGraceMs: this.#killGraceMs,
        limiter: this.#stdioLimiter,
        sandbox: this.#sandbox,
        serverId: this.#serverId,
      });
    }
    // One network (undici agent and DNS answers) per transport: #teardown closes it.
    void this.#network?.close();
    const network = (this.#network = new GuardedNetwork(this.#urlPolicy));
    const kind = options.overSse ? 'sse' : config.transport;
    // Only the HTTP transports take an OAuth provider (server-config rejects OAuth on websocket).
    if (kind !== 'websocket' && !this.#authProvider && isOAuth(config.auth)) {
      this.#authProvider ??= createOAuthProvider(config.auth, new URL(config.url), {
        onTokens: (tokens) => {
          this.#scrubber.add(tokens.access_token);
          this.#scrubber.add(tokens.refresh_token);
        },
      });
    }
    return createRemoteTransport(config, kind, {
      network,
      userToken: this.#userToken,
      authProvider: kind === 'websocket' ? undefined : this.#authProvider,
      maxMessageBytes: this.#maxMessageBytes,
      onTooLarge: (error) => this.#refuseTooLarge(error),
    });
  }

  /**
   * Resolves the stdio command on Switchboard's fixed search path and refuses one off the allow
   * list, before anything is started; the transport spawns the path found here.
   */
  #checkCommand(): void {
    const config = this.config;
    if (config.transport === 'stdio') {
      this.#stdioCommand = resolveStdioCommand(config.command, this.#allowedCommands);
    }
  }

  /**
   * A message over the limit: the connection is closed at once, so every request waiting on it
   * fails now with the limit named (a server-sent event stream's reader would otherwise retry,
   * and its requests wait for their timeout).
   */
  #refuseTooLarge(error: McpMessageTooLargeError): void {
    if (this.#tooLarge) return;
    this.#tooLarge = error;
    this.#logger.warn(
      { limitBytes: error.limitBytes },
      'mcp server sent a message over MCP_MAX_MESSAGE_BYTES; closing the connection',
    );
    void this.#client?.close().catch(() => undefined);
  }

  #stderrNote(): string {
    return this.#stderr.note();
  }

  /**
   * How a stdio server's process ended, when it has, e.g. `the server process exited with code
   * 1`; undefined for a remote server or a process still running.
   *
   * @param prefix words before the transport's `exit` text; default `the server process `.
   * @param suffix words after it; default none.
   */
  #processEnded(prefix = 'the server process ', suffix = ''): string | undefined {
    const exit = this.#stdio?.exit;
    return exit ? `${prefix}${exit}${suffix}` : undefined;
  }

  /** True when a sandboxed stdio start failed in bubblewrap's own network set-up. */
  #sandboxSetupFailed(): boolean {
    return (
      this.config.transport === 'stdio' &&
      this.#sandbox !== undefined &&
      /bwrap: loopback: /.test(this.#stderrNote())
    );
  }

  /**
   * The error with this server's secrets scrubbed from its message and its cause chain (which
   * `describeError` and the log quote), so no consumer of the connection sees them.
   */
  #scrubbed(error: McpConnectionError): McpConnectionError {
    error.message = this.#scrubber.scrub(error.message);
    if (error.stack) error.stack = this.#scrubber.scrub(error.stack);
    if (error.cause !== undefined) {
      Object.defineProperty(error, 'cause', {
        value: this.#scrubber.scrubError(error.cause),
        configurable: true,
        writable: true,
      });
    }
    return error;
  }

  #onTransportClosed(client: Client): void {
    if (this.#client !== client) return;
    this.#client = undefined;
    this.#transport = undefined;
    void this.#network?.close();
    this.#network = undefined;
    if (this.#closing || this.#status === 'connecting') return;
    const why = this.#tooLarge
      ? `was closed: ${this.#tooLarge.message}`
      : `was closed by the server${this.#processEnded(' (the process ', ')') ?? ''}${this.#stderrNote()}`;
    this.#fail(
      this.#scrubbed(
        new McpConnectionError('connection_lost', `Connection to ${this.#label} ${why}`),
      ),
    );
    this.#logger.warn({ err: this.#lastError }, 'mcp connection lost');
  }

  async #teardown(): Promise<void> {
    const client = this.#client;
    const network = this.#network;
    this.#client = undefined;
    this.#transport = undefined;
    this.#network = undefined;
    if (client) {
      try {
        await client.close();
      } catch (error) {
        this.#logger.debug({ err: error }, 'error while closing mcp client');
      }
    }
    await network?.close();
  }

  /** The client unless close() has begun (a method, so TypeScript keeps no stale narrowing). */
  #liveClient(): Client | undefined {
    return this.#closing ? undefined : this.#client;
  }

  #requireClient(): Client {
    if (!this.#client) {
      throw new McpConnectionError(
        'not_connected',
        `${this.#label} is not connected${this.#lastError ? `: ${this.#lastError.message}` : ''}`,
      );
    }
    return this.#client;
  }

  /**
   * The error of a failed request (see `request-errors.ts`), scrubbed; a failure that means the
   * connection can no longer be trusted marks it lost.
   */
  #requestError(what: string, error: unknown, signal?: AbortSignal): McpConnectionError {
    const { error: failure, lost } = classifyRequestError(error, {
      what,
      label: this.#label,
      signal,
      tooLarge: this.#tooLarge,
      connected: this.#client !== undefined,
      scrub: this.#scrub,
    });
    const scrubbed = this.#scrubbed(failure);
    if (lost) this.#markLost(scrubbed);
    return scrubbed;
  }

  /** Drops a client whose transport can no longer be trusted, and says so once. */
  #markLost(failure: McpConnectionError): void {
    if (this.#closing || this.#status !== 'connected') return;
    void this.#teardown();
    this.#fail(failure);
  }

  #fail(error: McpConnectionError): void {
    this.#lastError = error;
    this.#setStatus('error', error);
  }

  #setStatus(status: ConnectionStatus, error?: McpConnectionError): void {
    if (this.#status === status && !error) return;
    this.#status = status;
    this.#onStatusChange?.(status, error);
  }
}

function describeTarget(config: McpServerConfig): string {
  return config.transport === 'stdio' ? config.command : new URL(config.url).host;
}

function roundMs(ms: number): number {
  return Math.round(ms * 10) / 10;
}

/**
 * The provider, with every token it hands out or saves added to the connection's scrubber, so an
 * error or log line that quotes one says `[redacted]` (DESIGN §9.2). A proxy rather than a
 * subclass: the provider is the caller's (a user's stored authorization), and its other members
 * and its class are kept as they are.
 */
function scrubbingTokens(
  provider: OAuthClientProvider,
  scrubber: SecretScrubber,
): OAuthClientProvider {
  const learn = (tokens: OAuthTokens | undefined) => {
    scrubber.add(tokens?.access_token);
    scrubber.add(tokens?.refresh_token);
  };
  return new Proxy(provider, {
    get(target, property) {
      if (property === 'tokens') {
        return async () => {
          const tokens = await target.tokens();
          learn(tokens);
          return tokens;
        };
      }
      if (property === 'saveTokens') {
        return async (tokens: OAuthTokens) => {
          learn(tokens);
          await target.saveTokens(tokens);
        };
      }
      // The target as receiver: its getters may read its private fields.
      const value: unknown = Reflect.get(target, property, target);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}
