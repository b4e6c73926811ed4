/**
 * Tenancy of the servers routes against the running app and a real database: users never see
 * each other's servers, an admin acts for a user with `?userId=`, and `/:id/calls` is scoped
 * like the rest.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eq } from 'drizzle-orm';
import type { DatabaseHandle } from '../../../shared/db/open.js';
import { mcpServers, type User } from '../../../shared/db/schema.js';
import { recordToolCall } from '../../../shared/db/tool-calls.js';
import { createLogger } from '../../../shared/logger.js';
import { serverResource, toolCallResource } from '../../../server/api/schemas.js';
import { generateToken, storeToken } from '../../../server/http/auth.js';
import { createTestUser, openTestDatabase } from '../../helpers/database.js';
import { serve, type TestServer } from '../../helpers/http.js';
import { sandboxedApp } from '../../helpers/sandboxed.js';

let database: DatabaseHandle;
let api: TestServer;
let adminUser: User;
let aliceUser: User;
let bobUser: User;
let admin: string;
let alice: string;
let bob: string;
let bobServer: number;

/** A server row written straight to the database, so the test needs no URL or command policy. */
async function insertServer(userId: number, name: string): Promise<number> {
  const [row] = await database.db
    .insert(mcpServers)
    .values({ userId, name, transport: 'streamable-http', url: 'http://127.0.0.1:9/mcp' })
    .returning({ id: mcpServers.id });
  return row!.id;
}

async function storedServer(id: number) {
  const [row] = await database.db.select().from(mcpServers).where(eq(mcpServers.id, id));
  return row;
}

beforeAll(async () => {
  database = await openTestDatabase();
  api = await serve(sandboxedApp({ database, logger: createLogger({ level: 'silent' }) }));
  adminUser = await createTestUser(database, 'admin');
  aliceUser = await createTestUser(database);
  bobUser = await createTestUser(database);
  [admin, alice, bob] = [generateToken(), generateToken(), generateToken()];
  await storeToken(database.db, adminUser.id, admin);
  await storeToken(database.db, aliceUser.id, alice);
  await storeToken(database.db, bobUser.id, bob);
  bobServer = await insertServer(bobUser.id, 'Bob private');
});

afterAll(async () => {
  await api?.close();
  await database?.close();
});

/** Every method and sub-route on one server. */
function serverRoutes(id: number | string, query = '') {
  const base = `/api/mcp/servers/${id}`;
  return [
    ['GET', `${base}${query}`, undefined],
    ['PUT', `${base}${query}`, { description: 'taken over' }],
    ['POST', `${base}/test${query}`, {}],
    ['GET', `${base}/tools${query}`, undefined],
    ['GET', `${base}/calls${query}`, undefined],
    ['DELETE', `${base}${query}`, undefined],
  ] as const;
}

describe('two users', () => {
  it("cannot reach each other's server by any method or sub-route: 404, nothing changed", async () => {
    const before = await storedServer(bobServer);

    for (const [method, path, body] of serverRoutes(bobServer)) {
      const res = await api.request(method, path, { token: alice, body });
      expect({ method, path, status: res.status }).toEqual({ method, path, status: 404 });
      expect(res.body.detail).toBe(`MCP server ${bobServer} does not exist.`);
    }

    expect(await storedServer(bobServer)).toEqual(before);
  });

  it("do not see each other's servers in their lists", async () => {
    const aliceServer = await insertServer(aliceUser.id, 'Alice own');

    const aliceList = await api.request('GET', '/api/mcp/servers', { token: alice });
    const bobList = await api.request('GET', '/api/mcp/servers', { token: bob });

    expect(aliceList.body.items.map((s: { id: number }) => s.id)).toEqual([aliceServer]);
    expect(bobList.body.items.map((s: { id: number }) => s.id)).toEqual([bobServer]);
  });

  it("answer the same 404 for another user's server as for a missing one", async () => {
    const missing = await api.request('GET', '/api/mcp/servers/999999', { token: alice });
    const theirs = await api.request('GET', `/api/mcp/servers/${bobServer}`, { token: alice });

    expect(missing.status).toBe(404);
    expect(theirs.status).toBe(404);
    expect(Object.keys(theirs.body).sort()).toEqual(Object.keys(missing.body).sort());
  });
});

describe('?userId=', () => {
  it('answers 403 to a non-admin naming another user, on every route, and changes nothing', async () => {
    const before = await storedServer(bobServer);
    const query = `?userId=${bobUser.id}`;
    const routes = [
      ['GET', `/api/mcp/servers${query}`, undefined],
      ['POST', `/api/mcp/servers${query}`, { name: 'x', transport: 'stdio', command: 'node' }],
      ...serverRoutes(bobServer, query),
    ] as const;

    for (const [method, path, body] of routes) {
      const res = await api.request(method, path, { token: alice, body });
      expect({ method, path, status: res.status }).toEqual({ method, path, status: 403 });
      expect(res.body.detail).toMatch(/Only an admin may act for another user/);
    }

    expect(await storedServer(bobServer)).toEqual(before);
  });

  it('lets a user name themself', async () => {
    const res = await api.request('GET', `/api/mcp/servers?userId=${bobUser.id}`, { token: bob });

    expect(res.status).toBe(200);
    expect(res.body.items.map((s: { id: number }) => s.id)).toContain(bobServer);
  });

  it("lets an admin list, read, update and delete a user's servers, and create one for them", async () => {
    const query = `?userId=${bobUser.id}`;
    const ownScope = await api.request('GET', `/api/mcp/servers/${bobServer}`, { token: admin });
    expect(ownScope.status).toBe(404);

    const list = await api.request('GET', `/api/mcp/servers${query}`, { token: admin });
    expect(list.body.items.map((s: { id: number }) => s.id)).toContain(bobServer);
    const read = await api.request('GET', `/api/mcp/servers/${bobServer}${query}`, {
      token: admin,
    });
    expect(read.status).toBe(200);
    expect(read.body.userId).toBe(bobUser.id);
    expect(serverResource.strict().safeParse(read.body).error).toBeUndefined();
    const updated = await api.request('PUT', `/api/mcp/servers/${bobServer}${query}`, {
      token: admin,
      body: { description: 'set by the admin' },
    });
    expect(updated.status).toBe(200);
    expect((await storedServer(bobServer))!.description).toBe('set by the admin');
    const calls = await api.request('GET', `/api/mcp/servers/${bobServer}/calls${query}`, {
      token: admin,
    });
    expect(calls.status).toBe(200);

    const created = await api.request('POST', `/api/mcp/servers${query}`, {
      token: admin,
      body: { name: 'For Bob', transport: 'stdio', command: 'node', args: ['-e', '0'] },
    });
    expect(created.status).toBe(201);
    expect(created.body.userId).toBe(bobUser.id);
    const bobSees = await api.request('GET', `/api/mcp/servers/${created.body.id}`, { token: bob });
    expect(bobSees.status).toBe(200);

    const deleted = await api.request('DELETE', `/api/mcp/servers/${created.body.id}${query}`, {
      token: admin,
    });
    expect(deleted.status).toBe(204);
    expect(await storedServer(created.body.id)).toBeUndefined();
  });

  it('answers 404 for a user that does not exist and 400 for a malformed id', async () => {
    const missing = await api.request('GET', '/api/mcp/servers?userId=999999', { token: admin });
    const malformed = await api.request('GET', '/api/mcp/servers?userId=abc', { token: admin });
    const repeated = await api.request('GET', '/api/mcp/servers?userId=1&userId=2', {
      token: admin,
    });

    expect(missing.status).toBe(404);
    expect(malformed.status).toBe(400);
    expect(malformed.body.errors[0].path).toBe('query.userId');
    expect(repeated.status).toBe(400);
  });
});

describe('GET /api/mcp/servers/:id/calls', () => {
  it('answers the newest calls first, in camelCase, up to limit', async () => {
    const serverId = await insertServer(aliceUser.id, 'With calls');
    const base = Date.parse('2026-11-21T10:00:00Z');
    for (let i = 0; i < 3; i += 1) {
      await recordToolCall(database.db, {
        userId: aliceUser.id,
        serverId,
        toolName: `tool_${i}`,
        roomName: 'room-1',
        sessionId: 'session-1',
        startedAt: new Date(base + i * 1000),
        durationMs: 12.4,
        ok: i !== 1,
        error: i === 1 ? 'boom' : null,
      });
    }

    const all = await api.request('GET', `/api/mcp/servers/${serverId}/calls`, { token: alice });
    const two = await api.request('GET', `/api/mcp/servers/${serverId}/calls?limit=2`, {
      token: alice,
    });

    expect(all.status).toBe(200);
    expect(all.body.items.map((c: { toolName: string }) => c.toolName)).toEqual([
      'tool_2',
      'tool_1',
      'tool_0',
    ]);
    expect(all.body.items[1]).toEqual({
      id: expect.any(Number),
      serverId,
      toolName: 'tool_1',
      roomName: 'room-1',
      sessionId: 'session-1',
      startedAt: new Date(base + 1000).toISOString(),
      durationMs: 12,
      ok: false,
      error: 'boom',
      source: 'agent',
      tokenLabel: null,
    });
    expect(two.body.items).toHaveLength(2);
    expect(all.body.nextCursor).toBeNull();
    expect(two.body.nextCursor).toEqual(expect.any(String));
    expect(toolCallResource.strict().array().safeParse(all.body.items).error).toBeUndefined();
  });

  it('answers 400 for a limit outside 1–200', async () => {
    const serverId = await insertServer(aliceUser.id, 'Limits');
    for (const limit of ['0', '201', 'ten', '1.5']) {
      const res = await api.request('GET', `/api/mcp/servers/${serverId}/calls?limit=${limit}`, {
        token: alice,
      });
      expect({ limit, status: res.status }).toEqual({ limit, status: 400 });
    }
  });

  it('answers at most 50 calls by default', async () => {
    const serverId = await insertServer(aliceUser.id, 'Busy');
    const startedAt = new Date();
    await database.db.transaction(async (tx) => {
      for (let i = 0; i < 55; i += 1) {
        await recordToolCall(tx, {
          userId: aliceUser.id,
          serverId,
          toolName: 't',
          startedAt,
          durationMs: 1,
          ok: true,
        });
      }
    });

    const res = await api.request('GET', `/api/mcp/servers/${serverId}/calls`, { token: alice });

    expect(res.body.items).toHaveLength(50);
  });
});
