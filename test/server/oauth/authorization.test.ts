/**
 * Connecting accounts on `oauth` servers through the API (issue 13), against a local
 * authorization server built on the SDK's own server side (test/helpers/oauth-authorization-
 * server.ts) fronting a real MCP server that verifies its tokens: dynamic registration,
 * pre-registered clients, the Client ID Metadata Document, the single-use browser-bound state,
 * RFC 9207 `iss`, errors in words, Test with the stored tokens, refresh, a refused refresh that
 * leaves `needs_authorization` until the user reconnects, and disconnecting with revocation.
 * Runs on Postgres and on PGlite.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { eq } from 'drizzle-orm';
import { findOAuthConnection } from '../../../shared/db/oauth.js';
import type { DatabaseHandle } from '../../../shared/db/open.js';
import { oauthConnections, oauthFlows } from '../../../shared/db/schema.js';
import { createLogger } from '../../../shared/logger.js';
import { generateToken, storeToken } from '../../../server/http/auth.js';
import { createTestUser, openTestDatabase } from '../../helpers/database.js';
import { serve, type TestServer } from '../../helpers/http.js';
import { freePort } from '../../helpers/mcp-processes.js';
import {
  approveInBrowser,
  startAuthorizationServer,
  type AuthorizationServer,
  type AuthorizationServerOptions,
} from '../../helpers/oauth-authorization-server.js';
import { sandboxedApp } from '../../helpers/sandboxed.js';

const logger = createLogger({ level: 'silent' });
let database: DatabaseHandle;
let api: TestServer;
let publicUrl: string;
let alice: { id: number; token: string };
let bob: { id: number; token: string };
const authorizationServers: AuthorizationServer[] = [];

async function account() {
  const row = await createTestUser(database);
  const token = generateToken();
  await storeToken(database.db, row.id, token);
  return { id: row.id, token };
}

beforeAll(async () => {
  database = await openTestDatabase();
  alice = await account();
  bob = await account();
  const port = await freePort();
  publicUrl = `http://127.0.0.1:${port}`;
  api = await serve(sandboxedApp({ database, logger, publicUrl }), port);
});

afterAll(async () => {
  await api?.close();
  await Promise.all(authorizationServers.map((server) => server.close()));
  await database?.close();
});

async function authorizationServer(options: AuthorizationServerOptions = {}) {
  const server = await startAuthorizationServer(options);
  authorizationServers.push(server);
  return server;
}

let serverCount = 0;
async function oauthServer(
  as: AuthorizationServer,
  user = alice,
  auth: Record<string, unknown> = { type: 'oauth' },
) {
  serverCount += 1;
  const created = await api.request('POST', '/api/mcp/servers', {
    token: user.token,
    body: { name: `Tracker ${serverCount}`, transport: 'streamable-http', url: as.mcpUrl, auth },
  });
  expect(created.status).toBe(201);
  return created.body as { id: number; name: string };
}

/** The browser: its cookies for the API, kept between requests as a browser would. */
class Browser {
  cookies = new Map<string, string>();

  remember(response: Response) {
    for (const line of response.headers.getSetCookie()) {
      const [pair] = line.split(';');
      const at = pair!.indexOf('=');
      this.cookies.set(pair!.slice(0, at), pair!.slice(at + 1));
    }
  }

  header() {
    return [...this.cookies].map(([name, value]) => `${name}=${value}`).join('; ');
  }

  /** Presses Connect account: `POST …/oauth/start` with the user's API token. */
  async start(serverId: number, user = alice) {
    const response = await fetch(`${api.baseUrl}/api/mcp/servers/${serverId}/oauth/start`, {
      method: 'POST',
      headers: { authorization: `Bearer ${user.token}`, cookie: this.header() },
    });
    this.remember(response);
    // eslint-disable-next-line @typescript-eslint/no-explicit-any -- the JSON answer, checked by the tests
    return { status: response.status, body: (await response.json()) as any };
  }

  /** Arrives at the callback the authorization server redirected to; returns the fragment. */
  async callback(redirect: URL) {
    expect(`${redirect.origin}${redirect.pathname}`).toBe(`${publicUrl}/api/oauth/callback`);
    const response = await fetch(`${api.baseUrl}${redirect.pathname}${redirect.search}`, {
      redirect: 'manual',
      headers: { cookie: this.header() },
    });
    expect(response.status).toBe(302);
    const location = response.headers.get('location') ?? '';
    expect(location).toMatch(/^\/dashboard\/#\/servers\?/);
    return Object.fromEntries(new URLSearchParams(location.split('?')[1]));
  }

  /** The whole of Connect account, approving at the authorization server. */
  async connect(serverId: number, user = alice) {
    const started = await this.start(serverId, user);
    expect(started.body).toMatchObject({ authorizationUrl: expect.any(String) });
    return this.callback(await approveInBrowser(started.body.authorizationUrl));
  }
}

async function serverRow(id: number, user = alice) {
  return (await api.request('GET', `/api/mcp/servers/${id}`, { token: user.token })).body;
}

async function test(id: number, user = alice) {
  return (await api.request('POST', `/api/mcp/servers/${id}/test`, { token: user.token, body: {} }))
    .body;
}

afterEach(async () => {
  await database.db.delete(oauthFlows);
});

describe(`connecting an account on ${process.env.DATABASE_URL ? 'Postgres' : 'PGlite'}`, () => {
  it('registers by DCR, sends PKCE S256, state and resource, and stores the tokens sealed', async () => {
    const as = await authorizationServer({ scopesSupported: ['tracker:read'] });
    const server = await oauthServer(as);
    // Before: the server says to connect the account.
    expect((await test(server.id)).error).toMatch(/connect the account/);
    expect((await serverRow(server.id)).connectionStatus).toBe('needs_authorization');

    const browser = new Browser();
    const started = await browser.start(server.id);
    expect(started.status).toBe(200);
    const url = new URL(started.body.authorizationUrl);
    expect(url.searchParams.get('code_challenge_method')).toBe('S256');
    expect(url.searchParams.get('code_challenge')).toMatch(/^[\w-]{43}$/);
    expect(url.searchParams.get('state')).toMatch(/^[\w-]{43}$/);
    expect(url.searchParams.get('resource')).toBe(as.mcpUrl);
    expect(url.searchParams.get('scope')).toBe('tracker:read');
    expect(url.searchParams.get('redirect_uri')).toBe(`${publicUrl}/api/oauth/callback`);
    // The browser's cookie: HttpOnly, for the callback only.
    expect([...browser.cookies.keys()]).toEqual(['sb_oauth_browser']);
    expect(as.registrations).toHaveLength(1);
    // (`application_type: web` is sent too; the SDK's registration handler keeps only the
    // RFC 7591 fields.)
    expect(as.registrations[0]).toMatchObject({
      redirect_uris: [`${publicUrl}/api/oauth/callback`],
      client_name: 'Switchboard',
    });

    const outcome = await browser.callback(await approveInBrowser(url));
    expect(outcome).toEqual({ oauth: 'connected', server: String(server.id), name: server.name });

    const stored = await findOAuthConnection(database.db, database.secrets, server.id);
    expect(stored?.tokens?.access_token).toEqual(expect.any(String));
    expect(stored?.issuer).toBe(as.issuer);
    const [raw] = await database.db
      .select()
      .from(oauthConnections)
      .where(eq(oauthConnections.serverId, server.id));
    expect(raw!.tokens).toMatch(/^sb:v1:/);
    expect(raw!.tokens).not.toContain(String(stored!.tokens!.access_token));

    // Test connects with the tokens and lists the tools.
    const tested = await test(server.id);
    expect(tested.status).toBe('connected');
    expect(tested.tools.map((tool: { originalName: string }) => tool.originalName)).toEqual([
      'echo',
      'whoami',
    ]);
    expect((await serverRow(server.id)).connectionStatus).toBe('connected');
    // The secret never reaches the API's answers.
    expect(JSON.stringify(await serverRow(server.id))).not.toContain(
      String(stored!.tokens!.access_token),
    );
  });

  it('uses a pre-registered client instead of registering, with its secret', async () => {
    const redirect = `${publicUrl}/api/oauth/callback`;
    const as = await authorizationServer({
      clients: [{ clientId: 'preset', clientSecret: 'preset-secret', redirectUris: [redirect] }],
    });
    const server = await oauthServer(as, alice, {
      type: 'oauth',
      clientId: 'preset',
      clientSecret: 'preset-secret',
      tokenEndpointAuthMethod: 'client_secret_post',
    });
    expect((await new Browser().connect(server.id)).oauth).toBe('connected');
    expect(as.registrations).toEqual([]);
    expect(as.tokenRequests).toEqual([
      { grantType: 'authorization_code', clientId: 'preset', ok: true },
    ]);
    expect((await serverRow(server.id)).auth).toEqual({
      type: 'oauth',
      clientId: 'preset',
      clientSecret: { set: true, last4: 'cret' },
      tokenEndpointAuthMethod: 'client_secret_post',
    });
  });

  it('reuses a registration for the same authorization server, never for another', async () => {
    const first = await authorizationServer();
    const second = await authorizationServer();
    const a = await oauthServer(first);
    const b = await oauthServer(first, bob);
    const c = await oauthServer(second);
    for (const [server, user] of [
      [a, alice],
      [b, bob],
      [c, alice],
    ] as const) {
      expect((await new Browser().connect(server.id, user)).oauth).toBe('connected');
    }
    expect(first.registrations).toHaveLength(1);
    expect(second.registrations).toHaveLength(1);
    expect(second.tokenRequests.map((request) => request.clientId)).toEqual([
      second.registrations[0]!.client_id,
    ]);
  });

  it('refuses a replayed or expired state, a callback in another browser, and one for nobody', async () => {
    const as = await authorizationServer();
    const server = await oauthServer(as);
    const browser = new Browser();
    const started = await browser.start(server.id);
    const redirect = await approveInBrowser(started.body.authorizationUrl);

    // Another user, in their own browser with their own authorization cookie, cannot finish
    // it; nor can a browser without one. Either uses it up.
    const bobBrowser = new Browser();
    expect((await bobBrowser.start((await oauthServer(as, bob)).id, bob)).status).toBe(200);
    const stranger = await bobBrowser.callback(redirect);
    expect(stranger.oauth).toBe('other_browser');
    expect(stranger.message).toMatch(/started in another browser/);
    const replay = await browser.callback(redirect);
    expect(replay.oauth).toBe('unknown_state');
    expect(replay.message).toMatch(/used already, has expired/);
    expect(await findOAuthConnection(database.db, database.secrets, server.id)).toMatchObject({
      tokens: null,
    });
    expect(as.tokenRequests).toEqual([]);

    // One whose 10 minutes are over.
    const late = await browser.start(server.id);
    const lateRedirect = await approveInBrowser(late.body.authorizationUrl);
    await database.db.update(oauthFlows).set({ expiresAt: new Date(Date.now() - 1000) });
    const expired = await browser.callback(lateRedirect);
    expect(expired.oauth).toBe('unknown_state');
    expect(
      await database.db.select().from(oauthFlows).where(eq(oauthFlows.serverId, server.id)),
    ).toEqual([]);

    // A callback with no state at all.
    const bare = await browser.callback(new URL(`${publicUrl}/api/oauth/callback?code=x`));
    expect(bare.oauth).toBe('missing_state');
  });

  it("refuses an iss that is not the authorization server's (RFC 9207)", async () => {
    const as = await authorizationServer({ redirectIss: 'https://evil.example.com/' });
    const server = await oauthServer(as);
    const outcome = await new Browser().connect(server.id);
    expect(outcome.oauth).toBe('issuer_mismatch');
    expect(outcome.message).toContain('https://evil.example.com/');
    expect(as.tokenRequests).toEqual([]);
  });

  it('says in words what the authorization server answered when the user refused', async () => {
    const as = await authorizationServer({
      authorizationError: { error: 'access_denied', description: 'The user said no' },
    });
    const server = await oauthServer(as);
    const outcome = await new Browser().connect(server.id);
    expect(outcome).toMatchObject({
      oauth: 'access_denied',
      message:
        'the authorization server refused the authorization (access_denied: The user said no)',
    });
  });

  it('refreshes expired tokens, and after a refused refresh needs authorization until reconnected', async () => {
    const as = await authorizationServer();
    const server = await oauthServer(as);
    await new Browser().connect(server.id);
    expect((await test(server.id)).status).toBe('connected');

    // The access token is refused (401): Test refreshes and connects.
    as.revokeAccessTokens();
    expect((await test(server.id)).status).toBe('connected');
    expect(as.tokenRequests.map((request) => `${request.grantType}:${request.ok}`)).toEqual([
      'authorization_code:true',
      'refresh_token:true',
    ]);

    // The refresh token is revoked too: the server needs the account connected again.
    as.revokeAccessTokens();
    as.refuseRefreshes();
    const refused = await test(server.id);
    expect(refused.status).toBe('error');
    expect(refused.error).toMatch(/connect(ed)? (the account )?again/i);
    const row = await serverRow(server.id);
    expect(row.connectionStatus).toBe('needs_authorization');
    expect(row.lastError).toMatch(/again/);

    // Reconnecting brings it back.
    expect((await new Browser().connect(server.id)).oauth).toBe('connected');
    expect((await test(server.id)).status).toBe('connected');
    expect((await serverRow(server.id)).connectionStatus).toBe('connected');
  });

  it('disconnects: revokes at the authorization server, deletes the tokens, needs authorization', async () => {
    const as = await authorizationServer();
    const server = await oauthServer(as);
    await new Browser().connect(server.id);
    const stored = await findOAuthConnection(database.db, database.secrets, server.id);

    const disconnected = await api.request('DELETE', `/api/mcp/servers/${server.id}/oauth`, {
      token: alice.token,
    });
    expect(disconnected.status).toBe(200);
    expect(disconnected.body).toMatchObject({ revoked: true, detail: expect.any(String) });
    expect(as.revocations).toEqual([
      { token: stored!.tokens!.refresh_token, clientId: as.registrations[0]!.client_id },
    ]);
    expect(await findOAuthConnection(database.db, database.secrets, server.id)).toBeUndefined();
    const row = await serverRow(server.id);
    expect(row.connectionStatus).toBe('needs_authorization');
    expect(row.lastError).toMatch(/Connect your account/);
  });

  it("answers 404 for another user's server, 409 for a server without oauth", async () => {
    const as = await authorizationServer();
    const server = await oauthServer(as);
    const theirs = await new Browser().start(server.id, bob);
    expect(theirs.status).toBe(404);
    const plain = await api.request('POST', '/api/mcp/servers', {
      token: alice.token,
      body: { name: 'Plain', transport: 'streamable-http', url: as.mcpUrl },
    });
    const refused = await new Browser().start(plain.body.id);
    expect(refused.status).toBe(409);
    expect(refused.body.detail).toMatch(/does not use OAuth accounts/);
    const gone = await api.request('DELETE', `/api/mcp/servers/${plain.body.id}/oauth`, {
      token: alice.token,
    });
    expect(gone.status).toBe(409);
  });

  it('presents its Client ID Metadata Document, served at PUBLIC_URL, when the server supports it', async () => {
    const secure = 'https://switchboard.example.com';
    const as = await authorizationServer({
      clientIdMetadataDocuments: true,
      metadataDocumentRedirectUris: [`${secure}/api/oauth/callback`],
    });
    const port = await freePort();
    const httpsApi = await serve(sandboxedApp({ database, logger, publicUrl: secure }), port);
    try {
      const document = await httpsApi.request('GET', '/oauth/client-metadata.json');
      expect(document.status).toBe(200);
      expect(document.body).toEqual({
        client_id: `${secure}/oauth/client-metadata.json`,
        client_name: 'Switchboard',
        client_uri: secure,
        redirect_uris: [`${secure}/api/oauth/callback`],
        grant_types: ['authorization_code', 'refresh_token'],
        response_types: ['code'],
        token_endpoint_auth_method: 'none',
        application_type: 'web',
      });

      const created = await httpsApi.request('POST', '/api/mcp/servers', {
        token: alice.token,
        body: {
          name: 'Cimd',
          transport: 'streamable-http',
          url: as.mcpUrl,
          auth: { type: 'oauth' },
        },
      });
      const started = await fetch(
        `${httpsApi.baseUrl}/api/mcp/servers/${created.body.id}/oauth/start`,
        {
          method: 'POST',
          headers: { authorization: `Bearer ${alice.token}` },
        },
      );
      const cookie = started.headers.getSetCookie()[0]!;
      // Over an https PUBLIC_URL the cookie is Secure.
      expect(cookie).toMatch(/; Secure/i);
      const { authorizationUrl } = (await started.json()) as { authorizationUrl: string };
      expect(new URL(authorizationUrl).searchParams.get('client_id')).toBe(
        `${secure}/oauth/client-metadata.json`,
      );
      const redirect = await approveInBrowser(authorizationUrl);
      expect(redirect.origin).toBe(secure);
      // The browser reaches PUBLIC_URL: here, the API behind it.
      const back = await fetch(`${httpsApi.baseUrl}${redirect.pathname}${redirect.search}`, {
        redirect: 'manual',
        headers: { cookie: cookie.split(';')[0]! },
      });
      expect(back.headers.get('location')).toMatch(/oauth=connected/);
      expect(as.registrations).toEqual([]);
      expect(as.tokenRequests).toEqual([
        {
          grantType: 'authorization_code',
          clientId: `${secure}/oauth/client-metadata.json`,
          ok: true,
        },
      ]);
    } finally {
      await httpsApi.close();
    }
  });

  it('serves no Client ID Metadata Document without an https PUBLIC_URL', async () => {
    const missing = await api.request('GET', '/oauth/client-metadata.json');
    expect(missing.status).toBe(404);
    expect(missing.body.detail).toMatch(/PUBLIC_URL is an https URL/);
  });
});
