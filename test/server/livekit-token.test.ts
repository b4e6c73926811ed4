/**
 * `POST /api/livekit/token` (issue 5) against the running app and a real database: the token is
 * checked with livekit-server-sdk's own `TokenVerifier`, and its dispatch metadata is fed to the
 * worker's user resolution.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { TokenVerifier, type ClaimGrants } from 'livekit-server-sdk';
import type { DatabaseHandle } from '../../shared/db/open.js';
import type { User } from '../../shared/db/schema.js';
import { createLogger } from '../../shared/logger.js';
import { resolveUser } from '../../agent/user-resolution.js';
import { livekitTokenResource, problemResource } from '../../server/api-schemas.js';
import { createApp, type AppDeps } from '../../server/app.js';
import { generateToken, storeToken } from '../../server/auth.js';
import { createTestUser, openTestDatabase } from '../helpers/database.js';
import { serve, type TestServer } from '../helpers/http.js';

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
let aliceToken: string;
let bobToken: string;

async function start(deps: Partial<AppDeps>): Promise<TestServer> {
  const server = await serve(
    createApp({ database, logger: createLogger({ level: 'silent' }), ...deps }),
  );
  servers.push(server);
  return server;
}

beforeAll(async () => {
  database = await openTestDatabase();
  api = await start({ livekit: LIVEKIT });
  [alice, bob] = [await createTestUser(database), await createTestUser(database)];
  [aliceToken, bobToken] = [generateToken(), generateToken()];
  await storeToken(database.db, alice.id, aliceToken);
  await storeToken(database.db, bob.id, bobToken);
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
      api.request('POST', '/api/livekit/token', { token: aliceToken, body: { room: 'shared' } }),
      api.request('POST', '/api/livekit/token', { token: bobToken, body: { room: 'shared' } }),
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
    const one = await noSecret.request('POST', '/api/livekit/token', { token: aliceToken });

    for (const res of [all, one]) {
      expect(res.status).toBe(503);
      expect(res.headers.get('content-type')).toContain('application/problem+json');
      expect(res.body.code).toBe('livekit_unconfigured');
      expect(res.body.token).toBeUndefined();
    }
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
