/**
 * Session start with a mix of servers: how long an agent session waits for its tools when some
 * servers are slow or dead. The parallel run is the agent's own code, `loadUserToolsets`, on an
 * in-memory PGlite holding the servers; the serial run connects them one after another with
 * `McpConnection`, which also gives each server's own connect + `tools/list` time.
 */
import { randomBytes } from 'node:crypto';
import { loadUserToolsets } from '../agent/load-user-toolsets.js';
import { openDatabase } from '../shared/db/open.js';
import { users, type NewMcpServerRow } from '../shared/db/schema.js';
import { createServer } from '../shared/db/servers.js';
import { createLogger, type Logger } from '../shared/logger.js';
import { SecretBox } from '../shared/secrets.js';
import { McpConnection } from '../shared/mcp/connection.js';
import { describeError } from '../shared/errors.js';
import type { McpServerConfig } from '../shared/mcp/server-config.js';
import { round, timed } from './stats.js';

/** The role a server plays in the benchmark. */
export type SessionServerKind = 'healthy' | 'slow' | 'dead';

/** One server of the benchmark session. */
export interface SessionServer {
  /** Display name (also the connection's log label). */
  name: string;
  kind: SessionServerKind;
  config: McpServerConfig;
}

/** One server's result in the serial run. */
export interface SerialServerResult {
  name: string;
  kind: SessionServerKind;
  transport: McpServerConfig['transport'];
  /** Its own connect + `tools/list` time (or time to failure), in milliseconds. */
  ms: number;
  toolCount: number;
  error?: string;
}

/** What `sessionStart` reports; every duration in milliseconds. */
export interface SessionStart {
  /**
   * All servers started in parallel by the agent's `loadUserToolsets`: until every server that
   * can connect (the healthy ones and the slow one) has its tools ready in the session.
   */
  parallelMs: number;
  /** The servers connected one after another. */
  serialMs: number;
  /** parallelMs / slowestHealthyMs: 1 means the parallel start costs no more than its slowest server. */
  ratioToSlowestHealthy: number;
  /** True when a connectable server's tools were ready only after the dead server's timeout. */
  waitedOnDeadServer: boolean;
  /** The slowest connectable server's own connect + `tools/list` time (serial run). */
  slowestHealthyMs: number;
  /** When `loadUserToolsets` returned (its start deadline, `AGENT_TOOLS_DEADLINE_MS`, is 3000). */
  sessionReturnedMs: number;
  /** In the parallel run, when the dead server's failure was recorded (`mcp reconnect scheduled`). */
  deadServerFailedMs: number | null;
  /** The dead server's `timeoutMs`. */
  deadServerTimeoutMs: number;
  /** Servers still connecting when `loadUserToolsets` returned. */
  pendingAtStart: string[];
  serial: SerialServerResult[];
}

/**
 * Runs the serial and the parallel measurement (after one unmeasured warm-up connect per healthy
 * server) and closes every connection it opened.
 *
 * @throws Error when a healthy or slow server fails, or there is not exactly one dead server.
 */
export async function measureSessionStart(
  servers: readonly SessionServer[],
): Promise<SessionStart> {
  const dead = servers.filter((server) => server.kind === 'dead');
  if (dead.length !== 1) throw new Error('sessionStart expects exactly one dead server');
  const deadServer = dead[0]!;
  const connectable = servers.filter((server) => server.kind !== 'dead');
  const silent = createLogger({ level: 'silent' });

  for (const server of servers.filter((s) => s.kind === 'healthy')) {
    const warm = await connectOnce(server, silent);
    await warm.close();
    if (warm.result.error) throw new Error(`${server.name} failed: ${warm.result.error}`);
  }

  const serial = await measureSerial(servers, silent);
  const failed = serial.results.find((r) => r.kind !== 'dead' && r.error);
  if (failed) throw new Error(`${failed.name} failed: ${failed.error}`);
  const slowestHealthyMs = Math.max(
    ...serial.results.filter((r) => r.kind !== 'dead').map((r) => r.ms),
  );

  const parallel = await measureParallel(servers, deadServer.name);
  const readyAt = connectable.map((server) => parallel.readyMs(server.name));
  if (readyAt.some((ms) => ms === undefined)) {
    throw new Error('a connectable server never became ready in the parallel run');
  }
  const parallelMs = Math.max(...(readyAt as number[]));
  return {
    parallelMs: round(parallelMs, 1),
    serialMs: round(serial.ms, 1),
    ratioToSlowestHealthy: round(parallelMs / slowestHealthyMs, 2),
    // Without a recorded failure (the session closed it first), it failed no earlier than its timeout.
    waitedOnDeadServer: parallelMs >= (parallel.deadFailedMs ?? deadServer.config.timeoutMs),
    slowestHealthyMs: round(slowestHealthyMs, 1),
    sessionReturnedMs: round(parallel.returnedMs, 1),
    deadServerFailedMs: parallel.deadFailedMs,
    deadServerTimeoutMs: deadServer.config.timeoutMs,
    pendingAtStart: parallel.pending,
    serial: serial.results,
  };
}

async function connectOnce(
  server: SessionServer,
  logger: Logger,
): Promise<{ result: SerialServerResult; close: () => Promise<void> }> {
  const connection = new McpConnection(server.config, { logger, label: server.name });
  const base = { name: server.name, kind: server.kind, transport: server.config.transport };
  const started = performance.now();
  try {
    await connection.connect();
    const tools = await connection.listTools();
    const ms = performance.now() - started;
    return {
      result: { ...base, ms: round(ms, 1), toolCount: tools.length },
      close: () => connection.close(),
    };
  } catch (error) {
    const ms = performance.now() - started;
    await connection.close();
    return {
      result: { ...base, ms: round(ms, 1), toolCount: 0, error: describeError(error) },
      close: async () => {},
    };
  }
}

/** One server after another, each left open (as a session would) until all are done. */
async function measureSerial(
  servers: readonly SessionServer[],
  logger: Logger,
): Promise<{ ms: number; results: SerialServerResult[] }> {
  const closers: (() => Promise<void>)[] = [];
  try {
    const { value: results, ms } = await timed(async () => {
      const results: SerialServerResult[] = [];
      for (const server of servers) {
        const { result, close } = await connectOnce(server, logger);
        closers.push(close);
        results.push(result);
      }
      return results;
    });
    return { ms, results };
  } finally {
    await Promise.allSettled(closers.map((close) => close()));
  }
}

/**
 * `loadUserToolsets` over all servers, with a timeline read from the connection layer's logs:
 * `mcp server ready` (a server's tools are listed) and `mcp reconnect scheduled` (a failure).
 */
async function measureParallel(
  servers: readonly SessionServer[],
  deadName: string,
): Promise<{
  returnedMs: number;
  readyMs: (name: string) => number | undefined;
  deadFailedMs: number | null;
  pending: string[];
}> {
  const handle = await openDatabase({ secretBox: new SecretBox(randomBytes(32)) });
  try {
    const [user] = await handle.db
      .insert(users)
      .values({ name: 'Bench', email: 'bench@localhost', role: 'user' })
      .returning();
    for (const server of servers) await createServer(handle, serverRow(user!.id, server));

    const timeline = new LogTimeline();
    const logger = createLogger({ level: 'info', destination: timeline });
    timeline.start();
    const { value: toolsets, ms } = await timed(() =>
      loadUserToolsets({
        db: handle.db,
        secrets: handle.secrets,
        userId: user!.id,
        logger,
        recordToolCall: async () => {},
        guards: {},
        // Keep the dead server from retrying while the benchmark closes everything.
        policy: { backoffBaseMs: 600_000 },
      }),
    );
    // Servers still connecting at the start deadline finish in the background.
    const names = servers.filter((s) => s.name !== deadName).map((s) => s.name);
    for (let i = 0; i < 400 && names.some((n) => !timeline.at('mcp server ready', n)); i++) {
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
    await toolsets.close();
    return {
      returnedMs: ms,
      readyMs: (name) => timeline.at('mcp server ready', name),
      deadFailedMs: roundOrNull(timeline.at('mcp reconnect scheduled', deadName)),
      pending: toolsets.pending,
    };
  } finally {
    await handle.close();
  }
}

function serverRow(userId: number, server: SessionServer): NewMcpServerRow {
  const config = server.config;
  const common = { userId, name: server.name, timeoutMs: config.timeoutMs };
  if (config.transport === 'stdio') {
    return {
      ...common,
      transport: 'stdio',
      command: config.command,
      args: config.args,
      env: config.env,
      cwd: config.cwd ?? null,
    };
  }
  return {
    ...common,
    transport: config.transport,
    url: config.url,
    headers: config.headers,
    apiKey: config.apiKey ?? null,
  };
}

function roundOrNull(value: number | undefined): number | null {
  return value === undefined ? null : round(value, 1);
}

/**
 * A pino destination that remembers when each (message, server label) pair was first logged,
 * relative to {@link start}.
 */
class LogTimeline {
  #startedAt = performance.now();
  readonly #marks = new Map<string, number>();

  start(): void {
    this.#startedAt = performance.now();
    this.#marks.clear();
  }

  /** Called by pino with one JSON line. */
  write(line: string): void {
    const now = performance.now();
    try {
      const entry = JSON.parse(line) as { msg?: unknown; mcpServer?: unknown };
      const key = `${String(entry.msg)}\u0000${String(entry.mcpServer)}`;
      if (!this.#marks.has(key)) this.#marks.set(key, now - this.#startedAt);
    } catch {
      // Not a JSON line: nothing to time.
    }
  }

  /** Milliseconds from start to the first `message` logged for server `label`. */
  at(message: string, label: string): number | undefined {
    return this.#marks.get(`${message}\u0000${label}`);
  }
}
