/**
 * API replicas share the watching: several API processes on one Postgres database divide the
 * active servers between them, so each server is watched (connected, pinged, its status written)
 * by exactly one replica, through leases in the database.
 *
 * Why a lease table and not advisory locks: a session-level advisory lock lives on one database
 * connection, so each replica would pin a connection for as long as it watches (and
 * transaction-mode poolers such as PgBouncer hand a session's lock to whoever gets the connection
 * next, or drop it silently). A lease row needs no connection between its short statements,
 * survives a reconnect, and says in plain SQL who watches what (`select * from monitor_leases`).
 *
 * How (every `MONITOR_LEASE_MS / 3`, and at once when a server is created or a replica lets
 * servers go):
 * 1. the replica renews its heartbeat in `monitor_replicas` (expiring after one lease) and forgets
 *    replicas whose heartbeat expired;
 * 2. it lets go of leases on servers no longer active, and renews the rest of its leases; a lease
 *    it no longer finds (taken by another replica after it expired) is closed here;
 * 3. its fair share is `ceil(active servers / live replicas)`: below it, it claims that many
 *    servers that have no lease or an expired one (an `insert … on conflict do update … where
 *    expired`, so two replicas never both win one); above it (a replica joined), it closes and
 *    lets go of the excess, and tells the others (`NOTIFY monitor_leases_released`) to claim them.
 *
 * Every time is the database's (`now()`), so the replicas' own clocks may disagree.
 *
 * A replica that dies stops renewing: its leases and heartbeat expire after one lease, and the
 * next pass of a survivor (at most a third of a lease later) claims its servers; so they are
 * watched again within 2 × `MONITOR_LEASE_MS`. A clean shutdown lets go of every lease at once.
 * On PGlite (one process) the same code runs and the one replica's share is every server.
 */
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { sql } from 'drizzle-orm';
import type { Database, DatabaseHandle } from '../../shared/db/open.js';
import { parseServerChange, SERVERS_CHANNEL } from '../../shared/db/notify.js';
import type { Logger } from '../../shared/logger.js';
import type { SupervisedConnection } from '../../shared/mcp/supervised-connection.js';
import type { ServerStatusListener, ServerWatcher } from './monitor.js';

/** Default of {@link MonitorLeasesOptions.leaseMs} (`MONITOR_LEASE_MS`). */
export const DEFAULT_MONITOR_LEASE_MS = 15_000;

/** The channel a replica notifies when it lets servers go, so the others claim them at once. */
export const LEASES_CHANNEL = 'monitor_leases_released';

/** The monitor a {@link MonitorLeases} drives (a `StatusMonitor` built with its `holds`). */
export type LeasedMonitor = ServerWatcher & { stop(): Promise<void> };

/** Options of {@link MonitorLeases}. */
export interface MonitorLeasesOptions {
  db: Database;
  /** Subscribes to a notification channel (`DatabaseHandle.listen`). */
  listen: DatabaseHandle['listen'];
  logger: Logger;
  /**
   * How long a lease and a heartbeat last without renewal, in milliseconds (`MONITOR_LEASE_MS`),
   * at least 300; default {@link DEFAULT_MONITOR_LEASE_MS}. Leases are renewed every third of it.
   */
  leaseMs?: number;
  /** This replica's id; default `<host>:<pid>:<8 random hex digits>`. */
  replicaId?: string;
}

/** What one pass found, for logs and tests. */
export interface LeasePass {
  /** Live replicas, this one included. */
  replicas: number;
  /** Active servers in the database. */
  active: number;
  /** Servers this replica holds after the pass. */
  held: number;
}

/** Rows of `db.execute`: postgres.js answers an array, PGlite `{ rows }`. */
function rowsOf<T>(result: unknown): T[] {
  return (Array.isArray(result) ? result : (result as { rows: T[] }).rows) as T[];
}

/**
 * This replica's share of the active servers, held through `monitor_leases` (see the module
 * comment). It is the `ServerWatcher` the routes use: `sync` of a server it does not hold claims
 * it when it is free (a server just created is watched by the replica that created it), and
 * otherwise leaves it to its holder, which hears of the change through `NOTIFY`.
 */
export class MonitorLeases implements ServerWatcher {
  /** This replica's id, the `holder` of its leases. */
  readonly id: string;
  readonly leaseMs: number;
  readonly #db: Database;
  readonly #listen: DatabaseHandle['listen'];
  readonly #logger: Logger;
  readonly #held = new Set<number>();
  #monitor?: LeasedMonitor;
  #timer?: NodeJS.Timeout;
  #unlisten: (() => Promise<void>)[] = [];
  /** Claims, renewals and releases, one at a time. */
  #chain: Promise<unknown> = Promise.resolve();
  /** Excess servers being closed and let go of. */
  #releasing: Promise<void> = Promise.resolve();
  #passRunning = false;
  #passAgain = false;
  #stopped = false;

  /** @throws RangeError when `leaseMs` is not an integer of at least 300. */
  constructor(options: MonitorLeasesOptions) {
    this.leaseMs = options.leaseMs ?? DEFAULT_MONITOR_LEASE_MS;
    if (!Number.isInteger(this.leaseMs) || this.leaseMs < 300) {
      throw new RangeError(`leaseMs must be an integer of at least 300, not ${this.leaseMs}`);
    }
    this.id = options.replicaId ?? `${hostname()}:${process.pid}:${randomBytes(4).toString('hex')}`;
    this.#db = options.db;
    this.#listen = options.listen;
    this.#logger = options.logger.child({ component: 'monitor-leases', replica: this.id });
  }

  /** Whether this replica holds the lease of a server: the monitor's `watches` option. */
  readonly holds = (serverId: number): boolean => this.#held.has(serverId);

  /** The ids of the servers this replica holds. */
  get held(): number[] {
    return [...this.#held];
  }

  /**
   * Listens for server changes and released leases, runs a first pass (claiming this replica's
   * share and starting the monitor on it), then one every third of the lease. Resolves after the
   * first pass (the servers it won are still connecting); never rejects.
   *
   * @param monitor the monitor to drive, built with `watches: leases.holds`.
   */
  async start(monitor: LeasedMonitor): Promise<void> {
    this.#monitor = monitor;
    this.#stopped = false;
    this.#timer = setInterval(() => this.#schedulePass(), Math.floor(this.leaseMs / 3));
    this.#timer.unref();
    try {
      this.#unlisten.push(
        await this.#listen(SERVERS_CHANNEL, (payload) => this.#onServerChange(payload)),
        await this.#listen(LEASES_CHANNEL, () => this.#schedulePass()),
      );
    } catch (error) {
      // The passes still run; changes made elsewhere are then seen at the next one.
      this.#logger.warn({ err: error }, 'cannot listen for server changes');
    }
    await this.pass();
  }

  /**
   * @inheritdoc
   * A server this replica does not hold is claimed when it has no live lease (and then watched
   * here); one another replica holds is left to it.
   */
  async sync(serverId: number): Promise<void> {
    if (this.#stopped || !this.#monitor) return;
    if (!this.#held.has(serverId)) {
      try {
        await this.#serial(async () => {
          if (this.#held.has(serverId)) return;
          for (const id of await this.#claim(1, serverId)) this.#held.add(id);
        });
      } catch (error) {
        this.#logger.warn(
          { serverId, err: error },
          'could not claim the server; the next pass will',
        );
      }
      if (!this.#held.has(serverId)) return;
    }
    await this.#monitor.sync(serverId);
  }

  /** @inheritdoc */
  connection(serverId: number): SupervisedConnection | undefined {
    return this.#monitor?.connection(serverId);
  }

  /** @inheritdoc */
  onChange(listener: ServerStatusListener): () => void {
    return this.#monitor?.onChange?.(listener) ?? (() => {});
  }

  /**
   * One pass (see the module comment): heartbeat, renewals, claims or releases, then the monitor
   * opens what was won and closes what was lost. Never rejects: a database error is logged and
   * the leases are kept until they expire.
   */
  async pass(): Promise<LeasePass | undefined> {
    return this.#serial(async () => {
      if (this.#stopped) return undefined;
      try {
        return await this.#pass();
      } catch (error) {
        this.#logger.warn({ err: error }, 'lease pass failed; retrying at the next');
        return undefined;
      }
    });
  }

  /**
   * Stops the passes, closes every watched server (`monitor.stop()`), and lets go of this
   * replica's leases and heartbeat, telling the others to claim them at once. Database errors
   * are logged (the leases then expire on their own).
   */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearInterval(this.#timer);
    await Promise.all(this.#unlisten.splice(0).map((unlisten) => unlisten().catch(() => {})));
    await this.#chain;
    await this.#releasing;
    await this.#monitor?.stop();
    this.#held.clear();
    try {
      await this.#db.execute(sql`delete from monitor_leases where holder = ${this.id}`);
      await this.#db.execute(sql`delete from monitor_replicas where id = ${this.id}`);
      await this.#db.execute(sql`select pg_notify(${LEASES_CHANNEL}, ${this.id})`);
    } catch (error) {
      this.#logger.warn({ err: error }, 'could not let go of the leases; they expire on their own');
    }
  }

  async #pass(): Promise<LeasePass> {
    const monitor = this.#monitor!;
    const until = sql`now() + ${this.leaseMs}::int * interval '1 millisecond'`;
    await this.#db.execute(sql`
      insert into monitor_replicas (id, expires_at) values (${this.id}, ${until})
      on conflict (id) do update set expires_at = excluded.expires_at`);
    await this.#db.execute(sql`delete from monitor_replicas where expires_at < now()`);
    await this.#db.execute(sql`
      delete from monitor_leases l using mcp_servers s
      where l.server_id = s.id and l.holder = ${this.id} and not s.is_active`);
    const renewed = rowsOf<{ server_id: number }>(
      await this.#db.execute(sql`
        update monitor_leases set expires_at = ${until}
        where holder = ${this.id} returning server_id`),
    ).map((row) => Number(row.server_id));
    const [counts] = rowsOf<{ replicas: number | string; active: number | string }>(
      await this.#db.execute(sql`
        select (select count(*) from monitor_replicas where expires_at > now()) as replicas,
               (select count(*) from mcp_servers where is_active) as active`),
    );
    const replicas = Math.max(1, Number(counts?.replicas ?? 1));
    const active = Number(counts?.active ?? 0);
    const share = Math.ceil(active / replicas);

    const held = new Set(renewed);
    const lost = [...this.#held].filter((id) => !held.has(id));
    let released: number[] = [];
    // A claim racing another replica's loses the rows it took first; a fresh statement sees them.
    for (let attempt = 0; attempt < 3 && held.size < share; attempt++) {
      const claimed = await this.#claim(share - held.size);
      for (const id of claimed) held.add(id);
      if (claimed.length === 0 && attempt > 0) break;
    }
    if (held.size > share) {
      released = [...held].sort((a, b) => b - a).slice(0, held.size - share);
      for (const id of released) held.delete(id);
    }
    const won = [...held].filter((id) => !this.#held.has(id));
    this.#held.clear();
    for (const id of held) this.#held.add(id);

    for (const id of lost) void monitor.sync(id);
    if (released.length > 0) this.#releasing = this.#release(released);
    // Opened without waiting: a connect may take up to its timeout, and renewals must not wait.
    for (const id of won) void monitor.sync(id);
    if (won.length + lost.length + released.length > 0) {
      this.#logger.info(
        { replicas, active, held: held.size, won: won.length, lost: lost.length, released },
        'monitor leases changed',
      );
    }
    return { replicas, active, held: held.size };
  }

  /**
   * Claims up to `limit` active servers without a live lease (only `serverId` when given), in id
   * order: replicas claiming at once then take row locks in one order and never deadlock (the
   * later one waits, then skips the rows the first took). Returns the ids won.
   */
  async #claim(limit: number, serverId?: number): Promise<number[]> {
    const until = sql`now() + ${this.leaseMs}::int * interval '1 millisecond'`;
    const only = serverId === undefined ? sql`` : sql`and s.id = ${serverId}`;
    const rows = rowsOf<{ server_id: number }>(
      await this.#db.execute(sql`
        insert into monitor_leases (server_id, holder, expires_at)
        select s.id, ${this.id}, ${until} from mcp_servers s
        left join monitor_leases l on l.server_id = s.id
        where s.is_active and (l.server_id is null or l.expires_at <= now()) ${only}
        order by s.id limit ${limit}
        on conflict (server_id) do update
          set holder = excluded.holder, expires_at = excluded.expires_at
          where monitor_leases.expires_at <= now()
        returning server_id`),
    );
    return rows.map((row) => Number(row.server_id));
  }

  /**
   * Closes servers and then deletes their leases (so two replicas never watch one at once), and
   * tells the other replicas to claim them. Not awaited by the pass, whose renewals must not wait
   * for a close.
   */
  async #release(serverIds: number[]): Promise<void> {
    await this.#releasing;
    try {
      await Promise.all(serverIds.map((id) => this.#monitor!.sync(id)));
      await this.#db.execute(sql`
        delete from monitor_leases
        where holder = ${this.id} and server_id in (${sql.join(
          serverIds.map((id) => sql`${id}`),
          sql`, `,
        )})`);
      await this.#db.execute(sql`select pg_notify(${LEASES_CHANNEL}, ${this.id})`);
    } catch (error) {
      this.#logger.warn({ err: error }, 'could not let go of leases; they expire on their own');
    }
  }

  /** A server was created, changed or deleted (`NOTIFY mcp_servers_changed`). */
  #onServerChange(payload: string): void {
    const change = parseServerChange(payload);
    if (!change || change.op === 'status' || this.#stopped) return;
    if (this.#held.has(change.serverId)) {
      void this.#monitor?.sync(change.serverId);
    } else if (change.op !== 'delete') {
      // Created here or elsewhere, or re-activated: the writer usually claimed it already.
      this.#schedulePass();
    }
  }

  /** Runs a pass now, or right after the one running. */
  #schedulePass(): void {
    if (this.#stopped) return;
    if (this.#passRunning) {
      this.#passAgain = true;
      return;
    }
    this.#passRunning = true;
    void this.pass().finally(() => {
      this.#passRunning = false;
      if (this.#passAgain) {
        this.#passAgain = false;
        this.#schedulePass();
      }
    });
  }

  #serial<T>(task: () => Promise<T>): Promise<T> {
    const next = this.#chain.then(task, task);
    this.#chain = next.catch(() => undefined);
    return next;
  }
}
