/**
 * The MCP gateway's cost (issue 15): a `tools/call` of server-everything's `echo` through
 * Switchboard's `/mcp` against the same call made straight to the same upstream server, a
 * server-everything process over Streamable HTTP.
 *
 * The gateway runs as `server/main.ts` runs it: `createApp` with a real {@link Gateway} (the
 * production token lookup `gatewayAuthenticator`, the production logger at `info` writing JSON
 * lines to `/dev/null`, every `tools/call` audited into `tool_calls` through its batcher) on a real
 * database (PGlite in this process, or a throwaway Postgres database), listening on a loopback
 * port. The user's one stored server points at the upstream; the guards are the permissive `{}`
 * (a remote server needs none of the stdio sandbox's), as the direct client has.
 *
 * - `toolCallOverhead`: in each round a fresh SDK `Client` on `/mcp` (its own gateway session,
 *   with the bearer token) and a fresh bare SDK `Client` with its own session on the upstream make
 *   serial calls in turn (A, B, C, A, B, C… after a warm-up, so drift hits all alike, as
 *   `tool-call-overhead.ts` does). `ratio` = median through the gateway over median direct. The
 *   third side is a proxy of the bare SDK in this process (`bare-proxy.ts`): `proxyRatio` is
 *   what the second hop costs with no code of Switchboard's, the floor of `ratio`.
 * - `rps`: {@link RPS_CLIENTS} SDK clients, each its own session, call `echo` in a loop for a
 *   fixed time, from a forked process (`fixtures/gateway-load.ts`: the load has its own event loop,
 *   as autocannon has in `api-throughput.ts`), rounds taking turns between the gateway, the
 *   upstream directly and the bare SDK proxy (one forked process per side). All the gateway's clients use one user's one token: one user's shared
 *   connection is the case the gateway serves, so the app is built with
 *   `maxSessionsPerUser` = {@link RPS_CLIENTS} (default 16) and `rateLimitPerMinute: 0` (one
 *   token is the whole load, and a 429 would measure the limiter).
 */
import { fork, type ChildProcess } from 'node:child_process';
import { createServer as createHttpServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { count } from 'drizzle-orm';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { generateToken, storeToken } from '../server/http/auth.js';
import { toolCalls, users } from '../shared/db/schema.js';
import { createServer } from '../shared/db/servers.js';
import { connectBareClient, type BareClient } from './bare-client.js';
import { startBareProxy } from './bare-proxy.js';
import { benchGatewayApp } from './gateway-app.js';
import { openBenchDatabase, productionLogger } from './echo-toolset.js';
import type { LoadRequest, LoadRound } from './fixtures/gateway-load.js';
import { median, round } from './stats.js';

/** Concurrent clients of `gateway.rps`. */
export const RPS_CLIENTS = 32;

const LOAD_SCRIPT = fileURLToPath(new URL('./fixtures/gateway-load.ts', import.meta.url));

/** What `gateway` reports. */
export interface GatewayBench {
  toolCallOverhead: {
    /** gatewayMs / directMs. Target ≤ 1.25. */
    ratio: number;
    /** Median of a serial `tools/call` through `/mcp`, in milliseconds. */
    gatewayMs: number;
    /** Median of the same call on the upstream with a bare SDK client, in milliseconds. */
    directMs: number;
    /**
     * Median of the same call through a proxy of the bare SDK in this process
     * (`bare-proxy.ts`): what the second hop costs with no code of Switchboard's, in ms.
     */
    proxyMs: number;
    /** proxyMs / directMs: the floor of `ratio` for a gateway built on the SDK's transports. */
    proxyRatio: number;
    /** Measured calls per side, all rounds together (warm-up calls not included). */
    iterations: number;
    /** Rounds, each with fresh sessions on both sides. */
    rounds: number;
  };
  rps: {
    /** Calls per second through `/mcp` with {@link RPS_CLIENTS} clients (median of the rounds). */
    value: number;
    /** The same straight to the upstream. */
    direct: number;
    /** value / direct. */
    ratio: number;
    /** 99th percentile latency through `/mcp`, in milliseconds (median of the rounds'). */
    p99Ms: number;
    /** The same straight to the upstream. */
    directP99Ms: number;
    /** Calls per second through the bare SDK proxy (`bare-proxy.ts`), and its p99 latency. */
    proxy: number;
    proxyP99Ms: number;
    /** Calls that failed on any side, all rounds and warm-ups together (must be 0). */
    failures: number;
    /** The first failure's message, if any. */
    firstError?: string;
    clients: number;
    durationSeconds: number;
    rounds: number;
  };
  /** `tool_calls` rows written, against the calls made through the gateway. */
  audit: { rows: number; calls: number };
  database: 'postgres' | 'pglite';
  setup: string;
}

/** Options of {@link measureGateway}. */
export interface GatewayBenchOptions {
  /** The upstream's Streamable HTTP endpoint, e.g. `http://127.0.0.1:4321/mcp`. */
  upstreamUrl: string;
  /** Measured serial calls per side in all; default 2000. */
  iterations?: number;
  /** Rounds of the serial comparison; default 5. */
  rounds?: number;
  /** A `postgres://` URL (a throwaway database is made there); default the embedded PGlite. */
  databaseUrl?: string;
  /** Concurrent clients of the throughput rounds; default {@link RPS_CLIENTS}. */
  clients?: number;
  /** Seconds per throughput round and side; default 2. */
  durationSeconds?: number;
  /** Throughput rounds per side, alternating; default 5. */
  rpsRounds?: number;
}

/** A forked {@link LOAD_SCRIPT} and its one pending answer. */
class LoadProcess {
  readonly #child: ChildProcess;
  #waiting?: { resolve: (message: unknown) => void; reject: (error: Error) => void };

  constructor() {
    this.#child = fork(LOAD_SCRIPT, [], {
      execArgv: ['--import', 'tsx'],
      stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
    });
    this.#child.on('message', (message: { type: string; message?: string }) => {
      const waiting = this.#waiting;
      this.#waiting = undefined;
      if (message.type === 'error') waiting?.reject(new Error(`load process: ${message.message}`));
      else waiting?.resolve(message);
    });
    this.#child.once('exit', (code) => {
      this.#waiting?.reject(new Error(`load process exited (${code})`));
      this.#waiting = undefined;
    });
  }

  request<T>(message: LoadRequest): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.#waiting = { resolve: resolve as (message: unknown) => void, reject };
      this.#child.send(message);
    });
  }

  /** Ends the clients' sessions and waits for the process to exit (SIGKILL after 10 s). */
  async stop(): Promise<void> {
    if (this.#child.exitCode !== null || this.#child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => this.#child.once('exit', () => resolve()));
    this.#child.send({ type: 'stop' } satisfies LoadRequest);
    const timer = setTimeout(() => this.#child.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
  }
}

/** A client of the gateway: a {@link BareClient} that also lists the tools' names. */
interface GatewayClient extends BareClient {
  listToolNames(): Promise<string[]>;
}

/** An SDK client with its own session on the gateway; `close` ends the session (`DELETE`). */
async function connectGatewayClient(url: string, token: string): Promise<GatewayClient> {
  const client = new Client({ name: 'switchboard-bench-gateway', version: '0.1.0' });
  const transport = new StreamableHTTPClientTransport(new URL(url), {
    requestInit: { headers: { Authorization: `Bearer ${token}` } },
  });
  await client.connect(transport);
  return {
    callTool: async (name, args, options) =>
      (await client.callTool({ name, arguments: args }, undefined, options)) as CallToolResult,
    listToolNames: async () => (await client.listTools()).tools.map((tool) => tool.name),
    close: async () => {
      await transport.terminateSession().catch(() => undefined);
      await client.close();
    },
  };
}

/** `echo`'s answer to `{ message: 'x' }`, checked. @throws Error on any other answer. */
async function echo(client: BareClient, name: string): Promise<void> {
  const result = await client.callTool(name, { message: 'x' });
  const first = result.content[0];
  if (first?.type !== 'text' || first.text !== 'Echo: x') {
    throw new Error(`${name} answered ${JSON.stringify(result)}`);
  }
}

/**
 * Stores the upstream for a new user with a gateway token, serves the app with the gateway, and
 * runs both measurements. Closes everything it opened (the database dropped when on Postgres).
 *
 * @throws Error when a side cannot connect, `echo` answers anything but `Echo: x` in the serial
 *   rounds, or the gateway does not list the upstream's `echo`.
 */
export async function measureGateway(options: GatewayBenchOptions): Promise<GatewayBench> {
  const iterations = options.iterations ?? 2000;
  const rounds = options.rounds ?? 5;
  const perRound = Math.ceil(iterations / rounds);
  const warmup = Math.ceil(perRound / 10);
  const clients = options.clients ?? RPS_CLIENTS;
  const durationSeconds = options.durationSeconds ?? 2;
  const rpsRounds = options.rpsRounds ?? 5;
  const closers: (() => Promise<unknown>)[] = [];
  try {
    const database = await openBenchDatabase(options.databaseUrl);
    closers.push(() => database.close());
    const [user] = await database.db
      .insert(users)
      .values({ name: 'Bench', email: 'bench-gateway@bench.local' })
      .returning();
    const token = generateToken();
    await storeToken(database.db, user!.id, token);
    await createServer(database, {
      userId: user!.id,
      name: 'bench',
      transport: 'streamable-http',
      url: options.upstreamUrl,
      timeoutMs: 30_000,
    });

    // Listening first, so the gateway's public URL names the real port.
    const server: Server = createHttpServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    closers.push(
      () =>
        new Promise((resolve) => {
          server.closeAllConnections();
          server.close(resolve);
        }),
    );
    const publicUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const logger = productionLogger('/dev/null', 'switchboard');
    const { gateway, app } = benchGatewayApp({
      database,
      logger,
      publicUrl,
      gateway: { maxSessionsPerUser: clients },
    });
    let gatewayClosed = false;
    const closeGateway = async () => {
      if (gatewayClosed) return;
      gatewayClosed = true;
      await gateway.close();
    };
    closers.push(closeGateway);
    server.on('request', app);
    const gatewayUrl = `${publicUrl}/mcp`;

    // The name the gateway gives the upstream's echo (`<server>__echo`).
    const probe = await connectGatewayClient(gatewayUrl, token);
    const tools = await probe.listToolNames().finally(() => probe.close());
    const toolName = tools.find((name) => name.endsWith('__echo'));
    if (!toolName) throw new Error('the gateway lists no echo tool of the upstream');
    let gatewayCalls = 0;

    // Serial calls, in turn through the gateway, direct and through the bare SDK proxy.
    const proxy = await startBareProxy(options.upstreamUrl);
    closers.push(() => proxy.close());
    const timings = { gateway: [] as number[], direct: [] as number[], proxy: [] as number[] };
    for (let r = 0; r < rounds; r++) {
      const [viaGateway, direct, viaProxy] = await Promise.all([
        connectGatewayClient(gatewayUrl, token),
        connectBareClient({ transport: 'streamable-http', url: options.upstreamUrl }),
        connectBareClient({ transport: 'streamable-http', url: proxy.url }),
      ]);
      const sides = [
        { client: viaGateway, tool: toolName, into: timings.gateway },
        { client: direct, tool: 'echo', into: timings.direct },
        { client: viaProxy, tool: 'echo', into: timings.proxy },
      ];
      try {
        for (let i = 0; i < warmup + perRound; i++) {
          for (const side of sides) {
            const started = performance.now();
            await echo(side.client, side.tool);
            if (i >= warmup) side.into.push(performance.now() - started);
          }
          gatewayCalls += 1;
        }
      } finally {
        await Promise.allSettled([viaGateway.close(), direct.close(), viaProxy.close()]);
      }
    }
    const gatewayMs = median(timings.gateway);
    const directMs = median(timings.direct);
    const proxyMs = median(timings.proxy);

    // Throughput: a load process per side, their sessions open throughout.
    const loads = {
      gateway: new LoadProcess(),
      direct: new LoadProcess(),
      proxy: new LoadProcess(),
    };
    const stopLoads = () => Promise.all(Object.values(loads).map((load) => load.stop()));
    closers.push(stopLoads);
    await Promise.all([
      loads.gateway.request({ type: 'connect', url: gatewayUrl, token, clients, toolName }),
      loads.direct.request({
        type: 'connect',
        url: options.upstreamUrl,
        clients,
        toolName: 'echo',
      }),
      loads.proxy.request({ type: 'connect', url: proxy.url, clients, toolName: 'echo' }),
    ]);
    type LoadSide = keyof typeof loads;
    const sides: Record<LoadSide, LoadRound[]> = { gateway: [], direct: [], proxy: [] };
    let failures = 0;
    let firstError: string | undefined;
    const runRound = async (side: LoadSide, seconds: number) => {
      const result = await loads[side].request<LoadRound>({
        type: 'run',
        durationMs: seconds * 1000,
      });
      failures += result.failures;
      firstError ??= result.firstError;
      if (side === 'gateway') gatewayCalls += result.calls + result.failures;
      return result;
    };
    const order: LoadSide[] = ['gateway', 'direct', 'proxy'];
    // Warm every side (JIT, pools) before measuring.
    for (const side of order) await runRound(side, 1);
    for (let r = 0; r < rpsRounds; r++) {
      // Each round starts with the next side: each as often first as second and third.
      for (let i = 0; i < order.length; i++) {
        const side = order[(r + i) % order.length]!;
        sides[side].push(await runRound(side, durationSeconds));
      }
    }
    await stopLoads();
    await proxy.close();
    const perSecond = (runs: LoadRound[]) =>
      median(runs.map((run) => (run.calls * 1000) / run.wallMs));
    const p99 = (runs: LoadRound[]) => median(runs.map((run) => run.p99Ms));
    const value = perSecond(sides.gateway);
    const direct = perSecond(sides.direct);

    // Every call's audit row written: the gateway's close flushes its batcher.
    await closeGateway();
    const [audited] = await database.db.select({ rows: count() }).from(toolCalls);

    return {
      toolCallOverhead: {
        ratio: round(gatewayMs / directMs),
        gatewayMs: round(gatewayMs, 4),
        directMs: round(directMs, 4),
        proxyMs: round(proxyMs, 4),
        proxyRatio: round(proxyMs / directMs),
        iterations: timings.gateway.length,
        rounds,
      },
      rps: {
        value: round(value, 0),
        direct: round(direct, 0),
        ratio: round(value / direct),
        p99Ms: round(p99(sides.gateway), 2),
        directP99Ms: round(p99(sides.direct), 2),
        proxy: round(perSecond(sides.proxy), 0),
        proxyP99Ms: round(p99(sides.proxy), 2),
        failures,
        firstError,
        clients,
        durationSeconds,
        rounds: rpsRounds,
      },
      audit: { rows: audited?.rows ?? 0, calls: gatewayCalls },
      database: database.kind,
      setup:
        `upstream: server-everything streamableHttp in its own process; gateway: createApp with a ` +
        `real Gateway (gatewayAuthenticator token lookup, production logger at info to /dev/null, ` +
        `calls audited in tool_calls) on ${database.kind}, guards {}, rateLimitPerMinute 0; ` +
        `overhead: ${rounds} rounds of ${perRound} serial echo calls per side after ${warmup} ` +
        `warm-up, in turn gateway, direct and a bare SDK proxy in this process (bare-proxy.ts), ` +
        `fresh sessions each round; rps: ${clients} SDK clients of one ` +
        `user and token (maxSessionsPerUser ${clients}), each its own session, in a forked ` +
        `process, median of ${rpsRounds} rounds in turn of ${durationSeconds} s per side ` +
        `after 1 s warm-up; direct = the same clients on the upstream; proxy = through bare-proxy.ts`,
    };
  } finally {
    for (const close of closers.reverse()) await close().catch(() => undefined);
  }
}
