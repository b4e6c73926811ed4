import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import {
  SERVERS_CHANNEL,
  onLocalServerChange,
  parseServerChange,
  userServersChannel,
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
  const onUserChannel: ServerChange[] = [];
  const local: ServerChange[] = [];
  let unlisten: () => Promise<void>;
  let unlistenUser: () => Promise<void>;
  let offLocal: () => void;

  beforeAll(async () => {
    if (skip) return;
    database = await open();
    userId = (await createTestUser(database)).id;
    unlisten = await database.listen(SERVERS_CHANNEL, (payload) => {
      const change = parseServerChange(payload);
      if (change) received.push(change);
    });
    unlistenUser = await database.listen(userServersChannel(userId), (payload) => {
      const change = parseServerChange(payload);
      if (change) onUserChannel.push(change);
    });
    offLocal = onLocalServerChange((change) => local.push(change));
  });

  afterAll(async () => {
    if (skip) return;
    await unlisten();
    await unlistenUser();
    offLocal();
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
      // The user's own channel hears the configuration writes, not the status; this process's
      // local listeners heard every write before it returned.
      const changes = (ops: ServerChange['op'][]) =>
        ops.map((op) => ({ userId, serverId: row.id, op }));
      await vi.waitFor(() =>
        expect(onUserChannel).toEqual(changes(['insert', 'update', 'delete'])),
      );
      expect(local).toEqual(changes(['insert', 'update', 'status', 'delete']));
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
