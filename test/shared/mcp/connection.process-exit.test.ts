/**
 * A stdio server whose process ends says how: its exit code or signal, with its stderr, instead
 * of the SDK's bare "MCP error -32000: Connection closed".
 */
import path from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { createLogger } from '../../../shared/logger.js';
import { mcpServerConfigSchema } from '../../../shared/mcp/server-config.js';
import { ESCAPE_SERVER, FIXTURES_DIR } from '../../helpers/sandbox.js';
import { sandboxedConnection } from '../../helpers/sandboxed.js';

const logger = createLogger({ level: 'silent' });
const sandbox = { network: 'none', mounts: [{ hostPath: FIXTURES_DIR }] } as const;

describe('a stdio server whose process ends', () => {
  it('at start: the connect error names the exit code and the stderr, once', async () => {
    const connection = sandboxedConnection(
      mcpServerConfigSchema.parse({
        transport: 'stdio',
        command: 'node',
        args: [path.join(FIXTURES_DIR, 'exit-with-code.mjs'), '3'],
        sandbox,
      }),
      { logger },
    );
    const failure = await connection.connect().then(
      () => undefined,
      (error: unknown) => error as Error,
    );
    await connection.close();
    expect(failure?.message).toMatch(
      /^Could not connect to node: the server process exited with code 3 \(stderr: Error: boom, the server could not start\)$/,
    );
    expect(failure?.message).not.toContain('-32000');
  });

  it('while connected: the lost connection names the signal that ended it', async () => {
    const connection = sandboxedConnection(
      mcpServerConfigSchema.parse({
        transport: 'stdio',
        command: 'node',
        args: [ESCAPE_SERVER],
        sandbox,
      }),
      { logger },
    );
    try {
      await connection.connect();
      process.kill(connection.pid!, 'SIGKILL');
      await vi.waitFor(() => expect(connection.status).toBe('error'), {
        timeout: 30_000,
        interval: 20,
      });
      expect(connection.lastError?.code).toBe('connection_lost');
      expect(connection.lastError?.message).toBe(
        'Connection to node was closed by the server (the process was killed by SIGKILL)',
      );
    } finally {
      await connection.close();
    }
  });
});
