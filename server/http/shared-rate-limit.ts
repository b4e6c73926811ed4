/**
 * Rate-limit counts shared by every API process on one Postgres database, so N replicas behind a
 * load balancer allow `API_RATE_LIMIT_PER_MINUTE` in all, not N times it: express-rate-limit's
 * Postgres store `@acpr/rate-limit-postgresql` (its `PostgresStore`, one counter row per key and
 * a fixed window per store prefix, in the schema `rate_limit` it creates with its own migrations)
 * over a small `pg` pool of its own. The embedded PGlite serves one process, which keeps
 * express-rate-limit's `MemoryStore`.
 *
 * Each increment of the library takes a table lock and a round trip (a few hundred a second
 * across all replicas on a busy machine, see `bench/replicas.ts`), so the per-request limit
 * batches them ({@link PostgresRateLimitStoreOptions.batchMs}): counted in memory, sent every
 * 100 ms per key in one statement, the shared count read back at each send.
 *
 * The library's constructor starts its migrations without waiting for them (a failure would be an
 * unhandled rejection, and the first requests could come before the tables), so
 * {@link migrateRateLimitSchema} runs them once, awaited, at start, and {@link PostgresRateLimitStore}
 * wraps the library's store without running its constructor.
 */
import { createRequire } from 'node:module';
import { PostgresStore } from '@acpr/rate-limit-postgresql';
import type { ClientRateLimitInfo, Options, Store } from 'express-rate-limit';
import type * as Pg from 'pg';
import type { Logger } from '../../shared/logger.js';

const libraryRequire = createRequire(
  createRequire(import.meta.url).resolve('@acpr/rate-limit-postgresql'),
);

/** Default of {@link PostgresRateLimitStoreOptions.maxConnections}. */
export const DEFAULT_RATE_LIMIT_POOL_SIZE = 2;

/**
 * Creates or updates the `rate_limit` schema (the library's SQL migrations, applied by
 * `postgres-migrations` under its advisory lock, so replicas starting together apply them once).
 *
 * @param databaseUrl a `postgres://` URL (`DATABASE_URL`).
 * @throws when the database cannot be reached or a migration fails.
 */
export async function migrateRateLimitSchema(databaseUrl: string): Promise<void> {
  const pg = libraryRequire('pg') as typeof Pg;
  const { migrate } = libraryRequire('postgres-migrations') as {
    migrate: (db: { client: unknown }, folder: string) => Promise<unknown>;
  };
  const folder = libraryRequire
    .resolve('@acpr/rate-limit-postgresql')
    .replace(/index\.cjs$/, 'migrations');
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    await migrate({ client }, folder);
  } finally {
    await client.end();
  }
}

/** Options of {@link PostgresRateLimitStore}. */
export interface PostgresRateLimitStoreOptions {
  /** A `postgres://` URL (`DATABASE_URL`) whose `rate_limit` schema is migrated. */
  databaseUrl: string;
  /**
   * The counter's name: stores with different prefixes count apart (e.g. `api-requests`,
   * `auth-failures`).
   */
  prefix: string;
  /** Most connections of the store's pool; default {@link DEFAULT_RATE_LIMIT_POOL_SIZE}. */
  maxConnections?: number;
  /** Told of errors of idle pool connections (which would otherwise crash the process). */
  logger: Logger;
  /**
   * Batch the increments: 0 (the default) sends each one to the database and answers with the
   * exact shared count; a positive number of milliseconds counts in memory and sends each key's
   * increments at most that often, in one statement, answering with the shared count read at the
   * key's last send plus this process's hits since. The count then misses the other replicas'
   * hits since this process last sent the key (the limit lets a few more through); a key's first
   * hit in a process is always sent and awaited.
   */
  batchMs?: number;
}

interface LocalCount {
  /** The shared count the database answered at the key's last send. */
  base: number;
  /** Hits of this process not sent yet. */
  pending: number;
  /** When the window the database answered for ends. */
  resetTime?: Date;
}

type Pool = {
  query(text: string, values: unknown[]): Promise<{ rows: { count: number; expires_at: Date }[] }>;
};

/**
 * Counts `$4` hits of key `$1` in the store `$2` (window `$3` ms) in one statement: the library's
 * own `agg_increment`, called once per row of `generate_series` (the `0 * g` makes each call's
 * argument depend on its row, so each row calls it).
 */
const BATCH_INCREMENT = `select max(t.count) as count, max(t.expires_at) as expires_at
  from generate_series(1, $4::int) g,
  lateral rate_limit.agg_increment($1, $2, $3::float8 + 0 * g) as t(count int, expires_at timestamptz)`;

/**
 * An express-rate-limit `Store` counting in Postgres (the library's aggregated `PostgresStore`),
 * plus {@link get}, which the library lacks and `FailedAuthLimiter` reads. Call
 * {@link migrateRateLimitSchema} first; `init` (called by `rateLimit()`, or by its owner) opens
 * the pool, {@link shutdown} closes it.
 */
export class PostgresRateLimitStore implements Store {
  readonly prefix: string;
  /** The counts live in the database, shared by every process. */
  readonly localKeys = false;
  readonly #inner: PostgresStore;
  readonly #logger: Logger;
  readonly #batchMs: number;
  readonly #local = new Map<string, LocalCount>();
  #flushTimer?: NodeJS.Timeout;
  /** True from a failed send to the next that works (one warning per outage, not per flush). */
  #failing = false;
  #windowMs = 60_000;

  constructor(options: PostgresRateLimitStoreOptions) {
    this.prefix = options.prefix;
    this.#logger = options.logger;
    // The library's fields, set as its constructor does, without its unawaited migration.
    this.#inner = Object.create(PostgresStore.prototype) as PostgresStore;
    this.#inner.config = {
      connectionString: options.databaseUrl,
      max: options.maxConnections ?? DEFAULT_RATE_LIMIT_POOL_SIZE,
    };
    this.#inner.prefix = options.prefix;
    this.#batchMs = options.batchMs ?? 0;
  }

  /** Opens the pool; `options.windowMs` is the fixed window every key of the prefix shares. */
  init(options: Pick<Options, 'windowMs'>): void {
    if (this.#inner.pool) return;
    this.#windowMs = options.windowMs;
    this.#inner.init(options as Options);
    (this.#inner.pool as { on(event: 'error', listener: (error: Error) => void): void }).on(
      'error',
      (error) => this.#logger.warn({ err: error }, 'rate limit store: a pooled connection failed'),
    );
  }

  /**
   * Counts a hit; resolves with the key's hits in the current window (see
   * {@link PostgresRateLimitStoreOptions.batchMs}) and when the window ends.
   */
  async increment(key: string): Promise<ClientRateLimitInfo> {
    if (this.#batchMs === 0) return this.#inner.increment(key);
    let local = this.#local.get(key);
    if (local?.resetTime && local.resetTime.getTime() <= Date.now()) {
      local.base = 0;
      local.resetTime = undefined;
    }
    if (!local) {
      local = { base: 0, pending: 1 };
      this.#local.set(key, local);
      await this.#send(key, local);
    } else {
      local.pending += 1;
      this.#flushTimer ??= setTimeout(() => void this.flush(), this.#batchMs).unref();
    }
    return { totalHits: local.base + local.pending, resetTime: local.resetTime };
  }

  /**
   * Sends every key's unsent hits now (batching only). Never rejects: hits that could not be sent
   * are kept and sent again a batch period later, and the first failure of an outage is logged.
   */
  async flush(): Promise<void> {
    clearTimeout(this.#flushTimer);
    this.#flushTimer = undefined;
    if (!this.#inner.pool) return;
    const now = Date.now();
    await Promise.all(
      [...this.#local].map(async ([key, local]) => {
        if (local.pending > 0) {
          await this.#send(key, local).then(
            () => {
              if (this.#failing) this.#logger.info('rate limit store: sending the counts again');
              this.#failing = false;
            },
            (error: unknown) => {
              if (!this.#failing) {
                this.#logger.warn(
                  { err: error },
                  'rate limit store: could not send the counts; counting in memory meanwhile',
                );
              }
              this.#failing = true;
              this.#flushTimer ??= setTimeout(() => void this.flush(), this.#batchMs).unref();
            },
          );
        } else if (!local.resetTime || local.resetTime.getTime() <= now) {
          this.#local.delete(key);
        }
      }),
    );
  }

  /** Sends a key's pending hits and keeps the shared count the database answers. */
  async #send(key: string, local: LocalCount): Promise<void> {
    const hits = local.pending;
    local.pending -= hits;
    try {
      const result = await this.#pool().query(BATCH_INCREMENT, [
        key,
        this.prefix,
        this.#windowMs,
        hits,
      ]);
      const row = result.rows[0];
      if (row) {
        local.base = Number(row.count);
        local.resetTime = row.expires_at;
      }
    } catch (error) {
      local.pending += hits;
      throw error;
    }
  }

  #pool(): Pool {
    return this.#inner.pool as Pool;
  }

  /** Takes a hit back. */
  async decrement(key: string): Promise<void> {
    const local = this.#local.get(key);
    if (local && local.pending > 0) local.pending -= 1;
    else await this.#inner.decrement(key);
  }

  /** Forgets a key's hits. */
  async resetKey(key: string): Promise<void> {
    this.#local.delete(key);
    await this.#inner.resetKey(key);
  }

  /** The key's hits in the current window, without counting one; `undefined` when none. */
  async get(key: string): Promise<ClientRateLimitInfo | undefined> {
    const result = await this.#pool().query(
      `select r.count, s.expires_at from rate_limit.records_aggregated r
       join rate_limit.sessions s on s.id = r.session_id
       where s.name_ = $2 and s.type_ = 'aggregated' and s.expires_at > now() and r.key = $1`,
      [key, this.prefix],
    );
    const row = result.rows[0];
    return row ? { totalHits: Number(row.count), resetTime: row.expires_at } : undefined;
  }

  /** Sends the unsent hits, then closes the pool. */
  async shutdown(): Promise<void> {
    if (this.#inner.pool) await this.flush();
    const pool = this.#inner.pool as { end(): Promise<void> } | undefined;
    this.#inner.pool = undefined;
    await pool?.end();
  }
}
