/**
 * A protected MCP server and its OAuth authorization server, each on its own loopback port:
 *
 * - the authorization server serves RFC 8414 metadata and a token endpoint for the client
 *   credentials grant (RFC 6749 §4.4), authenticating clients with `client_secret_basic`,
 *   `client_secret_post` (RFC 6749 §2.3.1) or `private_key_jwt` (RFC 7523 §2.2, verified with
 *   node:crypto), and issuing short-lived opaque bearer tokens;
 * - the MCP server (the SDK's `McpServer` over a stateless `StreamableHTTPServerTransport`)
 *   serves RFC 9728 protected resource metadata and answers `/mcp` requests without a valid
 *   token with 401 and `WWW-Authenticate: Bearer resource_metadata="..."` (MCP spec 2025-11-25,
 *   "Authorization").
 *
 * Everything the client sends is recorded, so tests can check what reached which endpoint.
 */
import { randomBytes, verify, constants, type KeyObject } from 'node:crypto';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express, { type Request, type Response } from 'express';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { z } from 'zod';

/** A client the authorization server knows. */
export interface FixtureClient {
  clientId: string;
  /** For `client_secret_basic` and `client_secret_post`. */
  clientSecret?: string;
  /** For `private_key_jwt`: the key that verifies the client's assertions. */
  publicKey?: KeyObject;
}

/** Options of {@link startOAuthMcpServer}. */
export interface OAuthMcpServerOptions {
  clients: FixtureClient[];
  /** `expires_in` of issued tokens, in seconds; default 60. */
  tokenLifetimeSeconds?: number;
  /** Path of the token endpoint; default `/token`. */
  tokenPath?: string;
  /** Serve RFC 8414 metadata; default true. Without it only a configured token URL works. */
  serveAuthorizationServerMetadata?: boolean;
  /** Bearer tokens `/mcp` accepts besides issued ones (users' tokens). */
  staticTokens?: string[];
  /** Clock of both servers, in epoch milliseconds; default `Date.now` (tests move it forward). */
  now?: () => number;
}

/** One request to the token endpoint. */
export interface TokenRequestRecord {
  grantType: string | undefined;
  authMethod: 'client_secret_basic' | 'client_secret_post' | 'private_key_jwt' | 'none';
  clientId: string | undefined;
  scope: string | undefined;
  resource: string | undefined;
  /** `aud` of a `private_key_jwt` assertion. */
  assertionAudience: unknown;
  /** HTTP status of the answer. */
  status: number;
}

/** One request to `/mcp`. */
export interface McpRequestRecord {
  method: string;
  authorization: string | undefined;
  userToken: string | undefined;
  status: number;
}

/** The running pair of servers. */
export interface OAuthMcpServer {
  /** The MCP endpoint (the protected resource). */
  mcpUrl: string;
  /** The authorization server's issuer identifier. */
  issuer: string;
  tokenUrl: string;
  tokenRequests: TokenRequestRecord[];
  /** Paths of every `/.well-known/...` request, on either server. */
  metadataRequests: string[];
  mcpRequests: McpRequestRecord[];
  /** Invalidates every token issued so far. */
  revokeTokens(): void;
  close(): Promise<void>;
}

interface IssuedToken {
  clientId: string;
  scope: string | undefined;
  expiresAt: number;
}

const JWT_BEARER = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';
const HASHES: Record<string, string> = { '256': 'sha256', '384': 'sha384', '512': 'sha512' };

/** Starts both servers on OS-chosen loopback ports. */
export async function startOAuthMcpServer(options: OAuthMcpServerOptions): Promise<OAuthMcpServer> {
  const now = options.now ?? Date.now;
  const lifetimeSeconds = options.tokenLifetimeSeconds ?? 60;
  const tokenPath = options.tokenPath ?? '/token';
  const tokens = new Map<string, IssuedToken>();
  const tokenRequests: TokenRequestRecord[] = [];
  const metadataRequests: string[] = [];
  const mcpRequests: McpRequestRecord[] = [];

  const authApp = express();
  const mcpApp = express();
  for (const app of [authApp, mcpApp]) {
    app.use('/.well-known', (req, _res, next) => {
      metadataRequests.push(`/.well-known${req.path}`);
      next();
    });
  }
  const [authServer, mcpServer] = await Promise.all([listen(authApp), listen(mcpApp)]);
  const issuer = origin(authServer);
  const tokenUrl = `${issuer}${tokenPath}`;
  const mcpUrl = `${origin(mcpServer)}/mcp`;
  const resourceMetadataUrl = `${origin(mcpServer)}/.well-known/oauth-protected-resource/mcp`;

  if (options.serveAuthorizationServerMetadata ?? true) {
    authApp.get('/.well-known/oauth-authorization-server', (_req, res) => {
      res.json({
        issuer,
        authorization_endpoint: `${issuer}/authorize`,
        token_endpoint: tokenUrl,
        response_types_supported: ['code'],
        grant_types_supported: ['client_credentials'],
        token_endpoint_auth_methods_supported: [
          'client_secret_basic',
          'client_secret_post',
          'private_key_jwt',
        ],
        token_endpoint_auth_signing_alg_values_supported: ['ES256', 'RS256'],
      });
    });
  }

  authApp.post(tokenPath, express.urlencoded({ extended: false }), (req, res) => {
    const body = req.body as Record<string, string | undefined>;
    const record: TokenRequestRecord = {
      grantType: body.grant_type,
      authMethod: 'none',
      clientId: body.client_id,
      scope: body.scope,
      resource: body.resource,
      assertionAudience: undefined,
      status: 200,
    };
    tokenRequests.push(record);
    const refuse = (status: number, error: string, description: string) => {
      record.status = status;
      res.status(status).json({ error, error_description: description });
    };

    const client = authenticateClient(req, body, record);
    if (typeof client === 'string') return refuse(401, 'invalid_client', client);
    if (body.grant_type !== 'client_credentials') {
      return refuse(400, 'unsupported_grant_type', 'only client_credentials is supported');
    }
    const accessToken = randomBytes(16).toString('hex');
    tokens.set(accessToken, {
      clientId: client.clientId,
      scope: body.scope,
      expiresAt: now() + lifetimeSeconds * 1000,
    });
    res.json({
      access_token: accessToken,
      token_type: 'Bearer',
      expires_in: lifetimeSeconds,
      ...(body.scope ? { scope: body.scope } : {}),
    });
  });

  /** The client a token request authenticates as, or why it does not. */
  function authenticateClient(
    req: Request,
    body: Record<string, string | undefined>,
    record: TokenRequestRecord,
  ): FixtureClient | string {
    const basic = /^Basic (.+)$/i.exec(req.get('authorization') ?? '');
    if (basic) {
      record.authMethod = 'client_secret_basic';
      const decoded = Buffer.from(basic[1]!, 'base64').toString('utf8');
      const colon = decoded.indexOf(':');
      const clientId = decodeURIComponent(decoded.slice(0, colon));
      const secret = decodeURIComponent(decoded.slice(colon + 1));
      record.clientId = clientId;
      return secretClient(clientId, secret);
    }
    if (body.client_assertion_type === JWT_BEARER && body.client_assertion) {
      record.authMethod = 'private_key_jwt';
      return assertionClient(body.client_assertion, body.client_id, record);
    }
    if (body.client_id && body.client_secret !== undefined) {
      record.authMethod = 'client_secret_post';
      return secretClient(body.client_id, body.client_secret);
    }
    return 'no client authentication';
  }

  function secretClient(clientId: string, secret: string): FixtureClient | string {
    const client = options.clients.find((c) => c.clientId === clientId);
    if (!client?.clientSecret || client.clientSecret !== secret) {
      return 'Client authentication failed';
    }
    return client;
  }

  function assertionClient(
    assertion: string,
    bodyClientId: string | undefined,
    record: TokenRequestRecord,
  ): FixtureClient | string {
    const [encodedHeader, encodedPayload, encodedSignature] = assertion.split('.');
    if (!encodedHeader || !encodedPayload || !encodedSignature) return 'malformed assertion';
    const header = JSON.parse(Buffer.from(encodedHeader, 'base64url').toString()) as {
      alg?: string;
    };
    const claims = JSON.parse(Buffer.from(encodedPayload, 'base64url').toString()) as Record<
      string,
      unknown
    >;
    record.clientId = typeof claims.iss === 'string' ? claims.iss : undefined;
    record.assertionAudience = claims.aud;
    const client = options.clients.find((c) => c.clientId === claims.iss);
    if (!client?.publicKey) return 'unknown client';
    if (claims.sub !== claims.iss) return 'sub must equal iss';
    if (bodyClientId !== undefined && bodyClientId !== claims.iss) return 'client_id mismatch';
    const audiences = Array.isArray(claims.aud) ? claims.aud : [claims.aud];
    // RFC 7523 §3: the issuer identifies the authorization server; the token endpoint URL may too.
    const audienceOk = audiences.some(
      (aud) => typeof aud === 'string' && [issuer, `${issuer}/`, tokenUrl].includes(aud),
    );
    if (!audienceOk) return 'assertion audience is not this authorization server';
    if (typeof claims.exp !== 'number' || claims.exp * 1000 <= now()) return 'assertion expired';
    const match = /^(ES|RS|PS)(256|384|512)$/.exec(header.alg ?? '');
    if (!match) return `unsupported alg ${String(header.alg)}`;
    const data = Buffer.from(`${encodedHeader}.${encodedPayload}`);
    const signature = Buffer.from(encodedSignature, 'base64url');
    const hash = HASHES[match[2]!]!;
    const key =
      match[1] === 'ES'
        ? { key: client.publicKey, dsaEncoding: 'ieee-p1363' as const }
        : match[1] === 'PS'
          ? { key: client.publicKey, padding: constants.RSA_PKCS1_PSS_PADDING }
          : client.publicKey;
    if (!verify(hash, data, key, signature)) return 'assertion signature is invalid';
    return client;
  }

  mcpApp.get('/.well-known/oauth-protected-resource/mcp', (_req, res) => {
    res.json({
      resource: mcpUrl,
      authorization_servers: [issuer],
      scopes_supported: ['mcp:read', 'mcp:write'],
      bearer_methods_supported: ['header'],
    });
  });

  mcpApp.all('/mcp', express.json(), async (req: Request, res: Response) => {
    const record: McpRequestRecord = {
      method: req.method,
      authorization: req.get('authorization'),
      userToken: req.get('x-user-token'),
      status: 200,
    };
    mcpRequests.push(record);
    const presented = /^Bearer (.+)$/i.exec(record.authorization ?? '')?.[1];
    const issued = presented ? tokens.get(presented) : undefined;
    const valid =
      presented !== undefined &&
      ((issued !== undefined && issued.expiresAt > now()) ||
        (options.staticTokens ?? []).includes(presented));
    if (!valid) {
      record.status = 401;
      const error = presented ? ', error="invalid_token"' : '';
      res
        .status(401)
        .set('WWW-Authenticate', `Bearer resource_metadata="${resourceMetadataUrl}"${error}`)
        .json({ error: presented ? 'invalid_token' : 'unauthorized' });
      return;
    }
    if (req.method !== 'POST') {
      record.status = 405;
      res.status(405).set('Allow', 'POST').end();
      return;
    }
    const server = new McpServer({ name: 'oauth-fixture', version: '1.0.0' });
    server.registerTool(
      'echo',
      { description: 'Echoes back the input string', inputSchema: { message: z.string() } },
      async ({ message }) => ({ content: [{ type: 'text', text: `Echo: ${message}` }] }),
    );
    server.registerTool(
      'whoami',
      { description: 'Says which client and scope the request was authorized for' },
      async () => ({
        content: [
          {
            type: 'text',
            text: issued ? `${issued.clientId} ${issued.scope ?? ''}`.trim() : 'user',
          },
        ],
      }),
    );
    const transport = new StreamableHTTPServerTransport({
      sessionIdGenerator: undefined,
      enableJsonResponse: true,
    });
    res.on('close', () => {
      void transport.close();
      void server.close();
    });
    await server.connect(transport);
    await transport.handleRequest(req, res, req.body);
  });

  return {
    mcpUrl,
    issuer,
    tokenUrl,
    tokenRequests,
    metadataRequests,
    mcpRequests,
    revokeTokens: () => tokens.clear(),
    close: async () => {
      await Promise.all([close(authServer), close(mcpServer)]);
    },
  };
}

/** Listens on an OS-chosen loopback port. */
export async function listen(app: express.Express): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = app.listen(0, '127.0.0.1', (error?: Error) =>
      error ? reject(error) : resolve(server),
    );
  });
}

/** `http://127.0.0.1:<port>` of a listening server. */
export function origin(server: Server): string {
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/** Closes a server and its open connections. */
export async function close(server: Server): Promise<void> {
  server.closeAllConnections();
  await new Promise<void>((resolve, reject) =>
    server.close((error) => (error ? reject(error) : resolve())),
  );
}
