/**
 * API token scopes (issue 15): `POST /api/tokens` with `scopes` and its validation, the REST API
 * and every status path refusing a token without `api` (403) while unrestricted and `api` tokens
 * still work, and `authenticateGatewayToken` for the MCP gateway. Runs on PGlite, and on Postgres
 * when `DATABASE_URL` is set.
 */
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { count, eq } from 'drizzle-orm';
import type { DatabaseHandle } from '../../../shared/db/open.js';
import { apiTokens, widgetTokens } from '../../../shared/db/schema.js';
import { createServer } from '../../../shared/db/servers.js';
import { recordToolCall } from '../../../shared/db/tool-calls.js';
import { createLogger } from '../../../shared/logger.js';
import { createdToken, tokenResource } from '../../../server/api/schemas.js';
import {
  authenticateGatewayToken,
  gatewayTokenProblem,
  generateToken,
  storeToken,
  userForToken,
} from '../../../server/http/auth.js';
import { ForbiddenError } from '../../../server/http/errors.js';
import { FailedAuthLimiter } from '../../../server/http/failed-auth-limiter.js';
import { TokenCache } from '../../../server/http/token-cache.js';
import { ApiMetrics } from '../../../server/status/metrics.js';
import { StatusSnapshot } from '../../../server/status/snapshot.js';
import { attachStatusStream, type StatusStream } from '../../../server/status/stream.js';
import { createTestUser, openTestDatabase } from '../../helpers/database.js';
import { serve, type TestServer } from '../../helpers/http.js';
import { sandboxedApp } from '../../helpers/sandboxed.js';

const logger = createLogger({ level: 'silent' });
const GATEWAY_ONLY_DETAIL =
  'This token is limited to the MCP gateway (scopes: gateway); use a token with the api scope ' +
  'for the REST API.';

let database: DatabaseHandle;
let snapshot: StatusSnapshot;
let tokens: TokenCache;
let api: TestServer;
let stream: StatusStream;
let alice: { id: number; full: string; gateway: string; apiOnly: string };
let admin: { id: number; full: string; gateway: string };
let bobServerId: number;
let aliceServerId: number;

/** A user with an unrestricted token, a gateway-only one and an `api`-only one. */
async function person(role: 'admin' | 'user' = 'user') {
  const user = await createTestUser(database, role);
  const [full, gateway, apiOnly] = [generateToken(), generateToken(), generateToken()];
  await storeToken(database.db, user.id, full, 'full');
  await storeToken(database.db, user.id, gateway, 'gateway only', ['gateway']);
  await storeToken(database.db, user.id, apiOnly, 'api only', ['api']);
  return { id: user.id, full, gateway, apiOnly };
}

function remoteServer(userId: number, name: string) {
  return createServer(database, {
    userId,
    name,
    transport: 'streamable-http',
    url: 'https://mcp.example.test/mcp',
  });
}

beforeAll(async () => {
  database = await openTestDatabase();
  snapshot = new StatusSnapshot({ database, logger, databaseIntervalMs: 3_600_000 });
  await snapshot.start();
  tokens = new TokenCache(database.db);
  const metrics = new ApiMetrics({
    registry: new Registry(),
    connectionStates: () => snapshot.countsByStatus(),
  });
  api = await serve(
    sandboxedApp({ database, logger, statusSnapshot: snapshot, tokenCache: tokens, metrics }),
  );
  stream = attachStatusStream(api.server, { snapshot, tokens, logger });
  alice = await person();
  admin = await person('admin');
  const bob = await createTestUser(database);
  aliceServerId = (await remoteServer(alice.id, 'alices')).id;
  bobServerId = (await remoteServer(bob.id, 'bobs')).id;
});

afterAll(async () => {
  await stream?.close();
  await api?.close();
  snapshot?.stop();
  await database?.close();
});

async function tokenCount(): Promise<number> {
  const [row] = await database.db.select({ n: count() }).from(apiTokens);
  return row!.n;
}

describe('POST /api/tokens with scopes', () => {
  it('creates a gateway-only token, shows its scopes once created and in the list', async () => {
    const res = await api.request('POST', '/api/tokens', {
      token: alice.full,
      body: { label: 'claude desktop', scopes: ['gateway'] },
    });

    expect(res.status).toBe(201);
    expect(res.body).toEqual({
      id: expect.any(Number),
      label: 'claude desktop',
      createdAt: expect.any(String),
      scopes: ['gateway'],
      token: expect.stringMatching(/^sb_/),
    });
    expect(createdToken.strict().safeParse(res.body).error).toBeUndefined();
    const listed = await api.request('GET', '/api/tokens', { token: alice.full });
    const row = listed.body.find((t: { id: number }) => t.id === res.body.id);
    expect(row.scopes).toEqual(['gateway']);
    for (const token of listed.body) {
      expect(tokenResource.strict().safeParse(token).error).toBeUndefined();
    }
    expect(listed.body.find((t: { label: string }) => t.label === 'full').scopes).toBeNull();
    // The new token is refused by the REST API, and opens the gateway.
    expect((await api.request('GET', '/api/tokens', { token: res.body.token })).status).toBe(403);
    expect((await authenticateGatewayToken(database.db, res.body.token))?.label).toBe(
      'claude desktop',
    );
  });

  it('creates an unrestricted token (scopes null) when scopes is left out', async () => {
    const res = await api.request('POST', '/api/tokens', { token: alice.full, body: {} });

    expect(res.status).toBe(201);
    expect(res.body.scopes).toBeNull();
    expect((await api.request('GET', '/api/tokens', { token: res.body.token })).status).toBe(200);
  });

  it('drops duplicate scopes and keeps server scopes of the caller’s own servers', async () => {
    const res = await api.request('POST', '/api/tokens', {
      token: alice.full,
      body: {
        scopes: ['gateway', `server:${aliceServerId}`, 'gateway', `server:${aliceServerId}`],
      },
    });

    expect(res.status).toBe(201);
    expect(res.body.scopes).toEqual(['gateway', `server:${aliceServerId}`]);
    const caller = await authenticateGatewayToken(database.db, res.body.token);
    expect(caller?.servers).toEqual([aliceServerId]);
  });

  it.each([
    [
      'an unknown scope',
      ['gateway', 'admin'],
      'body.scopes.1: unknown scope "admin": a scope is "api", "gateway" or "server:<id>" (e.g. "server:12")',
    ],
    [
      'a malformed server scope',
      ['gateway', 'server:012'],
      'body.scopes.1: unknown scope "server:012"',
    ],
    ['an empty list', [], 'body.scopes must not be empty: leave it out for an unrestricted token'],
    ['server scopes without gateway', ['server:1'], 'but not "gateway"'],
    [
      'server scopes with api',
      ['api', 'gateway', 'server:1'],
      'body.scopes cannot combine "api" with server scopes',
    ],
    ['a string instead of a list', 'gateway', 'body.scopes must be a list of strings'],
    ['a number in the list', ['gateway', 7], 'body.scopes.1: each scope must be a string'],
  ])('answers 400 naming the problem for %s, and creates nothing', async (_what, scopes, text) => {
    const before = await tokenCount();

    const res = await api.request('POST', '/api/tokens', {
      token: alice.full,
      body: { label: 'x', scopes },
    });

    expect(res.status).toBe(400);
    expect(res.headers.get('content-type')).toContain('application/problem+json');
    expect(res.body.detail).toContain(text);
    expect(await tokenCount()).toBe(before);
  });

  it('answers 422 alike for another user’s server and a missing one, and creates nothing', async () => {
    const before = await tokenCount();
    const missing = 2_000_000_000;
    const huge = 9_999_999_999;

    const foreign = await api.request('POST', '/api/tokens', {
      token: alice.full,
      body: { scopes: ['gateway', 'gateway', `server:${bobServerId}`] },
    });
    const absent = await api.request('POST', '/api/tokens', {
      token: alice.full,
      body: {
        scopes: ['gateway', `server:${aliceServerId}`, `server:${missing}`, `server:${huge}`],
      },
    });

    expect(foreign.status).toBe(422);
    expect(foreign.headers.get('content-type')).toContain('application/problem+json');
    expect(foreign.body.detail).toBe(
      `server ${bobServerId} is not one of your servers: a token's server scopes may name only ` +
        'your own servers. No token was created.',
    );
    expect(foreign.body.errors).toEqual([
      { path: 'body.scopes.2', message: `server ${bobServerId} is not one of your servers` },
    ]);
    expect(absent.status).toBe(422);
    expect(absent.body.detail).toContain(
      `server ${missing} is not one of your servers; server ${huge} is not one of your servers:`,
    );
    expect(absent.body.errors.map((e: { path: string }) => e.path)).toEqual([
      'body.scopes.2',
      'body.scopes.3',
    ]);
    expect(await tokenCount()).toBe(before);
  });

  it('lets an admin name only their own servers too', async () => {
    const res = await api.request('POST', '/api/tokens', {
      token: admin.full,
      body: { scopes: ['gateway', `server:${aliceServerId}`] },
    });

    expect(res.status).toBe(422);
    expect(res.body.detail).toContain(`server ${aliceServerId} is not one of your servers`);
  });

  it('refuses scopes on a widget token (400) and creates none', async () => {
    const [before] = await database.db.select({ n: count() }).from(widgetTokens);

    const res = await api.request('POST', '/api/widget-tokens', {
      token: alice.full,
      body: { label: 'w', scopes: ['gateway'] },
    });

    expect(res.status).toBe(400);
    const [after] = await database.db.select({ n: count() }).from(widgetTokens);
    expect(after!.n).toBe(before!.n);
  });

  it('documents scopes and the 403 in the OpenAPI document', async () => {
    const doc = (await api.request('GET', '/api/openapi.json')).body;
    const create = doc.paths['/api/tokens'].post;
    const body = create.requestBody.content['application/json'].schema;
    expect(body.properties.scopes.type).toBe('array');
    expect(create.responses['422']).toBeDefined();
    expect(doc.components.schemas.Token.properties.scopes).toBeDefined();
    expect(doc.components.schemas.CreatedToken.properties.scopes).toBeDefined();
    expect(doc.paths['/api/mcp/servers'].get.responses['403']).toBeDefined();
    expect(doc.paths['/api/status'].get.responses['403']).toBeDefined();
  });
});

/** The status and problem body an upgrade of the status stream was refused with. */
async function streamRefusal(headers: Record<string, string>, protocols: string[] = []) {
  const ws = new WebSocket(`${api.baseUrl.replace('http', 'ws')}/api/status/stream`, protocols, {
    headers,
  });
  return new Promise<{ status: number; body: { detail?: string } }>((resolve, reject) => {
    ws.once('unexpected-response', (_req, res) => {
      let text = '';
      res.on('data', (chunk: Buffer) => (text += chunk.toString('utf8')));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) }));
    });
    ws.once('open', () => reject(new Error('the upgrade was accepted')));
    ws.once('error', () => undefined);
  });
}

/** Opens the status stream and resolves with its first message, then closes it. */
async function streamSnapshot(token: string): Promise<{ type: string }> {
  const ws = new WebSocket(`${api.baseUrl.replace('http', 'ws')}/api/status/stream`, [], {
    headers: { authorization: `Bearer ${token}` },
  });
  try {
    return await new Promise((resolve, reject) => {
      ws.once('message', (data) => resolve(JSON.parse(String(data))));
      ws.once('unexpected-response', (_req, res) => reject(new Error(`${res.statusCode}`)));
      ws.once('error', reject);
    });
  } finally {
    ws.close();
  }
}

describe('a token without the api scope', () => {
  it.each([
    ['GET', '/api/mcp/servers'],
    ['GET', `/api/mcp/servers/${0}/calls`],
    ['GET', '/api/tokens'],
    ['POST', '/api/tokens'],
    ['GET', '/api/widget-tokens'],
    ['GET', '/api/livekit/rooms/room-1/calls'],
  ])('is refused by %s %s with 403 naming its scopes', async (method, path) => {
    const res = await api.request(method, path.replace('/0/', `/${aliceServerId}/`), {
      token: alice.gateway,
      body: method === 'POST' ? {} : undefined,
    });

    expect(res.status).toBe(403);
    expect(res.headers.get('content-type')).toContain('application/problem+json');
    expect(res.body.detail).toBe(GATEWAY_ONLY_DETAIL);
  });

  it('is refused by GET /api/mcp/servers while unrestricted and api tokens list', async () => {
    expect((await api.request('GET', '/api/mcp/servers', { token: alice.gateway })).status).toBe(
      403,
    );
    for (const token of [alice.full, alice.apiOnly]) {
      const res = await api.request('GET', '/api/mcp/servers', { token });
      expect(res.status).toBe(200);
      expect(res.body.items.map((s: { id: number }) => s.id)).toEqual([aliceServerId]);
    }
  });

  it('is refused by GET /api/status, looked up or remembered, while others are answered', async () => {
    // The first request looks the token up; the second finds it in the cache (and the fast
    // path, which answers only tokens allowed the API, hands it to Express).
    for (let i = 0; i < 2; i++) {
      const refused = await api.request('GET', '/api/status', { token: alice.gateway });
      expect(refused.status).toBe(403);
      expect(refused.body.detail).toBe(GATEWAY_ONLY_DETAIL);
      expect(tokens.fresh(alice.gateway)).toBeUndefined();
    }
    for (const token of [alice.full, alice.apiOnly, alice.full]) {
      const res = await api.request('GET', '/api/status', { token });
      expect(res.status).toBe(200);
      expect(res.body.database.status).toBe('connected');
    }
  });

  it('is refused by the status stream with 403, by header or subprotocol', async () => {
    const byHeader = await streamRefusal({ authorization: `Bearer ${alice.gateway}` });
    const byProtocol = await streamRefusal({}, ['switchboard.v1', `bearer.${alice.gateway}`]);

    expect(byHeader).toEqual({ status: 403, body: expect.objectContaining({ status: 403 }) });
    expect(byHeader.body.detail).toBe(GATEWAY_ONLY_DETAIL);
    expect(byProtocol.status).toBe(403);
    expect((await streamSnapshot(alice.full)).type).toBe('snapshot');
    expect((await streamSnapshot(alice.apiOnly)).type).toBe('snapshot');
  });

  it('is refused by /metrics with 403 even for an admin, whose full token still reads them', async () => {
    const refused = await api.request('GET', '/metrics', { token: admin.gateway });
    const allowed = await api.request('GET', '/metrics', { token: admin.full });

    expect(refused.status).toBe(403);
    expect(refused.body.detail).toBe(GATEWAY_ONLY_DETAIL);
    expect(allowed.status).toBe(200);
  });

  it('is refused by GET /api/widget/status with 403', async () => {
    const refused = await api.request('GET', '/api/widget/status', { token: alice.gateway });

    expect(refused.status).toBe(403);
    expect(refused.body.detail).toBe(GATEWAY_ONLY_DETAIL);
    expect((await api.request('GET', '/api/widget/status', { token: alice.full })).status).toBe(
      200,
    );
  });

  it('names every scope it has in the refusal', async () => {
    const token = generateToken();
    await storeToken(database.db, alice.id, token, '', ['gateway', `server:${aliceServerId}`]);

    const res = await api.request('GET', '/api/mcp/servers', { token });

    expect(res.status).toBe(403);
    expect(res.body.detail).toBe(
      `This token is limited to the MCP gateway (scopes: gateway, server:${aliceServerId}); ` +
        'use a token with the api scope for the REST API.',
    );
  });

  it('is not marked used by a refused request', async () => {
    const token = generateToken();
    const id = await storeToken(database.db, alice.id, token, '', ['gateway']);

    expect((await api.request('GET', '/api/mcp/servers', { token })).status).toBe(403);
    expect((await api.request('GET', '/api/status', { token })).status).toBe(403);

    const [row] = await database.db.select().from(apiTokens).where(eq(apiTokens.id, id));
    expect(row!.lastUsedAt).toBeNull();
  });
});

describe('the token helpers', () => {
  it('TokenCache.user refuses a gateway-only token with a ForbiddenError; fresh never returns it', async () => {
    const cache = new TokenCache(database.db);

    await expect(cache.user(alice.gateway)).rejects.toBeInstanceOf(ForbiddenError);
    await expect(cache.user(alice.gateway)).rejects.toThrow(GATEWAY_ONLY_DETAIL);
    expect(cache.fresh(alice.gateway)).toBeUndefined();
    expect((await cache.user(alice.apiOnly))?.id).toBe(alice.id);
    expect(cache.fresh(alice.apiOnly)?.id).toBe(alice.id);
  });

  it('userForToken answers only for tokens allowed the API', async () => {
    expect((await userForToken(database.db, alice.full))?.id).toBe(alice.id);
    expect((await userForToken(database.db, alice.apiOnly))?.id).toBe(alice.id);
    expect(await userForToken(database.db, alice.gateway)).toBeUndefined();
  });
});

describe('authenticateGatewayToken', () => {
  it('finds unrestricted and gateway tokens with their label and servers', async () => {
    const limited = generateToken();
    await storeToken(database.db, alice.id, limited, 'one server', [
      'gateway',
      `server:${aliceServerId}`,
    ]);

    expect(await authenticateGatewayToken(database.db, alice.full)).toEqual({
      user: expect.objectContaining({ id: alice.id }),
      tokenId: expect.any(Number),
      label: 'full',
      servers: null,
    });
    expect(await authenticateGatewayToken(database.db, alice.gateway)).toMatchObject({
      label: 'gateway only',
      servers: null,
    });
    expect(await authenticateGatewayToken(database.db, limited)).toMatchObject({
      label: 'one server',
      servers: [aliceServerId],
    });
    for (const token of [alice.full, alice.gateway, limited]) {
      expect(await gatewayTokenProblem(database.db, token)).toBeUndefined();
    }
  });

  it('refuses api-only, unknown and revoked tokens, telling them apart', async () => {
    const revoked = generateToken();
    const revokedId = await storeToken(database.db, alice.id, revoked, 'gone', ['gateway']);
    await database.db
      .update(apiTokens)
      .set({ revokedAt: new Date() })
      .where(eq(apiTokens.id, revokedId));

    expect(await authenticateGatewayToken(database.db, alice.apiOnly)).toBeUndefined();
    expect(await gatewayTokenProblem(database.db, alice.apiOnly)).toBe('not_gateway');
    expect(await authenticateGatewayToken(database.db, generateToken())).toBeUndefined();
    expect(await gatewayTokenProblem(database.db, generateToken())).toBe('unknown');
    expect(await authenticateGatewayToken(database.db, revoked)).toBeUndefined();
    expect(await gatewayTokenProblem(database.db, revoked)).toBe('unknown');
  });

  it('keeps last_used_at current', async () => {
    const token = generateToken();
    const id = await storeToken(database.db, alice.id, token, '', ['gateway']);
    const lastUsed = async () =>
      (
        await database.db
          .select({ at: apiTokens.lastUsedAt })
          .from(apiTokens)
          .where(eq(apiTokens.id, id))
      )[0]!.at;
    expect(await lastUsed()).toBeNull();

    await gatewayTokenProblem(database.db, token);
    expect(await lastUsed()).toBeNull();
    await authenticateGatewayToken(database.db, token);

    expect(await lastUsed()).toBeInstanceOf(Date);
  });
});

describe('GET /api/mcp/servers/:id/calls', () => {
  it('shows who made each call: the agent, or the gateway with the token label', async () => {
    const server = await remoteServer(alice.id, 'audited');
    const base = { userId: alice.id, serverId: server.id, durationMs: 5, ok: true };
    await recordToolCall(database.db, { ...base, toolName: 'spoken', startedAt: new Date(1000) });
    await recordToolCall(database.db, {
      ...base,
      toolName: 'remote',
      startedAt: new Date(2000),
      source: 'gateway',
      tokenLabel: 'claude desktop',
    });

    const res = await api.request('GET', `/api/mcp/servers/${server.id}/calls`, {
      token: alice.full,
    });

    expect(res.status).toBe(200);
    expect(
      res.body.items.map((c: { toolName: string; source: string; tokenLabel: string | null }) => [
        c.toolName,
        c.source,
        c.tokenLabel,
      ]),
    ).toEqual([
      ['remote', 'gateway', 'claude desktop'],
      ['spoken', 'agent', null],
    ]);
  });
});

describe('failed authentications', () => {
  it('do not count a scope refusal (403) against the address', async () => {
    const limited = await serve(
      sandboxedApp({
        database,
        logger,
        statusSnapshot: snapshot,
        authFailures: new FailedAuthLimiter({ limit: 2 }),
      }),
    );
    try {
      for (let i = 0; i < 4; i++) {
        const res = await limited.request('GET', '/api/tokens', { token: alice.gateway });
        expect(res.status).toBe(403);
      }
      // A token this process never saw authenticate still passes: no failure was counted.
      const fresh = generateToken();
      await storeToken(database.db, alice.id, fresh);
      expect((await limited.request('GET', '/api/tokens', { token: fresh })).status).toBe(200);
    } finally {
      await limited.close();
    }
  });
});
