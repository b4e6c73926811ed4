/**
 * The API process's status monitor: one {@link SupervisedConnection} per active server, so every
 * server is pinged (MCP `ping`), noticed at once when its transport closes, and reconnected
 * with backoff forever while active (DESIGN §5). It writes `connection_status` and `last_error`
 * when they change, `last_connected` at each connect and otherwise at most once per
 * {@link LAST_CONNECTED_REFRESH_MS} (or per health interval, when that is longer) while pings
 * succeed, and `metadata` (server info, tool count and names, latency) after each connect and
 * each change of the tool list; and it pins a new server's tools the first time it lists them
 * (issue 16, trust on first use). Writes are batched per tick ({@link StatusWriter}: one statement
 * for every server's changes of the tick, none when nothing changed); listeners hear of each
 * status at once, before it is written.
 */
import type { Tool } from '@modelcontextprotocol/sdk/types.js';
import type { Database } from '../../shared/db/open.js';
import type { SecretBox } from '../../shared/secrets.js';
import type { McpServerRow, ServerMetadata } from '../../shared/db/schema.js';
import {
  findServer,
  listAllActiveServers,
  type ServerStatusPatch,
  type ServerStore,
} from '../../shared/db/servers.js';
import { StatusWriter, type StatusBatchWrite } from './status-writes.js';
import type { Logger } from '../../shared/logger.js';
import type { ConnectionInfo } from '../../shared/mcp/connection.js';
import type { ConnectionGuards } from '../../shared/mcp/connection-guards.js';
import { describeError } from '../../shared/errors.js';
import { SecretScrubber, secretsOfColumns } from '../../shared/mcp/secret-scrubber.js';
import { toolPassesFilter } from '../../shared/mcp/advertised-tools.js';
import {
  configFromColumns,
  type ConnectionStatus,
  type ToolFilter,
} from '../../shared/mcp/server-config.js';
import { findOAuthConnection } from '../../shared/db/oauth.js';
import { pinToolsOnFirstUse } from '../../shared/db/tool-pins.js';
import { NOT_CONNECTED_REASON } from '../oauth/authorization.js';
import {
  DEFAULT_HEALTH_POLICY,
  SupervisedConnection,
  type HealthPolicy,
  type StatusChange,
} from '../../shared/mcp/supervised-connection.js';
import { declineElicitation } from '../../shared/mcp/elicitation.js';

/**
 * Longest a healthy server's stored `last_connected` lags behind its last successful ping: 60 s
 * (the health interval when that is longer). A connect always writes it at once.
 */
export const LAST_CONNECTED_REFRESH_MS = 60_000;

/** Why a `user-token` server shows `disconnected` in the API. */
export const USER_TOKEN_NOTE =
  'Connected by each agent session with its user token, so the monitor does not check it; ' +
  'test it with POST /api/mcp/servers/:id/test and a {"userToken": "..."} body.';

/** What the API routes need from a monitor. */
export interface ServerWatcher {
  /** Re-reads one server and connects, reconnects or closes it to match the stored config. */
  sync(serverId: number): Promise<void>;
  /** The supervised connection to a server, when the monitor holds one. */
  connection(serverId: number): SupervisedConnection | undefined;
  /** Subscribes to the monitor's status changes, when it reports them; returns the unsubscriber. */
  onChange?(listener: ServerStatusListener): () => void;
}

/**
 * A server status the monitor decided on, reported before it is written to the database (so
 * listeners stay current while the database is down). `removed`: the server was deleted or
 * deactivated and is no longer watched.
 */
export interface ServerStatusEvent {
  serverId: number;
  userId: number;
  /** The server's name (metrics label it by name). */
  name: string;
  status: ConnectionStatus | 'removed';
  /** The new `last_error` when it changed (`null`: cleared). */
  lastError?: string | null;
}

/** Receives {@link ServerStatusEvent}s; must not throw (an error is logged and ignored). */
export type ServerStatusListener = (event: ServerStatusEvent) => void;

/** Options of {@link StatusMonitor}. */
export interface StatusMonitorOptions {
  db: Database;
  /** Opens the servers' sealed secrets (`DatabaseHandle.secrets`). */
  secrets: SecretBox;
  logger: Logger;
  /** Health and backoff settings (`MCP_HEALTH_INTERVAL_MS`, `MCP_HEALTH_TIMEOUT_MS`, ...). */
  policy?: Partial<HealthPolicy>;
  /** Jitter source for reconnect delays; default `Math.random`. */
  random?: () => number;
  /**
   * Clock, in epoch milliseconds: when `last_connected` was last written, and the connections'
   * retry times; default `Date.now`.
   */
  now?: () => number;
  /**
   * The process's connection guards, applied to every connection (each stdio server counts
   * against its owner's share of `guards.stdioLimiter` too).
   */
  guards: ConnectionGuards;
  /**
   * Which active servers this process watches (`MonitorLeases.holds` in `leases.ts`, when API
   * replicas share the servers); default every one. An active server it does not watch is closed
   * here, with no status written or reported: its watcher reports it.
   */
  watches?: (serverId: number) => boolean;
  /**
   * Milliseconds between a healthy server's `last_connected` refreshes; default
   * {@link LAST_CONNECTED_REFRESH_MS}. The health interval is used when it is longer.
   */
  lastConnectedRefreshMs?: number;
  /** Milliseconds status patches are gathered before one batch writes them; default 1000. */
  statusTickMs?: number;
  /** Writes a batch of status patches; default `updateServerStatuses` (tests count batches). */
  statusWrite?: StatusBatchWrite;
}

interface Entry {
  row: McpServerRow;
  connection: SupervisedConnection;
  /** When `last_connected` was last queued for writing (epoch ms). */
  lastConnectedWrittenAt: number;
  /** True once the server's tools are known to be pinned (issue 16), or it does not pin them. */
  pinned: boolean;
}

/**
 * Builds the metadata stored for a connected server. Tool counts are after the server's tool
 * filter, as the agent sees them (`serverToolCount` keeps the server's own count when the filter
 * leaves tools out).
 *
 * @param filter the server's `toolFilter`; default none.
 */
export function connectionMetadata(
  info: ConnectionInfo | undefined,
  tools: readonly Tool[],
  filter: ToolFilter = {},
): ServerMetadata {
  const passing = tools.filter((tool) => toolPassesFilter(tool.name, filter));
  return {
    serverInfo: info?.serverInfo,
    capabilities: info?.capabilities,
    transport: info?.transport,
    protocolVersion: info?.protocolVersion,
    toolCount: passing.length,
    toolNames: passing.map((tool) => tool.name),
    ...(passing.length !== tools.length ? { serverToolCount: tools.length } : {}),
    latencyMs: info?.latencyMs,
    checkedAt: new Date().toISOString(),
  };
}

/** Keeps every active server connected and its stored status current. */
export class StatusMonitor implements ServerWatcher {
  readonly #db: Database;
  readonly #store: ServerStore;
  readonly #logger: Logger;
  readonly #policy: HealthPolicy;
  readonly #random?: () => number;
  readonly #now: () => number;
  readonly #guards: ConnectionGuards;
  readonly #watches: (serverId: number) => boolean;
  readonly #lastConnectedRefreshMs: number;
  readonly #writer: StatusWriter;
  readonly #entries = new Map<number, Entry>();
  /** Per-server chain so syncs and writes of one server never interleave. */
  readonly #queues = new Map<number, Promise<void>>();
  readonly #listeners = new Set<ServerStatusListener>();
  /** First-use pin writes in flight (`#pinOnFirstUse`); `stop` waits for them. */
  readonly #pinning = new Set<Promise<void>>();
  #stopped = false;

  constructor(options: StatusMonitorOptions) {
    this.#db = options.db;
    this.#store = { db: options.db, secrets: options.secrets };
    this.#logger = options.logger.child({ component: 'status-monitor' });
    this.#policy = { ...DEFAULT_HEALTH_POLICY, ...options.policy };
    this.#random = options.random;
    this.#now = options.now ?? Date.now;
    this.#guards = options.guards;
    this.#watches = options.watches ?? (() => true);
    this.#lastConnectedRefreshMs = Math.max(
      this.#policy.intervalMs,
      options.lastConnectedRefreshMs ?? LAST_CONNECTED_REFRESH_MS,
    );
    this.#writer = new StatusWriter({
      db: options.db,
      logger: this.#logger,
      tickMs: options.statusTickMs,
      write: options.statusWrite,
    });
  }

  /**
   * Connects every active server it watches (in parallel); resolves when each has had a first
   * attempt.
   */
  async start(): Promise<void> {
    this.#stopped = false;
    const rows = (await listAllActiveServers(this.#store)).filter((row) => this.#watches(row.id));
    await Promise.all(rows.map((row) => this.sync(row.id)));
    this.#logger.info(
      { servers: rows.length, intervalMs: this.#policy.intervalMs },
      'status monitor started',
    );
  }

  /** @inheritdoc */
  connection(serverId: number): SupervisedConnection | undefined {
    return this.#entries.get(serverId)?.connection;
  }

  /**
   * @inheritdoc
   * A server whose stored config is unchanged keeps its connection; one in `error` is retried
   * at once (someone is looking at it).
   */
  sync(serverId: number): Promise<void> {
    return this.#enqueue(serverId, async () => {
      if (this.#stopped) return;
      // Nothing of this process writes the server's status meanwhile: the row read next holds
      // the last status written, and #open need not write it again.
      const quiet = !this.#entries.has(serverId) && !this.#writer.holds(serverId);
      const row = await findServer(this.#store, serverId);
      const entry = this.#entries.get(serverId);
      if (row?.isActive && !this.#watches(serverId)) {
        // Watched by another replica now, which reports its status.
        await this.#drop(serverId);
        return;
      }
      if (!row || !row.isActive) {
        const known = entry?.row ?? row;
        if (known) this.#emit(known, { connectionStatus: undefined });
        await this.#drop(serverId);
        if (row && row.connectionStatus !== 'disconnected') {
          this.#writer.queue(serverId, { connectionStatus: 'disconnected' });
        }
      } else if (entry && entry.row.updatedAt.getTime() === row.updatedAt.getTime()) {
        if (entry.connection.status === 'error') await entry.connection.reconnectNow();
      } else {
        await this.#drop(serverId);
        await this.#open(row, quiet);
      }
      // What the sync decided is stored when it resolves (with whatever else is queued).
      await this.#writer.flush();
    });
  }

  /** @inheritdoc */
  onChange(listener: ServerStatusListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Pings every connected server now, as the health loops do. */
  async checkAll(): Promise<void> {
    await Promise.all(
      [...this.#entries.values()].map((entry) => entry.connection.ping().catch(() => undefined)),
    );
  }

  /** Stops every connection (ending stdio child processes), after the writes in flight. */
  async stop(): Promise<void> {
    this.#stopped = true;
    // What was decided so far is stored (pins being written included); the closes below are
    // not (another process may be watching these servers, and this one only stops).
    await this.#writer.flush();
    await Promise.all(this.#pinning);
    // Closed at once, not behind each server's queue, where a connect that hangs in
    // `initialize` would hold the stop until its timeout.
    await Promise.all([...this.#entries.values()].map((entry) => entry.connection.close()));
    await Promise.all(
      [...this.#entries.keys()].map((id) => this.#enqueue(id, () => this.#drop(id))),
    );
    this.#writer.stop();
  }

  /**
   * Opens the server's connection, or stores why there is none.
   *
   * @param stored true when `row` holds the last status written (see `sync`): a status without a
   *   connection (`needs_authorization`, a `user-token` server's, an invalid configuration) that
   *   equals it is not written again, so re-syncing an unchanged state costs no write and no
   *   notification.
   */
  async #open(row: McpServerRow, stored = false): Promise<void> {
    const report = (patch: ServerStatusPatch): void => {
      this.#emit(row, patch);
      const same =
        stored &&
        row.connectionStatus === patch.connectionStatus &&
        row.lastError === (patch.lastError ?? null);
      if (!same) this.#writer.queue(row.id, patch);
    };
    if (row.auth.type === 'oauth') {
      // Reached with its owner's own tokens, by their sessions and Test; the monitor holds none.
      // It only says when there are none to use.
      const account = await findOAuthConnection(this.#db, this.#store.secrets, row.id);
      if (!account?.tokens) {
        const patch: ServerStatusPatch = {
          connectionStatus: 'needs_authorization',
          lastError: account?.reason ?? NOT_CONNECTED_REASON,
        };
        report(patch);
      }
      return;
    }
    if (row.auth.type === 'user-token') {
      // Such a server is reached with each session's own user token; the monitor has none.
      const patch: ServerStatusPatch = {
        connectionStatus: 'disconnected',
        lastError: USER_TOKEN_NOTE,
      };
      report(patch);
      return;
    }
    let config;
    try {
      config = configFromColumns(row);
    } catch (error) {
      const scrubber = new SecretScrubber(secretsOfColumns(row));
      const patch: ServerStatusPatch = {
        connectionStatus: 'error',
        lastError: scrubber.scrub(`Invalid configuration: ${describeError(error)}`),
      };
      report(patch);
      return;
    }
    const entry: Entry = {
      row,
      lastConnectedWrittenAt: 0,
      pinned: !row.pinTools,
      connection: new SupervisedConnection(config, {
        logger: this.#logger,
        label: row.name,
        policy: this.#policy,
        random: this.#random,
        now: this.#now,
        connectionOptions: {
          ...this.#guards,
          serverId: row.id,
          ownerId: row.userId,
          // Declared as in a session (so the same tools are listed); nobody here can answer.
          onElicitation: declineElicitation,
        },
        onStatusChange: (change) => {
          if (change.status === 'connected') this.#pinOnFirstUse(entry);
          this.#write(entry, () => this.#statusPatch(entry, change));
        },
        onToolsChanged: () => {
          this.#pinOnFirstUse(entry);
          this.#write(entry, () => this.#metadataPatch(entry));
        },
        onHealthy: () => this.#write(entry, () => this.#healthyPatch(entry)),
      }),
    };
    this.#entries.set(row.id, entry);
    await entry.connection.start();
  }

  /**
   * The monitor is usually the first to list a new server's tools: a server whose tools were
   * never pinned is pinned now (trust on first use, `pinToolsOnFirstUse`), in the background. A
   * failure is logged; the next listing (here, a session's, the gateway's) tries again.
   */
  #pinOnFirstUse(entry: Entry): void {
    const { connection } = entry;
    if (entry.pinned || (connection.status !== 'connected' && connection.status !== 'degraded')) {
      return;
    }
    entry.pinned = true;
    const pinning = pinToolsOnFirstUse(this.#db, entry.row.id, connection.tools)
      .then(() => undefined)
      .catch((error: unknown) => {
        entry.pinned = false;
        this.#logger.warn({ serverId: entry.row.id, err: error }, 'cannot pin the tools');
      })
      .finally(() => this.#pinning.delete(pinning));
    this.#pinning.add(pinning);
  }

  #statusPatch(entry: Entry, change: StatusChange): ServerStatusPatch {
    const patch: ServerStatusPatch = { connectionStatus: change.status };
    if (change.status === 'connected') {
      const now = this.#now();
      patch.lastError = null;
      patch.lastConnected = new Date(now);
      patch.metadata = connectionMetadata(
        entry.connection.info,
        entry.connection.tools,
        entry.row.toolFilter,
      );
      entry.lastConnectedWrittenAt = now;
    } else if (change.error) {
      patch.lastError = entry.connection.scrubber.scrub(change.error.message);
    }
    return patch;
  }

  #metadataPatch(entry: Entry): ServerStatusPatch {
    if (entry.connection.status !== 'connected' && entry.connection.status !== 'degraded')
      return {};
    return {
      metadata: connectionMetadata(
        entry.connection.info,
        entry.connection.tools,
        entry.row.toolFilter,
      ),
    };
  }

  /** `last_connected` at most once per refresh interval (see {@link LAST_CONNECTED_REFRESH_MS}). */
  #healthyPatch(entry: Entry): ServerStatusPatch {
    const now = this.#now();
    if (now - entry.lastConnectedWrittenAt < this.#lastConnectedRefreshMs) return {};
    entry.lastConnectedWrittenAt = now;
    return { lastConnected: new Date(now) };
  }

  /**
   * Tells the listeners of a patch for the entry's server and queues it for the tick's batch,
   * unless the entry has been replaced or dropped, or the monitor is stopping.
   */
  #write(entry: Entry, patch: () => ServerStatusPatch): void {
    const serverId = entry.row.id;
    if (this.#stopped || this.#entries.get(serverId) !== entry) return;
    const values = patch();
    this.#emit(entry.row, values);
    this.#writer.queue(serverId, values);
  }

  /** Tells the listeners of a status patch; `connectionStatus: undefined` means removed. */
  #emit(row: Pick<McpServerRow, 'id' | 'userId' | 'name'>, patch: ServerStatusPatch): void {
    if (this.#listeners.size === 0 || !('connectionStatus' in patch)) return;
    const serverId = row.id;
    const event: ServerStatusEvent = {
      serverId,
      userId: row.userId,
      name: row.name,
      status: patch.connectionStatus ?? 'removed',
      lastError: patch.lastError,
    };
    for (const listener of this.#listeners) {
      try {
        listener(event);
      } catch (error) {
        this.#logger.error({ serverId, err: error }, 'status listener failed');
      }
    }
  }

  async #drop(serverId: number): Promise<void> {
    const entry = this.#entries.get(serverId);
    this.#entries.delete(serverId);
    await entry?.connection.close();
    // What the dropped connection reported is stale (a new one, or `disconnected`, follows).
    this.#writer.discard(serverId);
    await this.#writer.settled();
  }

  #enqueue(serverId: number, task: () => Promise<void>): Promise<void> {
    const previous = this.#queues.get(serverId) ?? Promise.resolve();
    const next = previous.then(task).catch((error: unknown) => {
      this.#logger.error({ serverId, err: error }, 'status monitor task failed');
    });
    this.#queues.set(serverId, next);
    void next.finally(() => {
      if (this.#queues.get(serverId) === next) this.#queues.delete(serverId);
    });
    return next;
  }
}
