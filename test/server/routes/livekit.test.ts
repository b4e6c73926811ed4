/**
 * `POST /api/livekit/token` against the running app and a real database: the token is checked
 * with livekit-server-sdk's own `TokenVerifier`, its dispatch metadata is fed to the worker's
 * user resolution, and rooms belong to the user they were first minted for.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { TokenVerifier, type ClaimGrants } from 'livekit-server-sdk';
import type { DatabaseHandle } from '../../../shared/db/open.js';
import type { User } from '../../../shared/db/schema.js';
import { voiceRoomOwner } from '../../../shared/db/voice-rooms.js';
import { createLogger } from '../../../shared/logger.js';
import { resolveUser } from '../../../agent/user-resolution.js';
import { livekitTokenResource, problemResource } from '../../../server/api/schemas.js';
import { generateToken, storeToken } from '../../../server/http/auth.js';
import { createTestUser, openTestDatabase } from '../../helpers/database.js';
import { serve, type TestServer } from '../../helpers/http.js';
import { sandboxedApp, type TestAppDeps } from '../../helpers/sandboxed.js';

const LIVEKIT = {
  url: 'ws://localhost:7880',
  apiKey: 'APItestkey',
  apiSecret: 'test-secret-that-is-long-enough-for-hs256-0123456789',
};
const verifier = new TokenVerifier(LIVEKIT.apiKey, LIVEKIT.apiSecret);

let database: DatabaseHandle;
const servers: TestServer[] = [];
/** Configured, default agent name and TTL. */
let api: TestServer;
let alice: User;
let bob: User;
let admin: User;
let aliceToken: string;
let bobToken: string;
let adminToken: string;

async function start(deps: Partial<TestAppDeps>): Promise<TestServer> {
  const server = await serve(
    sandboxedApp({ database, logger: createLogger({ level: 'silent' }), ...deps }),
  );
  servers.push(server);
  return server;
}

beforeAll(async () => {
  database = await openTestDatabase();
  api = await start({ livekit: LIVEKIT });
  [alice, bob] = [await createTestUser(database), await createTestUser(database)];
  admin = await createTestUser(database, 'admin');
  [aliceToken, bobToken, adminToken] = [generateToken(), generateToken(), generateToken()];
  await storeToken(database.db, alice.id, aliceToken);
  await storeToken(database.db, bob.id, bobToken);
  await storeToken(database.db, admin.id, adminToken);
});

afterAll(async () => {
  for (const server of servers) await server.close();
  await database?.close();
});

/** The first agent dispatch of a verified token's room configuration. */
function dispatchOf(claims: ClaimGrants): { agentName: string; metadata: string } {
  const agents = claims.roomConfig?.agents ?? [];
  expect(agents).toHaveLength(1);
  return agents[0]!;
}

describe('POST /api/livekit/token', () => {
  it('mints a token for the given room that dispatches the agent with the caller as its user', async () => {
    const res = await api.request('POST', '/api/livekit/token', {
      token: aliceToken,
      body: { room: 'alice-kitchen.v2_test' },
    });

    expect(res.status).toBe(200);
    expect(livekitTokenResource.strict().safeParse(res.body).error).toBeUndefined();
    expect(res.body).toMatchObject({ url: LIVEKIT.url, room: 'alice-kitchen.v2_test' });
    expect(res.headers.get('cache-control')).toBe('no-store');
    const claims = await verifier.verify(res.body.token);
    expect(claims.sub).toBe(`user-${alice.id}`);
    expect(claims.name).toBe(alice.name);
    expect(claims.iss).toBe(LIVEKIT.apiKey);
    expect(claims.video).toMatchObject({
      room: 'alice-kitchen.v2_test',
      roomJoin: true,
      canPublish: true,
      canSubscribe: true,
      canPublishData: true,
    });
    expect(claims.exp! - claims.nbf!).toBe(3600);
    const dispatch = dispatchOf(claims);
    expect(dispatch.agentName).toBe('switchboard');
    expect(JSON.parse(dispatch.metadata)).toStrictEqual({ userId: alice.id });
  });

  it('is signed with the LiveKit API secret: another secret does not verify it', async () => {
    const res = await api.request('POST', '/api/livekit/token', { token: aliceToken });

    expect(res.status).toBe(200);
    await expect(
      new TokenVerifier(LIVEKIT.apiKey, `${LIVEKIT.apiSecret}-other`).verify(res.body.token),
    ).rejects.toThrow();
  });

  it('gives each user their own identity and their own id in the dispatch', async () => {
    const [a, b] = await Promise.all([
      api.request('POST', '/api/livekit/token', { token: aliceToken, body: { room: 'a-room' } }),
      api.request('POST', '/api/livekit/token', { token: bobToken, body: { room: 'b-room' } }),
    ]);

    const [claimsA, claimsB] = await Promise.all([
      verifier.verify(a.body.token),
      verifier.verify(b.body.token),
    ]);
    expect(alice.id).not.toBe(bob.id);
    expect(claimsA.sub).toBe(`user-${alice.id}`);
    expect(claimsB.sub).toBe(`user-${bob.id}`);
    expect(JSON.parse(dispatchOf(claimsA).metadata)).toStrictEqual({ userId: alice.id });
    expect(JSON.parse(dispatchOf(claimsB).metadata)).toStrictEqual({ userId: bob.id });
  });

  it('makes up a fresh room, different each time, when none is given', async () => {
    const noBody = await api.request('POST', '/api/livekit/token', { token: aliceToken });
    const emptyBody = await api.request('POST', '/api/livekit/token', {
      token: aliceToken,
      body: {},
    });

    for (const res of [noBody, emptyBody]) {
      expect(res.status).toBe(200);
      expect(res.body.room).toMatch(/^switchboard-[0-9a-f]{16}$/);
      expect((await verifier.verify(res.body.token)).video?.room).toBe(res.body.room);
    }
    expect(noBody.body.room).not.toBe(emptyBody.body.room);
  });

  it('accepts a room name of 128 characters', async () => {
    const room = 'r'.repeat(128);
    const res = await api.request('POST', '/api/livekit/token', {
      token: aliceToken,
      body: { room },
    });

    expect(res.status).toBe(200);
    expect((await verifier.verify(res.body.token)).video?.room).toBe(room);
  });

  it('answers 400 problem+json naming body.room for a bad room name, with no token', async () => {
    const bad: unknown[] = [
      '',
      'r'.repeat(129),
      'my room',
      'a/b',
      'café',
      '../x?y',
      42,
      null,
      ['a'],
    ];
    for (const room of bad) {
      const res = await api.request('POST', '/api/livekit/token', {
        token: aliceToken,
        body: { room },
      });

      expect(res.status, JSON.stringify(room)).toBe(400);
      expect(res.headers.get('content-type')).toContain('application/problem+json');
      expect(problemResource.safeParse(res.body).error).toBeUndefined();
      expect(res.body.errors.map((e: { path: string }) => e.path)).toEqual(['body.room']);
      expect(res.body.detail).toContain('room must be 1 to 128 characters');
      expect(JSON.stringify(res.body)).not.toMatch(/eyJ/); // no JWT anywhere
    }
  });

  it('answers 400 for fields it does not know and for a body that is not an object', async () => {
    const extra = await api.request('POST', '/api/livekit/token', {
      token: aliceToken,
      body: { room: 'ok', identity: 'admin' },
    });
    const array = await api.request('POST', '/api/livekit/token', {
      token: aliceToken,
      body: ['room'],
    });

    expect(extra.status).toBe(400);
    expect(extra.body.detail).toContain('identity');
    expect(array.status).toBe(400);
    expect(array.headers.get('content-type')).toContain('application/problem+json');
  });

  it('answers 401 without a token or with an unknown one', async () => {
    const none = await api.request('POST', '/api/livekit/token', { body: { room: 'x' } });
    const forged = await api.request('POST', '/api/livekit/token', {
      token: 'sb_forged',
      body: { room: 'x' },
    });

    for (const res of [none, forged]) {
      expect(res.status).toBe(401);
      expect(res.headers.get('content-type')).toContain('application/problem+json');
      expect(res.body.token).toBeUndefined();
    }
  });

  it('answers 503 naming every missing LiveKit setting when LiveKit is not configured', async () => {
    const unconfigured = await start({});
    const noSecret = await start({ livekit: { url: LIVEKIT.url, apiKey: LIVEKIT.apiKey } });

    const all = await unconfigured.request('POST', '/api/livekit/token', { token: aliceToken });
    const one = await noSecret.request('POST', '/api/livekit/token', {
      token: aliceToken,
      body: { room: 'unconfigured-room' },
    });

    for (const res of [all, one]) {
      expect(res.status).toBe(503);
      expect(res.headers.get('content-type')).toContain('application/problem+json');
      expect(res.body.code).toBe('livekit_unconfigured');
      expect(res.body.token).toBeUndefined();
    }
    // Nothing was minted, so nothing was claimed.
    expect(await voiceRoomOwner(database.db, 'unconfigured-room')).toBeUndefined();
    expect(all.body.detail).toBe(
      'LiveKit is not configured: set LIVEKIT_URL, LIVEKIT_API_KEY and LIVEKIT_API_SECRET ' +
        'to mint room tokens.',
    );
    expect(one.body.detail).toContain('LIVEKIT_API_SECRET');
    expect(one.body.detail).not.toContain('LIVEKIT_URL');
    expect(one.body.detail).not.toContain('LIVEKIT_API_KEY');
  });

  it('checks the body before the configuration', async () => {
    const unconfigured = await start({});

    const res = await unconfigured.request('POST', '/api/livekit/token', {
      token: aliceToken,
      body: { room: 'no spaces please' },
    });

    expect(res.status).toBe(400);
  });

  it('dispatches the configured agent name with the configured lifetime', async () => {
    const custom = await start({
      livekit: LIVEKIT,
      agentName: 'concierge',
      livekitTokenTtlSeconds: 60,
    });

    const res = await custom.request('POST', '/api/livekit/token', { token: bobToken });

    const claims = await verifier.verify(res.body.token);
    expect(dispatchOf(claims).agentName).toBe('concierge');
    expect(claims.exp! - claims.nbf!).toBe(60);
  });
});

describe('rooms belong to the user they were first minted for', () => {
  function mint(token: string, room?: string, query = '') {
    return api.request('POST', `/api/livekit/token${query}`, {
      token,
      ...(room === undefined ? {} : { body: { room } }),
    });
  }

  /** A 404 problem that names no owner and carries no token. */
  function expectRoomNotFound(res: Awaited<ReturnType<typeof mint>>, room: string): void {
    expect(res.status).toBe(404);
    expect(res.headers.get('content-type')).toContain('application/problem+json');
    expect(problemResource.safeParse(res.body).error).toBeUndefined();
    expect(res.body.code).toBe('not_found');
    expect(res.body.detail).toBe(
      `Room "${room}" is not available: choose another name, or omit room to get a fresh one.`,
    );
    expect(JSON.stringify(res.body)).not.toMatch(/eyJ/); // no JWT anywhere
    expect(JSON.stringify(res.body)).not.toContain(alice.name);
  }

  it("answers another user's room with a 404 and no token, and the room stays the owner's", async () => {
    const own = await mint(aliceToken, 'alice-den');
    expect(own.status).toBe(200);

    const intruder = await mint(bobToken, 'alice-den');

    expectRoomNotFound(intruder, 'alice-den');
    expect(await voiceRoomOwner(database.db, 'alice-den')).toBe(alice.id);
  });

  it('answers a 404 for a room the owner was given without naming it', async () => {
    const fresh = await mint(aliceToken);
    expect(fresh.status).toBe(200);

    expect(await voiceRoomOwner(database.db, fresh.body.room)).toBe(alice.id);
    expectRoomNotFound(await mint(bobToken, fresh.body.room), fresh.body.room);
  });

  it('lets the owner mint again for their own room, with their own identity', async () => {
    const first = await mint(aliceToken, 'alice-office');
    const again = await mint(aliceToken, 'alice-office');

    for (const res of [first, again]) {
      expect(res.status).toBe(200);
      const claims = await verifier.verify(res.body.token);
      expect(claims.sub).toBe(`user-${alice.id}`);
      expect(claims.video?.room).toBe('alice-office');
    }
  });

  it('claims a room nobody has used for the caller', async () => {
    expect(await voiceRoomOwner(database.db, 'bob-new-room')).toBeUndefined();

    const res = await mint(bobToken, 'bob-new-room');

    expect(res.status).toBe(200);
    expect(await voiceRoomOwner(database.db, 'bob-new-room')).toBe(bob.id);
  });

  it('gives a room minted for at the same time by several users to exactly one of them', async () => {
    const contenders = [
      { user: alice, token: aliceToken },
      { user: bob, token: bobToken },
    ];
    for (let extra = 0; extra < 3; extra += 1) {
      const user = await createTestUser(database);
      const token = generateToken();
      await storeToken(database.db, user.id, token);
      contenders.push({ user, token });
    }

    for (let round = 0; round < 5; round += 1) {
      const room = `race-${round}`;
      const answers = await Promise.all(contenders.map(({ token }) => mint(token, room)));

      const winners = contenders.filter((_, i) => answers[i]!.status === 200);
      expect(winners, room).toHaveLength(1);
      expect(answers.filter((res) => res.status === 404)).toHaveLength(contenders.length - 1);
      expect(await voiceRoomOwner(database.db, room)).toBe(winners[0]!.user.id);
      const token = answers.find((res) => res.status === 200)!.body.token as string;
      expect((await verifier.verify(token)).sub).toBe(`user-${winners[0]!.user.id}`);
    }
  });

  it("gives an admin no way into another user's room without acting for them", async () => {
    await mint(aliceToken, 'alice-lounge');

    expectRoomNotFound(await mint(adminToken, 'alice-lounge'), 'alice-lounge');
  });

  it('mints for the user an admin acts for with ?userId=: their identity, agent and room', async () => {
    await mint(aliceToken, 'alice-porch');

    const existing = await mint(adminToken, 'alice-porch', `?userId=${alice.id}`);
    const fresh = await mint(adminToken, 'admin-made-for-alice', `?userId=${alice.id}`);
    const unnamed = await mint(adminToken, undefined, `?userId=${alice.id}`);

    for (const res of [existing, fresh, unnamed]) {
      expect(res.status).toBe(200);
      const claims = await verifier.verify(res.body.token);
      expect(claims.sub).toBe(`user-${alice.id}`);
      expect(claims.name).toBe(alice.name);
      expect(JSON.parse(dispatchOf(claims).metadata)).toStrictEqual({ userId: alice.id });
    }
    expect(await voiceRoomOwner(database.db, 'admin-made-for-alice')).toBe(alice.id);
    expect(await voiceRoomOwner(database.db, unnamed.body.room)).toBe(alice.id);
    // Acting for Bob does not open Alice's room either.
    expectRoomNotFound(await mint(adminToken, 'alice-porch', `?userId=${bob.id}`), 'alice-porch');
  });

  it('answers 403 to a user naming someone else with ?userId= and 404 for an unknown user', async () => {
    const forbidden = await mint(bobToken, 'bob-attempt', `?userId=${alice.id}`);
    const unknown = await mint(adminToken, 'admin-attempt', '?userId=987654');
    const self = await mint(bobToken, 'bob-self', `?userId=${bob.id}`);

    expect(forbidden.status).toBe(403);
    expect(forbidden.body.token).toBeUndefined();
    expect(unknown.status).toBe(404);
    expect(unknown.body.detail).toBe('User 987654 does not exist.');
    expect(self.status).toBe(200);
    expect(await voiceRoomOwner(database.db, 'bob-attempt')).toBeUndefined();
    expect(await voiceRoomOwner(database.db, 'admin-attempt')).toBeUndefined();
  });
});

describe("a minted token's dispatch, as the worker reads it", () => {
  it('resolves to the caller from the job metadata, without waiting for a participant', async () => {
    const res = await api.request('POST', '/api/livekit/token', { token: bobToken });
    const { metadata } = dispatchOf(await verifier.verify(res.body.token));
    const waitForParticipant = vi.fn(async () => {
      throw new Error('the metadata alone must name the user');
    });

    const resolved = await resolveUser({ job: { metadata }, waitForParticipant });

    expect(resolved).toEqual({ userId: bob.id, source: 'metadata' });
    expect(waitForParticipant).not.toHaveBeenCalled();
  });
});
