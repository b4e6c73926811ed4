/**
 * Rate-limit counts shared by every API process on one Postgres database, so N replicas behind a
 * load balancer allow `API_RATE_LIMIT_PER_MINUTE` in all, not N times it: express-rate-limit's
 * Postgres store `@acpr/rate-limit-postgresql` (its `PostgresStore`, one counter row per key and
 * a fixed window per store prefix, in the schema `rate_limit` it creates with its own migrations)
 * over a small `pg` pool of its own. The embedded PGlite serves one process, which keeps
 * express-rate-limit's `MemoryStore`.
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
}

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
  }

  /** Opens the pool; `options.windowMs` is the fixed window every key of the prefix shares. */
  init(options: Pick<Options, 'windowMs'>): void {
    if (this.#inner.pool) return;
    this.#inner.init(options as Options);
    (this.#inner.pool as { on(event: 'error', listener: (error: Error) => void): void }).on(
      'error',
      (error) => this.#logger.warn({ err: error }, 'rate limit store: a pooled connection failed'),
    );
  }

  /** Counts a hit; resolves with the key's hits in the current window and when it ends. */
  increment(key: string): Promise<ClientRateLimitInfo> {
    return this.#inner.increment(key);
  }

  /** Takes a hit back. */
  decrement(key: string): Promise<void> {
    return this.#inner.decrement(key);
  }

  /** Forgets a key's hits. */
  resetKey(key: string): Promise<void> {
    return this.#inner.resetKey(key);
  }

  /** The key's hits in the current window, without counting one; `undefined` when none. */
  async get(key: string): Promise<ClientRateLimitInfo | undefined> {
    const result = (await (
      this.#inner.pool as {
        query(
          text: string,
          values: unknown[],
        ): Promise<{ rows: { count: number; expires_at: Date }[] }>;
      }
    ).query(
      `select r.count, s.expires_at from rate_limit.records_aggregated r
       join rate_limit.sessions s on s.id = r.session_id
       where s.name_ = $2 and s.type_ = 'aggregated' and s.expires_at > now() and r.key = $1`,
      [key, this.prefix],
    )) as { rows: { count: number; expires_at: Date }[] };
    const row = result.rows[0];
    return row ? { totalHits: Number(row.count), resetTime: row.expires_at } : undefined;
  }

  /** Closes the pool. */
  async shutdown(): Promise<void> {
    const pool = this.#inner.pool as { end(): Promise<void> } | undefined;
    this.#inner.pool = undefined;
    await pool?.end();
  }
}
