/**
 * `npm run bench [-- --json FILE] [--only A,B] [--iterations N]`: measures tool-call overhead,
 * session start with slow and dead servers, the health loop's CPU cost, and the admin API's
 * throughput (`api`), the stdio sandbox's start cost (`sandbox`) and the tool budget at scale
 * (`scaleTools`, reported as `scale.tools`) and the MCP gateway's cost per call and throughput
 * (`gateway`); prints a table and,
 * with `--json`, writes the results to FILE. Starts every server it needs and stops them all,
 * and exits by itself within {@link DEADLINE_MS} whatever happens.
 */
import { writeFileSync } from 'node:fs';
import os from 'node:os';
import { parseArgs } from 'node:util';
import { initializeLogger } from '@livekit/agents';
import { createLogger } from '../shared/logger.js';
import { describeError } from '../shared/errors.js';
import { mcpServerConfigSchema, type McpServerConfigInput } from '../shared/mcp/server-config.js';
import { EVERYTHING_BIN, startEverythingHttpServer } from '../test/helpers/mcp-processes.js';
import { measureApiThroughput } from './api-throughput.js';
import { measureGateway, RPS_CLIENTS } from './gateway.js';
import type { BareTarget } from './bare-client.js';
import { killRemainingChildren, runningChildPids } from './child-processes.js';
import { startSilentServer } from './fixtures/silent-server.js';
import { startSlowInitializeServer } from './fixtures/slow-initialize-server.js';
import { measureHealthLoop } from './health-loop.js';
import { formatBenchResults, type BenchResults } from './report.js';
import { measureSandboxStart } from './sandbox-start.js';
import { measureScaleSessions } from './scale-sessions.js';
import { measureScaleTools } from './scale-tools.js';
import { measureReplicas } from './replicas.js';
import { measureScaleMonitor } from './scale-monitor.js';
import { measureSessionStart, type SessionServer } from './session-start.js';
import { round } from './stats.js';
import { measureToolCallOverhead } from './tool-call-overhead.js';

/** The whole run is stopped (servers killed, exit 1) after this long. */
const DEADLINE_MS = 20 * 60_000;
const PARTS = [
  'toolCallOverhead',
  'sessionStart',
  'healthLoop',
  'api',
  'sandbox',
  'scaleSessions',
  'scaleTools',
  'replicas',
  'scaleMonitor',
  'gateway',
] as const;
type Part = (typeof PARTS)[number];

const USAGE = `Usage: npm run bench -- [--json FILE] [--only ${PARTS.join(',')}] [--iterations N]
  --json FILE      also write the results as JSON to FILE
  --only PARTS     comma-separated parts to run (default all)
  --iterations N   measured tool calls per side and transport (default 2000; stdio: twice as
                   many, in 10 rounds; gateway: per side)`;

interface BenchOptions {
  jsonFile?: string;
  parts: Set<Part>;
  iterations: number;
}

function parseBenchArgs(argv: readonly string[]): BenchOptions {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      json: { type: 'string' },
      only: { type: 'string' },
      iterations: { type: 'string', default: '2000' },
    },
    strict: true,
  });
  const parts = (values.only ?? PARTS.join(',')).split(',').map((part) => part.trim());
  const unknown = parts.find((part) => !(PARTS as readonly string[]).includes(part));
  if (unknown) throw new Error(`unknown part "${unknown}"`);
  const iterations = Number(values.iterations);
  if (!Number.isInteger(iterations) || iterations < 10) {
    throw new Error('--iterations must be a whole number of at least 10');
  }
  return { jsonFile: values.json, parts: new Set(parts as Part[]), iterations };
}

/** Things to stop, stopped last-in first-out; each at most once. */
class Cleanup {
  readonly #steps: (() => Promise<unknown>)[] = [];

  add(step: () => Promise<unknown>): void {
    this.#steps.push(step);
  }

  async run(): Promise<void> {
    while (this.#steps.length > 0) {
      const step = this.#steps.pop()!;
      await step().catch((error: unknown) =>
        process.stderr.write(`bench: cleanup failed: ${describeError(error)}\n`),
      );
    }
  }
}

function config(input: McpServerConfigInput) {
  return mcpServerConfigSchema.parse(input);
}

/** `toolCallOverhead.stdio.warm`'s calls per side (after half as many unmeasured). */
const STDIO_WARM_CALLS = 6_000;

/**
 * Rounds of the stdio comparison, each with fresh server processes. On a 2-core machine one
 * round's same-connection ratio moved between 1.017 and 1.08 with where the processes landed (and
 * round 0 runs cold code), so that five rounds of 400 calls gave 1.031–1.069 between runs of the
 * same commit; ten rounds of 400 gave 1.031–1.043. A stdio call takes about 0.3 ms: the extra
 * rounds add about 15 s.
 */
const STDIO_ROUNDS = 10;

/**
 * Stdio calls per side over `--iterations`: twice Streamable HTTP's 5 rounds, with as many calls
 * in each (400 at the default 2,000).
 */
const STDIO_CALLS_FACTOR = 2;

async function runBench(options: BenchOptions, cleanup: Cleanup): Promise<BenchResults> {
  const loadAtStart = os.loadavg()[0]!;
  const logger = createLogger({ level: 'silent' });
  const stdioEverything = { command: process.execPath, args: [EVERYTHING_BIN, 'stdio'] };
  const results: Omit<BenchResults, 'machine' | 'timestamp'> = {};

  if (options.parts.has('toolCallOverhead')) {
    log('toolCallOverhead: stdio');
    const stdio = await measureToolCallOverhead({
      target: { transport: 'stdio', ...stdioEverything } satisfies BareTarget,
      iterations: options.iterations * STDIO_CALLS_FACTOR,
      rounds: STDIO_ROUNDS,
      databaseUrl: process.env.DATABASE_URL,
      // A few seconds on stdio; on HTTP (2 ms a call) it would take minutes.
      warmCalls: STDIO_WARM_CALLS,
    });
    log('toolCallOverhead: streamable-http');
    const http = await startEverythingHttpServer('streamableHttp');
    cleanup.add(http.stop);
    const streamableHttp = await measureToolCallOverhead({
      target: { transport: 'streamable-http', url: `${http.origin}/mcp` },
      iterations: options.iterations,
      databaseUrl: process.env.DATABASE_URL,
    });
    results.toolCallOverhead = { stdio, streamableHttp };
  }

  if (options.parts.has('sessionStart')) {
    log('sessionStart: 4 healthy, 1 slow (2000 ms initialize), 1 dead (3000 ms timeout)');
    const [httpA, httpB, slow, dead] = await Promise.all([
      startEverythingHttpServer('streamableHttp'),
      startEverythingHttpServer('streamableHttp'),
      startSlowInitializeServer(2_000),
      startSilentServer(),
    ]);
    cleanup.add(httpA.stop);
    cleanup.add(httpB.stop);
    cleanup.add(slow.close);
    cleanup.add(dead.close);
    const http = (origin: string) => config({ transport: 'streamable-http', url: `${origin}/mcp` });
    const servers: SessionServer[] = [
      {
        name: 'stdio-1',
        kind: 'healthy',
        config: config({ transport: 'stdio', ...stdioEverything }),
      },
      {
        name: 'stdio-2',
        kind: 'healthy',
        config: config({ transport: 'stdio', ...stdioEverything }),
      },
      { name: 'http-1', kind: 'healthy', config: http(httpA.origin) },
      { name: 'http-2', kind: 'healthy', config: http(httpB.origin) },
      {
        name: 'slow-initialize',
        kind: 'slow',
        config: config({ transport: 'streamable-http', url: slow.url, timeoutMs: 10_000 }),
      },
      {
        name: 'silent',
        kind: 'dead',
        config: config({ transport: 'streamable-http', url: dead.url, timeoutMs: 3_000 }),
      },
    ];
    results.sessionStart = await measureSessionStart(servers);
  }

  if (options.parts.has('healthLoop')) {
    log('healthLoop: 200 connections, ping every 1000 ms, 10 s');
    const http = await startEverythingHttpServer('streamableHttp');
    cleanup.add(http.stop);
    results.healthLoop = await measureHealthLoop({
      url: `${http.origin}/mcp`,
      connections: 200,
      intervalMs: 1_000,
      durationMs: 10_000,
      serverDescription: 'one server-everything process (streamableHttp)',
      logger,
    });
  }

  if (options.parts.has('api')) {
    log('api: listServers and status, 100 servers stored, concurrency 32 (autocannon)');
    results.api = await measureApiThroughput({ logger, databaseUrl: process.env.DATABASE_URL });
  }

  if (options.parts.has('sandbox')) {
    log('sandbox: server-everything (stdio) start, sandboxed vs not, interleaved, 10 each');
    results.sandbox = await measureSandboxStart({ bin: EVERYTHING_BIN, logger });
  }

  if (options.parts.has('scaleSessions')) {
    log('scale.sessions: 500 sessions, one Postgres, the API and a worker hub');
    results.scale = { ...results.scale, sessions: await measureScaleSessions({ log }) };
  }

  if (options.parts.has('scaleTools')) {
    log('scaleTools: 10 servers × 50 tools (streamable-http), AGENT_MAX_TOOLS 64, 500 searches');
    const tools = await measureScaleTools({
      servers: 10,
      toolsPerServer: 50,
      maxTools: 64,
      searches: 500,
      logger,
    });
    results.scale = { ...results.scale, tools };
  }

  if (options.parts.has('replicas')) {
    if (process.env.DATABASE_URL) {
      log('replicas: shared rate-limit increments vs MemoryStore (concurrency 50), lease pass');
      results.replicas = await measureReplicas({ databaseUrl: process.env.DATABASE_URL, logger });
    } else {
      log('replicas: skipped, it needs DATABASE_URL (Postgres)');
    }
  }

  if (options.parts.has('scaleMonitor')) {
    log('scaleMonitor: StatusMonitor watching 300 and 100 Streamable HTTP servers at 1 Hz vs none');
    const monitor = await measureScaleMonitor({ databaseUrl: process.env.DATABASE_URL });
    results.scale = { ...results.scale, monitor };
  }

  if (options.parts.has('gateway')) {
    log(
      `gateway: echo through /mcp vs direct (server-everything streamableHttp); ${RPS_CLIENTS} clients`,
    );
    const upstream = await startEverythingHttpServer('streamableHttp');
    cleanup.add(upstream.stop);
    results.gateway = await measureGateway({
      upstreamUrl: `${upstream.origin}/mcp`,
      iterations: options.iterations,
      databaseUrl: process.env.DATABASE_URL,
    });
  }

  const cpus = os.cpus();
  return {
    ...results,
    machine: {
      cpus: cpus.length,
      cpuModel: cpus[0]?.model.trim() ?? 'unknown',
      node: process.version,
      platform: `${process.platform}-${process.arch}`,
      totalMemMb: Math.round(os.totalmem() / 1024 / 1024),
      loadAverage: { start: round(loadAtStart, 2), end: round(os.loadavg()[0]!, 2) },
    },
    timestamp: new Date().toISOString(),
  };
}

function log(message: string): void {
  process.stderr.write(`bench: ${message}\n`);
}

/**
 * Prints the process's warnings as Node does, except `MaxListenersExceededWarning`s raised from
 * Node's global `fetch`, which only the bare SDK clients use (Switchboard's connections send with
 * undici's `request`, `shared/mcp/guarded-network.ts`): the SDK's Streamable HTTP transport gives
 * every request its one long-lived signal, and Node's fetch keeps an abort listener on it per
 * request until the request is garbage-collected, so thousands of bare calls in a row pass
 * 1,500 listeners. Those are counted instead, and {@link main} reports the count in one line.
 *
 * @returns how many warnings were counted so far.
 */
function filterBareFetchWarnings(): () => number {
  let counted = 0;
  process.removeAllListeners('warning');
  process.on('warning', (warning) => {
    const fromGlobalFetch =
      warning.name === 'MaxListenersExceededWarning' &&
      (warning.stack ?? '').includes('exposed-window-or-worker');
    if (fromGlobalFetch) counted += 1;
    else process.stderr.write(`(node:${process.pid}) ${warning.name}: ${warning.message}\n`);
  });
  return () => counted;
}

async function main(argv: readonly string[]): Promise<number> {
  let options: BenchOptions;
  try {
    options = parseBenchArgs(argv);
  } catch (error) {
    process.stderr.write(`bench: ${describeError(error)}\n${USAGE}\n`);
    return 2;
  }
  // McpToolset's tools come from @livekit/agents, whose logger must exist before use.
  initializeLogger({ pretty: false, level: 'silent' });
  const bareFetchWarnings = filterBareFetchWarnings();
  const cleanup = new Cleanup();
  const preexistingChildren = new Set(runningChildPids());
  const stop = (code: number) =>
    void cleanup.run().finally(() => {
      killRemainingChildren(preexistingChildren);
      process.exit(code);
    });
  const deadline = setTimeout(() => {
    log(`still running after ${DEADLINE_MS} ms; stopping`);
    stop(1);
  }, DEADLINE_MS);
  deadline.unref();
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => stop(130));
  try {
    const results = await runBench(options, cleanup);
    await cleanup.run();
    process.stdout.write(`${formatBenchResults(results).join('\n')}\n`);
    if (bareFetchWarnings() > 0) {
      log(
        `${bareFetchWarnings()} MaxListenersExceededWarning from the bare SDK clients' fetch not ` +
          'shown (Node keeps an abort listener per request on the transport signal until GC)',
      );
    }
    if (options.jsonFile) {
      writeFileSync(options.jsonFile, `${JSON.stringify(results, null, 2)}\n`);
      log(`wrote ${options.jsonFile}`);
    }
    return 0;
  } catch (error) {
    log(`failed: ${describeError(error)}`);
    return 1;
  } finally {
    await cleanup.run();
    clearTimeout(deadline);
    // Everything above closed what it started; `ps` gets the last word.
    const leftover = killRemainingChildren(preexistingChildren);
    if (leftover.length > 0) log(`killed child processes left running: ${leftover.join(', ')}`);
  }
}

process.exitCode = await main(process.argv.slice(2));
// Everything was stopped; a lingering keep-alive socket must not keep the process up.
setTimeout(() => process.exit(), 2_000).unref();
