/**
 * The in-memory status snapshot behind `GET /api/status` and `GET /api/status/stream`: polling
 * costs nothing because a request only reads memory. It is kept current by
 * - the status monitor's change events (`StatusMonitor.onChange`), at once;
 * - `NOTIFY mcp_servers_changed` (every server write, the status writes of the other API
 *   replicas' monitors included): the changed servers are re-read at once, so a replica answers
 *   for servers another replica watches (`leases.ts`) as current as the database;
 * - a periodic database round (`select 1`, then the id, owner and status of every active server),
 *   which gives the database's health and picks up statuses other processes wrote;
 * - LiveKit and OpenAI checks re-run in the background.
 */
import { eq, inArray } from 'drizzle-orm';
import { parseServerChange, SERVERS_CHANNEL } from '../../shared/db/notify.js';
import type { DatabaseHandle } from '../../shared/db/open.js';
import { mcpServers } from '../../shared/db/schema.js';
import { CONNECTION_STATUSES, type ConnectionStatus } from '../../shared/mcp/server-config.js';
import { databaseErrorMessage } from '../../shared/db/unavailable.js';
import type { Logger } from '../../shared/logger.js';
import { describeError } from '../../shared/errors.js';
import type { ServerStatusEvent, ServerWatcher } from './monitor.js';
import {
  checkLivekit,
  checkOpenAI,
  checkRealtime,
  summarizeMcp,
  type ComponentStatus,
  type LivekitSettings,
  type McpStatus,
} from './checks.js';

/** A system part of the status answer. */
export type SystemPart = 'database' | 'livekit' | 'openai';

/** A component status with when it was last checked. */
export type CheckedStatus = ComponentStatus & {
  /** ISO 8601 time the background check finished. */
  checkedAt: string;
};

/** The body of `GET /api/status` (DESIGN §4). */
export interface StatusAnswer {
  livekit: CheckedStatus;
  openai: CheckedStatus;
  mcp: McpStatus;
  database: CheckedStatus & { kind: 'postgres' | 'pglite' };
  /**
   * Time this process took to assemble the answer, in milliseconds (3 decimals): reading the
   * in-memory snapshot, no I/O. The round trips of the checks themselves are each component's
   * own `latencyMs`, measured by the background check at its `checkedAt`.
   */
  latencyMs: number;
  /** ISO 8601 time of the answer. */
  timestamp: string;
}

/** What a status change listener receives. */
export type StatusEvent =
  | {
      type: 'server';
      userId: number;
      serverId: number;
      /** `removed`: deleted or deactivated. */
      status: ConnectionStatus | 'removed';
      lastError?: string | null;
    }
  | { type: 'system'; part: SystemPart; status: CheckedStatus };

/** Options of {@link StatusSnapshot}. */
export interface StatusSnapshotOptions {
  database: DatabaseHandle;
  logger: Logger;
  /** The status monitor; its change events are applied at once. */
  watcher?: Pick<ServerWatcher, 'onChange'>;
  /**
   * Which servers the watcher reports (`MonitorLeases.holds`): their notified writes are not
   * re-read, the watcher's events being newer. Default: the servers it has reported.
   */
  watches?: (serverId: number) => boolean;
  /** The LiveKit check; default: unconfigured. */
  checkLivekit?: () => Promise<ComponentStatus>;
  /** The OpenAI check; default: unconfigured. */
  checkOpenAI?: () => Promise<ComponentStatus>;
  /** Period of the database round, in milliseconds; default 5000. */
  databaseIntervalMs?: number;
  /** Period of the LiveKit and OpenAI checks, in milliseconds; default 10000. */
  externalIntervalMs?: number;
}

interface ServerState {
  status: ConnectionStatus;
  /** `performance.now()` of the monitor event that set it; 0 when read from the database. */
  eventAt: number;
}

const STARTING: CheckedStatus = {
  status: 'error',
  detail: 'Not checked yet.',
  checkedAt: new Date(0).toISOString(),
};

/** Keeps the status of every part current in memory. Call {@link start}, later {@link stop}. */
export class StatusSnapshot {
  readonly #options: StatusSnapshotOptions;
  readonly #logger: Logger;
  /** userId → serverId → state. */
  readonly #servers = new Map<number, Map<number, ServerState>>();
  /** Each user's `mcp` summary, kept until one of their servers changes (status polls are hot). */
  readonly #summaries = new Map<number, McpStatus>();
  readonly #owners = new Map<number, number>();
  readonly #system: Record<SystemPart, CheckedStatus> = {
    database: STARTING,
    livekit: STARTING,
    openai: STARTING,
  };
  readonly #listeners = new Set<(event: StatusEvent) => void>();
  readonly #timers: NodeJS.Timeout[] = [];
  #unsubscribe?: () => void;
  #unlisten?: () => Promise<void>;
  /** Servers notified as changed, not re-read yet. */
  readonly #changed = new Set<number>();
  #readingChanged = false;
  #stopped = false;
  #ready?: Promise<void>;
  #isReady = false;

  constructor(options: StatusSnapshotOptions) {
    this.#options = options;
    this.#logger = options.logger.child({ component: 'status-snapshot' });
  }

  /**
   * Subscribes to the monitor, listens for server changes and starts the background checks
   * (timers do not keep the process alive). Resolves when the database is listened to (or could
   * not be: then it is polled only) and every part has been checked once; calling it again
   * returns the same promise.
   */
  start(): Promise<void> {
    if (this.#ready) return this.#ready;
    this.#unsubscribe = this.#options.watcher?.onChange?.((event) => this.#applyEvent(event));
    this.#stopped = false;
    const listening = this.#options.database
      .listen(SERVERS_CHANNEL, (payload) => this.#onServerChange(payload))
      .then(
        (unlisten) => {
          if (this.#stopped) void unlisten().catch(() => {});
          else this.#unlisten = unlisten;
        },
        (error: unknown) =>
          this.#logger.warn({ err: error }, 'cannot listen for server changes; polling only'),
      );
    const every = (ms: number, task: () => Promise<void>) => {
      const timer = setInterval(() => void task(), ms);
      timer.unref();
      this.#timers.push(timer);
    };
    every(this.#options.databaseIntervalMs ?? 5_000, () => this.refreshDatabase());
    every(this.#options.externalIntervalMs ?? 10_000, () => this.refreshExternal());
    // The first read waits for the LISTEN, so a write between the two is never missed: one made
    // once start() resolved is notified, one made before it is in the read. (A new connection can
    // take longer than the read; the next round was then the first to see such a write.)
    this.#ready = Promise.all([
      listening.then(() => this.refreshDatabase()),
      this.refreshExternal(),
    ]).then(() => {
      this.#isReady = true;
    });
    return this.#ready;
  }

  /** Whether the first round of checks is in. */
  get isReady(): boolean {
    return this.#isReady;
  }

  /** Resolves once the first round of checks is in (starting them if needed). */
  ready(): Promise<void> {
    return this.#ready ?? this.start();
  }

  /** Stops the timers and the monitor subscription, and drops every listener. */
  stop(): void {
    for (const timer of this.#timers.splice(0)) clearInterval(timer);
    this.#unsubscribe?.();
    this.#stopped = true;
    void this.#unlisten?.().catch(() => {});
    this.#unlisten = undefined;
    this.#listeners.clear();
  }

  /** The status answer for one user, from memory only (call after {@link ready}). */
  forUser(userId: number): StatusAnswer {
    const started = performance.now();
    let mcp = this.#summaries.get(userId);
    if (!mcp) {
      const servers = this.#servers.get(userId);
      mcp = summarizeMcp(servers ? [...servers.values()].map((server) => server.status) : []);
      this.#summaries.set(userId, mcp);
    }
    const database = this.#system.database;
    return {
      livekit: this.#system.livekit,
      openai: this.#system.openai,
      mcp,
      database: { ...database, kind: this.#options.database.kind },
      latencyMs: Math.round((performance.now() - started) * 1000) / 1000,
      timestamp: new Date().toISOString(),
    };
  }

  /** The per-server statuses of one user, by server id. */
  serversOf(userId: number): Record<number, ConnectionStatus> {
    const result: Record<number, ConnectionStatus> = {};
    for (const [id, state] of this.#servers.get(userId) ?? []) result[id] = state.status;
    return result;
  }

  /** Active servers of every user per connection status (the metrics gauge). */
  countsByStatus(): Record<ConnectionStatus, number> {
    const counts = Object.fromEntries(CONNECTION_STATUSES.map((s) => [s, 0])) as Record<
      ConnectionStatus,
      number
    >;
    for (const servers of this.#servers.values()) {
      for (const state of servers.values()) counts[state.status] += 1;
    }
    return counts;
  }

  /** The current state of every part of the system (not per user). */
  system(): Readonly<Record<SystemPart, CheckedStatus>> {
    return this.#system;
  }

  /** Subscribes to every change; returns the unsubscriber. */
  subscribe(listener: (event: StatusEvent) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /**
   * Pings the database and re-reads the active servers' statuses. A monitor event newer than the
   * read wins over it. Never rejects: a failure is the database's `error` status.
   */
  async refreshDatabase(): Promise<void> {
    const { database } = this.#options;
    const readStarted = performance.now();
    try {
      const latencyMs = await database.ping();
      const rows = await database.db
        .select({
          id: mcpServers.id,
          userId: mcpServers.userId,
          status: mcpServers.connectionStatus,
        })
        .from(mcpServers)
        .where(eq(mcpServers.isActive, true));
      this.#replaceServers(rows, readStarted);
      this.#setSystem('database', {
        status: 'connected',
        detail: `${database.kind === 'pglite' ? 'Embedded PGlite' : 'Postgres'} answered.`,
        latencyMs,
      });
    } catch (error) {
      this.#setSystem('database', {
        status: 'error',
        detail: `The database is unreachable: ${databaseErrorMessage(error)}`,
      });
    }
  }

  /** A server write was notified: re-read it (with the others notified meanwhile) soon. */
  #onServerChange(payload: string): void {
    const change = parseServerChange(payload);
    if (!change || this.#stopped) return;
    this.#changed.add(change.serverId);
    if (this.#readingChanged) return;
    this.#readingChanged = true;
    setImmediate(() => void this.#readChanged());
  }

  /**
   * Re-reads the status of the notified servers, in batches until none is left. A monitor event
   * newer than the read wins over it; a failed read is left to the database round.
   */
  async #readChanged(): Promise<void> {
    try {
      while (this.#changed.size > 0 && !this.#stopped) {
        const ids = [...this.#changed];
        this.#changed.clear();
        const readStarted = performance.now();
        const rows = await this.#options.database.db
          .select({
            id: mcpServers.id,
            userId: mcpServers.userId,
            status: mcpServers.connectionStatus,
            isActive: mcpServers.isActive,
          })
          .from(mcpServers)
          .where(inArray(mcpServers.id, ids));
        const found = new Map(rows.map((row) => [row.id, row]));
        for (const id of ids) {
          const row = found.get(id);
          const owner = this.#owners.get(id);
          const current = owner === undefined ? undefined : this.#servers.get(owner)?.get(id);
          if (current && current.eventAt > readStarted) continue;
          const local =
            this.#options.watches?.(id) ?? (current !== undefined && current.eventAt > 0);
          if (local) continue;
          if (row?.isActive) {
            if (current?.status === row.status && owner === row.userId) continue;
            this.#setServer(row.userId, id, { status: row.status, eventAt: 0 });
            this.#publish({ type: 'server', userId: row.userId, serverId: id, status: row.status });
          } else if (owner !== undefined) {
            this.#removeServer(id);
            this.#publish({ type: 'server', userId: owner, serverId: id, status: 'removed' });
          }
        }
      }
    } catch (error) {
      this.#logger.debug({ err: error }, 'could not re-read changed servers; the next round will');
    } finally {
      this.#readingChanged = false;
    }
  }

  /** Re-runs the LiveKit and OpenAI checks. Never rejects. */
  async refreshExternal(): Promise<void> {
    const unconfigured = (detail: string) => async (): Promise<ComponentStatus> => ({
      status: 'unconfigured',
      detail,
    });
    const run = async (part: 'livekit' | 'openai', check: () => Promise<ComponentStatus>) => {
      try {
        this.#setSystem(part, await check());
      } catch (error) {
        this.#setSystem(part, { status: 'error', detail: describeError(error) });
      }
    };
    await Promise.all([
      run('livekit', this.#options.checkLivekit ?? unconfigured('LiveKit is not configured.')),
      run('openai', this.#options.checkOpenAI ?? unconfigured('OpenAI is not configured.')),
    ]);
  }

  #setSystem(part: SystemPart, status: ComponentStatus): void {
    const previous = this.#system[part];
    const next: CheckedStatus = { ...status, checkedAt: new Date().toISOString() };
    this.#system[part] = next;
    if (
      previous.status !== next.status ||
      previous.detail !== next.detail ||
      previous.realtime?.detail !== next.realtime?.detail
    ) {
      if (part === 'database' && next.status === 'error') {
        this.#logger.warn({ detail: next.detail }, 'database unreachable');
      }
      this.#publish({ type: 'system', part, status: next });
    }
  }

  #applyEvent(event: ServerStatusEvent): void {
    const at = performance.now();
    if (event.status === 'removed') {
      this.#removeServer(event.serverId);
    } else {
      this.#setServer(event.userId, event.serverId, { status: event.status, eventAt: at });
    }
    this.#publish({ type: 'server', ...event });
  }

  #replaceServers(
    rows: readonly { id: number; userId: number; status: ConnectionStatus }[],
    readStarted: number,
  ): void {
    const seen = new Set<number>();
    for (const row of rows) {
      seen.add(row.id);
      const current = this.#servers.get(row.userId)?.get(row.id);
      if (current && current.eventAt > readStarted) continue;
      if (current?.status === row.status) continue;
      this.#setServer(row.userId, row.id, { status: row.status, eventAt: 0 });
      this.#publish({ type: 'server', userId: row.userId, serverId: row.id, status: row.status });
    }
    for (const [serverId, userId] of [...this.#owners]) {
      if (seen.has(serverId)) continue;
      const current = this.#servers.get(userId)?.get(serverId);
      if (current && current.eventAt > readStarted) continue;
      this.#removeServer(serverId);
      this.#publish({ type: 'server', userId, serverId, status: 'removed' });
    }
  }

  #setServer(userId: number, serverId: number, state: ServerState): void {
    const owner = this.#owners.get(serverId);
    if (owner !== undefined && owner !== userId) this.#servers.get(owner)?.delete(serverId);
    this.#owners.set(serverId, userId);
    if (owner !== undefined) this.#summaries.delete(owner);
    this.#summaries.delete(userId);
    let servers = this.#servers.get(userId);
    if (!servers) this.#servers.set(userId, (servers = new Map()));
    servers.set(serverId, state);
  }

  #removeServer(serverId: number): void {
    const owner = this.#owners.get(serverId);
    if (owner === undefined) return;
    this.#owners.delete(serverId);
    this.#summaries.delete(owner);
    const servers = this.#servers.get(owner);
    servers?.delete(serverId);
    if (servers?.size === 0) this.#servers.delete(owner);
  }

  #publish(event: StatusEvent): void {
    for (const listener of this.#listeners) {
      try {
        listener(event);
      } catch (error) {
        this.#logger.error({ err: error }, 'status listener failed');
      }
    }
  }
}

/** Settings for {@link statusSnapshotFor}, from the settings `server/main.ts` read. */
export interface StatusSnapshotSettings {
  database: DatabaseHandle;
  logger: Logger;
  watcher?: Pick<ServerWatcher, 'onChange'>;
  /** Which servers the watcher reports; see {@link StatusSnapshotOptions.watches}. */
  watches?: (serverId: number) => boolean;
  livekit?: LivekitSettings;
  /** OpenAI settings; `realtimeModel` (`OPENAI_REALTIME_MODEL`) defaults to `gpt-realtime`. */
  openai?: { apiKey?: string; baseUrl?: string; realtimeModel?: string };
  /** Timeout of the LiveKit and OpenAI checks, in milliseconds; default 3000. */
  statusCheckTimeoutMs?: number;
  /** Period of the LiveKit and OpenAI checks (`STATUS_CACHE_MS`), in milliseconds; default 10000. */
  statusCacheMs?: number;
}

/**
 * A {@link StatusSnapshot} with the real LiveKit (`RoomService.ListRooms`) and OpenAI
 * (`GET /models`, and beside it the realtime endpoint as `openai.realtime`, see
 * {@link checkRealtime}) checks. Not started.
 */
export function statusSnapshotFor(settings: StatusSnapshotSettings): StatusSnapshot {
  const timeoutMs = settings.statusCheckTimeoutMs ?? 3000;
  return new StatusSnapshot({
    database: settings.database,
    logger: settings.logger,
    watcher: settings.watcher,
    watches: settings.watches,
    checkLivekit: () => checkLivekit(settings.livekit ?? {}, timeoutMs),
    checkOpenAI: async () => {
      const openai = {
        apiKey: settings.openai?.apiKey,
        baseUrl: settings.openai?.baseUrl ?? 'https://api.openai.com/v1',
        realtimeModel: settings.openai?.realtimeModel,
      };
      const [api, realtime] = await Promise.all([
        checkOpenAI(openai, timeoutMs),
        checkRealtime(openai, timeoutMs),
      ]);
      return { ...api, realtime };
    },
    externalIntervalMs: settings.statusCacheMs || 10_000,
  });
}
