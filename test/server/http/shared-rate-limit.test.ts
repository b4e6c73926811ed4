/**
 * `PostgresRateLimitStore`: two stores on one database stand for two API replicas. Postgres only:
 * the store is the library's, on `pg`, which PGlite does not serve (PGlite runs one process, which
 * keeps the `MemoryStore`).
 */
import { randomBytes } from 'node:crypto';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  migrateRateLimitSchema,
  PostgresRateLimitStore,
} from '../../../server/http/shared-rate-limit.js';
import { FailedAuthLimiter } from '../../../server/http/failed-auth-limiter.js';
import { createLogger } from '../../../shared/logger.js';

const DATABASE_URL = process.env.DATABASE_URL;
const logger = createLogger({ level: 'silent', name: 'shared-rate-limit-test' });

describe.skipIf(!DATABASE_URL)('PostgresRateLimitStore (needs DATABASE_URL)', () => {
  const name = `switchboard_test_${randomBytes(6).toString('hex')}`;
  let databaseUrl: string;
  const stores: PostgresRateLimitStore[] = [];

  beforeAll(async () => {
    const admin = postgres(DATABASE_URL!, { max: 1, onnotice: () => {} });
    await admin.unsafe(`create database ${name}`);
    await admin.end();
    const url = new URL(DATABASE_URL!);
    url.pathname = `/${name}`;
    databaseUrl = url.toString();
    // Twice at once, as replicas starting together do: the library's advisory lock orders them.
    await Promise.all([migrateRateLimitSchema(databaseUrl), migrateRateLimitSchema(databaseUrl)]);
  });

  afterAll(async () => {
    await Promise.all(stores.map((store) => store.shutdown()));
    const admin = postgres(DATABASE_URL!, { max: 1, onnotice: () => {} });
    await admin.unsafe(`drop database if exists ${name} with (force)`);
    await admin.end();
  });

  function store(prefix: string, batchMs = 0): PostgresRateLimitStore {
    const created = new PostgresRateLimitStore({ databaseUrl, prefix, logger, batchMs });
    created.init({ windowMs: 60_000 });
    stores.push(created);
    return created;
  }

  it('counts a key across stores of one prefix, and apart per prefix', async () => {
    const a = store('exact');
    const b = store('exact');
    const other = store('other');
    expect((await a.increment('k')).totalHits).toBe(1);
    expect((await b.increment('k')).totalHits).toBe(2);
    expect((await a.increment('k')).totalHits).toBe(3);
    expect((await other.increment('k')).totalHits).toBe(1);
    expect((await b.get('k'))?.totalHits).toBe(3);
    expect(await b.get('unknown')).toBeUndefined();
    await a.decrement('k');
    expect((await b.get('k'))?.totalHits).toBe(2);
  });

  it('batches: counts in memory, sends on flush, reads the other stores’ hits back', async () => {
    const a = store('batched', 60_000);
    const b = store('batched', 60_000);
    // A key's first hit is sent at once.
    expect((await a.increment('k')).totalHits).toBe(1);
    expect((await b.increment('k')).totalHits).toBe(2);
    for (let i = 0; i < 5; i++) await a.increment('k');
    expect((await a.increment('k')).totalHits).toBe(7);
    // Not sent yet: b sees its own count only.
    expect((await b.get('k'))?.totalHits).toBe(2);
    await a.flush();
    expect((await b.get('k'))?.totalHits).toBe(8);
    // b's next hit counts locally on the count it last read; its send reads the shared one.
    expect((await b.increment('k')).totalHits).toBe(3);
    await b.flush();
    expect((await b.increment('k')).totalHits).toBe(10);
  });

  it('shares failed authentications between limiters', async () => {
    const first = new FailedAuthLimiter({ limit: 2, store: store('failures') });
    const second = new FailedAuthLimiter({ limit: 2, store: store('failures') });
    await first.recordFailure('203.0.113.7');
    expect(await second.refuses('203.0.113.7')).toBe(false);
    await second.recordFailure('203.0.113.7');
    expect(await first.refuses('203.0.113.7')).toBe(true);
    expect(await second.refuses('203.0.113.8')).toBe(false);
  });
});
