/**
 * `scale.monitor`: what the API's status monitor costs per watched server. Three forked processes
 * (`bench/fixtures/monitor-process.ts`) run the real `StatusMonitor` side by side over their own
 * fresh databases: a bare one watching no server, one watching `fewerServers` and a loaded one
 * watching `servers` Streamable HTTP servers (rows pointing at a few server-everything processes,
 * one session each) at a 1 s health interval. Each collects its start-up garbage (one full GC)
 * once started. Over one steady-state window all are sampled together, so load from other work
 * on the machine falls on all alike:
 *
 * - `rssPerServerMb` = (median RSS of loaded − median RSS of fewer) / (servers − fewerServers):
 *   what one more watched server costs. Watching any server at all also costs a fixed amount that
 *   does not grow with their number, mostly V8's young generation, which grows from 1 MB to its
 *   32 MB ceiling under a few hundred pings a second (docs/scale.md ³); it is reported apart
 *   (`rssFixedMb`), and so is the difference to the bare process per server
 *   (`rssOverBarePerServerMb`), which charges that fixed part to the servers of one run and moves
 *   with the bare process's own RSS (104–182 MB across runs on one machine, as V8 returns memory
 *   to the system or not);
 * - `cpuPerServerPercent` = (CPU time of loaded − CPU time of bare) / window / servers × 100
 *   (percent of one core);
 * - `statusWritesPerServerPerSec` = rows of `mcp_servers` updated in the window (counted by a
 *   trigger) / servers / window seconds; `statusStatementsPerSec` counts the UPDATE statements.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import postgres from 'postgres';
import { startEverythingHttpServer } from '../test/helpers/mcp-processes.js';
import type { MonitorProcessSample, MonitorProcessStart } from './fixtures/monitor-process.js';
import { median, round, sleep } from './stats.js';

/** What `scale.monitor` reports. */
export interface ScaleMonitor {
  servers: number;
  /** Servers the middle process watched (the other end of `rssPerServerMb`). */
  fewerServers: number;
  /** RSS of one more watched server, in MB (see the module comment). */
  rssPerServerMb: number;
  /** (RSS of loaded − RSS of bare) / servers, in MB: the fixed part charged to the servers too. */
  rssOverBarePerServerMb: number;
  /** RSS of watching any server at all, in MB: fewer − bare − fewerServers × rssPerServerMb. */
  rssFixedMb: number;
  cpuPerServerPercent: number;
  /** Rows of `mcp_servers` updated per watched server per second. */
  statusWritesPerServerPerSec: number;
  /** UPDATE statements on `mcp_servers` per second, all servers together. */
  statusStatementsPerSec: number;
  intervalMs: number;
  /** Length of the measured window, in seconds. */
  windowSeconds: number;
  /** Loaded process's servers `connected` at the end of the window. */
  connectedAtEnd: number;
  /** Servers connected at their first attempt (the rest by the monitor's retries). */
  firstAttemptConnected: number;
  /** The three processes' median RSS in MB and CPU in percent of a core over the window. */
  bare: { rssMb: number; cpuPercent: number };
  fewer: { rssMb: number; cpuPercent: number };
  loaded: { rssMb: number; cpuPercent: number };
  database: 'postgres' | 'pglite';
  setup: string;
}

/** Options of {@link measureScaleMonitor}. */
export interface ScaleMonitorOptions {
  /** Postgres URL to create the two fresh databases from; default PGlite in each child. */
  databaseUrl?: string;
  /** Watched servers; default 300. */
  servers?: number;
  /** Servers the middle process watches; default 100. */
  fewerServers?: number;
  /** server-everything processes the servers are spread over; default 4. */
  serverProcesses?: number;
  /** Health interval in milliseconds; default 1000. */
  intervalMs?: number;
  /** Seconds of settling after every server connected; default 5. */
  warmupSeconds?: number;
  /** Seconds measured; default 20. */
  windowSeconds?: number;
}

const CHILD = fileURLToPath(new URL('./fixtures/monitor-process.ts', import.meta.url));

/** A forked monitor process and its one pending answer. */
class MonitorProcess {
  readonly child: ChildProcess;
  #waiting?: { type: string; resolve: (message: unknown) => void; reject: (e: Error) => void };

  constructor() {
    this.child = fork(CHILD, [], {
      execArgv: ['--import', 'tsx', '--expose-gc'],
      stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
    });
    this.child.on('message', (message: { type: string; message?: string }) => {
      const waiting = this.#waiting;
      if (!waiting) return;
      this.#waiting = undefined;
      if (message.type === 'error')
        waiting.reject(new Error(`monitor process: ${message.message}`));
      else waiting.resolve(message);
    });
    this.child.once('exit', (code) => {
      this.#waiting?.reject(new Error(`monitor process exited (${code})`));
      this.#waiting = undefined;
    });
  }

  request<T>(message: object, answer: string): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.#waiting = { type: answer, resolve: resolve as (m: unknown) => void, reject };
      this.child.send(message);
    });
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
    this.child.send({ type: 'stop' });
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
  }
}

/** A fresh Postgres database made from `baseUrl`; `drop()` removes it. */
async function freshDatabase(baseUrl: string): Promise<{ url: string; drop(): Promise<void> }> {
  const name = `switchboard_bench_monitor_${randomBytes(6).toString('hex')}`;
  const admin = postgres(baseUrl, { max: 1, onnotice: () => {} });
  await admin.unsafe(`create database ${name}`);
  const url = new URL(baseUrl);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    drop: async () => {
      await admin.unsafe(`drop database if exists ${name} with (force)`);
      await admin.end();
    },
  };
}

/**
 * Runs the bare, the fewer and the loaded monitor processes side by side and reports the
 * differences per server (see the module doc). Stops everything it started.
 *
 * @throws Error when a process fails to start, fewer than all servers connect, or
 *   `fewerServers` is not below `servers`.
 */
export async function measureScaleMonitor(
  options: ScaleMonitorOptions = {},
): Promise<ScaleMonitor> {
  const servers = options.servers ?? 300;
  const fewerServers = options.fewerServers ?? 100;
  if (!(fewerServers < servers)) {
    throw new Error(`fewerServers (${fewerServers}) must be below servers (${servers})`);
  }
  const intervalMs = options.intervalMs ?? 1_000;
  const windowSeconds = options.windowSeconds ?? 20;
  const warmupSeconds = options.warmupSeconds ?? 5;
  const cleanup: (() => Promise<unknown>)[] = [];
  try {
    const everything = await Promise.all(
      Array.from({ length: options.serverProcesses ?? 4 }, () =>
        startEverythingHttpServer('streamableHttp'),
      ),
    );
    for (const server of everything) cleanup.push(server.stop);
    const urls = everything.map((server) => `${server.origin}/mcp`);

    const counts = [0, fewerServers, servers] as const;
    const databaseUrl = options.databaseUrl;
    const databases = databaseUrl
      ? await Promise.all(counts.map(() => freshDatabase(databaseUrl)))
      : undefined;
    for (const database of databases ?? []) cleanup.push(database.drop);

    // bare, fewer, loaded: indexes 0, 1, 2 of every sample below.
    const processes = counts.map(() => new MonitorProcess());
    for (const child of processes) cleanup.push(() => child.stop());
    const readies = await Promise.all(
      processes.map((child, index) =>
        child.request<{ connected: number; errors: string[] }>(
          {
            type: 'start',
            databaseUrl: databases?.[index]?.url,
            servers: counts[index]!,
            urls,
            intervalMs,
          } satisfies MonitorProcessStart,
          'ready',
        ),
      ),
    );
    // On a busy machine a few first attempts may time out; the monitor retries them (backoff).
    const sampleAll = () =>
      Promise.all(
        processes.map((child) => child.request<MonitorProcessSample>({ type: 'sample' }, 'sample')),
      );
    let connected = readies.map((ready) => ready.connected);
    const settleBy = performance.now() + 120_000;
    const settled = () => connected.every((count, index) => count >= counts[index]!);
    while (!settled() && performance.now() < settleBy) {
      await sleep(1_000);
      connected = (await sampleAll()).map((sample) => sample.connected);
    }
    if (!settled()) {
      throw new Error(
        `only ${connected[1]} of ${fewerServers} and ${connected[2]} of ${servers} servers ` +
          `connected: ${[...readies[1]!.errors, ...readies[2]!.errors].join('; ')}`,
      );
    }
    const firstAttemptConnected = readies[2]!.connected;
    await sleep(warmupSeconds * 1000);

    const startedAt = performance.now();
    const first = await sampleAll();
    const samples = [first];
    for (let second = 1; second <= windowSeconds; second++) {
      await sleep(Math.max(0, startedAt + second * 1000 - performance.now()));
      samples.push(await sampleAll());
    }
    const seconds = (performance.now() - startedAt) / 1000;
    const last = samples.at(-1)!;
    const cpuPercent = (i: number) => (last[i]!.cpuMicros - first[i]!.cpuMicros) / 1e4 / seconds;
    const rssMb = (i: number) => median(samples.map((s) => s[i]!.rss)) / 1024 / 1024;
    const rows = last[2]!.rowsUpdated - first[2]!.rowsUpdated;
    const statements = last[2]!.statements - first[2]!.statements;
    const perServer = (rssMb(2) - rssMb(1)) / (servers - fewerServers);
    const usage = (i: number) => ({
      rssMb: round(rssMb(i), 1),
      cpuPercent: round(cpuPercent(i), 2),
    });
    return {
      servers,
      fewerServers,
      rssPerServerMb: round(perServer, 3),
      rssOverBarePerServerMb: round((rssMb(2) - rssMb(0)) / servers, 3),
      rssFixedMb: round(rssMb(1) - rssMb(0) - fewerServers * perServer, 1),
      cpuPerServerPercent: round((cpuPercent(2) - cpuPercent(0)) / servers, 4),
      statusWritesPerServerPerSec: round(rows / servers / seconds, 4),
      statusStatementsPerSec: round(statements / seconds, 3),
      intervalMs,
      windowSeconds: round(seconds, 1),
      connectedAtEnd: last[2]!.connected,
      firstAttemptConnected,
      bare: usage(0),
      fewer: usage(1),
      loaded: usage(2),
      database: databaseUrl ? 'postgres' : 'pglite',
      setup:
        `StatusMonitor in forked processes watching ${servers} and ${fewerServers} Streamable ` +
        `HTTP servers (${everything.length} server-everything processes, one session per ` +
        `server) at MCP_HEALTH_INTERVAL_MS=${intervalMs}, beside one watching none; ` +
        `${warmupSeconds} s settling, then ${windowSeconds} s sampled every second; writes ` +
        `counted by triggers`,
    };
  } finally {
    for (const step of cleanup.reverse()) await step().catch(() => undefined);
  }
}
