/**
 * `/api/widget-tokens` and `GET /api/widget/status` against the running app and a real database:
 * widget tokens are shown once and stored as hashes, open the widget endpoint and nothing else,
 * and the endpoint's answer names no URL, command, header, secret or error text.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { eq } from 'drizzle-orm';
import type { DatabaseHandle } from '../../../shared/db/open.js';
import { mcpServers, widgetTokens, type User } from '../../../shared/db/schema.js';
import { hashToken } from '../../../shared/db/api-tokens.js';
import { createLogger } from '../../../shared/logger.js';
import {
  createdWidgetToken,
  widgetStatusResource,
  widgetTokenResource,
} from '../../../server/api/schemas.js';
import { generateToken, storeToken } from '../../../server/http/auth.js';
import { StatusSnapshot } from '../../../server/status/snapshot.js';
import type { ComponentStatus } from '../../../server/status/checks.js';
import { createTestUser, openTestDatabase } from '../../helpers/database.js';
import { serve, type TestServer } from '../../helpers/http.js';
import { sandboxedApp } from '../../helpers/sandboxed.js';

const logger = createLogger({ level: 'silent' });
/** Marks text that must never reach the widget's answer. */
const LEAK = 'leakmarker';

let database: DatabaseHandle;
let snapshot: StatusSnapshot;
let api: TestServer;
let alice: User;
let bob: User;
let aliceApiToken: string;
let livekit: ComponentStatus = { status: 'unconfigured', detail: 'Set LIVEKIT_URL.' };

beforeAll(async () => {
  database = await openTestDatabase();
  snapshot = new StatusSnapshot({
    database,
    logger,
    checkLivekit: async () => livekit,
    checkOpenAI: async () => ({ status: 'connected', detail: 'OpenAI accepted the API key.' }),
  });
  await snapshot.start();
  api = await serve(sandboxedApp({ database, logger, statusSnapshot: snapshot }));
  [alice, bob] = [await createTestUser(database), await createTestUser(database)];
  aliceApiToken = generateToken();
  await storeToken(database.db, alice.id, aliceApiToken);
});

afterAll(async () => {
  await api?.close();
  snapshot?.stop();
  await database?.close();
});

beforeEach(async () => {
  livekit = { status: 'unconfigured', detail: 'Set LIVEKIT_URL.' };
  await snapshot.refreshExternal();
  await database.db.delete(mcpServers);
});

/** A new widget token of a user, made through the API with one of their API tokens. */
async function widgetTokenFor(apiToken: string, label = 'wall'): Promise<string> {
  const res = await api.request('POST', '/api/widget-tokens', { token: apiToken, body: { label } });
  expect(res.status).toBe(201);
  return res.body.token as string;
}

/** Inserts a server with secrets and an error text in every field the widget must not show. */
async function addServer(
  userId: number,
  name: string,
  values: Partial<typeof mcpServers.$inferInsert> = {},
): Promise<void> {
  await database.db.insert(mcpServers).values({
    userId,
    name,
    description: `${LEAK} description`,
    transport: 'streamable-http',
    url: `https://${LEAK}.example.com/mcp?key=${LEAK}`,
    headers: { 'X-Api-Key': `${LEAK}-header` },
    apiKey: `${LEAK}-apikey`,
    lastError: `401 from https://${LEAK}.example.com: bad key ${LEAK}`,
    connectionStatus: 'connected',
    lastConnected: new Date('2026-11-30T10:00:00Z'),
    metadata: { toolCount: 3, latencyMs: 42, serverInfo: { name: LEAK, version: '1' } },
    ...values,
  });
}

describe('/api/widget-tokens', () => {
  it('creates an sbw_ token shown once, stores only its hash, and lists it without the token', async () => {
    const res = await api.request('POST', '/api/widget-tokens', {
      token: aliceApiToken,
      body: { label: 'office wall' },
    });

    expect(res.status).toBe(201);
    expect(createdWidgetToken.strict().safeParse(res.body).error).toBeUndefined();
    expect(res.body.token).toMatch(/^sbw_[A-Za-z0-9_-]{43}$/);
    const [stored] = await database.db
      .select()
      .from(widgetTokens)
      .where(eq(widgetTokens.id, res.body.id));
    expect(stored!.tokenHash).toBe(hashToken(res.body.token));
    expect(JSON.stringify(stored)).not.toContain(res.body.token);
    const list = await api.request('GET', '/api/widget-tokens', { token: aliceApiToken });
    expect(list.status).toBe(200);
    expect(list.body).toContainEqual(
      expect.objectContaining({ id: res.body.id, label: 'office wall' }),
    );
    for (const row of list.body) {
      expect(widgetTokenResource.strict().safeParse(row).error).toBeUndefined();
    }
    expect(JSON.stringify(list.body)).not.toContain(res.body.token);
  });

  it("revokes the caller's own token (then refused) and answers 404 for another user's", async () => {
    const token = await widgetTokenFor(aliceApiToken);
    const [row] = await database.db
      .select({ id: widgetTokens.id })
      .from(widgetTokens)
      .where(eq(widgetTokens.tokenHash, hashToken(token)));
    const bobApiToken = generateToken();
    await storeToken(database.db, bob.id, bobApiToken);

    const foreign = await api.request('DELETE', `/api/widget-tokens/${row!.id}`, {
      token: bobApiToken,
    });
    expect(foreign.status).toBe(404);
    expect((await api.request('GET', '/api/widget/status', { token })).status).toBe(200);

    const own = await api.request('DELETE', `/api/widget-tokens/${row!.id}`, {
      token: aliceApiToken,
    });
    expect(own.status).toBe(204);
    const after = await api.request('GET', '/api/widget/status', { token });
    expect(after.status).toBe(401);
    expect(after.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(after.body.detail).toMatch(/unknown or revoked/);
  });
});

describe('GET /api/widget/status', () => {
  it("answers 200 ok with the parts and the owner's servers, no-store and open to any origin", async () => {
    const token = await widgetTokenFor(aliceApiToken);
    await addServer(alice.id, 'weather');
    await addServer(alice.id, 'Archive', { isActive: false, connectionStatus: 'disconnected' });

    const res = await api.request('GET', '/api/widget/status', { token });

    expect(res.status).toBe(200);
    expect(widgetStatusResource.strict().safeParse(res.body).error).toBeUndefined();
    expect(res.body).toEqual({
      status: 'ok',
      detail: 'Everything configured is working.',
      checkedAt: expect.any(String),
      parts: {
        database: { status: 'connected', detail: 'The database answers.' },
        livekit: { status: 'unconfigured', detail: 'LiveKit is not configured.' },
        openai: { status: 'connected', detail: 'OpenAI accepts the API key.' },
        mcp: { status: 'connected', detail: 'All 1 MCP servers are connected.' },
      },
      servers: [
        {
          name: 'Archive',
          status: 'disabled',
          toolCount: 3,
          latencyMs: 42,
          lastConnected: '2026-11-30T10:00:00.000Z',
        },
        {
          name: 'weather',
          status: 'connected',
          toolCount: 3,
          latencyMs: 42,
          lastConnected: '2026-11-30T10:00:00.000Z',
        },
      ],
    });
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(res.headers.get('access-control-allow-origin')).toBe('*');
    expect(res.headers.get('access-control-allow-credentials')).toBeNull();
  });

  it('answers 200 degraded when some enabled server is not connected', async () => {
    const token = await widgetTokenFor(aliceApiToken);
    await addServer(alice.id, 'a');
    await addServer(alice.id, 'b', { connectionStatus: 'error' });

    const res = await api.request('GET', '/api/widget/status', { token });

    expect(res.status).toBe(200);
    expect(res.body.status).toBe('degraded');
    expect(res.body.detail).toBe('1 of 2 MCP servers are connected.');
  });

  it('answers 503 down, with the same body, when every enabled server is in error', async () => {
    const token = await widgetTokenFor(aliceApiToken);
    await addServer(alice.id, 'a', { connectionStatus: 'error' });
    await addServer(alice.id, 'off', { isActive: false, connectionStatus: 'connected' });

    const res = await api.request('GET', '/api/widget/status', { token });

    expect(res.status).toBe(503);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    expect(widgetStatusResource.strict().safeParse(res.body).error).toBeUndefined();
    expect(res.body.status).toBe('down');
    expect(res.body.servers.map((s: { status: string }) => s.status)).toEqual([
      'error',
      'disabled',
    ]);
  });

  it('answers 503 down when a system check fails, without quoting the check', async () => {
    const token = await widgetTokenFor(aliceApiToken);
    livekit = { status: 'error', detail: `LiveKit check failed: https://${LEAK}.example.com 401` };
    await snapshot.refreshExternal();

    const res = await api.request('GET', '/api/widget/status', { token });

    expect(res.status).toBe(503);
    expect(res.body.status).toBe('down');
    expect(res.body.detail).toBe('Failing: LiveKit.');
    expect(res.body.parts.livekit).toEqual({ status: 'error', detail: 'LiveKit does not answer.' });
    expect(JSON.stringify(res.body)).not.toContain(LEAK);
  });

  it("never shows another user's servers", async () => {
    const token = await widgetTokenFor(aliceApiToken);
    await addServer(alice.id, 'mine');
    await addServer(bob.id, 'bobs-private-server', { connectionStatus: 'error' });

    const res = await api.request('GET', '/api/widget/status', { token });

    expect(res.status).toBe(200);
    expect(res.body.servers.map((s: { name: string }) => s.name)).toEqual(['mine']);
    expect(JSON.stringify(res.body)).not.toContain('bobs-private-server');
  });

  it('names no URL, command, header, secret, description or error text even when servers have them', async () => {
    const token = await widgetTokenFor(aliceApiToken);
    await addServer(alice.id, 'remote', { connectionStatus: 'error' });
    await addServer(alice.id, 'local', {
      transport: 'stdio',
      url: null,
      command: `/opt/${LEAK}/bin/server`,
      args: [`--token=${LEAK}`],
      env: { SECRET: `${LEAK}-env` },
    });

    const res = await api.request('GET', '/api/widget/status', { token });

    expect(res.status).toBe(200);
    const text = JSON.stringify(res.body);
    expect(text).not.toContain(LEAK);
    expect(text).not.toMatch(/https?:|\/opt\//);
    for (const server of res.body.servers) {
      expect(Object.keys(server).sort()).toEqual([
        'lastConnected',
        'latencyMs',
        'name',
        'status',
        'toolCount',
      ]);
    }
  });

  it('keeps the last-used time of a widget token current', async () => {
    const token = await widgetTokenFor(aliceApiToken);
    const before = new Date();
    await api.request('GET', '/api/widget/status', { token });
    const [row] = await database.db
      .select({ lastUsedAt: widgetTokens.lastUsedAt })
      .from(widgetTokens)
      .where(eq(widgetTokens.tokenHash, hashToken(token)));
    expect(row!.lastUsedAt!.getTime()).toBeGreaterThanOrEqual(before.getTime() - 1000);
  });

  it('also accepts an API token (it only reads)', async () => {
    await addServer(alice.id, 'weather');
    const res = await api.request('GET', '/api/widget/status', { token: aliceApiToken });
    expect(res.status).toBe(200);
    expect(res.body.servers).toHaveLength(1);
  });

  it.each([
    ['no token', undefined, /widget token is required/],
    ['an unknown widget token', `sbw_${'A'.repeat(43)}`, /unknown or revoked/],
    ['an unknown API token', `sb_${'A'.repeat(43)}`, /unknown or revoked/],
  ])(
    'answers 401 problem+json with a readable CORS header for %s',
    async (_name, token, detail) => {
      const res = await api.request('GET', '/api/widget/status', { token });
      expect(res.status).toBe(401);
      expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
      expect(res.body.detail).toMatch(detail);
      expect(res.headers.get('access-control-allow-origin')).toBe('*');
    },
  );

  it('answers the CORS preflight of any origin', async () => {
    const res = await fetch(`${api.baseUrl}/api/widget/status`, {
      method: 'OPTIONS',
      headers: {
        origin: 'https://wall.example.com',
        'access-control-request-method': 'GET',
        'access-control-request-headers': 'authorization',
      },
    });
    expect(res.status).toBe(204);
    expect(res.headers.get('access-control-allow-origin')).toBe('*');
    expect(res.headers.get('access-control-allow-headers')).toMatch(/authorization/i);
  });
});

describe('a widget token opens nothing else', () => {
  it.each([
    ['GET', '/api/mcp/servers'],
    ['GET', '/api/status'],
    ['GET', '/api/tokens'],
    ['GET', '/api/widget-tokens'],
    ['POST', '/api/widget-tokens'],
    ['POST', '/api/tokens'],
    ['POST', '/api/mcp/servers'],
    ['POST', '/api/livekit/token'],
    ['GET', '/api/users'],
  ])('%s %s answers 401', async (method, path) => {
    const token = await widgetTokenFor(aliceApiToken);
    const body = method === 'POST' ? {} : undefined;
    const res = await api.request(method, path, { token, body });
    expect(res.status).toBe(401);
  });
});

describe('the OpenAPI document', () => {
  it('lists the widget routes', async () => {
    const { body: doc } = await api.request('GET', '/api/openapi.json');
    expect(Object.keys(doc.paths['/api/widget-tokens'])).toEqual(['get', 'post']);
    expect(Object.keys(doc.paths['/api/widget-tokens/{id}'])).toEqual(['delete']);
    expect(doc.paths['/api/widget/status'].get.responses['503'].content).toHaveProperty(
      'application/json',
    );
    expect(doc.paths['/widget/status'].get.responses['200'].content).toHaveProperty('text/html');
  });
});
