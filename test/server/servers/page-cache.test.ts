/**
 * The API's cache of server pages (issue 14, `server/servers/page-cache.ts`): a repeated list is
 * answered without reading the database, and never with a page older than a change the process
 * could know of: its own writes at once (a read right after a write), other processes' through
 * `LISTEN`, a load that raced a change is not kept, and everything else within the time to live.
 * Runs on PGlite, or on Postgres when `DATABASE_URL` is set.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { sql } from 'drizzle-orm';
import { generateToken, storeToken } from '../../../server/http/auth.js';
import { ServerPageCache, type CachedPage } from '../../../server/servers/page-cache.js';
import { SERVERS_CHANNEL } from '../../../shared/db/notify.js';
import type { DatabaseHandle } from '../../../shared/db/open.js';
import { createServer, updateServerStatuses } from '../../../shared/db/servers.js';
import { createLogger } from '../../../shared/logger.js';
import { createTestUser, openTestDatabase } from '../../helpers/database.js';
import { serve, type TestServer } from '../../helpers/http.js';
import { sandboxedApp } from '../../helpers/sandboxed.js';

const logger = createLogger({ level: 'silent' });
let database: DatabaseHandle;
let pages: ServerPageCache;
let api: TestServer;

beforeAll(async () => {
  database = await openTestDatabase();
  pages = new ServerPageCache({ database, logger, ttlMs: 60_000 });
  await pages.start();
  api = await serve(sandboxedApp({ database, logger, serverPages: pages }));
});

afterAll(async () => {
  await api?.close();
  await pages?.stop();
  await database?.close();
});

const remote = { transport: 'streamable-http' as const, url: 'https://mcp.example.test/mcp' };

/** A page's JSON text. */
async function text(page: Promise<CachedPage>): Promise<string> {
  return (await page).body.toString('utf8');
}

async function caller() {
  const user = await createTestUser(database);
  const token = generateToken();
  await storeToken(database.db, user.id, token);
  return { user, token };
}

async function names(token: string, query = ''): Promise<string[]> {
  const res = await api.request('GET', `/api/mcp/servers${query}`, { token });
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toMatch(/^application\/json/);
  return (res.body as { items: { name: string }[] }).items.map((item) => item.name);
}

describe('GET /api/mcp/servers through the page cache', () => {
  it('answers a repeated list from the cache, the same body as the database gives', async () => {
    const { user, token } = await caller();
    await createServer(database, { userId: user.id, name: 'alpha', ...remote });
    const first = await api.request('GET', '/api/mcp/servers', { token });
    const before = pages.stats.hits;
    const second = await api.request('GET', '/api/mcp/servers', { token });
    expect(pages.stats.hits).toBe(before + 1);
    expect(second.body).toEqual(first.body);
    expect(second.body.items[0]).toMatchObject({ name: 'alpha', headers: {}, env: {} });
  });

  it('shows a server created, renamed or deleted through the API in the very next list', async () => {
    const { token } = await caller();
    expect(await names(token)).toEqual([]);
    const created = await api.request('POST', '/api/mcp/servers', {
      token,
      body: { name: 'first', ...remote },
    });
    expect(created.status).toBe(201);
    expect(await names(token)).toEqual(['first']);
    const renamed = await api.request('PUT', `/api/mcp/servers/${created.body.id}`, {
      token,
      body: { name: 'renamed' },
    });
    expect(renamed.status).toBe(200);
    expect(await names(token)).toEqual(['renamed']);
    expect(
      (await api.request('DELETE', `/api/mcp/servers/${created.body.id}`, { token })).status,
    ).toBe(204);
    expect(await names(token)).toEqual([]);
  });

  it('tags each page, answers 304 to a client that has it, and a new tag once it changed', async () => {
    const { user, token } = await caller();
    const server = await createServer(database, { userId: user.id, name: 'tagged', ...remote });
    const get = (etag?: string) =>
      fetch(`${api.baseUrl}/api/mcp/servers`, {
        // As a browser revalidates (fetch would add `no-cache`, which forbids a 304).
        headers: {
          authorization: `Bearer ${token}`,
          ...(etag && { 'if-none-match': etag, 'cache-control': 'max-age=0' }),
        },
      });
    const first = await get();
    const etag = first.headers.get('etag')!;
    expect(etag).toMatch(/^"[\w-]{27}"$/);
    expect(((await first.json()) as { items: { name: string }[] }).items[0]!.name).toBe('tagged');
    const unchanged = await get(etag);
    expect(unchanged.status).toBe(304);
    expect(await unchanged.text()).toBe('');

    await api.request('PUT', `/api/mcp/servers/${server.id}`, {
      token,
      body: { name: 'retagged' },
    });
    const changed = await get(etag);
    expect(changed.status).toBe(200);
    expect(changed.headers.get('etag')).not.toBe(etag);
    expect(((await changed.json()) as { items: { name: string }[] }).items[0]!.name).toBe(
      'retagged',
    );
  });

  it('keeps pages per limit and cursor apart', async () => {
    const { user, token } = await caller();
    for (const name of ['a', 'b', 'c'])
      await createServer(database, { userId: user.id, name, ...remote });
    expect(await names(token, '?limit=2')).toEqual(['a', 'b']);
    expect(await names(token)).toEqual(['a', 'b', 'c']);
    expect(await names(token, '?limit=1')).toEqual(['a']);
  });

  it("forgets a user's pages on another process's notification, and only that user's", async () => {
    const one = await caller();
    const two = await caller();
    const [server] = await Promise.all([
      createServer(database, { userId: one.user.id, name: 'watched', ...remote }),
      createServer(database, { userId: two.user.id, name: 'other', ...remote }),
    ]);
    await names(one.token);
    await names(two.token);
    // A status write as another replica's monitor makes it: notified in SQL, not in this process.
    await updateServerStatuses(
      database.db,
      new Map([[server!.id, { connectionStatus: 'error' as const, lastError: 'went away' }]]),
    );
    await vi.waitFor(async () => {
      const res = await api.request('GET', '/api/mcp/servers', { token: one.token });
      expect(res.body.items[0]).toMatchObject({
        connectionStatus: 'error',
        lastError: 'went away',
      });
    });
    const hits = pages.stats.hits;
    await names(two.token);
    expect(pages.stats.hits).toBe(hits + 1);
  });

  it('forgets everything on a notification it cannot read', async () => {
    const { user, token } = await caller();
    await createServer(database, { userId: user.id, name: 'kept', ...remote });
    await names(token);
    await database.db.execute(sql`select pg_notify(${SERVERS_CHANNEL}, 'not json')`);
    await vi.waitFor(() => expect(pages.stats.users).toBe(0));
    const misses = pages.stats.misses;
    expect(await names(token)).toEqual(['kept']);
    expect(pages.stats.misses).toBe(misses + 1);
  });
});

describe('ServerPageCache', () => {
  const listening = { listen: async () => async () => {} };

  it('does not keep a page whose load raced a change', async () => {
    const cache = new ServerPageCache({ database: listening, logger });
    await cache.start();
    let release!: () => void;
    const loading = cache.page(7, 'k', async () => {
      await new Promise<void>((resolve) => (release = resolve));
      return { version: 'old' };
    });
    cache.invalidate(7);
    release();
    expect(await text(loading)).toBe('{"version":"old"}');
    expect(await text(cache.page(7, 'k', async () => ({ version: 'new' })))).toBe(
      '{"version":"new"}',
    );
    expect(await text(cache.page(7, 'k', async () => ({ version: 'newer' })))).toBe(
      '{"version":"new"}',
    );
    await cache.stop();
  });

  it('has requests that miss one page together share one load, unless a change came between', async () => {
    const cache = new ServerPageCache({ database: listening, logger });
    await cache.start();
    const loads: (() => void)[] = [];
    const load = (value: string) => () =>
      new Promise<string>((resolve) => loads.push(() => resolve(value)));
    const first = cache.page(3, 'k', load('first'));
    const joined = cache.page(3, 'k', load('not loaded'));
    cache.invalidate(3);
    const afterChange = cache.page(3, 'k', load('after the change'));
    expect(loads).toHaveLength(2);
    for (const release of loads) release();
    expect(await text(first)).toBe('"first"');
    expect(await text(joined)).toBe('"first"');
    expect(await text(afterChange)).toBe('"after the change"');
    await cache.stop();
  });

  it('reads again once the time to live has passed', async () => {
    let now = 1_000;
    const cache = new ServerPageCache({
      database: listening,
      logger,
      ttlMs: 5_000,
      now: () => now,
    });
    await cache.start();
    expect(await text(cache.page(1, 'k', async () => 1))).toBe('1');
    now += 4_999;
    expect(await text(cache.page(1, 'k', async () => 2))).toBe('1');
    now += 1;
    expect(await text(cache.page(1, 'k', async () => 3))).toBe('3');
    await cache.stop();
  });

  it('stores nothing when it cannot listen, and says so', async () => {
    const warn = vi.fn();
    const cache = new ServerPageCache({
      database: {
        listen: async () => {
          throw new Error('no listen connection');
        },
      },
      logger: { ...logger, warn } as unknown as typeof logger,
    });
    await cache.start();
    expect(warn).toHaveBeenCalledOnce();
    expect(await text(cache.page(1, 'k', async () => 1))).toBe('1');
    expect(await text(cache.page(1, 'k', async () => 2))).toBe('2');
    await cache.stop();
  });

  it('drops the least recently used user past maxUsers', async () => {
    const cache = new ServerPageCache({ database: listening, logger, maxUsers: 2 });
    await cache.start();
    await cache.page(1, 'k', async () => 'one');
    await cache.page(2, 'k', async () => 'two');
    await cache.page(1, 'k', async () => 'unused');
    await cache.page(3, 'k', async () => 'three');
    expect(cache.stats.users).toBe(2);
    expect(await text(cache.page(1, 'k', async () => 'again'))).toBe('"one"');
    expect(await text(cache.page(2, 'k', async () => 'two, read again'))).toBe('"two, read again"');
    await cache.stop();
  });
});
