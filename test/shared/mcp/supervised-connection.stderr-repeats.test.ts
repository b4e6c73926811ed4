/**
 * A server that fails the same way at every restart logs its stderr once, then only its count
 * at 2, 4, 8 … restarts, instead of the same lines on every retry.
 */
import path from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { createLogger } from '../../../shared/logger.js';
import { mcpServerConfigSchema } from '../../../shared/mcp/server-config.js';
import { FIXTURES_DIR } from '../../helpers/sandbox.js';
import { sandboxedSupervisedConnection } from '../../helpers/sandboxed.js';

interface LogLine {
  msg: string;
  stderr?: string;
  times?: number;
}

describe('a supervised server that crashes at every start', () => {
  it('logs its stderr once, then its count at 2, 4 and 8 restarts', async () => {
    const lines: LogLine[] = [];
    const logger = createLogger({
      level: 'info',
      destination: { write: (line: string) => void lines.push(JSON.parse(line) as LogLine) },
    });
    const connection = sandboxedSupervisedConnection(
      mcpServerConfigSchema.parse({
        transport: 'stdio',
        command: 'node',
        args: [path.join(FIXTURES_DIR, 'exit-with-code.mjs'), '3'],
        sandbox: { network: 'none', mounts: [{ hostPath: FIXTURES_DIR }] },
      }),
      {
        logger,
        label: 'Crasher',
        random: () => 0,
        policy: { intervalMs: 3_600_000, backoffBaseMs: 1, backoffCapMs: 1 },
      },
    );
    const boom = () =>
      lines.filter((line) => line.stderr === 'Error: boom, the server could not start');
    try {
      await connection.start();
      await vi.waitFor(() => expect(boom().at(-1)?.times).toBe(8), {
        timeout: 120_000,
        interval: 50,
      });
      expect(boom().map((line) => line.times)).toEqual([undefined, 2, 4, 8]);
    } finally {
      await connection.close();
    }
  });
});
