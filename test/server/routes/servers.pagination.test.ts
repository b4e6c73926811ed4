/**
 * Lists that stay fast (issue 14): `GET /api/mcp/servers` and `GET /api/mcp/servers/:id/calls`
 * page by an opaque cursor (every row exactly once, in a stable order while rows are added, with
 * bounded `limit` and 400 for a cursor the list did not give out), and the servers list and the
 * single-server GET show the secrets from their stored hints without opening any of them.
 * Runs on PGlite, or on Postgres when `DATABASE_URL` is set.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { eq } from 'drizzle-orm';
import { generateToken, storeToken } from '../../../server/http/auth.js';
import { encodeCallCursor, encodeServerCursor } from '../../../server/api/cursor.js';
import type { DatabaseHandle } from '../../../shared/db/open.js';
import { mcpServers, type User } from '../../../shared/db/schema.js';
import { createServer } from '../../../shared/db/servers.js';
import { recordToolCall } from '../../../shared/db/tool-calls.js';
import { createLogger } from '../../../shared/logger.js';
import { createTestUser, openTestDatabase } from '../../helpers/database.js';
import { serve, type TestServer } from '../../helpers/http.js';
import { sandboxedApp } from '../../helpers/sandboxed.js';

let database: DatabaseHandle;
let api: TestServer;

beforeAll(async () => {
  database = await openTestDatabase();
  api = await serve(sandboxedApp({ database, logger: createLogger({ level: 'silent' }) }));
});

afterAll(async () => {
  await api?.close();
  await database?.close();
});

const remote = { transport: 'streamable-http' as const, url: 'https://mcp.example.test/mcp' };

/** A user with a token. */
async function caller(): Promise<{ user: User; token: string }> {
  const user = await createTestUser(database);
  const token = generateToken();
  await storeToken(database.db, user.id, token);
  return { user, token };
}

/** Stores `count` servers for the user; returns their ids, oldest first. */
async function storeServers(userId: number, count: number, prefix = 'server'): Promise<number[]> {
  const ids: number[] = [];
  for (let i = 0; i < count; i += 1) {
    const row = await createServer(database, {
      userId,
      name: `${prefix}-${i}`,
      ...remote,
      headers: { 'X-Key': `header-secret-${i}-${prefix}-TAIL` },
    });
    ids.push(row.id);
  }
  return ids;
}

interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

/** Follows `nextCursor` from the first page; `between` runs after each page. */
async function allPages<T>(
  path: string,
  token: string,
  limit: number,
  between: (pageNumber: number) => Promise<void> = async () => {},
): Promise<{ items: T[]; pages: number }> {
  const items: T[] = [];
  let cursor: string | null = null;
  let pages = 0;
  do {
    const query = new URLSearchParams({ limit: String(limit) });
    if (cursor !== null) query.set('cursor', cursor);
    const res = await api.request('GET', `${path}?${query}`, { token });
    expect(res.status).toBe(200);
    const page = res.body as Page<T>;
    expect(page.items.length).toBeLessThanOrEqual(limit);
    items.push(...page.items);
    cursor = page.nextCursor;
    pages += 1;
    await between(pages);
  } while (cursor !== null);
  return { items, pages };
}

describe('GET /api/mcp/servers, paginated', () => {
  it('covers every server exactly once, oldest first, while servers are added', async () => {
    const { user, token } = await caller();
    const ids = await storeServers(user.id, 7);

    const { items, pages } = await allPages<{ id: number }>(
      '/api/mcp/servers',
      token,
      3,
      async (n) => {
        // Added after the first page: it comes last, and nothing is repeated or skipped.
        if (n === 1) ids.push(...(await storeServers(user.id, 1, 'added')));
      },
    );

    expect(items.map((server) => server.id)).toEqual(ids);
    expect(pages).toBe(3);
  });

  it('answers 50 by default, up to 200 on request, and null as nextCursor on the last page', async () => {
    const { user, token } = await caller();
    const ids = await storeServers(user.id, 51);

    const first = await api.request('GET', '/api/mcp/servers', { token });
    expect(first.body.items.map((s: { id: number }) => s.id)).toEqual(ids.slice(0, 50));
    expect(first.body.nextCursor).toEqual(expect.any(String));
    const rest = await api.request(
      'GET',
      `/api/mcp/servers?cursor=${encodeURIComponent(first.body.nextCursor)}`,
      { token },
    );
    expect(rest.body).toEqual({
      items: [expect.objectContaining({ id: ids[50] })],
      nextCursor: null,
    });

    const whole = await api.request('GET', '/api/mcp/servers?limit=200', { token });
    expect(whole.body.items).toHaveLength(51);
    expect(whole.body.nextCursor).toBeNull();
  });

  it('answers 400 problem+json naming limit or cursor when they are malformed', async () => {
    const { token } = await caller();
    for (const limit of ['0', '201', 'ten', '1.5', '']) {
      const res = await api.request('GET', `/api/mcp/servers?limit=${limit}`, { token });
      expect({ limit, status: res.status }).toEqual({ limit, status: 400 });
      expect(res.headers.get('content-type')).toContain('application/problem+json');
      expect(res.body.detail).toMatch(/query\.limit must be an integer from 1 to 200/);
    }
    const badCursors = [
      'not a cursor!',
      Buffer.from('{"id":3}').toString('base64url'),
      // A calls cursor is not a servers cursor.
      encodeCallCursor(new Date(), 3),
      'x'.repeat(300),
    ];
    for (const cursor of badCursors) {
      const res = await api.request(
        'GET',
        `/api/mcp/servers?cursor=${encodeURIComponent(cursor)}`,
        { token },
      );
      expect({ cursor, status: res.status }).toEqual({ cursor, status: 400 });
      expect(res.body.detail).toMatch(/query\.cursor/);
      expect(res.body.detail).toMatch(
        /not a cursor this list gave out: pass back the `nextCursor`/,
      );
    }
    const twice = await api.request(
      'GET',
      `/api/mcp/servers?cursor=${encodeServerCursor(1)}&cursor=${encodeServerCursor(2)}`,
      { token },
    );
    expect(twice.status).toBe(400);
  });

  it("never shows another user's servers, whatever the cursor", async () => {
    const alice = await caller();
    const bob = await caller();
    const [bobServer] = await storeServers(bob.user.id, 1, 'bob');
    const aliceIds = await storeServers(alice.user.id, 2, 'alice');

    const res = await api.request(
      'GET',
      `/api/mcp/servers?cursor=${encodeServerCursor(bobServer! - 1)}`,
      { token: alice.token },
    );

    expect(res.body.items.map((s: { id: number }) => s.id)).toEqual(aliceIds);
  });
});

describe('secrets shown from their stored hints', () => {
  it('lists and shows servers without opening a secret, and keeps the hints current', async () => {
    const { user, token } = await caller();
    await storeServers(user.id, 3);
    const created = await api.request('POST', '/api/mcp/servers', {
      token,
      body: {
        name: 'Hinted',
        ...remote,
        headers: { 'X-Tenant': 'tenant-secret-1111' },
        apiKey: 'api-key-secret-2222',
      },
    });
    expect(created.status).toBe(201);
    const id = created.body.id as number;

    const open = vi.spyOn(database.secrets, 'open');
    try {
      const list = await api.request('GET', '/api/mcp/servers', { token });
      const one = await api.request('GET', `/api/mcp/servers/${id}`, { token });
      expect(open).not.toHaveBeenCalled();

      const shown = list.body.items.find((s: { id: number }) => s.id === id);
      expect(shown).toEqual(one.body);
      expect(shown).toMatchObject({
        headers: { 'X-Tenant': { set: true, last4: '1111' } },
        apiKey: { set: true, last4: '2222' },
        auth: { type: 'none' },
      });
      expect(list.body.items[0].headers).toEqual({ 'X-Key': { set: true, last4: 'TAIL' } });
      expect(JSON.stringify(list.body)).not.toContain('secretHints');

      // A change of secrets shows at once in the list, still without opening anything there.
      const updated = await api.request('PUT', `/api/mcp/servers/${id}`, {
        token,
        body: {
          headers: { 'X-Other': 'other-secret-4444' },
          apiKey: null,
          auth: {
            type: 'oauth2-client-credentials',
            tokenUrl: 'https://mcp.example.test/token',
            clientId: 'client',
            clientSecret: 'client-secret-5555',
          },
        },
      });
      expect(updated.status).toBe(200);
      open.mockClear();
      const after = await api.request('GET', `/api/mcp/servers/${id}`, { token });
      expect(open).not.toHaveBeenCalled();
      expect(after.body).toEqual(updated.body);
      expect(after.body).toMatchObject({
        headers: { 'X-Other': { set: true, last4: '4444' } },
        apiKey: null,
        auth: { clientSecret: { set: true, last4: '5555' } },
      });
    } finally {
      open.mockRestore();
    }
  });

  it('fills the hints of a row stored before them once, on its first read', async () => {
    const { user, token } = await caller();
    const [id] = await storeServers(user.id, 1, 'legacy');
    await database.db.update(mcpServers).set({ secretHints: null }).where(eq(mcpServers.id, id!));

    const open = vi.spyOn(database.secrets, 'open');
    try {
      const first = await api.request('GET', '/api/mcp/servers', { token });
      expect(open).toHaveBeenCalledTimes(1);
      expect(first.body.items[0].headers).toEqual({ 'X-Key': { set: true, last4: 'TAIL' } });

      open.mockClear();
      const second = await api.request('GET', '/api/mcp/servers', { token });
      expect(open).not.toHaveBeenCalled();
      expect(second.body).toEqual(first.body);
    } finally {
      open.mockRestore();
    }
  });
});

describe('GET /api/mcp/servers/:id/calls, paginated', () => {
  it('covers every call exactly once, newest first, while newer calls are recorded', async () => {
    const { user, token } = await caller();
    const [serverId] = await storeServers(user.id, 1, 'calls');
    const base = Date.parse('2026-11-21T10:00:00Z');
    const record = (toolName: string, at: number) =>
      recordToolCall(database.db, {
        userId: user.id,
        serverId: serverId!,
        toolName,
        startedAt: new Date(at),
        durationMs: 1,
        ok: true,
      });
    // Two calls started in the same millisecond: the id breaks the tie.
    for (const [name, at] of [
      ['a', 0],
      ['b', 1000],
      ['c', 1000],
      ['d', 2000],
      ['e', 3000],
    ] as const) {
      await record(name, base + at);
    }

    const open = vi.spyOn(database.secrets, 'open');
    const { items, pages } = await allPages<{ toolName: string; id: number }>(
      `/api/mcp/servers/${serverId}/calls`,
      token,
      2,
      async (n) => {
        // A newer call recorded while paging belongs before the first page: no page shifts.
        if (n === 1) await record('late', base + 10_000);
      },
    );

    // Finding the server to list its calls opens none of its secrets either.
    expect(open).not.toHaveBeenCalled();
    open.mockRestore();
    expect(items.map((call) => call.toolName)).toEqual(['e', 'd', 'c', 'b', 'a']);
    expect(new Set(items.map((call) => call.id)).size).toBe(5);
    expect(pages).toBe(3);
    const fresh = await api.request('GET', `/api/mcp/servers/${serverId}/calls?limit=1`, { token });
    expect(fresh.body.items[0].toolName).toBe('late');
  });

  it('answers 400 naming cursor for one it did not give out', async () => {
    const { user, token } = await caller();
    const [serverId] = await storeServers(user.id, 1, 'bad-cursor');
    for (const cursor of [
      encodeServerCursor(5),
      'e30',
      Buffer.from('["calls","yesterday",1]').toString('base64url'),
    ]) {
      const res = await api.request(
        'GET',
        `/api/mcp/servers/${serverId}/calls?cursor=${encodeURIComponent(cursor)}`,
        { token },
      );
      expect({ cursor, status: res.status }).toEqual({ cursor, status: 400 });
      expect(res.body.detail).toMatch(/query\.cursor/);
    }
  });
});
