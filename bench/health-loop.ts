/**
 * Health-loop cost: the CPU the benchmark process spends while many supervised connections are
 * pinged on their own schedule (`SupervisedConnection`'s health loop, MCP `ping` through
 * `McpConnection.ping()`), as a percentage of one core over the wall time.
 */
import type { Logger } from '../shared/logger.js';
import { mcpServerConfigSchema } from '../shared/mcp/server-config.js';
import { SupervisedConnection } from '../shared/mcp/supervised-connection.js';
import { round, sleep } from './stats.js';

/** What `healthLoop` reports. */
export interface HealthLoop {
  /** (user + system CPU time) / wall time × 100, for this process only. */
  cpuPercent: number;
  connections: number;
  /** Time between pings of each connection, in milliseconds. */
  intervalMs: number;
  /** Wall time measured, in milliseconds. */
  durationMs: number;
  /** Successful pings during the measurement (should be about connections × duration / interval). */
  pings: number;
  /** Connections not `connected` at the end of the measurement. */
  unhealthy: number;
  /** CPU milliseconds per ping. */
  cpuMsPerPing: number;
  /** What was measured and against what. */
  setup: string;
}

/** Options of {@link measureHealthLoop}. */
export interface HealthLoopOptions {
  /** A Streamable HTTP server; every connection is its own session on it. */
  url: string;
  connections: number;
  intervalMs: number;
  durationMs: number;
  /** Describes the server in the report. */
  serverDescription: string;
  logger: Logger;
}

/**
 * Connects `connections` supervised connections (in batches, not measured), lets the loop run
 * one interval, measures for `durationMs`, and closes them all.
 *
 * @throws Error when a connection cannot be made.
 */
export async function measureHealthLoop(options: HealthLoopOptions): Promise<HealthLoop> {
  const config = mcpServerConfigSchema.parse({ transport: 'streamable-http', url: options.url });
  let pings = 0;
  const supervised: SupervisedConnection[] = [];
  try {
    for (let i = 0; i < options.connections; i += BATCH) {
      const batch = Array.from({ length: Math.min(BATCH, options.connections - i) }, (_, j) => {
        const connection = new SupervisedConnection(config, {
          logger: options.logger,
          label: `health-${i + j}`,
          policy: { intervalMs: options.intervalMs },
          onHealthy: () => (pings += 1),
        });
        supervised.push(connection);
        return connection;
      });
      const started = await Promise.all(batch.map((connection) => connection.start()));
      const failed = started.indexOf(false);
      if (failed >= 0) {
        throw new Error(`health connection failed: ${batch[failed]!.lastError?.message}`);
      }
    }
    await sleep(options.intervalMs);

    pings = 0;
    const cpuBefore = process.cpuUsage();
    const wallBefore = performance.now();
    await sleep(options.durationMs);
    const cpu = process.cpuUsage(cpuBefore);
    const wallMs = performance.now() - wallBefore;
    const measuredPings = pings;
    const cpuMs = (cpu.user + cpu.system) / 1000;
    return {
      cpuPercent: round((cpuMs / wallMs) * 100, 2),
      connections: options.connections,
      intervalMs: options.intervalMs,
      durationMs: round(wallMs, 1),
      pings: measuredPings,
      unhealthy: supervised.filter((connection) => connection.status !== 'connected').length,
      cpuMsPerPing: measuredPings > 0 ? round(cpuMs / measuredPings, 4) : 0,
      setup:
        `SupervisedConnection health loop (McpConnection.ping), ${options.connections} ` +
        `Streamable HTTP sessions to ${options.serverDescription}; only this process's CPU counts`,
    };
  } finally {
    for (let i = 0; i < supervised.length; i += BATCH) {
      await Promise.allSettled(supervised.slice(i, i + BATCH).map((c) => c.close()));
    }
  }
}

/** Connections opened or closed at once. */
const BATCH = 20;
