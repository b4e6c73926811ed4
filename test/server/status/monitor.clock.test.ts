/**
 * The monitor takes its clock as it takes its jitter: `last_connected` is written from it.
 */
import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DatabaseHandle } from '../../../shared/db/open.js';
import { mcpServers } from '../../../shared/db/schema.js';
import { createServer } from '../../../shared/db/servers.js';
import { createLogger } from '../../../shared/logger.js';
import type { StatusMonitor } from '../../../server/status/monitor.js';
import { createTestUser, openTestDatabase } from '../../helpers/database.js';
import { EVERYTHING_BIN } from '../../helpers/mcp-processes.js';
import { sandboxedMonitor } from '../../helpers/sandboxed.js';

let database: DatabaseHandle;
let monitor: StatusMonitor | undefined;

beforeAll(async () => {
  database = await openTestDatabase();
});

afterAll(async () => {
  await monitor?.stop();
  await database?.close();
});

describe('StatusMonitor clock', () => {
  it('writes last_connected from the clock it is given', async () => {
    const user = await createTestUser(database);
    const server = await createServer(database, {
      userId: user.id,
      name: 'Everything',
      transport: 'stdio',
      sandbox: { network: 'none' },
      command: 'node',
      args: [EVERYTHING_BIN, 'stdio'],
    });
    const fixed = Date.UTC(2031, 0, 2, 3, 4, 5);
    monitor = sandboxedMonitor({
      db: database.db,
      secrets: database.secrets,
      logger: createLogger({ level: 'silent' }),
      policy: { intervalMs: 3_600_000 },
      random: () => 0.5,
      now: () => fixed,
    });
    await monitor.start();
    const [row] = await database.db.select().from(mcpServers).where(eq(mcpServers.id, server.id));
    expect(row!.connectionStatus).toBe('connected');
    expect(row!.lastConnected?.toISOString()).toBe('2031-01-02T03:04:05.000Z');
  });
});
