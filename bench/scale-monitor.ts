/**
 * `scale.monitor`: what the API's status monitor costs per watched server. Two forked processes
 * (`bench/fixtures/monitor-process.ts`) run the real `StatusMonitor` side by side over their own
 * fresh databases: a bare one watching no server and a loaded one watching `servers` Streamable
 * HTTP servers (rows pointing at a few server-everything processes, one session each) at a 1 s
 * health interval. Both collect their start-up garbage (one full GC) once started. Over one
 * steady-state window both are sampled together, so load from other work on the machine falls
 * on both alike:
 *
 * - `rssPerServerMb` = (median RSS of loaded − median RSS of bare) / servers;
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
  rssPerServerMb: number;
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
  /** The two processes' median RSS in MB and CPU in percent of a core over the window. */
  bare: { rssMb: number; cpuPercent: number };
  loaded: { rssMb: number; cpuPercent: number };
  database: 'postgres' | 'pglite';
  setup: string;
}

/** Options of {@link measureScaleMonitor}. */
export interface ScaleMonitorOptions {
  /** Postgres URL to create the two fresh databases from; default PGlite in each child. */
  databaseUrl?: string;
  /** Watched servers; default 200. */
  servers?: number;
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
 * Runs the bare and the loaded monitor processes side by side and reports the difference per
 * server (see the module doc). Stops everything it started.
 *
 * @throws Error when a process fails to start or fewer than all servers connect.
 */
export async function measureScaleMonitor(
  options: ScaleMonitorOptions = {},
): Promise<ScaleMonitor> {
  const servers = options.servers ?? 200;
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

    const databases = options.databaseUrl
      ? await Promise.all([freshDatabase(options.databaseUrl), freshDatabase(options.databaseUrl)])
      : undefined;
    for (const database of databases ?? []) cleanup.push(database.drop);

    const bare = new MonitorProcess();
    const loaded = new MonitorProcess();
    cleanup.push(
      () => bare.stop(),
      () => loaded.stop(),
    );
    const start = (servers: number, index: number): MonitorProcessStart => ({
      type: 'start',
      databaseUrl: databases?.[index]?.url,
      servers,
      urls,
      intervalMs,
    });
    const [, ready] = await Promise.all([
      bare.request(start(0, 0), 'ready'),
      loaded.request<{ connected: number; errors: string[] }>(start(servers, 1), 'ready'),
    ]);
    // On a busy machine a few first attempts may time out; the monitor retries them (backoff).
    let connected = ready.connected;
    const settleBy = performance.now() + 120_000;
    while (connected < servers && performance.now() < settleBy) {
      await sleep(1_000);
      connected = (await loaded.request<MonitorProcessSample>({ type: 'sample' }, 'sample'))
        .connected;
    }
    if (connected < servers) {
      throw new Error(
        `only ${connected} of ${servers} servers connected: ${ready.errors.join('; ')}`,
      );
    }
    const firstAttemptConnected = ready.connected;
    await sleep(warmupSeconds * 1000);

    const sampleBoth = () =>
      Promise.all([
        bare.request<MonitorProcessSample>({ type: 'sample' }, 'sample'),
        loaded.request<MonitorProcessSample>({ type: 'sample' }, 'sample'),
      ]);
    const startedAt = performance.now();
    const first = await sampleBoth();
    const samples = [first];
    for (let second = 1; second <= windowSeconds; second++) {
      await sleep(Math.max(0, startedAt + second * 1000 - performance.now()));
      samples.push(await sampleBoth());
    }
    const seconds = (performance.now() - startedAt) / 1000;
    const last = samples.at(-1)!;
    const cpuPercent = (i: 0 | 1) => (last[i].cpuMicros - first[i].cpuMicros) / 1e4 / seconds;
    const rssMb = (i: 0 | 1) => median(samples.map((s) => s[i].rss)) / 1024 / 1024;
    const rows = last[1].rowsUpdated - first[1].rowsUpdated;
    const statements = last[1].statements - first[1].statements;
    return {
      servers,
      rssPerServerMb: round((rssMb(1) - rssMb(0)) / servers, 3),
      cpuPerServerPercent: round((cpuPercent(1) - cpuPercent(0)) / servers, 4),
      statusWritesPerServerPerSec: round(rows / servers / seconds, 4),
      statusStatementsPerSec: round(statements / seconds, 3),
      intervalMs,
      windowSeconds: round(seconds, 1),
      connectedAtEnd: last[1].connected,
      firstAttemptConnected,
      bare: { rssMb: round(rssMb(0), 1), cpuPercent: round(cpuPercent(0), 2) },
      loaded: { rssMb: round(rssMb(1), 1), cpuPercent: round(cpuPercent(1), 2) },
      database: options.databaseUrl ? 'postgres' : 'pglite',
      setup:
        `StatusMonitor in a forked process watching ${servers} Streamable HTTP servers ` +
        `(${everything.length} server-everything processes, one session per server) at ` +
        `MCP_HEALTH_INTERVAL_MS=${intervalMs}, beside one watching none; ${warmupSeconds} s ` +
        `settling, then ${windowSeconds} s sampled every second; writes counted by triggers`,
    };
  } finally {
    for (const step of cleanup.reverse()) await step().catch(() => undefined);
  }
}
