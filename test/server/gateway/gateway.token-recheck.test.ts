/**
 * The gateway's token look-ups (issue 15): while a token has a session open, its requests are
 * not looked up again within `tokenRecheckMs`; a revocation through the API still closes the
 * session and refuses the token at once, and a token found revoked at a later look-up (revoked
 * where this process was not told) closes its sessions too. Runs on PGlite, or on Postgres when
 * `DATABASE_URL` is set.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { eq } from 'drizzle-orm';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { generateToken, hashToken, storeToken } from '../../../server/http/auth.js';
import {
  Gateway,
  gatewayAuthenticator,
  type GatewayAuthenticate,
  type GatewayOptions,
} from '../../../server/gateway/gateway.js';
import type { DatabaseHandle } from '../../../shared/db/open.js';
import { apiTokens, type User } from '../../../shared/db/schema.js';
import { createLogger } from '../../../shared/logger.js';
import { createTestUser, openTestDatabase } from '../../helpers/database.js';
import { serve, type TestServer } from '../../helpers/http.js';
import { sandboxedApp, sandboxedGuards } from '../../helpers/sandboxed.js';

const logger = createLogger({ level: 'silent' });
let database: DatabaseHandle;
let user: User;
/** Every token handed to the gateway's authenticator, in order. */
const lookups: string[] = [];
const opened: { gateway: Gateway; api: TestServer; clients: Client[] }[] = [];

beforeAll(async () => {
  database = await openTestDatabase();
  user = await createTestUser(database);
});

afterEach(async () => {
  for (const { gateway, api, clients } of opened.splice(0)) {
    await Promise.all(clients.map((client) => client.close().catch(() => undefined)));
    await gateway.close();
    await api.close();
  }
  lookups.length = 0;
});

afterAll(async () => {
  await database?.close();
});

async function newToken(): Promise<{ token: string; id: number }> {
  const token = generateToken();
  return { token, id: await storeToken(database.db, user.id, token) };
}

/** The app with a gateway whose authenticator records each look-up. */
async function start(options: Partial<GatewayOptions> = {}) {
  const real = gatewayAuthenticator(database.db);
  const authenticate: GatewayAuthenticate = (token) => {
    lookups.push(token);
    return real(token);
  };
  const gateway = new Gateway({
    database,
    logger,
    guards: sandboxedGuards(),
    publicUrl: 'http://127.0.0.1:3000',
    authenticate,
    ...options,
  });
  const api = await serve(sandboxedApp({ database, logger, gateway }));
  const entry = { gateway, api, clients: [] as Client[] };
  opened.push(entry);
  const connect = async (token: string) => {
    const client = new Client({ name: 'token-recheck-test', version: '1.0.0' });
    const transport = new StreamableHTTPClientTransport(new URL(`${api.baseUrl}/mcp`), {
      requestInit: { headers: { Authorization: `Bearer ${token}` } },
    });
    await client.connect(transport);
    entry.clients.push(client);
    return client;
  };
  /** A fresh initialize with `token`: its HTTP status. */
  const initializeStatus = async (token: string) => {
    const response = await fetch(`${api.baseUrl}/mcp`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${token}`,
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
          clientInfo: { name: 'raw', version: '1.0.0' },
        },
      }),
    });
    await response.body?.cancel();
    return response.status;
  };
  return { gateway, api, connect, initializeStatus };
}

describe('gateway token look-ups', () => {
  it('looks a token with an open session up once, not on each request', async () => {
    const { token } = await newToken();
    const { connect } = await start();
    const client = await connect(token);
    const afterConnect = lookups.length;
    expect(afterConnect).toBeGreaterThanOrEqual(1);
    for (let i = 0; i < 5; i++) await client.listTools();
    await client.ping();
    expect(lookups.length).toBe(afterConnect);
  });

  it('looks every request up with tokenRecheckMs 0', async () => {
    const { token } = await newToken();
    const { connect } = await start({ tokenRecheckMs: 0 });
    const client = await connect(token);
    const afterConnect = lookups.length;
    for (let i = 0; i < 3; i++) await client.listTools();
    // The client's GET stream may also be opened meanwhile: one look-up more.
    expect(lookups.length).toBeGreaterThanOrEqual(afterConnect + 3);
  });

  it('closes the session and refuses the token at once when it is revoked through the API', async () => {
    const { token, id } = await newToken();
    const { gateway, api, connect, initializeStatus } = await start();
    const client = await connect(token);
    await client.listTools();
    expect(gateway.stats.sessions).toBe(1);

    const revoked = await api.request('DELETE', `/api/tokens/${id}`, { token });
    expect(revoked.status).toBe(204);
    expect(gateway.stats.sessions).toBe(0);
    await expect(client.listTools()).rejects.toThrow();
    expect(await initializeStatus(token)).toBe(401);
  });

  it('closes the sessions of a token found revoked at a later look-up', async () => {
    const { token, id } = await newToken();
    const { gateway, connect, initializeStatus } = await start({ tokenRecheckMs: 0 });
    const client = await connect(token);
    await client.listTools();
    expect(gateway.stats.sessions).toBe(1);

    // Revoked where this process is not told (another replica, or by hand).
    await database.db.update(apiTokens).set({ revokedAt: new Date() }).where(eq(apiTokens.id, id));
    await expect(client.listTools()).rejects.toThrow(/401|Unauthorized|invalid_token/i);
    await vi.waitFor(() => expect(gateway.stats.sessions).toBe(0));
    expect(await initializeStatus(token)).toBe(401);
  });

  it("forgets one token's sessions without the other's, and a token without sessions is looked up again", async () => {
    const first = await newToken();
    const second = await newToken();
    const { gateway, connect, initializeStatus } = await start();
    const a = await connect(first.token);
    const b = await connect(second.token);
    expect(gateway.stats.sessions).toBe(2);
    gateway.forgetToken(hashToken(first.token));
    expect(gateway.stats.sessions).toBe(1);
    await expect(a.listTools()).rejects.toThrow();
    await expect(b.listTools()).resolves.toBeDefined();

    // The token's last session ended: its next request is looked up.
    await (b.transport as StreamableHTTPClientTransport).terminateSession();
    expect(gateway.stats.sessions).toBe(0);
    const before = lookups.length;
    expect(await initializeStatus(second.token)).toBe(200);
    expect(lookups.length).toBe(before + 1);
  });
});
