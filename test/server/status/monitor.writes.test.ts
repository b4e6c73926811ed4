/**
 * The monitor's status writes at steady state: healthy pings write nothing until
 * `last_connected` is due, and then every due server is written by one batch.
 */
import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DatabaseHandle } from '../../../shared/db/open.js';
import { mcpServers } from '../../../shared/db/schema.js';
import {
  createServer,
  updateServer,
  updateServerStatus,
  updateServerStatuses,
  type ServerStatusPatch,
} from '../../../shared/db/servers.js';
import { createLogger } from '../../../shared/logger.js';
import type { StatusMonitor } from '../../../server/status/monitor.js';
import { createTestUser, openTestDatabase } from '../../helpers/database.js';
import { EVERYTHING_BIN } from '../../helpers/mcp-processes.js';
import { NO_NETWORK, sandboxedMonitor } from '../../helpers/sandboxed.js';

let database: DatabaseHandle;
let monitor: StatusMonitor | undefined;

beforeAll(async () => {
  database = await openTestDatabase();
});

afterAll(async () => {
  await monitor?.stop();
  await database?.close();
});

describe('StatusMonitor status writes', () => {
  it('writes nothing while nothing changed, then every due last_connected in one batch', async () => {
    const user = await createTestUser(database);
    const servers = await Promise.all(
      ['one', 'two'].map((name) =>
        createServer(database, {
          userId: user.id,
          name,
          transport: 'stdio',
          sandbox: NO_NETWORK,
          command: 'node',
          args: [EVERYTHING_BIN, 'stdio'],
        }),
      ),
    );
    const batches: ReadonlyMap<number, ServerStatusPatch>[] = [];
    let clock = Date.UTC(2031, 0, 2, 3, 4, 5);
    monitor = sandboxedMonitor({
      db: database.db,
      secrets: database.secrets,
      logger: createLogger({ level: 'silent' }),
      // The loop's first ping comes after a minute of real time: the test pings when it asks.
      // Batches are written only when a sync or start flushes them.
      policy: { intervalMs: 60_000 },
      lastConnectedRefreshMs: 60_000,
      statusTickMs: 3_600_000,
      now: () => clock,
      statusWrite: (db, batch) => {
        batches.push(new Map(batch));
        return updateServerStatuses(db, batch);
      },
    });
    await monitor.start();
    for (const server of servers) {
      expect(monitor.connection(server.id)?.status).toBe('connected');
    }
    const afterStart = batches.length;
    expect(afterStart).toBeGreaterThan(0);

    // Healthy pings within the refresh interval: nothing to write.
    clock += 59_000;
    await monitor.checkAll();
    await Promise.all(servers.map((server) => monitor!.sync(server.id)));
    expect(batches.length).toBe(afterStart);

    // Both servers' last_connected is due: one batch of both, last_connected only.
    clock += 2_000;
    await monitor.checkAll();
    await monitor.sync(servers[0]!.id);
    expect(batches.length).toBe(afterStart + 1);
    const refresh = batches.at(-1)!;
    expect([...refresh.keys()].sort()).toEqual(servers.map((server) => server.id).sort());
    for (const patch of refresh.values()) expect(patch).toEqual({ lastConnected: new Date(clock) });
    const [stored] = await database.db
      .select()
      .from(mcpServers)
      .where(eq(mcpServers.id, servers[1]!.id));
    expect(stored!.lastConnected?.getTime()).toBe(clock);
  });

  it('does not write again a status without a connection that is already stored', async () => {
    const user = await createTestUser(database);
    const server = await createServer(database, {
      userId: user.id,
      name: 'per-user',
      transport: 'streamable-http',
      url: 'http://127.0.0.1:9/mcp',
      auth: { type: 'user-token' },
    });
    const batches: ReadonlyMap<number, ServerStatusPatch>[] = [];
    const mine = () => batches.filter((batch) => batch.has(server.id)).length;
    const watcher = sandboxedMonitor({
      db: database.db,
      secrets: database.secrets,
      logger: createLogger({ level: 'silent' }),
      statusTickMs: 3_600_000,
      statusWrite: (db, batch) => {
        batches.push(new Map(batch));
        return updateServerStatuses(db, batch);
      },
    });
    try {
      await watcher.sync(server.id);
      expect(mine()).toBe(1);
      expect(batches.at(-1)!.get(server.id)).toMatchObject({ connectionStatus: 'disconnected' });

      // Edited (updated_at moves, the server is synced again): its status is the one stored.
      await updateServer(database, user.id, server.id, { description: 'edited' });
      await watcher.sync(server.id);
      await watcher.sync(server.id);
      expect(mine()).toBe(1);

      // Someone else wrote another status meanwhile: the sync writes its own again.
      await updateServerStatus(database.db, server.id, { connectionStatus: 'error' });
      await updateServer(database, user.id, server.id, { description: 'edited again' });
      await watcher.sync(server.id);
      expect(mine()).toBe(2);
      const [stored] = await database.db
        .select()
        .from(mcpServers)
        .where(eq(mcpServers.id, server.id));
      expect(stored!.connectionStatus).toBe('disconnected');
    } finally {
      await watcher.stop();
    }
  });
});
