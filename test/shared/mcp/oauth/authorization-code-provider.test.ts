/**
 * The authorization code provider against a real authorization server (the SDK's `mcpAuthRouter`)
 * and the MCP server it protects, connecting with `McpConnection` as the API and the agent will:
 * the test plays the browser, following the authorization URL to the redirect.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createLogger } from '../../../../shared/logger.js';
import { sandboxedConnection } from '../../../helpers/sandboxed.js';
import { SecretScrubber } from '../../../../shared/mcp/secret-scrubber.js';
import { McpConnectionError } from '../../../../shared/mcp/errors.js';
import {
  AuthorizationCodeProvider,
  InMemoryOAuthFlowStore,
  OAuthCallbackError,
  authorizationRequiredReason,
  type AuthorizationCodeProviderOptions,
} from '../../../../shared/mcp/oauth/index.js';
import type { RemoteServerConfig } from '../../../../shared/mcp/server-config.js';
import {
  approveInBrowser,
  startAuthorizationServer,
  type AuthorizationServer,
  type AuthorizationServerOptions,
} from '../../../helpers/oauth-authorization-server.js';

const logger = createLogger({ level: 'silent' });
/** Where the authorization server sends the browser; nothing listens, the test reads the URL. */
const REDIRECT_URL = 'http://127.0.0.1:9/callback';
const METADATA_URL = 'https://switchboard.example/oauth/client-metadata.json';

const servers: AuthorizationServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) => server.close()));
});

async function start(options: AuthorizationServerOptions = {}): Promise<AuthorizationServer> {
  const server = await startAuthorizationServer(options);
  servers.push(server);
  return server;
}

function config(server: AuthorizationServer): RemoteServerConfig {
  return {
    transport: 'streamable-http',
    url: server.mcpUrl,
    headers: {},
    timeoutMs: 10_000,
  } as RemoteServerConfig;
}

/** A provider whose authorization URLs land in `urls`. */
function provider(
  server: AuthorizationServer,
  options: Partial<AuthorizationCodeProviderOptions> = {},
): { provider: AuthorizationCodeProvider; store: InMemoryOAuthFlowStore; urls: URL[] } {
  const store =
    options.store instanceof InMemoryOAuthFlowStore ? options.store : new InMemoryOAuthFlowStore();
  const urls: URL[] = [];
  const created = new AuthorizationCodeProvider({
    serverUrl: server.mcpUrl,
    store,
    redirectUrl: REDIRECT_URL,
    onRedirect: (url) => {
      urls.push(url);
    },
    ...options,
  });
  return { provider: created, store, urls };
}

/** Connects, lists and calls `echo`; closes whatever happens. */
async function echo(
  server: AuthorizationServer,
  authProvider: AuthorizationCodeProvider,
): Promise<string> {
  const connection = sandboxedConnection(config(server), { logger, authProvider });
  try {
    await connection.connect();
    const result = await connection.callTool('echo', { message: 'hi' });
    return (result.content as { text: string }[])[0]!.text;
  } finally {
    await connection.close();
  }
}

/** The first connection asks for authorization; the browser approves; the redirect completes it. */
async function authorize(
  server: AuthorizationServer,
  flow: ReturnType<typeof provider>,
): Promise<void> {
  const error = await echo(server, flow.provider).catch((e: unknown) => e);
  expect(error).toBeInstanceOf(McpConnectionError);
  expect((error as Error).message).toMatch(/Unauthorized/);
  const redirect = await approveInBrowser(flow.urls.at(-1)!);
  await flow.provider.completeAuthorization(redirect.searchParams);
}

describe('AuthorizationCodeProvider', () => {
  it('registers dynamically, authorizes with PKCE and state, and the server accepts the token', async () => {
    const server = await start({ scopesSupported: ['mcp:tools'] });
    const flow = provider(server, { applicationType: 'native', clientName: 'probe' });
    await authorize(server, flow);
    expect(await echo(server, flow.provider)).toBe('Echo: hi');

    expect(server.registrations).toHaveLength(1);
    expect(server.registrations[0]).toMatchObject({
      client_name: 'probe',
      redirect_uris: [REDIRECT_URL],
      grant_types: ['authorization_code', 'refresh_token'],
    });
    const url = flow.urls[0]!;
    expect(url.searchParams.get('code_challenge_method')).toBe('S256');
    expect(url.searchParams.get('state')).toMatch(/^[\w-]{43}$/);
    expect(url.searchParams.get('scope')).toBe('mcp:tools');
    expect(url.searchParams.get('resource')).toBe(server.mcpUrl);
    expect(server.tokenRequests).toEqual([
      { grantType: 'authorization_code', clientId: server.registrations[0]!.client_id, ok: true },
    ]);
    // The registration is stored under the authorization server that issued it.
    expect(flow.store.clientInformation(server.issuer)).toMatchObject({
      client_id: server.registrations[0]!.client_id,
    });
    expect(flow.store.pendingAuthorization()).toBeUndefined();
  });

  it('uses a pre-registered client without registering', async () => {
    const server = await start({ clients: [{ clientId: 'known', clientSecret: 'known-secret' }] });
    const flow = provider(server, { client: { clientId: 'known', clientSecret: 'known-secret' } });
    await authorize(server, flow);
    expect(await echo(server, flow.provider)).toBe('Echo: hi');
    expect(server.registrations).toHaveLength(0);
    expect(server.authorizations.map((a) => a.clientId)).toEqual(['known']);
    expect(server.tokenRequests.at(-1)).toMatchObject({ clientId: 'known', ok: true });
  });

  it('refuses pre-registered credentials of another authorization server', async () => {
    const server = await start({ clients: [{ clientId: 'known' }] });
    const flow = provider(server, {
      client: { clientId: 'known', authorizationServerUrl: 'https://other.example/' },
    });
    await expect(echo(server, flow.provider)).rejects.toThrow(
      /registered with https:\/\/other\.example\/, but the MCP server names/,
    );
    expect(server.authorizations).toHaveLength(0);
  });

  it('presents its client metadata document URL as client id when the server supports it', async () => {
    const server = await start({ clientIdMetadataDocuments: true });
    const flow = provider(server, { clientMetadataUrl: METADATA_URL });
    await authorize(server, flow);
    expect(await echo(server, flow.provider)).toBe('Echo: hi');
    expect(server.registrations).toHaveLength(0);
    expect(server.authorizations[0]?.clientId).toBe(METADATA_URL);
  });

  it('registers dynamically when the server does not advertise metadata documents', async () => {
    const server = await start();
    const flow = provider(server, { clientMetadataUrl: METADATA_URL });
    await authorize(server, flow);
    expect(server.registrations).toHaveLength(1);
    expect(server.authorizations[0]?.clientId).toBe(server.registrations[0]!.client_id);
  });

  it('never presents a registration to another authorization server', async () => {
    const first = await start();
    const second = await start();
    const store = new InMemoryOAuthFlowStore();
    const flowFor = (server: AuthorizationServer) => {
      const urls: URL[] = [];
      const created = new AuthorizationCodeProvider({
        serverUrl: server.mcpUrl,
        store,
        redirectUrl: REDIRECT_URL,
        onRedirect: (url) => {
          urls.push(url);
        },
      });
      return { provider: created, store, urls };
    };
    await authorize(first, flowFor(first));
    const firstClient = first.registrations[0]!.client_id;
    // The same store, now facing a server whose authorization server is another one.
    await store.invalidate('discovery');
    await authorize(second, flowFor(second));

    expect(second.registrations).toHaveLength(1);
    expect(second.authorizations.map((a) => a.clientId)).toEqual([
      second.registrations[0]!.client_id,
    ]);
    expect(second.authorizations.map((a) => a.clientId)).not.toContain(firstClient);
    expect(store.clientInformation(first.issuer)).toMatchObject({ client_id: firstClient });
    expect(store.clientInformation(second.issuer)).toMatchObject({
      client_id: second.registrations[0]!.client_id,
    });
  });

  it('refreshes an expired access token when the server answers 401', async () => {
    let now = Date.now();
    const server = await start({ accessTokenLifetimeSeconds: 60, now: () => now });
    const flow = provider(server);
    await authorize(server, flow);
    expect(await echo(server, flow.provider)).toBe('Echo: hi');
    now += 61_000;
    expect(await echo(server, flow.provider)).toBe('Echo: hi');
    expect(server.mcpStatuses).toContain(401);
    expect(server.tokenRequests.map((r) => [r.grantType, r.ok])).toEqual([
      ['authorization_code', true],
      ['refresh_token', true],
    ]);
    expect(flow.urls).toHaveLength(1);
  });

  it('refreshes a minute before the access token expires, without waiting for a 401', async () => {
    let now = Date.now();
    const clock = () => now;
    const server = await start({ accessTokenLifetimeSeconds: 3600, now: clock });
    const flow = provider(server, { now: clock, store: new InMemoryOAuthFlowStore(clock) });
    await authorize(server, flow);
    expect(await echo(server, flow.provider)).toBe('Echo: hi');
    now += 3600_000 - 30_000;
    const before = server.mcpStatuses.length;
    expect(await echo(server, flow.provider)).toBe('Echo: hi');
    expect(server.mcpStatuses.slice(before)).not.toContain(401);
    expect(server.tokenRequests.map((r) => [r.grantType, r.ok])).toEqual([
      ['authorization_code', true],
      ['refresh_token', true],
    ]);
  });

  it("teaches the connection's scrubber every token it uses, so errors never quote one", async () => {
    const server = await start();
    const flow = provider(server);
    await authorize(server, flow);
    const scrubber = new SecretScrubber();
    const connection = sandboxedConnection(config(server), {
      logger,
      authProvider: flow.provider,
      scrubber,
    });
    try {
      await connection.connect();
    } finally {
      await connection.close();
    }
    const tokens = (await flow.store.tokens())!;
    expect(scrubber.scrub(`sent ${tokens.access_token} and ${tokens.refresh_token}`)).not.toMatch(
      new RegExp(`${tokens.access_token}|${tokens.refresh_token}`),
    );
  });

  it('refreshes when a token is revoked before it expires', async () => {
    const server = await start();
    const flow = provider(server);
    await authorize(server, flow);
    server.revokeAccessTokens();
    expect(await echo(server, flow.provider)).toBe('Echo: hi');
    expect(server.tokenRequests.at(-1)).toMatchObject({ grantType: 'refresh_token', ok: true });
  });

  it('fails with refresh_failed, and no redirect, when a refresh is refused without a user present', async () => {
    const server = await start();
    const flow = provider(server);
    await authorize(server, flow);
    // The agent's session: the same stored authorization, nobody to send to a browser.
    const session = new AuthorizationCodeProvider({
      serverUrl: server.mcpUrl,
      store: flow.store,
      redirectUrl: REDIRECT_URL,
    });
    server.revokeAccessTokens();
    server.refuseRefreshes();
    const error = await echo(server, session).catch((e: unknown) => e);
    expect(authorizationRequiredReason(error)).toBe('refresh_failed');
    expect(server.tokenRequests.at(-1)).toMatchObject({ grantType: 'refresh_token', ok: false });
  });

  it('fails with authorization_required when nothing was ever authorized and no user is present', async () => {
    const server = await start();
    const session = new AuthorizationCodeProvider({
      serverUrl: server.mcpUrl,
      store: new InMemoryOAuthFlowStore(),
      redirectUrl: REDIRECT_URL,
    });
    const error = await echo(server, session).catch((e: unknown) => e);
    expect(authorizationRequiredReason(error)).toBe('authorization_required');
  });

  it('asks again with the larger scope on 403 insufficient_scope (step-up)', async () => {
    const server = await start({
      scopesSupported: ['mcp:read'],
      toolScopes: { echo: ['mcp:write'] },
    });
    const flow = provider(server);
    await authorize(server, flow);
    await expect(echo(server, flow.provider)).rejects.toThrow(McpConnectionError);
    expect(flow.urls).toHaveLength(2);
    expect(flow.urls[1]!.searchParams.get('scope')).toBe('mcp:read mcp:write');
    const redirect = await approveInBrowser(flow.urls[1]!);
    await flow.provider.completeAuthorization(redirect.searchParams);
    expect(await echo(server, flow.provider)).toBe('Echo: hi');
  });

  it('fails with insufficient_scope on step-up when no user is present', async () => {
    const server = await start({
      scopesSupported: ['mcp:read'],
      toolScopes: { echo: ['mcp:write'] },
    });
    const flow = provider(server);
    await authorize(server, flow);
    const session = new AuthorizationCodeProvider({
      serverUrl: server.mcpUrl,
      store: flow.store,
      redirectUrl: REDIRECT_URL,
    });
    const error = await echo(server, session).catch((e: unknown) => e);
    expect(authorizationRequiredReason(error)).toBe('insufficient_scope');
    // No refresh was tried: it could not have widened the grant.
    expect(server.tokenRequests.map((r) => r.grantType)).toEqual(['authorization_code']);
  });

  it('refuses a redirect whose iss is not the issuer (RFC 9207)', async () => {
    const server = await start({ redirectIss: 'https://attacker.example/' });
    const flow = provider(server);
    await echo(server, flow.provider).catch(() => undefined);
    const redirect = await approveInBrowser(flow.urls[0]!);
    const error = await flow.provider.completeAuthorization(redirect.searchParams).catch((e) => e);
    expect(error).toBeInstanceOf(OAuthCallbackError);
    expect(error).toMatchObject({ code: 'issuer_mismatch' });
    expect(server.tokenRequests).toHaveLength(0);
  });

  it('refuses a redirect without iss when the server says it sends one', async () => {
    const server = await start();
    const flow = provider(server);
    await echo(server, flow.provider).catch(() => undefined);
    const redirect = await approveInBrowser(flow.urls[0]!);
    redirect.searchParams.delete('iss');
    await expect(flow.provider.completeAuthorization(redirect.searchParams)).rejects.toMatchObject({
      code: 'issuer_mismatch',
    });
  });

  it('accepts a redirect without iss from a server that does not send one', async () => {
    const server = await start({ redirectIss: 'none' });
    const flow = provider(server);
    await authorize(server, flow);
    expect(await echo(server, flow.provider)).toBe('Echo: hi');
  });

  it('refuses a redirect whose state is not the request’s, and forgets the request', async () => {
    const server = await start();
    const flow = provider(server);
    await echo(server, flow.provider).catch(() => undefined);
    const redirect = await approveInBrowser(flow.urls[0]!);
    const genuine = new URLSearchParams(redirect.searchParams);
    redirect.searchParams.set('state', 'forged');
    await expect(flow.provider.completeAuthorization(redirect.searchParams)).rejects.toMatchObject({
      code: 'state_mismatch',
    });
    await expect(flow.provider.completeAuthorization(genuine)).rejects.toMatchObject({
      code: 'no_pending_authorization',
    });
    expect(server.tokenRequests).toHaveLength(0);
  });

  it('says in words that the user refused', async () => {
    const server = await start({
      authorizationError: { error: 'access_denied', description: 'The user said no' },
    });
    const flow = provider(server);
    await echo(server, flow.provider).catch(() => undefined);
    const redirect = await approveInBrowser(flow.urls[0]!);
    await expect(flow.provider.completeAuthorization(redirect.searchParams)).rejects.toThrow(
      'the authorization server refused the authorization (access_denied: The user said no)',
    );
  });

  it('rejects a client metadata URL that is not https with a path', () => {
    const store = new InMemoryOAuthFlowStore();
    const make = (clientMetadataUrl: string) =>
      new AuthorizationCodeProvider({
        serverUrl: 'http://127.0.0.1/mcp',
        store,
        redirectUrl: REDIRECT_URL,
        clientMetadataUrl,
      });
    expect(() => make('http://example.com/client.json')).toThrow(/https URL with a path/);
    expect(() => make('https://example.com/')).toThrow(/https URL with a path/);
    expect(() => make(METADATA_URL)).not.toThrow();
  });
});
