/** `/api/users` and `/api/tokens` against the running app and a real database. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { count, eq } from 'drizzle-orm';
import type { DatabaseHandle } from '../../../shared/db/open.js';
import { apiTokens, users } from '../../../shared/db/schema.js';
import { createLogger } from '../../../shared/logger.js';
import {
  createdToken,
  createdUser,
  tokenResource,
  userResource,
} from '../../../server/api/schemas.js';
import {
  TOKEN_TOUCH_INTERVAL_MS,
  authenticateToken,
  generateToken,
  hashToken,
  storeToken,
  touchToken,
} from '../../../server/http/auth.js';
import { createTestUser, openTestDatabase } from '../../helpers/database.js';
import { serve, type TestServer } from '../../helpers/http.js';
import { sandboxedApp } from '../../helpers/sandboxed.js';

let database: DatabaseHandle;
let api: TestServer;
let admin: string;
let alice: string;
let bob: string;

beforeAll(async () => {
  database = await openTestDatabase();
  api = await serve(sandboxedApp({ database, logger: createLogger({ level: 'silent' }) }));
  const [a, b, c] = [
    await createTestUser(database, 'admin'),
    await createTestUser(database),
    await createTestUser(database),
  ];
  [admin, alice, bob] = [generateToken(), generateToken(), generateToken()];
  await storeToken(database.db, a.id, admin);
  await storeToken(database.db, b.id, alice);
  await storeToken(database.db, c.id, bob);
});

afterAll(async () => {
  await api?.close();
  await database?.close();
});

async function userCount(): Promise<number> {
  const [row] = await database.db.select({ n: count() }).from(users);
  return row!.n;
}

describe('POST /api/users', () => {
  it('creates a user and answers 201 with a token that works, shown once', async () => {
    const res = await api.request('POST', '/api/users', {
      token: admin,
      body: { name: 'Carol', email: 'Carol@Example.com' },
    });

    expect(res.status).toBe(201);
    expect(res.body.user).toEqual({
      id: expect.any(Number),
      name: 'Carol',
      email: 'carol@example.com',
      role: 'user',
      createdAt: expect.any(String),
    });
    expect(res.body.token).toMatch(/^sb_/);
    expect(createdUser.strict().safeParse(res.body).error).toBeUndefined();
    const [stored] = await database.db
      .select()
      .from(apiTokens)
      .where(eq(apiTokens.userId, res.body.user.id));
    expect(stored!.tokenHash).toBe(hashToken(res.body.token));
    const mine = await api.request('GET', '/api/tokens', { token: res.body.token });
    expect(mine.status).toBe(200);
    expect(JSON.stringify(mine.body)).not.toContain(res.body.token);
  });

  it('answers 409 for a taken email, whatever its case, and writes nothing', async () => {
    const body = { name: 'Dave', email: 'dave@example.com', role: 'admin' };
    expect((await api.request('POST', '/api/users', { token: admin, body })).status).toBe(201);
    const before = await userCount();

    const again = await api.request('POST', '/api/users', {
      token: admin,
      body: { ...body, email: 'DAVE@example.com' },
    });

    expect(again.status).toBe(409);
    expect(again.headers.get('content-type')).toContain('application/problem+json');
    expect(await userCount()).toBe(before);
  });

  it('answers 400 naming the field for an invalid body', async () => {
    const res = await api.request('POST', '/api/users', {
      token: admin,
      body: { name: 'Eve', email: 'not an email', role: 'root' },
    });

    expect(res.status).toBe(400);
    expect(res.body.errors.map((e: { path: string }) => e.path)).toEqual(
      expect.arrayContaining(['body.email', 'body.role']),
    );
  });

  it('answers 403 to a non-admin, for creating and for listing', async () => {
    const before = await userCount();
    const created = await api.request('POST', '/api/users', {
      token: alice,
      body: { name: 'Mallory', email: 'mallory@example.com' },
    });
    const listed = await api.request('GET', '/api/users', { token: alice });

    expect(created.status).toBe(403);
    expect(listed.status).toBe(403);
    expect(await userCount()).toBe(before);
  });

  it('lists every user to an admin', async () => {
    const res = await api.request('GET', '/api/users', { token: admin });

    expect(res.status).toBe(200);
    expect(res.body).toHaveLength(await userCount());
    expect(res.body[0]).toEqual({
      id: expect.any(Number),
      name: expect.any(String),
      email: expect.any(String),
      role: 'admin',
      createdAt: expect.any(String),
    });
    expect(userResource.strict().array().safeParse(res.body).error).toBeUndefined();
  });
});

describe('/api/tokens', () => {
  it('creates a labelled token shown once, lists tokens without secrets, and revokes one', async () => {
    const created = await api.request('POST', '/api/tokens', {
      token: alice,
      body: { label: 'laptop' },
    });
    expect(created.status).toBe(201);
    expect(created.body).toEqual({
      id: expect.any(Number),
      token: expect.stringMatching(/^sb_/),
      label: 'laptop',
      createdAt: expect.any(String),
      scopes: null,
    });
    expect(createdToken.strict().safeParse(created.body).error).toBeUndefined();
    const laptop: string = created.body.token;
    expect((await api.request('GET', '/api/tokens', { token: laptop })).status).toBe(200);
    // The status endpoints remember tokens for a while; a revocation must still apply at once.
    expect((await api.request('GET', '/api/status', { token: laptop })).status).toBe(200);

    const listed = await api.request('GET', '/api/tokens', { token: alice });
    const entry = listed.body.find((t: { id: number }) => t.id === created.body.id);
    expect(Object.keys(entry).sort()).toEqual([
      'createdAt',
      'id',
      'label',
      'lastUsedAt',
      'revokedAt',
      'scopes',
    ]);
    expect(tokenResource.strict().array().safeParse(listed.body).error).toBeUndefined();
    expect(JSON.stringify(listed.body)).not.toContain(laptop);
    expect(JSON.stringify(listed.body)).not.toContain(hashToken(laptop));

    const revoked = await api.request('DELETE', `/api/tokens/${created.body.id}`, { token: alice });
    expect(revoked.status).toBe(204);
    const refused = await api.request('GET', '/api/tokens', { token: laptop });
    expect(refused.status).toBe(401);
    expect((await api.request('GET', '/api/status', { token: laptop })).status).toBe(401);
    const after = await api.request('GET', '/api/tokens', { token: alice });
    expect(after.body.find((t: { id: number }) => t.id === created.body.id).revokedAt).toEqual(
      expect.any(String),
    );
  });

  it('creates a token without a label, with an empty one', async () => {
    const res = await api.request('POST', '/api/tokens', { token: bob, body: {} });

    expect(res.status).toBe(201);
    expect(res.body.label).toBe('');
  });

  it("answers 404 when revoking another user's token, and leaves it working", async () => {
    const bobs = await api.request('POST', '/api/tokens', { token: bob, body: { label: 'b' } });

    const res = await api.request('DELETE', `/api/tokens/${bobs.body.id}`, { token: alice });

    expect(res.status).toBe(404);
    expect((await api.request('GET', '/api/tokens', { token: bobs.body.token })).status).toBe(200);
  });

  it('answers 400 for a malformed id or body', async () => {
    const badId = await api.request('DELETE', '/api/tokens/abc', { token: alice });
    const badBody = await api.request('POST', '/api/tokens', {
      token: alice,
      body: { label: 5, extra: true },
    });

    expect(badId.status).toBe(400);
    expect(badBody.status).toBe(400);
  });

  it('sets lastUsedAt when a token is used', async () => {
    const created = await api.request('POST', '/api/tokens', { token: alice, body: {} });
    const find = async () =>
      (await api.request('GET', '/api/tokens', { token: alice })).body.find(
        (t: { id: number }) => t.id === created.body.id,
      );
    expect((await find()).lastUsedAt).toBeNull();

    await api.request('GET', '/api/mcp/servers', { token: created.body.token });

    const lastUsedAt = (await find()).lastUsedAt;
    expect(Date.now() - Date.parse(lastUsedAt)).toBeLessThan(60_000);
  });
});

describe('lastUsedAt on the status endpoints', () => {
  it('is set for a token used only to poll /api/status', async () => {
    const created = await api.request('POST', '/api/tokens', { token: alice, body: {} });

    expect((await api.request('GET', '/api/status', { token: created.body.token })).status).toBe(
      200,
    );

    const listed = await api.request('GET', '/api/tokens', { token: alice });
    const entry = listed.body.find((t: { id: number }) => t.id === created.body.id);
    expect(Date.now() - Date.parse(entry.lastUsedAt)).toBeLessThan(60_000);
  });
});

describe('touchToken', () => {
  it('writes lastUsedAt at most once per interval', async () => {
    const user = await createTestUser(database);
    const token = generateToken();
    await storeToken(database.db, user.id, token);
    const start = new Date('2026-01-01T00:00:00Z');
    const stored = async () => (await authenticateToken(database.db, token))!.lastUsedAt;

    await touchToken(database.db, (await authenticateToken(database.db, token))!, start);
    const first = await stored();
    const soon = new Date(start.getTime() + TOKEN_TOUCH_INTERVAL_MS - 1000);
    await touchToken(database.db, (await authenticateToken(database.db, token))!, soon);
    const unchanged = await stored();
    // Even a stale read does not write: the condition is checked in the database too.
    await touchToken(
      database.db,
      { tokenId: (await authenticateToken(database.db, token))!.tokenId, lastUsedAt: null },
      soon,
    );
    const stillUnchanged = await stored();
    const later = new Date(start.getTime() + TOKEN_TOUCH_INTERVAL_MS + 1000);
    await touchToken(database.db, (await authenticateToken(database.db, token))!, later);

    expect(first).toEqual(start);
    expect(unchanged).toEqual(start);
    expect(stillUnchanged).toEqual(start);
    expect(await stored()).toEqual(later);
  });
});
