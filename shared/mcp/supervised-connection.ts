/**
 * An MCP server connection that looks after itself (DESIGN §5, §8): it notices a dead server at
 * once, pings a live one (MCP `ping`, never a second `initialize`), reconnects forever with
 * exponential backoff and full jitter while the server is wanted, fails tool calls fast while
 * the server is down (a circuit breaker whose half-open probe is the next reconnect attempt),
 * and re-lists tools after every reconnect and on `notifications/tools/list_changed`.
 *
 * Backoff with full jitter: the n-th retry waits `random() * min(capMs, baseMs * 2^n)`
 * ("Exponential Backoff And Jitter", AWS Architecture Blog, 2015).
 */
import type {
  CallToolResult,
  ReadResourceResult,
  Resource,
  ResourceTemplate,
  Tool,
} from '@modelcontextprotocol/sdk/types.js';
import type { Logger } from '../logger.js';
import {
  McpConnection,
  type CallToolOptions,
  type ConnectionInfo,
  type McpConnectionOptions,
} from './connection.js';
import { authorizationRequiredReason } from './oauth/index.js';
import { McpConnectionError } from './errors.js';
import { StderrRepeats } from './stderr-log.js';
import { SecretScrubber, configSecrets, scrubbingLogger } from './secret-scrubber.js';
import type { ConnectionStatus, McpServerConfig } from './server-config.js';

/** Health and recovery settings; every duration in milliseconds. */
export interface HealthPolicy {
  /** Time between pings of a live connection (`MCP_HEALTH_INTERVAL_MS`); default 30000. */
  intervalMs: number;
  /** How long a ping may take (`MCP_HEALTH_TIMEOUT_MS`); default 5000. */
  pingTimeoutMs: number;
  /** Consecutive failed pings or calls that turn `degraded` into `error`; default 3. */
  failureThreshold: number;
  /** First reconnect delay bound; default 1000. */
  backoffBaseMs: number;
  /** Largest reconnect delay bound; default 60000. */
  backoffCapMs: number;
}

/** The defaults of {@link HealthPolicy}. */
export const DEFAULT_HEALTH_POLICY: HealthPolicy = {
  intervalMs: 30_000,
  pingTimeoutMs: 5_000,
  failureThreshold: 3,
  backoffBaseMs: 1_000,
  backoffCapMs: 60_000,
};

/**
 * The delay before reconnect attempt number `attempt` (0 for the first retry): exponential
 * backoff with full jitter, `floor(random() * min(capMs, baseMs * 2^attempt))` milliseconds.
 *
 * @param random a source of numbers in [0, 1).
 */
export function backoffDelayMs(
  attempt: number,
  policy: Pick<HealthPolicy, 'backoffBaseMs' | 'backoffCapMs'>,
  random: () => number,
): number {
  const bound = Math.min(policy.backoffCapMs, policy.backoffBaseMs * 2 ** Math.min(attempt, 30));
  return Math.floor(random() * bound);
}

/** What changed, passed to {@link SupervisedConnectionOptions.onStatusChange}. */
export interface StatusChange {
  status: ConnectionStatus;
  /** The failure behind `degraded` or `error`. */
  error?: McpConnectionError;
  /** When the next reconnect attempt starts (epoch ms), while one is scheduled. */
  retryAt?: number;
}

/** Options of {@link SupervisedConnection}. */
export interface SupervisedConnectionOptions {
  logger: Logger;
  /** Name for logs and for the errors the model reads, e.g. the server's display name. */
  label: string;
  /** Health and backoff settings; missing fields take {@link DEFAULT_HEALTH_POLICY}. */
  policy?: Partial<HealthPolicy>;
  /** Extra options for each underlying {@link McpConnection} (e.g. a user token). */
  connectionOptions?: Omit<
    McpConnectionOptions,
    'logger' | 'label' | 'onStatusChange' | 'onToolsListChanged' | 'onTransportError'
  >;
  /** Called on every status change. */
  onStatusChange?: (change: StatusChange) => void;
  /** Called with the new tool list after a reconnect or a `tools/list_changed` that changed it. */
  onToolsChanged?: (tools: readonly Tool[]) => void;
  /** Called after each successful ping with its round trip in milliseconds. */
  onHealthy?: (latencyMs: number) => void;
  /** Source of jitter in [0, 1); default `Math.random` (tests pass a fixed one). */
  random?: () => number;
  /**
   * Clock of `retryAt` and of the "Retrying in" of `unavailable` errors, in epoch milliseconds;
   * default `Date.now` (tests pass a fixed one). The retry itself waits on a timer.
   */
  now?: () => number;
}

/**
 * A self-healing connection to one MCP server. `start()` makes the first attempt; from then on
 * it keeps itself connected until `close()`.
 */
export class SupervisedConnection {
  readonly config: McpServerConfig;
  readonly label: string;
  readonly #options: SupervisedConnectionOptions;
  readonly #policy: HealthPolicy;
  readonly #logger: Logger;
  readonly #random: () => number;
  readonly #now: () => number;
  /** Shared by every attempt, so tokens one obtained are still scrubbed after a reconnect. */
  readonly #scrubber: SecretScrubber;
  /** The stderr lines this server's connections logged, so a restart's repeats are counted. */
  readonly #stderrRepeats = new StderrRepeats();
  #connection?: McpConnection;
  #status: ConnectionStatus = 'disconnected';
  #lastError?: McpConnectionError;
  #tools: readonly Tool[] = [];
  #info?: ConnectionInfo;
  #failures = 0;
  #attempt = 0;
  #retryTimer?: NodeJS.Timeout;
  #retryAt?: number;
  /** Leaves the shared health tick (see {@link onHealthTick}) while the loop runs. */
  #stopHealthLoop?: () => void;
  #connecting?: Promise<boolean>;
  /** The connection an attempt in flight is making (closed by `close()` to end the attempt). */
  #attempting?: McpConnection;
  #closed = false;
  #reportedReason?: string;
  /** A health check is in flight (the loop and transport errors never stack pings). */
  #checking = false;
  /** Listeners added with {@link onToolsChanged}. */
  readonly #toolsListeners = new Set<(tools: readonly Tool[]) => void>();
  /** Listeners added with {@link onConnected}. */
  readonly #connectedListeners = new Set<(info: ConnectionInfo) => void>();

  /**
   * @param config how to reach the server.
   * @param options logger, label, policy and listeners.
   */
  constructor(config: McpServerConfig, options: SupervisedConnectionOptions) {
    this.config = config;
    this.label = options.label;
    this.#options = options;
    this.#policy = { ...DEFAULT_HEALTH_POLICY, ...options.policy };
    this.#scrubber = options.connectionOptions?.scrubber ?? new SecretScrubber();
    for (const secret of configSecrets(config)) this.#scrubber.add(secret);
    this.#scrubber.add(options.connectionOptions?.userToken);
    this.#logger = scrubbingLogger(
      options.logger.child({ mcpServer: options.label }),
      this.#scrubber,
    );
    this.#random = options.random ?? Math.random;
    this.#now = options.now ?? Date.now;
  }

  /** The current status (DESIGN §5). */
  get status(): ConnectionStatus {
    return this.#status;
  }

  /** The failure behind the last `degraded` or `error`. */
  get lastError(): McpConnectionError | undefined {
    return this.#lastError;
  }

  /**
   * Scrubs this server's secrets, the user token and every OAuth token obtained so far from a
   * text (e.g. a tool's error result before it is recorded).
   */
  get scrubber(): SecretScrubber {
    return this.#scrubber;
  }

  /** The tools from the last successful listing (kept while the server is down). */
  get tools(): readonly Tool[] {
    return this.#tools;
  }

  /** What the server said at the last `initialize`. */
  get info(): ConnectionInfo | undefined {
    return this.#info;
  }

  /** When the next reconnect attempt starts (epoch ms), while one is scheduled. */
  get retryAt(): number | undefined {
    return this.#retryAt;
  }

  /** Process id of a stdio server's child while connected (see `McpConnection.pid`), else `null`. */
  get pid(): number | null {
    return this.#connection?.pid ?? null;
  }

  /** The SDK `Client` of the live connection (see {@link McpConnection.sdkClient}). */
  get sdkClient(): McpConnection['sdkClient'] {
    return this.#connection?.sdkClient;
  }

  /**
   * Adds a listener for the changes the `onToolsChanged` option gets (a reconnect or a
   * `tools/list_changed` that changed the list), called after that option, in the order added.
   *
   * @returns a function that removes the listener (safe to call twice).
   */
  onToolsChanged(listener: (tools: readonly Tool[]) => void): () => void {
    const entry = (tools: readonly Tool[]) => listener(tools);
    this.#toolsListeners.add(entry);
    return () => this.#toolsListeners.delete(entry);
  }

  /**
   * Adds a listener called after every successful connect or reconnect, once the tools are
   * listed (after any tool-change listener), with what the server said at `initialize` (its
   * capabilities may differ from the last connection's).
   *
   * @returns a function that removes the listener (safe to call twice).
   */
  onConnected(listener: (info: ConnectionInfo) => void): () => void {
    const entry = (info: ConnectionInfo) => listener(info);
    this.#connectedListeners.add(entry);
    return () => this.#connectedListeners.delete(entry);
  }

  /**
   * Makes the first connection attempt and starts supervising.
   *
   * @returns true when connected; false when the attempt failed (a retry is then scheduled).
   *   Never rejects.
   */
  start(): Promise<boolean> {
    this.#closed = false;
    return this.#connect();
  }

  /**
   * Calls a tool by its original name.
   *
   * - While the server is down with a retry scheduled, fails at once with `unavailable`
   *   (the breaker is open) instead of waiting on a timeout.
   * - While a (re)connect is in flight, waits for it, then sends the call once.
   * - When the connection turns out to be gone before anything was sent (`not_connected`,
   *   or a Streamable HTTP session the server forgot), reconnects at once and sends it once.
   * - When the connection breaks while the call is out, does not repeat it (it may have run):
   *   the error is returned and a reconnect is scheduled.
   *
   * @throws McpConnectionError: `unavailable`, `connection_lost`, `timeout`, `cancelled`,
   *   `request_failed`, or `not_connected` after `close()`.
   */
  callTool(
    name: string,
    args: Record<string, unknown>,
    options: CallToolOptions = {},
  ): Promise<CallToolResult> {
    // Connected (nearly every call): the request goes out in the caller's own tick, with no
    // await of ours before it and one after (`npm run bench`, toolCallOverhead).
    const live = this.#closed || this.#connecting ? undefined : this.#connection;
    return live
      ? this.#callOn(live, name, args, options)
      : this.#callWhenUsable(name, args, options);
  }

  /** {@link callTool} while connecting, down or closed: waits for (or fails as) the connection. */
  async #callWhenUsable(
    name: string,
    args: Record<string, unknown>,
    options: CallToolOptions,
  ): Promise<CallToolResult> {
    return this.#callOn(await this.#usableConnection(), name, args, options);
  }

  /** Sends the call on `connection`, tracked like {@link #tracked}; handles its failure. */
  async #callOn(
    connection: McpConnection,
    name: string,
    args: Record<string, unknown>,
    options: CallToolOptions,
  ): Promise<CallToolResult> {
    let result: CallToolResult;
    try {
      result = await connection.callTool(name, args, options);
    } catch (error) {
      this.#failed(error);
      return this.#callFailed(error, name, args, options);
    }
    this.#succeeded();
    return result;
  }

  /**
   * A call that failed: an account that needs the user, or a connection found gone before the
   * call went out (reconnects and sends it once more); anything else is rethrown.
   */
  async #callFailed(
    error: unknown,
    name: string,
    args: Record<string, unknown>,
    options: CallToolOptions,
  ): Promise<CallToolResult> {
    if (!(error instanceof McpConnectionError)) throw error;
    if (authorizationRequiredReason(error)) {
      // The account lacks the scope this call needs (or can no longer be refreshed): only the
      // user can fix it. The connection waits, as at connect, until the account changes.
      this.#dropConnection(error);
      this.#scheduleRetry();
      throw error;
    }
    if (error.code !== 'not_connected' && error.code !== 'session_expired') throw error;
    this.#logger.info({ code: error.code }, 'reconnecting before sending the call once');
    this.#dropConnection(error);
    if (!(await this.#connect())) throw this.#unavailable();
    return this.#tracked(this.#connection!.callTool(name, args, options));
  }

  /**
   * Lists the tools again (paginated) and reports a change through `onToolsChanged`.
   *
   * @throws McpConnectionError when the server is down or the listing fails.
   */
  async refreshTools(): Promise<readonly Tool[]> {
    const connection = await this.#usableConnection();
    const tools = await this.#tracked(connection.listTools());
    this.#setTools(tools);
    return tools;
  }

  /**
   * Lists the server's resources (see {@link McpConnection.listResources}); fails fast while the
   * server is down, and, being a read, is sent again once after a reconnect when the connection
   * turned out to be gone before it was sent (see {@link SupervisedConnection.callTool}).
   *
   * @param limit most resources returned; default `MAX_LISTED_RESOURCES` (500).
   * @throws McpConnectionError as {@link SupervisedConnection.callTool} does.
   */
  listResources(limit?: number): Promise<Resource[]> {
    return this.#read((connection) => connection.listResources(limit));
  }

  /**
   * Lists the server's resource templates (see {@link McpConnection.listResourceTemplates}),
   * handled like {@link SupervisedConnection.listResources}.
   *
   * @param limit most templates returned; default `MAX_LISTED_RESOURCES` (500).
   */
  listResourceTemplates(limit?: number): Promise<ResourceTemplate[]> {
    return this.#read((connection) => connection.listResourceTemplates(limit));
  }

  /**
   * Reads one resource by URI (see {@link McpConnection.readResource}), handled like
   * {@link SupervisedConnection.listResources}.
   *
   * @param uri the resource's URI, or a template's with its variables filled in.
   * @param options.signal aborts the read.
   */
  readResource(uri: string, options: { signal?: AbortSignal } = {}): Promise<ReadResourceResult> {
    return this.#read((connection) => connection.readResource(uri, options));
  }

  /**
   * Sends a request that only reads (safe to repeat) on the live connection: while down it fails
   * fast; when the connection is found gone before the request went out it reconnects and sends
   * it once more. Timeouts count against the server's health like a tool call's.
   */
  async #read<T>(send: (connection: McpConnection) => Promise<T>): Promise<T> {
    const connection = await this.#usableConnection();
    try {
      return await this.#tracked(send(connection));
    } catch (error) {
      if (!(error instanceof McpConnectionError)) throw error;
      if (error.code !== 'not_connected' && error.code !== 'session_expired') throw error;
      this.#dropConnection(error);
      if (!(await this.#connect())) throw this.#unavailable();
      return this.#tracked(send(this.#connection!));
    }
  }

  /**
   * Pings the server now (as the health loop does) and updates the status.
   *
   * @returns the round trip in milliseconds.
   * @throws McpConnectionError when the server is down or the ping fails.
   */
  async ping(): Promise<number> {
    const connection = await this.#usableConnection();
    const latencyMs = await this.#tracked(connection.ping(this.#policy.pingTimeoutMs));
    this.#options.onHealthy?.(latencyMs);
    return latencyMs;
  }

  /**
   * Skips the wait of a scheduled retry and attempts now (the half-open probe, on demand).
   *
   * @returns true when connected afterwards. Never rejects.
   */
  reconnectNow(): Promise<boolean> {
    if (this.#closed) return Promise.resolve(false);
    if (this.#connection) return Promise.resolve(true);
    return this.#connect();
  }

  /** Stops supervising and closes the connection (ending a stdio server's process). */
  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#retryTimer);
    this.#leaveHealthTick();
    this.#retryAt = undefined;
    const connection = this.#connection;
    this.#connection = undefined;
    // An attempt in flight is ended now (a server that never answers must not hold the close
    // up for its whole timeout); it then sees #closed and returns.
    await this.#attempting?.close();
    await this.#connecting;
    await connection?.close();
    this.#setStatus('disconnected');
  }

  /** The live connection, after waiting for a connect in flight; fails fast while down. */
  async #usableConnection(): Promise<McpConnection> {
    if (this.#closed) {
      throw new McpConnectionError('not_connected', `${this.label} is closed`);
    }
    if (this.#connecting) await this.#connecting;
    if (this.#connection) return this.#connection;
    throw this.#unavailable();
  }

  #unavailable(): McpConnectionError {
    const reason = this.#lastError ? `: ${this.#lastError.message}` : '';
    const retry =
      this.#retryAt !== undefined
        ? ` Retrying in ${Math.max(1, Math.ceil((this.#retryAt - this.#now()) / 1000))} s.`
        : '';
    return new McpConnectionError(
      'unavailable',
      `The ${this.label} server is unavailable${reason}.${retry}`,
      { cause: this.#lastError },
    );
  }

  /** Counts failures that say something about the server's health; successes clear them. */
  async #tracked<T>(request: Promise<T>): Promise<T> {
    try {
      const value = await request;
      this.#succeeded();
      return value;
    } catch (error) {
      this.#failed(error);
      throw error;
    }
  }

  /** A request answered: the failures counted so far are forgotten. */
  #succeeded(): void {
    if (this.#failures > 0) {
      this.#failures = 0;
      if (this.#status === 'degraded') this.#setStatus('connected');
    }
  }

  /** A request failed: a timeout counts against the server's health. */
  #failed(error: unknown): void {
    if (error instanceof McpConnectionError && error.code === 'timeout') this.#recordFailure(error);
  }

  #recordFailure(error: McpConnectionError): void {
    if (this.#closed || !this.#connection) return;
    this.#failures += 1;
    if (this.#failures < this.#policy.failureThreshold) {
      this.#setStatus('degraded', error);
      return;
    }
    this.#logger.warn({ failures: this.#failures, err: error.message }, 'mcp server failing');
    this.#dropConnection(error);
    this.#scheduleRetry();
  }

  /** One attempt; concurrent callers share it. Resolves true when connected. */
  #connect(): Promise<boolean> {
    this.#connecting ??= this.#attemptConnect().finally(() => {
      this.#connecting = undefined;
    });
    return this.#connecting;
  }

  async #attemptConnect(): Promise<boolean> {
    clearTimeout(this.#retryTimer);
    this.#retryAt = undefined;
    // Retries of a server already in `error` stay `error` until one succeeds, so a server that
    // is down does not flap between `connecting` and `error` (and the monitor writes nothing).
    if (this.#status !== 'error') this.#setStatus('connecting');
    const connection = new McpConnection(this.config, {
      ...this.#options.connectionOptions,
      scrubber: this.#scrubber,
      stderrRepeats: this.#stderrRepeats,
      logger: this.#options.logger,
      label: this.label,
      onStatusChange: (status, error) => {
        if (status === 'error' && error && this.#connection === connection) this.#onLost(error);
      },
      onToolsListChanged: () => void this.#onToolsListChanged(connection),
      // A broken event stream or a failed send may mean the server is gone: check now.
      onTransportError: () => {
        if (this.#connection === connection) void this.#healthCheck();
      },
    });
    this.#attempting = connection;
    try {
      this.#info = await connection.connect();
      const tools = await connection.listTools();
      if (this.#closed) {
        await connection.close();
        return false;
      }
      this.#connection = connection;
      this.#attempt = 0;
      this.#failures = 0;
      this.#lastError = undefined;
      this.#setTools(tools);
      this.#setStatus('connected');
      this.#startHealthLoop();
      this.#logger.info({ toolCount: tools.length }, 'mcp server ready');
      const info = this.#info;
      for (const listener of [...this.#connectedListeners]) listener(info);
      return true;
    } catch (error) {
      await connection.close();
      if (this.#closed) return false;
      this.#lastError =
        error instanceof McpConnectionError
          ? error
          : new McpConnectionError('connect_failed', this.#scrubber.scrub(String(error)), {
              cause: this.#scrubber.scrubError(error),
            });
      this.#scheduleRetry();
      return false;
    } finally {
      if (this.#attempting === connection) this.#attempting = undefined;
    }
  }

  #onLost(error: McpConnectionError): void {
    if (this.#closed) return;
    this.#logger.warn({ err: error.message }, 'mcp connection lost; reconnecting');
    this.#dropConnection(error);
    // A server that forgot our session is up and answering: start a new session at once.
    if (error.code === 'session_expired') void this.#connect();
    else this.#scheduleRetry();
  }

  /** Forgets the current connection (closing it in the background) and records why. */
  #dropConnection(error: McpConnectionError): void {
    this.#leaveHealthTick();
    const connection = this.#connection;
    this.#connection = undefined;
    this.#lastError = error;
    void connection?.close();
  }

  #scheduleRetry(): void {
    if (this.#closed) return;
    clearTimeout(this.#retryTimer);
    if (authorizationRequiredReason(this.#lastError)) {
      // Only the user can fix this, by connecting their account; retrying cannot. A session
      // replaces the connection when they do (the server's `account_changed_at` changes).
      this.#retryAt = undefined;
      this.#setStatus('needs_authorization', this.#lastError);
      this.#logger.info('mcp server needs the account connected; not retrying');
      return;
    }
    const delayMs = backoffDelayMs(this.#attempt, this.#policy, this.#random);
    this.#attempt += 1;
    this.#retryAt = this.#now() + delayMs;
    this.#retryTimer = setTimeout(() => void this.#connect(), delayMs);
    this.#retryTimer.unref();
    this.#setStatus('error', this.#lastError);
    this.#logger.info({ attempt: this.#attempt, delayMs }, 'mcp reconnect scheduled');
  }

  #startHealthLoop(): void {
    this.#leaveHealthTick();
    this.#stopHealthLoop = onHealthTick(this.#policy.intervalMs, () => void this.#healthCheck());
  }

  #leaveHealthTick(): void {
    this.#stopHealthLoop?.();
    this.#stopHealthLoop = undefined;
  }

  async #healthCheck(): Promise<void> {
    const connection = this.#connection;
    if (!connection || this.#connecting || this.#checking) return;
    this.#checking = true;
    try {
      await this.#pingForHealth(connection);
    } finally {
      this.#checking = false;
    }
  }

  async #pingForHealth(connection: McpConnection): Promise<void> {
    try {
      const latencyMs = await connection.ping(this.#policy.pingTimeoutMs);
      if (connection !== this.#connection) return;
      if (this.#failures > 0) {
        this.#failures = 0;
        this.#setStatus('connected');
      }
      this.#options.onHealthy?.(latencyMs);
    } catch (error) {
      if (connection !== this.#connection || !(error instanceof McpConnectionError)) return;
      // A lost transport is handled by #onLost; anything else counts against the threshold.
      if (error.code === 'connection_lost' || error.code === 'session_expired') return;
      this.#recordFailure(error);
    }
  }

  async #onToolsListChanged(connection: McpConnection): Promise<void> {
    if (connection !== this.#connection) return;
    try {
      this.#setTools(await connection.listTools());
    } catch (error) {
      this.#logger.warn({ err: error }, 'could not re-list tools after list_changed');
    }
  }

  #setTools(tools: readonly Tool[]): void {
    const changed = !sameTools(this.#tools, tools);
    this.#tools = tools;
    if (!changed) return;
    this.#options.onToolsChanged?.(tools);
    for (const listener of [...this.#toolsListeners]) listener(tools);
  }

  /** Reports a status, or the same status with a different error, to `onStatusChange`. */
  #setStatus(status: ConnectionStatus, error?: McpConnectionError): void {
    const reason = error?.message;
    if (this.#status === status && this.#reportedReason === reason) return;
    this.#status = status;
    this.#reportedReason = reason;
    this.#options.onStatusChange?.({ status, error, retryAt: this.#retryAt });
  }
}

/** The process's health ticks, one per interval length, with the checks each runs. */
const healthTicks = new Map<number, { timer: NodeJS.Timeout; checks: Set<() => void> }>();

/**
 * Runs `check` every `intervalMs` milliseconds on the process's one timer of that interval,
 * beside every other supervised connection's: a monitor's hundreds of connections are pinged
 * together, in one turn of the event loop, rather than each on a timer of its own (hundreds of
 * wake-ups a second at a 1 s interval). A connection's first check thus comes within one
 * interval of joining, not exactly one interval after. The timer does not keep the process up
 * (`unref`) and stops when its last check leaves.
 *
 * @returns the function that removes `check` (safe to call twice).
 */
function onHealthTick(intervalMs: number, check: () => void): () => void {
  let tick = healthTicks.get(intervalMs);
  if (!tick) {
    const checks = new Set<() => void>();
    const timer = setInterval(() => {
      for (const run of checks) run();
    }, intervalMs);
    timer.unref();
    tick = { timer, checks };
    healthTicks.set(intervalMs, tick);
  }
  const joined = tick;
  const entry = () => check();
  joined.checks.add(entry);
  return () => {
    joined.checks.delete(entry);
    if (joined.checks.size === 0 && healthTicks.get(intervalMs) === joined) {
      clearInterval(joined.timer);
      healthTicks.delete(intervalMs);
    }
  };
}

function sameTools(a: readonly Tool[], b: readonly Tool[]): boolean {
  if (a.length !== b.length) return false;
  return JSON.stringify(a) === JSON.stringify(b);
}
