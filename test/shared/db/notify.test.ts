import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  SERVERS_CHANNEL,
  parseServerChange,
  type ServerChange,
} from '../../../shared/db/notify.js';
import { openDatabase, type DatabaseHandle } from '../../../shared/db/open.js';
import {
  createServer,
  deleteServer,
  updateServer,
  updateServerStatus,
} from '../../../shared/db/servers.js';
import { createTestUser, openTestDatabase, testSecretBox } from '../../helpers/database.js';

const openers: [string, () => Promise<DatabaseHandle>, boolean][] = [
  ['PGlite', () => openDatabase({ secretBox: testSecretBox() }), false],
  ['Postgres', openTestDatabase, !process.env.DATABASE_URL],
];

describe.each(openers)('NOTIFY mcp_servers_changed on %s', (_name, open, skip) => {
  let database: DatabaseHandle;
  let userId: number;
  const received: ServerChange[] = [];
  let unlisten: () => Promise<void>;

  beforeAll(async () => {
    if (skip) return;
    database = await open();
    userId = (await createTestUser(database)).id;
    unlisten = await database.listen(SERVERS_CHANNEL, (payload) => {
      const change = parseServerChange(payload);
      if (change) received.push(change);
    });
  });

  afterAll(async () => {
    if (skip) return;
    await unlisten();
    await database.close();
  });

  async function next(count: number): Promise<ServerChange[]> {
    for (let i = 0; i < 200 && received.length < count; i += 1) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    return received.splice(0, count);
  }

  it.skipIf(skip)(
    'sends insert, update, status and delete with the user and server ids',
    async () => {
      const row = await createServer(database, {
        userId,
        name: 'notified',
        transport: 'stdio',
        command: 'node',
      });
      expect(await next(1)).toEqual([{ userId, serverId: row.id, op: 'insert' }]);
      await updateServer(database, userId, row.id, { description: 'changed' });
      expect(await next(1)).toEqual([{ userId, serverId: row.id, op: 'update' }]);
      await updateServerStatus(database.db, row.id, { connectionStatus: 'connected' });
      expect(await next(1)).toEqual([{ userId, serverId: row.id, op: 'status' }]);
      await deleteServer(database.db, userId, row.id);
      expect(await next(1)).toEqual([{ userId, serverId: row.id, op: 'delete' }]);
    },
  );

  it.skipIf(skip)('stays silent for a write that matched no row', async () => {
    await updateServer(database, userId, 999_999, { description: 'nobody' });
    await updateServerStatus(database.db, 999_999, { connectionStatus: 'error' });
    expect(await deleteServer(database.db, userId, 999_999)).toBe(false);
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(received).toEqual([]);
  });
});

describe('parseServerChange', () => {
  it('ignores payloads that are not server changes', () => {
    expect(parseServerChange('not json')).toBeUndefined();
    expect(parseServerChange('{"userId":1,"serverId":2,"op":"truncate"}')).toBeUndefined();
    expect(parseServerChange('{"userId":1,"serverId":2,"op":"delete"}')).toEqual({
      userId: 1,
      serverId: 2,
      op: 'delete',
    });
  });
});
