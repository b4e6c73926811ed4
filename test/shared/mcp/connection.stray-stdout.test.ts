/**
 * MCP's stdio transport keeps stdout for messages. A server that writes something else there and
 * then never completes `initialize` fails within a second of that line, quoting it, instead of
 * after the 30 s initialize timeout; a server that prints a banner and then answers still works.
 */
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { createLogger } from '../../../shared/logger.js';
import { mcpServerConfigSchema } from '../../../shared/mcp/server-config.js';
import { FIXTURES_DIR } from '../../helpers/sandbox.js';
import { sandboxedConnection } from '../../helpers/sandboxed.js';

const logger = createLogger({ level: 'silent' });
const server = (args: string[]) =>
  mcpServerConfigSchema.parse({
    transport: 'stdio',
    command: 'node',
    args: [path.join(FIXTURES_DIR, 'stdout-banner-server.mjs'), ...args],
    // Far longer than any test waits: the failure must come from the stray line.
    timeoutMs: 600_000,
    sandbox: { network: 'none', mounts: [{ hostPath: FIXTURES_DIR }] },
  });

describe('a stdio server that writes non-JSON to stdout', () => {
  it('and never answers initialize: the connect fails quoting the line', async () => {
    const connection = sandboxedConnection(server([]), { logger });
    const failure = await connection.connect().then(
      () => undefined,
      (error: unknown) => error as Error & { code?: string },
    );
    await connection.close();
    expect(failure?.code).toBe('connect_failed');
    expect(failure?.message).toBe(
      'Could not connect to node: the server wrote non-JSON to stdout: "Server running on stdio, ready!" (stdout is for MCP messages only: a server must log to stderr)',
    );
  });

  it('and then answers: it connects', async () => {
    const connection = sandboxedConnection(server(['answer']), { logger });
    try {
      await connection.connect();
      expect(connection.status).toBe('connected');
    } finally {
      await connection.close();
    }
  });
});
