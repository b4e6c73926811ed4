/**
 * `sandbox.startRatio`: how much the bubblewrap sandbox adds to a stdio server's start. Starts
 * server-everything (stdio) sandboxed and unsandboxed, interleaved so load on the machine hits
 * both alike, and compares the medians of the time from spawn to an answered `initialize`.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Logger } from '../shared/logger.js';
import { McpConnection } from '../shared/mcp/connection.js';
import { StdioSandbox } from '../shared/mcp/sandbox/stdio-sandbox.js';
import { mcpServerConfigSchema } from '../shared/mcp/server-config.js';
import { median, round } from './stats.js';

/** The result of {@link measureSandboxStart}. */
export interface SandboxStart {
  /** Median start of the sandboxed server, in milliseconds. */
  sandboxedMs: number;
  /** Median start of the same server unsandboxed, in milliseconds. */
  unsandboxedMs: number;
  /** `sandboxedMs / unsandboxedMs`. */
  startRatio: number;
  /** Starts measured per side. */
  rounds: number;
}

/**
 * Measures `rounds` starts per side (after one unmeasured start of each).
 *
 * @param options.bin the server-everything executable; options.logger for the connections.
 * @throws Error when a start fails (e.g. bubblewrap missing: the error says what to install).
 */
export async function measureSandboxStart(options: {
  bin: string;
  logger: Logger;
  rounds?: number;
}): Promise<SandboxStart> {
  const rounds = options.rounds ?? 10;
  const dataDir = mkdtempSync(path.join(tmpdir(), 'switchboard-bench-sandbox-'));
  const sandbox = new StdioSandbox({ dataDir });
  const config = mcpServerConfigSchema.parse({
    transport: 'stdio',
    command: process.execPath,
    args: [options.bin, 'stdio'],
    sandbox: { network: 'none' },
  });
  const start = async (sandboxed: boolean): Promise<number> => {
    const connection = new McpConnection(config, {
      logger: options.logger,
      sandbox: sandboxed ? sandbox : undefined,
      serverId: 1,
    });
    try {
      return (await connection.connect()).latencyMs;
    } finally {
      await connection.close();
    }
  };
  try {
    await start(true);
    await start(false);
    const sandboxed: number[] = [];
    const unsandboxed: number[] = [];
    for (let i = 0; i < rounds; i++) {
      sandboxed.push(await start(true));
      unsandboxed.push(await start(false));
    }
    const sandboxedMs = median(sandboxed);
    const unsandboxedMs = median(unsandboxed);
    return {
      sandboxedMs: round(sandboxedMs, 1),
      unsandboxedMs: round(unsandboxedMs, 1),
      startRatio: round(sandboxedMs / unsandboxedMs),
      rounds,
    };
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
}
