/**
 * `auth` through the servers API: stored whole, returned with its secret masked, kept across
 * updates that omit it, and used for real by the "test" button.
 */
import { generateKeyPairSync } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eq } from 'drizzle-orm';
import type { DatabaseHandle } from '../../../shared/db/open.js';
import { mcpServers, type McpServerRow } from '../../../shared/db/schema.js';
import { openServerSecrets } from '../../../shared/db/server-secrets.js';
import { createLogger } from '../../../shared/logger.js';
import { configFromColumns } from '../../../shared/mcp/index.js';
import { generateToken, storeToken } from '../../../server/http/auth.js';
import { USER_TOKEN_NOTE } from '../../../server/status/monitor.js';
import { createTestUser, openTestDatabase } from '../../helpers/database.js';
import { serve, type TestServer } from '../../helpers/http.js';
import { startOAuthMcpServer, type OAuthMcpServer } from '../../helpers/oauth-mcp-server.js';
import { sandboxedApp, sandboxedMonitor } from '../../helpers/sandboxed.js';

const SECRET = 'client-secret-ending-in-WXYZ';
const CLIENT = { clientId: 'api-client', clientSecret: SECRET };
const privateKey = generateKeyPairSync('ec', { namedCurve: 'P-256' })
  .privateKey.export({ type: 'pkcs8', format: 'pem' })
  .toString();

let database: DatabaseHandle;
let api: TestServer;
let oauth: OAuthMcpServer;
let token: string;

beforeAll(async () => {
  database = await openTestDatabase();
  api = await serve(sandboxedApp({ database, logger: createLogger({ level: 'silent' }) }));
  oauth = await startOAuthMcpServer({ clients: [CLIENT] });
  const user = await createTestUser(database);
  token = generateToken();
  await storeToken(database.db, user.id, token);
});

afterAll(async () => {
  await api?.close();
  await oauth?.close();
  await database?.close();
});

/** The stored row with its sealed secrets opened. */
async function storedRow(id: number): Promise<McpServerRow> {
  const [row] = await database.db.select().from(mcpServers).where(eq(mcpServers.id, id));
  return openServerSecrets(row!, database.secrets);
}

let counter = 0;
async function create(body: Record<string, unknown>) {
  counter += 1;
  return api.request('POST', '/api/mcp/servers', {
    token,
    body: { name: `Auth ${counter}`, transport: 'streamable-http', url: oauth.mcpUrl, ...body },
  });
}

describe('auth through the servers API', () => {
  it('stores client credentials whole and returns them with the secret masked', async () => {
    const auth = { type: 'oauth2-client-credentials', ...CLIENT, scopes: ['mcp:read'] };

    const created = await create({ auth });
    const read = await api.request('GET', `/api/mcp/servers/${created.body.id}`, { token });

    const masked = {
      ...auth,
      clientSecret: { set: true, last4: 'WXYZ' },
      tokenEndpointAuthMethod: 'client_secret_basic',
    };
    expect(created.status).toBe(201);
    expect(created.body.auth).toEqual(masked);
    expect(read.body.auth).toEqual(masked);
    expect(JSON.stringify(read.body)).not.toContain(SECRET);
    const row = await storedRow(created.body.id);
    expect(configFromColumns(row)).toMatchObject({
      auth: { ...auth, tokenEndpointAuthMethod: 'client_secret_basic' },
    });
  });

  it('masks a private key', async () => {
    const created = await create({
      auth: { type: 'oauth2-private-key-jwt', clientId: 'c', privateKey, algorithm: 'ES256' },
    });

    expect(created.status).toBe(201);
    expect(created.body.auth.privateKey).toEqual({ set: true, last4: expect.any(String) });
    expect(JSON.stringify(created.body)).not.toContain('BEGIN PRIVATE KEY');
    expect((await storedRow(created.body.id)).auth).toMatchObject({ privateKey });
  });

  it('returns auth none for a server created without auth', async () => {
    const created = await create({});

    expect(created.body.auth).toEqual({ type: 'none' });
  });

  it('keeps the stored secret when an update sends auth of the same type without it', async () => {
    const created = await create({ auth: { type: 'oauth2-client-credentials', ...CLIENT } });

    const updated = await api.request('PUT', `/api/mcp/servers/${created.body.id}`, {
      token,
      body: { auth: { type: 'oauth2-client-credentials', clientId: 'renamed', scopes: ['x'] } },
    });

    expect(updated.status).toBe(200);
    expect(updated.body.auth).toMatchObject({ clientId: 'renamed', scopes: ['x'] });
    expect((await storedRow(created.body.id)).auth).toMatchObject({
      clientId: 'renamed',
      clientSecret: SECRET,
    });
  });

  it('keeps auth when an update does not mention it, and clears it with auth: null', async () => {
    const created = await create({ auth: { type: 'oauth2-client-credentials', ...CLIENT } });
    const path = `/api/mcp/servers/${created.body.id}`;

    await api.request('PUT', path, { token, body: { description: 'renamed' } });
    const kept = await storedRow(created.body.id);
    await api.request('PUT', path, { token, body: { auth: null } });
    const cleared = await storedRow(created.body.id);

    expect(kept.auth).toMatchObject({ clientSecret: SECRET });
    expect(cleared.auth).toEqual({ type: 'none' });
  });

  it('asks for the secret when an update changes the auth type', async () => {
    const created = await create({ auth: { type: 'oauth2-client-credentials', ...CLIENT } });

    const res = await api.request('PUT', `/api/mcp/servers/${created.body.id}`, {
      token,
      body: { auth: { type: 'oauth2-private-key-jwt', clientId: 'c', algorithm: 'ES256' } },
    });

    expect(res.status).toBe(400);
    expect(res.body.detail).toMatch(/body\.auth\.privateKey is required/);
  });

  it('rejects OAuth on a websocket server with 400 naming auth.type', async () => {
    const res = await create({
      transport: 'websocket',
      url: 'ws://127.0.0.1:1/ws',
      auth: { type: 'oauth2-client-credentials', ...CLIENT },
    });

    expect(res.status).toBe(400);
    expect(res.body.detail).toMatch(/body\.auth\.type: .*not supported over websocket/);
  });

  it('connects the stored OAuth server for real from the test button', async () => {
    const created = await create({ auth: { type: 'oauth2-client-credentials', ...CLIENT } });

    const res = await api.request('POST', `/api/mcp/servers/${created.body.id}/test`, { token });

    expect(res.body).toMatchObject({ status: 'connected', toolCount: 2 });
    expect(oauth.tokenRequests.at(-1)).toMatchObject({ clientId: CLIENT.clientId, status: 200 });
  });
});

describe('user-token servers through the API', () => {
  it('are left to the sessions by the monitor, and tested with a token given in the body', async () => {
    const userServer = await startOAuthMcpServer({
      clients: [],
      staticTokens: ['user-token-5678'],
    });
    const monitor = sandboxedMonitor({
      db: database.db,
      secrets: database.secrets,
      logger: createLogger({ level: 'silent' }),
    });
    try {
      const created = await api.request('POST', '/api/mcp/servers', {
        token,
        body: {
          name: 'Per user',
          transport: 'streamable-http',
          url: userServer.mcpUrl,
          auth: { type: 'user-token' },
        },
      });
      await monitor.sync(created.body.id);
      const shown = await api.request('GET', `/api/mcp/servers/${created.body.id}`, { token });
      expect(shown.body.connectionStatus).toBe('disconnected');
      expect(shown.body.lastError).toBe(USER_TOKEN_NOTE);
      expect(userServer.mcpRequests).toEqual([]);

      const path = `/api/mcp/servers/${created.body.id}/test`;
      const without = await api.request('POST', path, { token });
      expect(without.body).toMatchObject({
        status: 'error',
        error: expect.stringMatching(/no user token/),
      });

      const withToken = await api.request('POST', path, {
        token,
        body: { userToken: 'user-token-5678' },
      });
      expect(withToken.body).toMatchObject({ status: 'connected' });
      expect(withToken.body.toolCount).toBeGreaterThan(0);
      expect(userServer.mcpRequests[0]).toMatchObject({ authorization: 'Bearer user-token-5678' });

      const after = await api.request('GET', `/api/mcp/servers/${created.body.id}`, { token });
      expect(after.body.connectionStatus).toBe('disconnected');
      expect(after.body.metadata.toolCount).toBe(withToken.body.toolCount);

      const badBody = await api.request('POST', path, { token, body: { userToken: 5 } });
      expect(badBody.status).toBe(400);

      // Its tools are listed, pinned and approved only with a user's token (issue 16).
      const tools = `/api/mcp/servers/${created.body.id}/tools`;
      const listed = await api.request('GET', tools, { token });
      expect(listed.status).toBe(422);
      expect(listed.body.detail).toMatch(/each user's own token.*"userToken"/);
      const toolName = withToken.body.tools[0].originalName as string;
      const approveWithout = await api.request('POST', `${tools}/approve`, {
        token,
        body: { tools: [toolName] },
      });
      expect(approveWithout.status).toBe(422);
      const requestsBefore = userServer.mcpRequests.length;
      const approved = await api.request('POST', `${tools}/approve`, {
        token,
        body: { tools: [toolName], userToken: 'user-token-5678' },
      });
      expect(approved.status).toBe(200);
      expect(
        approved.body.find((t: { originalName: string }) => t.originalName === toolName),
      ).toMatchObject({ pinState: 'pinned', withheld: false });
      expect(userServer.mcpRequests.length).toBeGreaterThan(requestsBefore);
      expect(userServer.mcpRequests.at(-1)).toMatchObject({
        authorization: 'Bearer user-token-5678',
      });
      const wrongToken = await api.request('POST', `${tools}/approve`, {
        token,
        body: { tools: [toolName], userToken: 'not-a-token' },
      });
      expect(wrongToken.status).toBe(503);
      const still = await api.request('GET', `/api/mcp/servers/${created.body.id}`, { token });
      // A user-token server's status stays the sessions' (a failed listing is not stored).
      expect(still.body.lastError).toBe(USER_TOKEN_NOTE);
    } finally {
      await monitor.stop();
      await userServer.close();
    }
  });
});
