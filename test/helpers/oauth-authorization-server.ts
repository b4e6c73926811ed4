/**
 * An OAuth 2.1 authorization server for the authorization code grant, built on the SDK's own
 * server side (`mcpAuthRouter`: RFC 8414 metadata, `/authorize`, `/token` with PKCE, `/register`
 * for RFC 7591 dynamic registration), fronting an MCP server (the SDK's `McpServer` over a
 * stateless Streamable HTTP transport) that accepts only its tokens (`requireBearerAuth`, with
 * RFC 9728 protected resource metadata). Each runs on its own loopback port.
 *
 * The `/authorize` step approves at once and redirects (the test is the browser). What this file
 * adds to the SDK is the {@link OAuthServerProvider} (codes, tokens, refresh, a clock) and the
 * switches tests need: Client ID Metadata Documents, `iss` in the redirect (RFC 9207), an error
 * redirect, per-tool scopes (403 `insufficient_scope`), refused refreshes.
 */
import { randomBytes } from 'node:crypto';

import express, { type Response } from 'express';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import type { OAuthRegisteredClientsStore } from '@modelcontextprotocol/sdk/server/auth/clients.js';
import {
  InvalidGrantError,
  InvalidTokenError,
} from '@modelcontextprotocol/sdk/server/auth/errors.js';
import { requireBearerAuth } from '@modelcontextprotocol/sdk/server/auth/middleware/bearerAuth.js';
import type {
  AuthorizationParams,
  OAuthServerProvider,
} from '@modelcontextprotocol/sdk/server/auth/provider.js';
import {
  createOAuthMetadata,
  mcpAuthRouter,
} from '@modelcontextprotocol/sdk/server/auth/router.js';
import type { AuthInfo } from '@modelcontextprotocol/sdk/server/auth/types.js';
import type {
  OAuthClientInformationFull,
  OAuthTokens,
} from '@modelcontextprotocol/sdk/shared/auth.js';
import { z } from 'zod';
import { close, listen, origin } from './oauth-mcp-server.js';

/** Options of {@link startAuthorizationServer}. */
export interface AuthorizationServerOptions {
  /** `scopes_supported` of both metadata documents; default none. */
  scopesSupported?: string[];
  /** Clients registered beforehand. */
  clients?: { clientId: string; clientSecret?: string; redirectUris?: string[] }[];
  /** Offer dynamic registration (`/register`); default true. */
  dynamicRegistration?: boolean;
  /**
   * Advertise `client_id_metadata_document_supported` and accept any `https` client id as a
   * public client (as if its metadata document had been fetched); default false.
   */
  clientIdMetadataDocuments?: boolean;
  /**
   * The `redirect_uris` the stand-in metadata document of such a client lists; default the
   * loopback `http://127.0.0.1/callback` (a native client such as the probe).
   */
  metadataDocumentRedirectUris?: string[];
  /**
   * `iss` in the authorization response (RFC 9207): `issuer` (default) sends the real one and
   * advertises `authorization_response_iss_parameter_supported`; a string sends that instead;
   * `none` sends none and advertises nothing.
   */
  redirectIss?: 'issuer' | 'none' | string;
  /** Redirect with this `error` (and `error_description`) instead of a code. */
  authorizationError?: { error: string; description?: string };
  /** `expires_in` of access tokens, in seconds; default 3600. */
  accessTokenLifetimeSeconds?: number;
  /** The only scopes ever granted (others asked for are left out); default all asked for. */
  grantableScopes?: string[];
  /** Tools that need scopes beyond the token's: a call without them gets 403 insufficient_scope. */
  toolScopes?: Record<string, string[]>;
  /** Clock of both servers, in epoch milliseconds; default `Date.now`. */
  now?: () => number;
}

/** One request to `/authorize`, as the provider saw it. */
export interface AuthorizationRecord {
  clientId: string;
  redirectUri: string;
  scopes: string[];
  state: string | undefined;
  resource: string | undefined;
}

/** One answered request to `/token`. */
export interface TokenRecord {
  grantType: 'authorization_code' | 'refresh_token';
  clientId: string;
  ok: boolean;
}

/** The running pair. */
export interface AuthorizationServer {
  /** The MCP endpoint, the protected resource. */
  mcpUrl: string;
  /** The issuer identifier, as its metadata states it (`http://127.0.0.1:<port>/`). */
  issuer: string;
  /** Clients registered through `/register`. */
  registrations: OAuthClientInformationFull[];
  /** Bodies of `/register` requests as sent (the SDK's handler drops fields it does not know). */
  registrationRequests: Record<string, unknown>[];
  authorizations: AuthorizationRecord[];
  tokenRequests: TokenRecord[];
  /** Status of every `/mcp` request. */
  mcpStatuses: number[];
  /** Tokens revoked through `/revoke` (RFC 7009), with the client that asked. */
  revocations: { token: string; clientId: string }[];
  /** Forgets every access token (the next request gets 401); refresh tokens still work. */
  revokeAccessTokens(): void;
  /** Answers every later refresh with `invalid_grant`. */
  refuseRefreshes(): void;
  close(): Promise<void>;
}

interface Grant {
  clientId: string;
  scopes: string[];
  resource: string | undefined;
}

/** Starts the authorization server and the MCP server on OS-chosen loopback ports. */
export async function startAuthorizationServer(
  options: AuthorizationServerOptions = {},
): Promise<AuthorizationServer> {
  const now = options.now ?? Date.now;
  const lifetimeSeconds = options.accessTokenLifetimeSeconds ?? 3600;
  const clients = new Map<string, OAuthClientInformationFull>();
  for (const client of options.clients ?? []) {
    clients.set(client.clientId, {
      client_id: client.clientId,
      ...(client.clientSecret !== undefined && { client_secret: client.clientSecret }),
      redirect_uris: client.redirectUris ?? ['http://127.0.0.1/callback'],
      token_endpoint_auth_method: client.clientSecret ? 'client_secret_post' : 'none',
    });
  }
  const registrations: OAuthClientInformationFull[] = [];
  const registrationRequests: Record<string, unknown>[] = [];
  const authorizations: AuthorizationRecord[] = [];
  const tokenRequests: TokenRecord[] = [];
  const mcpStatuses: number[] = [];
  const codes = new Map<string, Grant & { challenge: string; redirectUri: string }>();
  const accessTokens = new Map<string, Grant & { expiresAt: number }>();
  const refreshTokens = new Map<string, Grant>();
  let refreshesRefused = false;
  const revocations: { token: string; clientId: string }[] = [];

  const authApp = express();
  const mcpApp = express();
  const [authServer, mcpServer] = await Promise.all([listen(authApp), listen(mcpApp)]);
  const issuerUrl = new URL(`${origin(authServer)}/`);
  const mcpUrl = `${origin(mcpServer)}/mcp`;
  const resourceMetadataUrl = `${origin(mcpServer)}/.well-known/oauth-protected-resource/mcp`;
  const redirectIss = options.redirectIss ?? 'issuer';

  const clientsStore: OAuthRegisteredClientsStore = {
    getClient: (clientId) => {
      if (options.clientIdMetadataDocuments && clientId.startsWith('https://')) {
        // Stands in for fetching the document: a public client whose redirect is the loopback.
        return {
          client_id: clientId,
          redirect_uris: options.metadataDocumentRedirectUris ?? ['http://127.0.0.1/callback'],
        };
      }
      return clients.get(clientId);
    },
    ...((options.dynamicRegistration ?? true) && {
      registerClient: (client: OAuthClientInformationFull) => {
        clients.set(client.client_id, client);
        registrations.push(client);
        return client;
      },
    }),
  };

  const issue = (grant: Grant): OAuthTokens => {
    const accessToken = randomBytes(16).toString('hex');
    const refreshToken = randomBytes(16).toString('hex');
    accessTokens.set(accessToken, { ...grant, expiresAt: now() + lifetimeSeconds * 1000 });
    refreshTokens.set(refreshToken, grant);
    return {
      access_token: accessToken,
      token_type: 'Bearer',
      expires_in: lifetimeSeconds,
      refresh_token: refreshToken,
      ...(grant.scopes.length > 0 && { scope: grant.scopes.join(' ') }),
    };
  };

  const provider: OAuthServerProvider = {
    clientsStore,
    async authorize(client, params: AuthorizationParams, res: Response) {
      authorizations.push({
        clientId: client.client_id,
        redirectUri: params.redirectUri,
        scopes: params.scopes ?? [],
        state: params.state,
        resource: params.resource?.href,
      });
      const target = new URL(params.redirectUri);
      if (options.authorizationError) {
        target.searchParams.set('error', options.authorizationError.error);
        if (options.authorizationError.description) {
          target.searchParams.set('error_description', options.authorizationError.description);
        }
      } else {
        const code = randomBytes(16).toString('hex');
        const grantable = options.grantableScopes;
        codes.set(code, {
          clientId: client.client_id,
          scopes: (params.scopes ?? []).filter((scope) => !grantable || grantable.includes(scope)),
          resource: params.resource?.href,
          challenge: params.codeChallenge,
          redirectUri: params.redirectUri,
        });
        target.searchParams.set('code', code);
      }
      if (params.state !== undefined) target.searchParams.set('state', params.state);
      if (redirectIss !== 'none') {
        target.searchParams.set('iss', redirectIss === 'issuer' ? issuerUrl.href : redirectIss);
      }
      res.redirect(302, target.href);
    },
    async challengeForAuthorizationCode(_client, code) {
      const grant = codes.get(code);
      if (!grant) throw new InvalidGrantError('unknown authorization code');
      return grant.challenge;
    },
    async exchangeAuthorizationCode(client, code, _verifier, redirectUri) {
      const grant = codes.get(code);
      codes.delete(code);
      const ok = grant?.clientId === client.client_id && grant.redirectUri === redirectUri;
      tokenRequests.push({ grantType: 'authorization_code', clientId: client.client_id, ok });
      if (!grant || !ok) throw new InvalidGrantError('authorization code refused');
      return issue(grant);
    },
    async exchangeRefreshToken(client, refreshToken) {
      const grant = refreshTokens.get(refreshToken);
      const ok = !refreshesRefused && grant?.clientId === client.client_id;
      tokenRequests.push({ grantType: 'refresh_token', clientId: client.client_id, ok });
      if (!grant || !ok) throw new InvalidGrantError('refresh token refused');
      refreshTokens.delete(refreshToken);
      return issue(grant);
    },
    async revokeToken(client, request) {
      revocations.push({ token: request.token, clientId: client.client_id });
      accessTokens.delete(request.token);
      refreshTokens.delete(request.token);
    },
    async verifyAccessToken(token): Promise<AuthInfo> {
      const grant = accessTokens.get(token);
      if (!grant || grant.expiresAt <= now()) throw new InvalidTokenError('unknown or expired');
      return {
        token,
        clientId: grant.clientId,
        scopes: grant.scopes,
        // requireBearerAuth compares with the real clock; this clock decided above.
        expiresAt: Math.floor(Date.now() / 1000) + lifetimeSeconds,
        ...(grant.resource !== undefined && { resource: new URL(grant.resource) }),
      };
    },
  };

  const routerOptions = {
    provider,
    issuerUrl,
    scopesSupported: options.scopesSupported,
    resourceServerUrl: new URL(mcpUrl),
    authorizationOptions: { rateLimit: false as const },
    tokenOptions: { rateLimit: false as const },
    clientRegistrationOptions: { rateLimit: false as const },
    revocationOptions: { rateLimit: false as const },
  };
  // The SDK's metadata, with the fields of the switches above.
  const metadata = {
    ...createOAuthMetadata(routerOptions),
    ...(options.clientIdMetadataDocuments && { client_id_metadata_document_supported: true }),
    ...(redirectIss === 'issuer' && { authorization_response_iss_parameter_supported: true }),
  };
  authApp.get('/.well-known/oauth-authorization-server', (_req, res) => {
    res.json(metadata);
  });
  authApp.post('/register', express.json(), (req, _res, next) => {
    registrationRequests.push(req.body as Record<string, unknown>);
    next();
  });
  authApp.use(mcpAuthRouter(routerOptions));

  mcpApp.get('/.well-known/oauth-protected-resource/mcp', (_req, res) => {
    res.json({
      resource: mcpUrl,
      authorization_servers: [issuerUrl.href],
      ...(options.scopesSupported && { scopes_supported: options.scopesSupported }),
    });
  });
  mcpApp.use('/mcp', (_req, res, next) => {
    res.on('finish', () => mcpStatuses.push(res.statusCode));
    next();
  });
  mcpApp.use('/mcp', express.json());
  mcpApp.use('/mcp', requireBearerAuth({ verifier: provider, resourceMetadataUrl }));
  mcpApp.post('/mcp', async (req, res) => {
    const body = req.body as { method?: string; params?: { name?: string } };
    const needed =
      body.method === 'tools/call' ? options.toolScopes?.[body.params?.name ?? ''] : undefined;
    if (needed && !needed.every((scope) => req.auth?.scopes.includes(scope))) {
      const scope = [...new Set([...(req.auth?.scopes ?? []), ...needed])].join(' ');
      res
        .status(403)
        .set(
          'WWW-Authenticate',
          `Bearer error="insufficient_scope", scope="${scope}", resource_metadata="${resourceMetadataUrl}"`,
        )
        .json({ error: 'insufficient_scope' });
      return;
    }
    const server = new McpServer({ name: 'oauth-authorization-fixture', version: '1.0.0' });
    server.registerTool(
      'echo',
      { description: 'Echoes back the input string', inputSchema: { message: z.string() } },
      async ({ message }) => ({ content: [{ type: 'text', text: `Echo: ${message}` }] }),
    );
    server.registerTool('whoami', { description: 'The client and scopes of the token' }, () => ({
      content: [
        { type: 'text', text: `${req.auth?.clientId} ${req.auth?.scopes.join(' ') ?? ''}`.trim() },
      ],
    }));
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
  mcpApp.all('/mcp', (_req, res) => {
    res.status(405).set('Allow', 'POST').end();
  });

  return {
    mcpUrl,
    issuer: issuerUrl.href,
    registrations,
    registrationRequests,
    authorizations,
    tokenRequests,
    mcpStatuses,
    revocations,
    revokeAccessTokens: () => accessTokens.clear(),
    refuseRefreshes: () => {
      refreshesRefused = true;
    },
    close: () => Promise.all([close(authServer), close(mcpServer)]).then(() => undefined),
  };
}

/**
 * Acts as the user's browser at an authorization URL: GETs it and returns where the
 * authorization server redirects (the `redirect_uri` with the response's query), without
 * following it.
 *
 * @throws Error when the answer is not a redirect.
 */
export async function approveInBrowser(authorizationUrl: URL | string): Promise<URL> {
  const response = await fetch(authorizationUrl, { redirect: 'manual' });
  await response.body?.cancel();
  const location = response.headers.get('location');
  if (response.status < 300 || response.status > 399 || !location) {
    throw new Error(`the authorization server answered ${response.status}, not a redirect`);
  }
  return new URL(location, authorizationUrl);
}
