/**
 * McpConnection against a protected MCP server and a real OAuth authorization server on
 * loopback ports: client credentials with a secret or a private key JWT, discovery or a
 * configured token URL, scopes, tokens that stop working, and the session user's token.
 */
import { generateKeyPairSync } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { createLogger } from '../../../shared/logger.js';
import type { McpConnection } from '../../../shared/mcp/index.js';
import {
  McpConnectionError,
  mcpServerConfigSchema,
  type McpServerConfigInput,
} from '../../../shared/mcp/index.js';
import {
  startOAuthMcpServer,
  type OAuthMcpServer,
  type OAuthMcpServerOptions,
} from '../../helpers/oauth-mcp-server.js';
import { startWebSocketMcpServer } from '../../helpers/websocket-mcp-server.js';
import { sandboxedConnection } from '../../helpers/sandboxed.js';

const logger = createLogger({ level: 'silent' });
const CLIENT = { clientId: 'switchboard-test', clientSecret: 'correct-horse-battery-staple' };

const cleanups: (() => Promise<void>)[] = [];

afterEach(async () => {
  await Promise.all(cleanups.splice(0).map((cleanup) => cleanup()));
});

async function fixture(options: Partial<OAuthMcpServerOptions> = {}): Promise<OAuthMcpServer> {
  const server = await startOAuthMcpServer({ clients: [CLIENT], ...options });
  cleanups.push(() => server.close());
  return server;
}

function connection(input: McpServerConfigInput, userToken?: string): McpConnection {
  const created = sandboxedConnection(mcpServerConfigSchema.parse(input), { logger, userToken });
  cleanups.push(() => created.close());
  return created;
}

async function echo(connection: McpConnection, message: string): Promise<unknown> {
  const result = await connection.callTool('echo', { message });
  return result.content;
}

describe('OAuth client credentials', () => {
  it('gets a token with client_secret_basic from the token endpoint it discovers after a 401', async () => {
    const server = await fixture();
    const mcp = connection({
      transport: 'streamable-http',
      url: server.mcpUrl,
      auth: { type: 'oauth2-client-credentials', ...CLIENT },
    });

    await mcp.connect();

    expect(await echo(mcp, 'hi')).toEqual([{ type: 'text', text: 'Echo: hi' }]);
    expect(server.mcpRequests[0]).toMatchObject({ status: 401, authorization: undefined });
    expect(server.metadataRequests).toEqual(
      expect.arrayContaining([
        '/.well-known/oauth-protected-resource/mcp',
        '/.well-known/oauth-authorization-server',
      ]),
    );
    expect(server.tokenRequests).toEqual([
      expect.objectContaining({
        grantType: 'client_credentials',
        authMethod: 'client_secret_basic',
        clientId: CLIENT.clientId,
        resource: server.mcpUrl,
        status: 200,
      }),
    ]);
  });

  it('sends the client secret in the form body when tokenEndpointAuthMethod is client_secret_post', async () => {
    const server = await fixture();
    const mcp = connection({
      transport: 'streamable-http',
      url: server.mcpUrl,
      auth: {
        type: 'oauth2-client-credentials',
        ...CLIENT,
        tokenEndpointAuthMethod: 'client_secret_post',
      },
    });

    await mcp.connect();

    expect(server.tokenRequests.map((r) => [r.authMethod, r.status])).toEqual([
      ['client_secret_post', 200],
    ]);
  });

  it('authenticates with a private_key_jwt assertion signed by an ES256 key', async () => {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const server = await fixture({ clients: [{ clientId: 'jwt-client', publicKey }] });
    const mcp = connection({
      transport: 'streamable-http',
      url: server.mcpUrl,
      auth: {
        type: 'oauth2-private-key-jwt',
        clientId: 'jwt-client',
        privateKey: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
        algorithm: 'ES256',
      },
    });

    await mcp.connect();

    expect(await echo(mcp, 'signed')).toEqual([{ type: 'text', text: 'Echo: signed' }]);
    expect(server.tokenRequests).toEqual([
      expect.objectContaining({
        authMethod: 'private_key_jwt',
        clientId: 'jwt-client',
        assertionAudience: server.issuer,
        status: 200,
      }),
    ]);
  });

  it('uses a configured tokenUrl without fetching authorization server metadata', async () => {
    const server = await fixture({
      serveAuthorizationServerMetadata: false,
      tokenPath: '/oauth2/v1/token',
    });
    const mcp = connection({
      transport: 'streamable-http',
      url: server.mcpUrl,
      auth: { type: 'oauth2-client-credentials', ...CLIENT, tokenUrl: server.tokenUrl },
    });

    await mcp.connect();

    expect(server.tokenRequests.map((r) => r.status)).toEqual([200]);
    expect(server.metadataRequests.filter((path) => !path.includes('protected-resource'))).toEqual(
      [],
    );
  });

  it('asks the token endpoint for the configured scopes', async () => {
    const server = await fixture();
    const mcp = connection({
      transport: 'streamable-http',
      url: server.mcpUrl,
      auth: { type: 'oauth2-client-credentials', ...CLIENT, scopes: ['mcp:read', 'tickets:write'] },
    });

    await mcp.connect();
    const whoami = await mcp.callTool('whoami', {});

    expect(server.tokenRequests.map((r) => r.scope)).toEqual(['mcp:read tickets:write']);
    expect(whoami.content).toEqual([
      { type: 'text', text: `${CLIENT.clientId} mcp:read tickets:write` },
    ]);
  });

  it.each([
    ['expires', (_server: OAuthMcpServer, advance: (ms: number) => void) => advance(61_000)],
    ['is revoked', (server: OAuthMcpServer) => server.revokeTokens()],
  ])(
    'answers 401 when its token %s, then fetches a new token and the call succeeds',
    async (_case, invalidate) => {
      let offsetMs = 0;
      const server = await fixture({ tokenLifetimeSeconds: 60, now: () => Date.now() + offsetMs });
      const mcp = connection({
        transport: 'streamable-http',
        url: server.mcpUrl,
        auth: { type: 'oauth2-client-credentials', ...CLIENT },
      });
      await mcp.connect();
      expect(await echo(mcp, 'first')).toEqual([{ type: 'text', text: 'Echo: first' }]);
      const before = server.mcpRequests.length;

      invalidate(server, (ms) => (offsetMs += ms));

      expect(await echo(mcp, 'second')).toEqual([{ type: 'text', text: 'Echo: second' }]);
      expect(server.mcpRequests.slice(before).map((r) => r.status)).toEqual([401, 200]);
      expect(server.tokenRequests.map((r) => r.status)).toEqual([200, 200]);
      expect(mcp.status).toBe('connected');
    },
  );

  it('fails to connect with an error naming invalid_client when the secret is wrong', async () => {
    const server = await fixture();
    const mcp = connection({
      transport: 'streamable-http',
      url: server.mcpUrl,
      auth: { type: 'oauth2-client-credentials', ...CLIENT, clientSecret: 'wrong-secret' },
    });

    const error = await mcp.connect().catch((caught: unknown) => caught);

    expect(error).toBeInstanceOf(McpConnectionError);
    expect((error as McpConnectionError).code).toBe('connect_failed');
    expect((error as McpConnectionError).message).toMatch(
      /OAuth authorization failed: the authorization server answered invalid_client \(Client authentication failed\)/,
    );
    expect(mcp.status).toBe('error');
    expect(server.mcpRequests.every((r) => r.status === 401)).toBe(true);
  });
});

describe('user token', () => {
  it('sends the user token as Authorization: Bearer and X-User-Token over Streamable HTTP', async () => {
    const server = await fixture({ staticTokens: ['user-token-1234'] });
    const mcp = connection(
      { transport: 'streamable-http', url: server.mcpUrl, auth: { type: 'user-token' } },
      'user-token-1234',
    );

    await mcp.connect();
    await echo(mcp, 'as user');

    expect(server.mcpRequests.length).toBeGreaterThan(1);
    for (const request of server.mcpRequests) {
      expect(request).toMatchObject({
        authorization: 'Bearer user-token-1234',
        userToken: 'user-token-1234',
      });
      expect(request.status).not.toBe(401);
    }
    expect(server.tokenRequests).toEqual([]);
  });

  it('sends the user token as headers over WebSocket', async () => {
    const ws = await startWebSocketMcpServer({
      authorization: 'Bearer ws-user-token',
      'x-user-token': 'ws-user-token',
    });
    cleanups.push(() => ws.close());
    const mcp = connection(
      { transport: 'websocket', url: ws.url, auth: { type: 'user-token' } },
      'ws-user-token',
    );

    await mcp.connect();

    expect(ws.acceptedHeaders).toHaveLength(1);
  });

  it('refuses to connect without a user token, saying why, before sending anything', async () => {
    const server = await fixture({ staticTokens: ['user-token-1234'] });
    const mcp = connection({
      transport: 'streamable-http',
      url: server.mcpUrl,
      auth: { type: 'user-token' },
    });

    const error = await mcp.connect().catch((caught: unknown) => caught);

    expect(error).toBeInstanceOf(McpConnectionError);
    expect((error as McpConnectionError).message).toMatch(/auth is user-token.*no user token/);
    expect(server.mcpRequests).toEqual([]);
  });
});
