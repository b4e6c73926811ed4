/**
 * The MCP gateway's sessions and lists (issue 15): `tools/list` paged by an opaque cursor, at most
 * `maxSessionsPerUser` sessions per user (one more closes the least recently used), idle sessions
 * closed, a revoked token's sessions closed, and two API replicas on one database: a session is
 * known only to the replica that opened it (404 elsewhere, so a client starts a new one), and a
 * server added through one replica reaches the other's sessions. Runs on PGlite, or on Postgres
 * when `DATABASE_URL` is set.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { ToolListChangedNotificationSchema } from '@modelcontextprotocol/sdk/types.js';
import { generateToken, storeToken } from '../../../server/http/auth.js';
import { Gateway, gatewayAuthenticator } from '../../../server/gateway/gateway.js';
import type { DatabaseHandle } from '../../../shared/db/open.js';
import { createServer } from '../../../shared/db/servers.js';
import { createLogger } from '../../../shared/logger.js';
import { createTestUser, openTestDatabase } from '../../helpers/database.js';
import { serve, type TestServer } from '../../helpers/http.js';
import {
  startManyToolsMcpServer,
  type ManyToolsMcpServer,
} from '../../helpers/many-tools-mcp-server.js';
import { sandboxedApp } from '../../helpers/sandboxed.js';

const logger = createLogger({ level: 'silent' });
let database: DatabaseHandle;
let upstream: ManyToolsMcpServer;
const gateways: Gateway[] = [];
const apis: TestServer[] = [];
const clients: Client[] = [];

beforeAll(async () => {
  database = await openTestDatabase();
  upstream = await startManyToolsMcpServer(3, 120);
});

afterAll(async () => {
  await Promise.all(clients.map((client) => client.close().catch(() => undefined)));
  for (const gateway of gateways) await gateway.close();
  for (const api of apis) await api.close();
  await upstream?.close();
  await database?.close();
});

/** A user with a token and `servers` of the many-tools servers. */
async function caller(servers: number[]) {
  const user = await createTestUser(database);
  const token = generateToken();
  await storeToken(database.db, user.id, token);
  for (const n of servers) {
    await createServer(database, {
      userId: user.id,
      name: `Ledger ${n}`,
      transport: 'streamable-http',
      url: upstream.urlOf(n),
    });
  }
  return { user, token };
}

/** An API with its own gateway (a replica), as `server/main.ts` builds it. */
async function replica(options: Partial<ConstructorParameters<typeof Gateway>[0]> = {}) {
  const gateway = new Gateway({
    database,
    logger,
    guards: {},
    publicUrl: 'http://127.0.0.1:3000',
    authenticate: gatewayAuthenticator(database.db),
    ...options,
  });
  gateways.push(gateway);
  const api = await serve(sandboxedApp({ database, logger, gateway }));
  apis.push(api);
  return { gateway, api };
}

async function connect(api: TestServer, token: string): Promise<Client> {
  const client = new Client({ name: 'gateway-sessions-test', version: '1.0.0' });
  await client.connect(
    new StreamableHTTPClientTransport(new URL(`${api.baseUrl}/mcp`), {
      requestInit: { headers: { Authorization: `Bearer ${token}` } },
    }),
  );
  clients.push(client);
  return client;
}

/** Raw `tools/list` in an existing session: the HTTP status only. */
async function statusOf(api: TestServer, token: string, sessionId: string): Promise<number> {
  const res = await fetch(`${api.baseUrl}/mcp`, {
    method: 'POST',
    headers: {
      authorization: `Bearer ${token}`,
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
      'mcp-session-id': sessionId,
      'mcp-protocol-version': '2025-11-25',
    },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'ping' }),
  });
  await res.body?.cancel();
  return res.status;
}

/** Every tool name, following the cursor. */
async function allTools(client: Client): Promise<string[]> {
  const names: string[] = [];
  let cursor: string | undefined;
  do {
    const page = await client.listTools({ cursor });
    names.push(...page.tools.map((tool) => tool.name));
    cursor = page.nextCursor;
  } while (cursor);
  return names;
}

const sessionOf = (client: Client) =>
  (client.transport as StreamableHTTPClientTransport).sessionId!;

describe('gateway lists and sessions', () => {
  it('pages tools/list with an opaque cursor, every tool exactly once', async () => {
    const { api } = await replica();
    const { token } = await caller([0, 1]);
    const client = await connect(api, token);
    const names: string[] = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
      const page = await client.listTools({ cursor });
      expect(page.tools.length).toBeLessThanOrEqual(100);
      names.push(...page.tools.map((tool) => tool.name));
      cursor = page.nextCursor;
      pages++;
    } while (cursor);
    expect(pages).toBe(3);
    expect(names).toHaveLength(240);
    expect(new Set(names).size).toBe(240);
    expect(names[0]).toBe('ledger_0__step_0');
    await expect(client.listTools({ cursor: 'not-ours' })).rejects.toThrow(/Invalid cursor/);
  });

  it("applies each server's tool filter and leaves out user-token servers", async () => {
    const { api } = await replica();
    const { user, token } = await caller([]);
    await createServer(database, {
      userId: user.id,
      name: 'Filtered',
      transport: 'streamable-http',
      url: upstream.urlOf(0),
      toolFilter: { allow: ['step_1', 'step_2'] },
    });
    await createServer(database, {
      userId: user.id,
      name: 'Forwarding',
      transport: 'streamable-http',
      url: upstream.urlOf(1),
      auth: { type: 'user-token' },
    });
    const client = await connect(api, token);
    expect(await allTools(client)).toEqual(['filtered__step_1', 'filtered__step_2']);
  });

  it('counts gateway requests against the per-token rate limit', async () => {
    const gateway = new Gateway({
      database,
      logger,
      guards: {},
      publicUrl: 'http://127.0.0.1:3000',
      authenticate: gatewayAuthenticator(database.db),
    });
    gateways.push(gateway);
    const api = await serve(sandboxedApp({ database, logger, gateway, rateLimitPerMinute: 3 }));
    apis.push(api);
    const { token } = await caller([0]);
    // initialize, notifications/initialized and the event stream's GET count too.
    const client = await connect(api, token);
    let refusal: unknown;
    for (let i = 0; i < 4 && refusal === undefined; i++) {
      await client.ping().catch((error: unknown) => (refusal = error));
    }
    expect(String(refusal)).toMatch(/at most 3 per minute per API token/);
  });

  it('keeps at most maxSessionsPerUser sessions per user, closing the least recently used', async () => {
    const { api, gateway } = await replica({ maxSessionsPerUser: 2 });
    const { token } = await caller([0]);
    const first = await connect(api, token);
    const second = await connect(api, token);
    await second.ping();
    await first.ping();
    // `second` is now the least recently used.
    const third = await connect(api, token);
    expect(await statusOf(api, token, sessionOf(second))).toBe(404);
    expect(await statusOf(api, token, sessionOf(first))).toBe(200);
    expect(await statusOf(api, token, sessionOf(third))).toBe(200);
    expect(gateway.stats.sessions).toBe(2);
  });

  it('answers 503 to a new session past maxSessions, before any user is over their own bound', async () => {
    const { api } = await replica({ maxSessions: 1, maxSessionsPerUser: 1 });
    const one = await caller([0]);
    const two = await caller([0]);
    await connect(api, one.token);
    const res = await fetch(`${api.baseUrl}/mcp`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${two.token}`,
        'content-type': 'application/json',
        accept: 'application/json, text/event-stream',
      },
      body: JSON.stringify({
        jsonrpc: '2.0',
        id: 1,
        method: 'initialize',
        params: {
          protocolVersion: '2025-11-25',
          capabilities: {},
          clientInfo: { name: 'late', version: '1.0.0' },
        },
      }),
    });
    expect(res.status).toBe(503);
    expect(res.headers.get('retry-after')).toBe('60');
    expect(((await res.json()) as { error: { message: string } }).error.message).toMatch(
      /as many sessions as it may/,
    );
    // A user at their own bound replaces their least recently used session instead.
    await connect(api, one.token);
  });

  it('closes a session left idle, and the user’s server connections with the last one', async () => {
    const { api, gateway } = await replica({ sessionIdleMs: 1_000 });
    const { token } = await caller([2]);
    const client = await connect(api, token);
    await client.listTools();
    expect(gateway.stats.users).toBe(1);
    await vi.waitFor(() => expect(gateway.stats.sessions).toBe(0), { timeout: 10_000 });
    expect(gateway.stats.users).toBe(0);
    expect(await statusOf(api, token, sessionOf(client))).toBe(404);
  });

  it("closes a revoked token's sessions at once", async () => {
    const { api, gateway } = await replica();
    const { token } = await caller([0]);
    const created = await api.request('POST', '/api/tokens', { token, body: { label: 'desk' } });
    expect(created.status).toBe(201);
    const client = await connect(api, created.body.token as string);
    await client.listTools();
    const before = gateway.stats.sessions;
    const revoked = await api.request('DELETE', `/api/tokens/${created.body.id}`, { token });
    expect(revoked.status).toBe(204);
    expect(gateway.stats.sessions).toBe(before - 1);
    await expect(client.listTools()).rejects.toThrow(/401|Unauthorized|unknown or revoked/);
  });

  it('works across two replicas: 404 for the other replica’s session, changes reach both', async () => {
    const one = await replica();
    const two = await replica();
    const { user, token } = await caller([0]);
    const client = await connect(one.api, token);
    expect(await allTools(client)).toHaveLength(120);
    // A balancer that sends this session to the other replica gets 404: the client starts anew.
    expect(await statusOf(two.api, token, sessionOf(client))).toBe(404);
    const elsewhere = await connect(two.api, token);
    expect(await allTools(elsewhere)).toHaveLength(120);
    // A server added through replica two's API reaches replica one's session.
    const changed = vi.fn();
    client.setNotificationHandler(ToolListChangedNotificationSchema, changed);
    const added = await two.api.request('POST', '/api/mcp/servers', {
      token,
      body: { name: 'Ledger 1', transport: 'streamable-http', url: upstream.urlOf(1) },
    });
    expect(added.status).toBe(201);
    expect(added.body.userId).toBe(user.id);
    await vi.waitFor(
      async () => {
        expect(changed).toHaveBeenCalled();
        expect(await allTools(client)).toContain('ledger_1__step_0');
      },
      { timeout: 15_000 },
    );
  });
});
