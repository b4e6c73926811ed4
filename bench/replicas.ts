/**
 * The `replicas` part (Postgres only, `DATABASE_URL`): what sharing costs when API replicas divide
 * the servers and count the rate limits together.
 * - rate-limit increments at concurrency 50 (what every request, status polls included, pays):
 *   the shared Postgres store (`server/http/shared-rate-limit.ts`), exact and batched every
 *   100 ms (as the per-request limit runs), against express-rate-limit's `MemoryStore`, in
 *   interleaved rounds;
 * - one lease pass (`server/status/leases.ts`: heartbeat, renewals, counts) of a replica holding
 *   500 servers, the work each replica does every `MONITOR_LEASE_MS / 3`.
 */
import { randomBytes } from 'node:crypto';
import { MemoryStore, type Store } from 'express-rate-limit';
import postgres from 'postgres';
import { createServer } from '../shared/db/servers.js';
import { openDatabase } from '../shared/db/open.js';
import { users } from '../shared/db/schema.js';
import type { Logger } from '../shared/logger.js';
import { SecretBox } from '../shared/secrets.js';
import { MonitorLeases } from '../server/status/leases.js';
import {
  migrateRateLimitSchema,
  PostgresRateLimitStore,
} from '../server/http/shared-rate-limit.js';
import { median, round } from './stats.js';

/** What the part measured. */
export interface ReplicasBench {
  /** Median of the rounds' p99 latency of one increment at concurrency 50, in ms. */
  sharedIncrementP99Ms: number;
  /** The same with `batchMs: 100` (what the per-request limit uses). */
  batchedIncrementP99Ms: number;
  memoryIncrementP99Ms: number;
  /** Increments per second through the shared store (median of the rounds). */
  sharedIncrementsPerSecond: number;
  batchedIncrementsPerSecond: number;
  memoryIncrementsPerSecond: number;
  /** Interleaved rounds of {@link incrementsPerRound} increments on each store. */
  rounds: number;
  incrementsPerRound: number;
  /** Median time of one lease pass holding {@link leasedServers} servers, in ms. */
  leasePassMs: number;
  leasedServers: number;
}

const CONCURRENCY = 50;

/** Runs `total` increments, `CONCURRENCY` at a time, over a few keys; latencies in ms. */
async function incrementBurst(store: Store, total: number): Promise<number[]> {
  const latencies: number[] = [];
  let next = 0;
  const worker = async () => {
    while (next < total) {
      const i = next++;
      const started = performance.now();
      await store.increment(`token:bench-${i % 20}`);
      latencies.push(performance.now() - started);
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  return latencies;
}

function p99(samples: number[]): number {
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * 0.99))]!;
}

/** Measures the part on a fresh database created from `databaseUrl` (dropped at the end). */
export async function measureReplicas(options: {
  databaseUrl: string;
  logger: Logger;
}): Promise<ReplicasBench> {
  const name = `switchboard_bench_${randomBytes(6).toString('hex')}`;
  const admin = postgres(options.databaseUrl, { max: 1, onnotice: () => {} });
  await admin.unsafe(`create database ${name}`);
  const url = new URL(options.databaseUrl);
  url.pathname = `/${name}`;
  const databaseUrl = url.toString();
  const database = await openDatabase({
    databaseUrl,
    maxConnections: 4,
    secretBox: new SecretBox(randomBytes(32)),
  });
  try {
    await migrateRateLimitSchema(databaseUrl);
    const shared = new PostgresRateLimitStore({
      databaseUrl,
      prefix: 'bench',
      logger: options.logger,
    });
    shared.init({ windowMs: 60 * 60_000 });
    const batched = new PostgresRateLimitStore({
      databaseUrl,
      prefix: 'bench-batched',
      logger: options.logger,
      batchMs: 100,
    });
    batched.init({ windowMs: 60 * 60_000 });
    const memory = new MemoryStore();
    memory.init({ windowMs: 60 * 60_000 } as Parameters<MemoryStore['init']>[0]);
    const rounds = 5;
    const perRound = 2_000;
    await incrementBurst(shared, 200); // warm the pool
    const sharedRounds: { p99: number; rate: number }[] = [];
    const memoryRounds: { p99: number; rate: number }[] = [];
    const batchedRounds: { p99: number; rate: number }[] = [];
    for (let round = 0; round < rounds; round++) {
      for (const [store, out] of [
        [shared, sharedRounds],
        [batched, batchedRounds],
        [memory, memoryRounds],
      ] as const) {
        const started = performance.now();
        const latencies = await incrementBurst(store, perRound);
        const seconds = (performance.now() - started) / 1000;
        out.push({ p99: p99(latencies), rate: perRound / seconds });
      }
    }
    await shared.shutdown();
    await batched.shutdown();
    memory.shutdown();

    const [user] = await database.db
      .insert(users)
      .values({ name: 'Bench', email: 'bench@replicas.bench', role: 'admin' })
      .returning();
    const leasedServers = 500;
    for (let i = 0; i < leasedServers; i++) {
      await createServer(database, {
        userId: user!.id,
        name: `bench-${i}`,
        transport: 'streamable-http',
        url: `http://127.0.0.1:9/${i}`,
      });
    }
    const leases = new MonitorLeases({
      db: database.db,
      listen: database.listen,
      logger: options.logger,
      leaseMs: 60_000,
    });
    const monitor = {
      sync: async () => {},
      connection: () => undefined,
      stop: async () => {},
    };
    await leases.start(monitor);
    const passes: number[] = [];
    for (let i = 0; i < 30; i++) {
      const started = performance.now();
      await leases.pass();
      passes.push(performance.now() - started);
    }
    const held = leases.held.length;
    await leases.stop();
    if (held !== leasedServers) throw new Error(`the replica holds ${held} of ${leasedServers}`);

    return {
      sharedIncrementP99Ms: round(median(sharedRounds.map((r) => r.p99))),
      batchedIncrementP99Ms: round(median(batchedRounds.map((r) => r.p99))),
      memoryIncrementP99Ms: round(median(memoryRounds.map((r) => r.p99))),
      sharedIncrementsPerSecond: Math.round(median(sharedRounds.map((r) => r.rate))),
      batchedIncrementsPerSecond: Math.round(median(batchedRounds.map((r) => r.rate))),
      memoryIncrementsPerSecond: Math.round(median(memoryRounds.map((r) => r.rate))),
      rounds,
      incrementsPerRound: perRound,
      leasePassMs: round(median(passes)),
      leasedServers,
    };
  } finally {
    await database.close();
    await admin.unsafe(`drop database if exists ${name} with (force)`);
    await admin.end();
  }
}
