/**
 * `GET /api/livekit/rooms/:room/calls` against the running app and a real database: the tool
 * calls of one of the caller's rooms, oldest first, after a cursor; anyone else's room is a 404.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import type { DatabaseHandle } from '../../../shared/db/open.js';
import type { User } from '../../../shared/db/schema.js';
import { recordToolCall } from '../../../shared/db/tool-calls.js';
import { claimVoiceRoom } from '../../../shared/db/voice-rooms.js';
import { createLogger } from '../../../shared/logger.js';
import { problemResource, roomToolCallResource } from '../../../server/api/schemas.js';
import { generateToken, storeToken } from '../../../server/http/auth.js';
import { createTestUser, openTestDatabase } from '../../helpers/database.js';
import { serve, type TestServer } from '../../helpers/http.js';
import { sandboxedApp } from '../../helpers/sandboxed.js';

let database: DatabaseHandle;
let api: TestServer;
let alice: User;
let bob: User;
let aliceToken: string;
let bobToken: string;
let adminToken: string;
let serverId: number;
const STARTED = new Date('2026-11-30T10:00:00Z');

beforeAll(async () => {
  database = await openTestDatabase();
  api = await serve(sandboxedApp({ database, logger: createLogger({ level: 'silent' }) }));
  [alice, bob] = [await createTestUser(database), await createTestUser(database)];
  const admin = await createTestUser(database, 'admin');
  [aliceToken, bobToken, adminToken] = [generateToken(), generateToken(), generateToken()];
  await storeToken(database.db, alice.id, aliceToken);
  await storeToken(database.db, bob.id, bobToken);
  await storeToken(database.db, admin.id, adminToken);
  const created = await api.request('POST', '/api/mcp/servers', {
    token: aliceToken,
    body: { name: 'Weather', transport: 'sse', url: 'http://127.0.0.1:9/sse', isActive: false },
  });
  expect(created.status).toBe(201);
  serverId = created.body.id;
});

afterAll(async () => {
  await api?.close();
  await database?.close();
});

/** Claims `room` for `user` (as the token route does) and records `count` calls there, the second of them failing. */
async function roomWithCalls(user: User, room: string, count: number): Promise<void> {
  expect(await claimVoiceRoom(database.db, room, user.id)).toBe(true);
  for (let i = 0; i < count; i += 1) {
    await recordToolCall(database.db, {
      userId: user.id,
      serverId: user.id === alice.id ? serverId : null,
      toolName: `tool_${i}`,
      roomName: room,
      sessionId: 'session-1',
      startedAt: new Date(STARTED.getTime() + i * 1000),
      durationMs: 40 + i,
      ok: i !== 1,
      error: i === 1 ? 'the tool failed' : null,
    });
  }
}

const calls = (token: string, room: string, query = '') =>
  api.request('GET', `/api/livekit/rooms/${room}/calls${query}`, { token });

describe('GET /api/livekit/rooms/:room/calls', () => {
  it("lists the owner's calls in that room, oldest first, with the server's name", async () => {
    await roomWithCalls(alice, 'alice-study', 3);
    // A call of another room is not listed.
    await recordToolCall(database.db, {
      userId: alice.id,
      serverId,
      toolName: 'elsewhere',
      roomName: 'alice-other',
      startedAt: STARTED,
      durationMs: 1,
      ok: true,
    });

    const res = await calls(aliceToken, 'alice-study');

    expect(res.status).toBe(200);
    expect(z.array(roomToolCallResource.strict()).safeParse(res.body).error).toBeUndefined();
    expect(res.body.map((call: { toolName: string }) => call.toolName)).toEqual([
      'tool_0',
      'tool_1',
      'tool_2',
    ]);
    expect(res.body[1]).toMatchObject({
      serverId,
      serverName: 'Weather',
      roomName: 'alice-study',
      ok: false,
      error: 'the tool failed',
      durationMs: 41,
      startedAt: '2026-11-30T10:00:01.000Z',
    });
  });

  it('lists only the calls after the id given as ?after=, and none after the last', async () => {
    await roomWithCalls(alice, 'alice-garden', 4);
    const all = (await calls(aliceToken, 'alice-garden')).body as { id: number }[];

    const later = await calls(aliceToken, 'alice-garden', `?after=${all[1]!.id}`);
    const none = await calls(aliceToken, 'alice-garden', `?after=${all[3]!.id}`);
    const limited = await calls(aliceToken, 'alice-garden', '?limit=1');

    expect(later.body.map((call: { id: number }) => call.id)).toEqual([all[2]!.id, all[3]!.id]);
    expect(none.status).toBe(200);
    expect(none.body).toEqual([]);
    expect(limited.body.map((call: { id: number }) => call.id)).toEqual([all[0]!.id]);
  });

  it("answers 404 for another user's room and for a room nobody owns, alike", async () => {
    await roomWithCalls(bob, 'bob-attic', 2);

    const foreign = await calls(aliceToken, 'bob-attic');
    const unknown = await calls(aliceToken, 'nobody-owns-this');
    const asAdmin = await calls(adminToken, 'bob-attic');

    for (const [res, room] of [
      [foreign, 'bob-attic'],
      [unknown, 'nobody-owns-this'],
      [asAdmin, 'bob-attic'],
    ] as const) {
      expect(res.status).toBe(404);
      expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
      expect(res.body.detail).toBe(`Room "${room}" does not exist.`);
    }
    expect((await calls(bobToken, 'bob-attic')).body).toHaveLength(2);
  });

  it('lets an admin read a room of the user they act for with ?userId=, and no one else', async () => {
    await roomWithCalls(bob, 'bob-cellar', 1);

    const acting = await calls(adminToken, 'bob-cellar', `?userId=${bob.id}`);
    const wrongUser = await calls(adminToken, 'bob-cellar', `?userId=${alice.id}`);
    const notAdmin = await calls(aliceToken, 'bob-cellar', `?userId=${bob.id}`);

    expect(acting.status).toBe(200);
    expect(acting.body.map((call: { toolName: string }) => call.toolName)).toEqual(['tool_0']);
    expect(wrongUser.status).toBe(404);
    expect(notAdmin.status).toBe(403);
  });

  it('answers 400 problem+json naming a bad room name, after or limit', async () => {
    const badRoom = await calls(aliceToken, 'no%20spaces');
    const badAfter = await calls(aliceToken, 'alice-study', '?after=-1');
    const notNumber = await calls(aliceToken, 'alice-study', '?after=abc');
    const badLimit = await calls(aliceToken, 'alice-study', '?limit=500');

    for (const [res, path] of [
      [badRoom, 'params.room'],
      [badAfter, 'query.after'],
      [notNumber, 'query.after'],
      [badLimit, 'query.limit'],
    ] as const) {
      expect(res.status, path).toBe(400);
      expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
      expect(problemResource.safeParse(res.body).error).toBeUndefined();
      expect(res.body.errors.map((error: { path: string }) => error.path)).toEqual([path]);
    }
  });

  it('answers 401 without a token', async () => {
    const res = await api.request('GET', '/api/livekit/rooms/alice-study/calls');
    expect(res.status).toBe(401);
  });
});
