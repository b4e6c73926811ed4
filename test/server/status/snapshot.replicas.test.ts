/**
 * The status snapshot of a replica that does not watch a server (another replica holds its lease)
 * follows the statuses the other replica writes, through `NOTIFY mcp_servers_changed`, without
 * waiting for its database round.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DatabaseHandle } from '../../../shared/db/open.js';
import type { User } from '../../../shared/db/schema.js';
import { createServer, deleteServer, updateServerStatus } from '../../../shared/db/servers.js';
import { createLogger } from '../../../shared/logger.js';
import { StatusSnapshot, type StatusEvent } from '../../../server/status/snapshot.js';
import { createTestUser, openTestDatabase } from '../../helpers/database.js';

const logger = createLogger({ level: 'silent', name: 'snapshot-replicas-test' });

describe('StatusSnapshot and servers watched by another replica', () => {
  let database: DatabaseHandle;
  let user: User;
  let snapshot: StatusSnapshot;

  beforeAll(async () => {
    database = await openTestDatabase();
    user = await createTestUser(database);
    snapshot = new StatusSnapshot({
      database,
      logger,
      watcher: { onChange: () => () => {} },
      // This replica watches nothing; the database round is out of the picture.
      watches: () => false,
      databaseIntervalMs: 3_600_000,
    });
    await snapshot.start();
  });

  afterAll(async () => {
    snapshot.stop();
    await database.close();
  });

  /** Resolves with the first server event of `serverId` that `match` accepts. */
  function next(serverId: number, match: (event: StatusEvent) => boolean): Promise<StatusEvent> {
    return new Promise((resolve) => {
      const unsubscribe = snapshot.subscribe((event) => {
        if (event.type === 'server' && event.serverId === serverId && match(event)) {
          unsubscribe();
          resolve(event);
        }
      });
    });
  }

  it('reads the database for the first time only once it listens', async () => {
    const steps: string[] = [];
    const watched: DatabaseHandle = {
      ...database,
      listen: async (channel, handler) => {
        const unlisten = await database.listen(channel, handler);
        steps.push('listening');
        return unlisten;
      },
      ping: () => {
        steps.push('read');
        return database.ping();
      },
    };
    const late = new StatusSnapshot({
      database: watched,
      logger,
      watches: () => false,
      databaseIntervalMs: 3_600_000,
    });
    try {
      await late.start();
      // A write made between a first read and the LISTEN would be seen by neither.
      expect(steps).toEqual(['listening', 'read']);
    } finally {
      late.stop();
    }
  });

  it('shows a server created, its status written and its deletion, as notified', async () => {
    const row = await createServer(database, {
      userId: user.id,
      name: 'elsewhere',
      transport: 'streamable-http',
      url: 'http://127.0.0.1:9/mcp',
    });
    const connected = next(row.id, (e) => e.type === 'server' && e.status === 'connected');
    await updateServerStatus(database.db, row.id, { connectionStatus: 'connected' });
    await connected;
    expect(snapshot.serversOf(user.id)).toEqual({ [row.id]: 'connected' });
    expect(snapshot.forUser(user.id).mcp).toMatchObject({ status: 'connected', total: 1 });

    const removed = next(row.id, (e) => e.type === 'server' && e.status === 'removed');
    await deleteServer(database.db, user.id, row.id);
    await removed;
    expect(snapshot.serversOf(user.id)).toEqual({});
  });
});
