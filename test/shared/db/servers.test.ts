import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eq, sql } from 'drizzle-orm';
import type { DatabaseHandle } from '../../../shared/db/open.js';
import { mcpServers, users } from '../../../shared/db/schema.js';
import {
  createServer,
  deleteServer,
  getServer,
  isUniqueViolation,
  listAllActiveServers,
  listServers,
  updateServer,
  updateServerStatus,
} from '../../../shared/db/servers.js';
import { listToolCalls, recordToolCall } from '../../../shared/db/tool-calls.js';
import { createTestUser, openTestDatabase } from '../../helpers/database.js';

let database: DatabaseHandle;

beforeAll(async () => {
  database = await openTestDatabase();
});

afterAll(async () => {
  await database?.close();
});

const stdio = { transport: 'stdio' as const, command: 'node' };

describe(`database on ${process.env.DATABASE_URL ? 'Postgres' : 'PGlite'}`, () => {
  it('applies the committed migrations: the four tables exist', async () => {
    const result = await database.db.execute<{ table_name: string }>(
      sql`select table_name from information_schema.tables where table_schema = 'public' order by table_name`,
    );
    const rows = Array.isArray(result)
      ? result
      : (result as { rows: { table_name: string }[] }).rows;
    const names = rows.map((r) => r.table_name);
    expect(names).toEqual(
      expect.arrayContaining(['api_tokens', 'mcp_servers', 'tool_calls', 'users']),
    );
    expect(await database.ping()).toBeGreaterThanOrEqual(0);
  });

  it('applies defaults to a new server', async () => {
    const user = await createTestUser(database);
    const row = await createServer(database, { ...stdio, userId: user.id, name: 'defaults' });
    expect(row).toMatchObject({
      args: [],
      env: {},
      headers: {},
      auth: { type: 'none' },
      timeoutMs: 30000,
      toolFilter: {},
      isActive: true,
      connectionStatus: 'disconnected',
      metadata: {},
      description: '',
    });
  });

  it('keeps names unique per user only, reported as a unique violation', async () => {
    const [a, b] = [await createTestUser(database), await createTestUser(database)];
    await createServer(database, { ...stdio, userId: a.id, name: 'same' });
    await createServer(database, { ...stdio, userId: b.id, name: 'same' });
    const duplicate = await createServer(database, {
      ...stdio,
      userId: a.id,
      name: 'same',
    }).then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(isUniqueViolation(duplicate)).toBe(true);
    expect(isUniqueViolation(new Error('other'))).toBe(false);
  });

  it("never reads or changes another user's server", async () => {
    const [owner, other] = [await createTestUser(database), await createTestUser(database)];
    const row = await createServer(database, { ...stdio, userId: owner.id, name: 'private' });
    expect(await getServer(database, other.id, row.id)).toBeUndefined();
    expect(await updateServer(database, other.id, row.id, { name: 'stolen' })).toBeUndefined();
    expect(await deleteServer(database.db, other.id, row.id)).toBe(false);
    expect((await getServer(database, owner.id, row.id))!.name).toBe('private');
    expect(await listServers(database, other.id)).toEqual([]);
  });

  it('lists active servers oldest first, per user and for all users', async () => {
    const user = await createTestUser(database);
    const first = await createServer(database, { ...stdio, userId: user.id, name: 'first' });
    await createServer(database, { ...stdio, userId: user.id, name: 'off', isActive: false });
    const third = await createServer(database, { ...stdio, userId: user.id, name: 'third' });
    const active = await listServers(database, user.id, { activeOnly: true });
    expect(active.map((r) => r.id)).toEqual([first.id, third.id]);
    expect((await listServers(database, user.id)).length).toBe(3);
    const all = (await listAllActiveServers(database)).map((r) => r.id);
    expect(all).toEqual(expect.arrayContaining([first.id, third.id]));
    expect(all).toEqual([...all].sort((x, y) => x - y));
  });

  it('writes status without touching updated_at, and config changes bump it', async () => {
    const user = await createTestUser(database);
    const row = await createServer(database, { ...stdio, userId: user.id, name: 'status' });
    await updateServerStatus(database.db, row.id, {
      connectionStatus: 'connected',
      metadata: { toolCount: 2, toolNames: ['a', 'b'] },
    });
    const afterStatus = (await getServer(database, user.id, row.id))!;
    expect(afterStatus.connectionStatus).toBe('connected');
    expect(afterStatus.metadata.toolNames).toEqual(['a', 'b']);
    expect(afterStatus.updatedAt.getTime()).toBe(row.updatedAt.getTime());

    const edited = (await updateServer(database, user.id, row.id, { description: 'x' }))!;
    expect(edited.updatedAt.getTime()).toBeGreaterThan(row.updatedAt.getTime());
  });

  it('records tool calls newest first and removes a user with their servers', async () => {
    const user = await createTestUser(database);
    const server = await createServer(database, { ...stdio, userId: user.id, name: 'calls' });
    const base = { userId: user.id, serverId: server.id, roomName: 'room-1' };
    await recordToolCall(database.db, {
      ...base,
      toolName: 'echo',
      startedAt: new Date(1000),
      durationMs: 12.6,
      ok: true,
    });
    await recordToolCall(database.db, {
      ...base,
      toolName: 'fail',
      startedAt: new Date(2000),
      durationMs: 3,
      ok: false,
      error: 'boom',
    });
    const calls = await listToolCalls(database.db, server.id);
    expect(calls.map((c) => [c.toolName, c.ok, c.durationMs])).toEqual([
      ['fail', false, 3],
      ['echo', true, 13],
    ]);

    await database.db.delete(users).where(eq(users.id, user.id));
    expect(
      await database.db.select().from(mcpServers).where(eq(mcpServers.userId, user.id)),
    ).toEqual([]);
  });
});
