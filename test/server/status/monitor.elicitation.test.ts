/**
 * Where nobody can answer a server's question (issue 16): the status monitor's connections and
 * the Test button's probe declare elicitation, as a voice session does (so they list the same
 * tools: server-everything offers its elicitation tools only to a client that declares it), and
 * answer every request `decline`. Runs on PGlite, or on Postgres when `DATABASE_URL` is set.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DatabaseHandle } from '../../../shared/db/open.js';
import type { McpServerRow } from '../../../shared/db/schema.js';
import { createServer } from '../../../shared/db/servers.js';
import { createLogger } from '../../../shared/logger.js';
import { toolResultToText } from '../../../shared/mcp/tool-result.js';
import type { StatusMonitor } from '../../../server/status/monitor.js';
import { createTestUser, openTestDatabase } from '../../helpers/database.js';
import { EVERYTHING_BIN } from '../../helpers/mcp-processes.js';
import { sandboxedMonitor, sandboxedProbe } from '../../helpers/sandboxed.js';

const logger = createLogger({ level: 'silent' });
let database: DatabaseHandle;
let monitor: StatusMonitor | undefined;
let server: McpServerRow;

beforeAll(async () => {
  database = await openTestDatabase();
  const user = await createTestUser(database);
  server = await createServer(database, {
    userId: user.id,
    name: 'Everything',
    transport: 'stdio',
    sandbox: { network: 'none' },
    command: process.execPath,
    args: [EVERYTHING_BIN, 'stdio'],
  });
});

afterAll(async () => {
  await monitor?.stop();
  await database?.close();
});

describe('a server that asks while no user can answer', () => {
  it('gets decline from the Test button, which lists the tools a session sees', async () => {
    const probe = await sandboxedProbe(server, logger);
    expect(probe.ok).toBe(true);
    if (!probe.ok) return;
    try {
      expect(probe.tools.map((tool) => tool.name)).toContain('trigger-elicitation-request');
      expect(probe.patch.metadata?.toolNames).toContain('trigger-elicitation-request');
      const result = await probe.connection.callTool('trigger-elicitation-request', {});
      expect(toolResultToText(result).text).toContain(
        'User declined to provide the requested information',
      );
    } finally {
      await probe.connection.close();
    }
  });

  it('gets decline from the status monitor', async () => {
    monitor = sandboxedMonitor({
      db: database.db,
      secrets: database.secrets,
      logger,
      policy: { intervalMs: 3_600_000 },
    });
    await monitor.start();
    const connection = monitor.connection(server.id)!;
    expect(connection.status).toBe('connected');
    expect(connection.tools.map((tool) => tool.name)).toContain('trigger-url-elicitation');
    const result = await connection.callTool('trigger-url-elicitation', {
      url: 'https://example.com/approve',
    });
    expect(toolResultToText(result).text).toContain('User declined to open the URL');
  });
});
