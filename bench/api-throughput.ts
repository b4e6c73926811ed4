/**
 * The admin API's throughput: `GET /api/mcp/servers` (100 stored servers, its default page of 50)
 * and `GET /api/status`, each driven by autocannon at a fixed concurrency (32), beside a bare
 * Express handler that does the same work (the same token lookup and page query, the same JSON)
 * with no other middleware, served from the same process in the same run. `ratio` = ours over
 * bare requests per second; `p99Ms` of ours is reported beside it. Ours runs with the services
 * `server/main.ts` gives it, its server-page cache included (a repeated list is not read again
 * until a server changes) and its token cache (a token that reads is looked up once per 10 s;
 * a revocation reaches it within a second); bare looks the token up and reads the page every
 * time, as a handler without either would.
 */
import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import type autocannon from 'autocannon';
import express, { type Express } from 'express';
import postgres from 'postgres';
import { openDatabase, type DatabaseHandle } from '../shared/db/open.js';
import { users } from '../shared/db/schema.js';
import { createServer, listServerPage } from '../shared/db/servers.js';
import type { Logger } from '../shared/logger.js';
import { SecretBox } from '../shared/secrets.js';
import { createApp } from '../server/app.js';
import { generateToken, storeToken, userForToken } from '../server/http/auth.js';
import { bearerToken, TokenCache } from '../server/http/token-cache.js';
import { serializeServer } from '../server/servers/serialize.js';
import { encodeServerCursor } from '../server/api/cursor.js';
import { DEFAULT_PAGE_SIZE } from '../server/api/schemas.js';
import { StatusSnapshot } from '../server/status/snapshot.js';
import { ServerPageCache } from '../server/servers/page-cache.js';
import { median, round } from './stats.js';

/** autocannon's command-line entry, run with this process's node. */
const AUTOCANNON_BIN = createRequire(import.meta.url).resolve('autocannon/autocannon.js');

/** One side's figures. */
export interface Throughput {
  /** Median requests per second of the measured rounds. */
  requestsPerSecond: number;
  /** 99th percentile latency, in milliseconds (median of the rounds'). */
  p99Ms: number;
  /** Responses that were not 2xx, plus socket errors and timeouts (must be 0). */
  failures: number;
}

/** One endpoint, ours beside bare. */
export interface EndpointThroughput {
  path: string;
  switchboard: Throughput;
  bare: Throughput;
  /** `switchboard.requestsPerSecond / bare.requestsPerSecond`. */
  ratio: number;
}

/** What {@link measureApiThroughput} reports. */
export interface ApiThroughput {
  listServers: EndpointThroughput;
  status: EndpointThroughput;
  connections: number;
  storedServers: number;
  durationSeconds: number;
  rounds: number;
  database: 'postgres' | 'pglite';
  setup: string;
}

/** Options of {@link measureApiThroughput}. */
export interface ApiThroughputOptions {
  logger: Logger;
  /** Postgres URL; default the embedded PGlite in memory. */
  databaseUrl?: string;
  /** Concurrent connections; default 32. */
  connections?: number;
  /** Servers stored for the caller; default 100. */
  storedServers?: number;
  /** Seconds per measured round and side; default 2. */
  durationSeconds?: number;
  /** Measured rounds per side, alternating ours and bare; default 5. */
  rounds?: number;
}

async function listen(app: Express): Promise<{ url: string; server: Server }> {
  const server: Server = await new Promise((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s));
  });
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server };
}

/**
 * One autocannon run in a child process, so the load generator has its own event loop (and on
 * a 2-core machine its own core) instead of competing with the server it measures.
 */
async function load(url: string, token: string, connections: number, durationSeconds: number) {
  const child = spawn(
    process.execPath,
    [
      AUTOCANNON_BIN,
      '--json',
      '--connections',
      String(connections),
      '--duration',
      String(durationSeconds),
      '--headers',
      `authorization=Bearer ${token}`,
      url,
    ],
    { stdio: ['ignore', 'pipe', 'ignore'] },
  );
  let stdout = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
  const code = await new Promise<number | null>((resolve) => child.once('close', resolve));
  if (code !== 0) throw new Error(`autocannon exited with ${code}`);
  const result = JSON.parse(stdout) as autocannon.Result;
  return {
    requestsPerSecond: result.requests.average,
    p99Ms: result.latency.p99,
    failures: result.non2xx + result.errors + result.timeouts,
  };
}

async function compare(
  path: string,
  ours: string,
  bare: string,
  token: string,
  options: Required<Pick<ApiThroughputOptions, 'connections' | 'durationSeconds' | 'rounds'>>,
): Promise<EndpointThroughput> {
  const { connections, durationSeconds, rounds } = options;
  // Warm both sides (JIT, pools, caches) before measuring.
  await load(ours + path, token, connections, 1);
  await load(bare + path, token, connections, 1);
  const sides = { ours: [] as Throughput[], bare: [] as Throughput[] };
  for (let round = 0; round < rounds; round++) {
    sides.ours.push(await load(ours + path, token, connections, durationSeconds));
    sides.bare.push(await load(bare + path, token, connections, durationSeconds));
  }
  const summary = (runs: Throughput[]): Throughput => ({
    requestsPerSecond: round(median(runs.map((r) => r.requestsPerSecond)), 1),
    p99Ms: median(runs.map((r) => r.p99Ms)),
    failures: runs.reduce((sum, r) => sum + r.failures, 0),
  });
  const switchboard = summary(sides.ours);
  const bareSide = summary(sides.bare);
  return {
    path,
    switchboard,
    bare: bareSide,
    ratio: round(switchboard.requestsPerSecond / bareSide.requestsPerSecond, 3),
  };
}

/**
 * Stores `storedServers` servers for one user, serves `createApp` and a bare Express app on two
 * loopback ports, and loads each endpoint on both. Closes everything it opened.
 */
export async function measureApiThroughput(options: ApiThroughputOptions): Promise<ApiThroughput> {
  const connections = options.connections ?? 32;
  const storedServers = options.storedServers ?? 100;
  const durationSeconds = options.durationSeconds ?? 2;
  const rounds = options.rounds ?? 5;
  const { logger } = options;
  const closers: (() => Promise<unknown>)[] = [];
  try {
    let databaseUrl: string | undefined;
    if (options.databaseUrl) {
      // A database of its own, dropped at the end, so the bench never touches real data.
      const name = `switchboard_bench_${randomBytes(6).toString('hex')}`;
      const admin = postgres(options.databaseUrl, { max: 1, onnotice: () => {} });
      await admin.unsafe(`create database ${name}`);
      closers.push(async () => {
        await admin.unsafe(`drop database if exists ${name} with (force)`);
        await admin.end();
      });
      const url = new URL(options.databaseUrl);
      url.pathname = `/${name}`;
      databaseUrl = url.toString();
    }
    const database: DatabaseHandle = await openDatabase({
      databaseUrl,
      secretBox: new SecretBox(randomBytes(32)),
    });
    closers.push(() => database.close());
    const [user] = await database.db
      .insert(users)
      .values({ name: 'Bench', email: `bench-${randomBytes(4).toString('hex')}@bench.local` })
      .returning();
    const token = generateToken();
    await storeToken(database.db, user!.id, token);
    for (let i = 0; i < storedServers; i++) {
      await createServer(database, {
        userId: user!.id,
        name: `server-${i}`,
        description: `Bench server ${i}`,
        transport: 'streamable-http',
        url: `https://mcp-${i}.example.com/mcp`,
        headers: { 'X-Api-Key': `key-${i}-${randomBytes(8).toString('hex')}` },
        connectionStatus: i % 5 === 0 ? 'error' : 'connected',
      });
    }
    const snapshot = new StatusSnapshot({ database, logger });
    await snapshot.start();
    closers.push(async () => snapshot.stop());
    const tokens = new TokenCache(database.db);
    // As `server/main.ts` builds it: lists kept until a server changes.
    const serverPages = new ServerPageCache({ database, logger });
    await serverPages.start();
    closers.push(() => serverPages.stop());

    // Ours: the whole application, with every middleware (rate limiting off: one token is
    // the whole load here, and a 429 would measure the limiter).
    const ours = await listen(
      createApp({
        database,
        logger,
        statusSnapshot: snapshot,
        tokenCache: tokens,
        serverPages,
        authFailures: undefined,
        // The load is on the API itself; no server is tested.
        guards: {},
        rateLimitPerMinute: 0,
      }),
    );
    closers.push(() => new Promise((resolve) => ours.server.close(resolve)));
    ours.server.closeIdleConnections();

    // Bare: one handler per endpoint doing the same lookups and returning the same JSON.
    const bareApp = express();
    bareApp.get('/api/mcp/servers', async (req, res) => {
      const caller = await userForToken(database.db, bearerToken(req.get('authorization')) ?? '');
      if (!caller) return void res.status(401).end();
      const page = await listServerPage(database, caller.id, { limit: DEFAULT_PAGE_SIZE });
      res.json({
        items: page.rows.map((row) => serializeServer(row, row.secretHints)),
        nextCursor: page.nextAfterId === null ? null : encodeServerCursor(page.nextAfterId),
      });
    });
    bareApp.get('/api/status', async (req, res) => {
      const token = bearerToken(req.get('authorization')) ?? '';
      const caller = tokens.fresh(token) ?? (await tokens.user(token));
      if (!caller) return void res.status(401).end();
      res.json(snapshot.forUser(caller.id));
    });
    const bare = await listen(bareApp);
    closers.push(
      () =>
        new Promise((resolve) => {
          bare.server.closeAllConnections();
          bare.server.close(resolve);
        }),
    );

    const settings = { connections, durationSeconds, rounds };
    const listResult = await compare('/api/mcp/servers', ours.url, bare.url, token, settings);
    const statusResult = await compare('/api/status', ours.url, bare.url, token, settings);
    ours.server.closeAllConnections();
    return {
      listServers: listResult,
      status: statusResult,
      connections,
      storedServers,
      durationSeconds,
      rounds,
      database: database.kind,
      setup:
        `autocannon in a child process, ${connections} connections, median of ${rounds} alternating ` +
        `rounds of ${durationSeconds} s per side (p99: median of the rounds') after a 1 s warm-up; ${storedServers} servers stored (sealed header secrets); ` +
        `${database.kind}; bare = express() with one handler, same token lookup and query ` +
        `(the first page of ${DEFAULT_PAGE_SIZE} servers, read every time; ours keeps it until a server changes, ` +
        `with its tag, and looks a reading token up once per 10 s, as its status endpoints do)`,
    };
  } finally {
    for (const close of closers.reverse()) await close().catch(() => undefined);
  }
}
