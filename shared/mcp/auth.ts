/**
 * How Switchboard authenticates to a remote MCP server, from the server's `auth` config:
 *
 * - OAuth 2.0 client credentials (MCP spec 2025-11-25, "Authorization"; RFC 6749 §4.4): an
 *   `OAuthClientProvider` built on the SDK's `ClientCredentialsProvider` (client secret,
 *   RFC 6749 §2.3.1) or `PrivateKeyJwtProvider` (`private_key_jwt` assertion, RFC 7523 §2.2),
 *   handed to the SDK's Streamable HTTP and SSE transports as `authProvider`. The transport asks
 *   for a token when the server answers 401, sends it as `Authorization: Bearer`, and asks for a
 *   new one when a later request gets 401 (the token expired or was revoked). Tokens live in the
 *   provider, one provider per {@link McpConnection}, never in the database.
 * - The session user's token (seed 003, "MCP Auth Utils"): sent as `Authorization: Bearer <token>`
 *   and `X-User-Token: <token>`, on every transport.
 *
 * Token endpoint. Without `tokenUrl`, the SDK's `auth()` discovers it: the protected resource
 * metadata (RFC 9728; from the 401's `WWW-Authenticate: Bearer resource_metadata=...` or the
 * well-known path) names the authorization server, whose metadata (RFC 8414, or OpenID Connect
 * discovery) gives `token_endpoint`. With `tokenUrl`, nothing about the authorization server is
 * discovered: the provider answers `discoveryState()` (the SDK's hook for "discovery state
 * provided out-of-band") with metadata whose `token_endpoint` is `tokenUrl`. The SDK providers
 * have no token URL option, and `addClientAuthentication` cannot change the URL, so this is the
 * SDK-supported way to pin it.
 *
 * Which authorization server gets the credentials. The SDK binds client credentials to one
 * authorization server (`expectedIssuer`). With `tokenUrl` they are bound to it. Without it they
 * are bound to the authorization server the MCP server names at the first discovery of the
 * connection (trust on first use): an admin who does not trust the MCP server to name its
 * authorization server sets `tokenUrl`.
 *
 * Custom `headers` of the server are also sent to the discovery and token requests (the SDK's
 * transports make those with the same request options).
 */
import {
  ClientCredentialsProvider,
  PrivateKeyJwtProvider,
} from '@modelcontextprotocol/sdk/client/auth-extensions.js';
import type {
  OAuthClientProvider,
  OAuthDiscoveryState,
} from '@modelcontextprotocol/sdk/client/auth.js';
import type {
  OAuthClientInformationFull,
  OAuthMetadata,
  OAuthTokens,
} from '@modelcontextprotocol/sdk/shared/auth.js';
import type { OAuthServerAuth, ServerAuth } from './server-config.js';

/** The header that carries the session user's token besides `Authorization` (seed 003). */
export const USER_TOKEN_HEADER = 'X-User-Token';

/** `client_name` Switchboard gives itself in OAuth client metadata. */
const CLIENT_NAME = 'switchboard';

/**
 * The headers that forward a user's token to an MCP server: `Authorization: Bearer <token>`
 * (RFC 6750 §2.1) and `X-User-Token: <token>` (seed 003, `prepare_mcp_headers`).
 *
 * @param token the session user's token, sent as is.
 * @throws Error when the token is empty or holds whitespace or control characters, which no
 *   HTTP header can carry.
 */
export function userTokenHeaders(token: string): Record<string, string> {
  if (!/^[\x21-\x7E]+$/.test(token)) {
    throw new Error(
      'the user token cannot be sent: it is empty or holds whitespace or non-ASCII characters',
    );
  }
  return { Authorization: `Bearer ${token}`, [USER_TOKEN_HEADER]: token };
}

/**
 * The headers an `auth` config adds to every request: the user-token headers for
 * `{ type: 'user-token' }`, none otherwise (OAuth tokens are added by the transport).
 *
 * @param auth the server's `auth`; absent means none.
 * @param userToken the token of the user whose session connects, if there is one.
 * @throws Error for `user-token` without a user token (e.g. the API's status monitor, which
 *   acts for no user), or with one {@link userTokenHeaders} rejects.
 */
export function authHeaders(
  auth: ServerAuth | undefined,
  userToken: string | undefined,
): Record<string, string> {
  if (auth?.type !== 'user-token') return {};
  if (userToken === undefined) {
    throw new Error(
      "auth is user-token, which forwards the session user's token, and this connection has no user token (only a user's agent session can reach this server)",
    );
  }
  return userTokenHeaders(userToken);
}

/** True for the OAuth variants of `auth`, the ones {@link createOAuthProvider} takes. */
export function isOAuth(auth: ServerAuth | undefined): auth is OAuthServerAuth {
  return auth?.type === 'oauth2-client-credentials' || auth?.type === 'oauth2-private-key-jwt';
}

/**
 * Builds the `OAuthClientProvider` for an OAuth `auth` config, for the `authProvider` option of
 * the SDK's `StreamableHTTPClientTransport` and `SSEClientTransport`. Create one per connection:
 * it caches the access token (and the discovery result) for that connection's lifetime.
 *
 * - `oauth2-client-credentials`: the SDK's `ClientCredentialsProvider`; the client secret goes as
 *   HTTP Basic or in the body per `tokenEndpointAuthMethod` (default `client_secret_basic`),
 *   unless the authorization server's metadata lists only other methods, in which case the SDK
 *   picks one it lists.
 * - `oauth2-private-key-jwt`: the SDK's `PrivateKeyJwtProvider`; each token request carries a
 *   fresh assertion (iss = sub = clientId, 300 s lifetime) whose `aud` is the authorization
 *   server's issuer, or `tokenUrl` when that is configured (RFC 7523 §3 allows either).
 * - `scopes` are sent space-separated as the token request's `scope` (RFC 6749 §3.3); without
 *   them no `scope` is sent and the authorization server applies its default.
 * - The RFC 8707 `resource` parameter is sent when the server publishes protected resource
 *   metadata.
 *
 * @param auth a validated OAuth `auth` config.
 * @param serverUrl the MCP server's URL (its origin is the SDK's fallback authorization server).
 * @param options.onTokens called with each token response the provider saves, before the
 *   transport uses it (the connection adds the tokens to its secret scrubber).
 * @returns a provider whose errors surface from the transport: token endpoint refusals as the
 *   SDK's `OAuthError` subclasses (e.g. `InvalidClientError` for a wrong secret).
 */
export function createOAuthProvider(
  auth: OAuthServerAuth,
  serverUrl: string | URL,
  options: { onTokens?: (tokens: OAuthTokens) => void } = {},
): OAuthClientProvider {
  const tokenUrl = auth.tokenUrl;
  const issuer = tokenUrl ?? String(new URL('/', serverUrl));
  const scope = auth.scopes?.length ? auth.scopes.join(' ') : undefined;
  const common = {
    clientId: auth.clientId,
    clientName: CLIENT_NAME,
    scope,
    expectedIssuer: issuer,
  };
  let provider: ClientCredentialsProvider | PrivateKeyJwtProvider;
  let authMethod: string;
  if (auth.type === 'oauth2-client-credentials') {
    provider = new ClientCredentialsProvider({ ...common, clientSecret: auth.clientSecret });
    authMethod = auth.tokenEndpointAuthMethod;
    // The SDK reads the method from the client information, as if a registration returned it.
    const information: OAuthClientInformationFull = {
      ...provider.clientInformation(),
      redirect_uris: [],
      token_endpoint_auth_method: authMethod,
    };
    provider.saveClientInformation(information);
  } else {
    provider = new PrivateKeyJwtProvider({
      ...common,
      privateKey: auth.privateKey,
      algorithm: auth.algorithm,
    });
    authMethod = 'private_key_jwt';
  }
  const onTokens = options.onTokens;
  if (onTokens) {
    const save = provider.saveTokens.bind(provider);
    provider.saveTokens = (tokens: OAuthTokens) => {
      onTokens(tokens);
      save(tokens);
    };
  }
  return keepDiscoveryState(provider, tokenUrl ? pinnedDiscovery(tokenUrl, authMethod) : undefined);
}

/**
 * Discovery state that makes the SDK use `tokenUrl` without fetching any metadata about the
 * authorization server. `tokenUrl` also stands as its issuer (the assertion's `aud`) and as
 * `authorization_endpoint`, which the SDK's types require and client credentials never use.
 */
function pinnedDiscovery(tokenUrl: string, authMethod: string): OAuthDiscoveryState {
  const metadata: OAuthMetadata = {
    issuer: tokenUrl,
    authorization_endpoint: tokenUrl,
    token_endpoint: tokenUrl,
    response_types_supported: [],
    grant_types_supported: ['client_credentials'],
    token_endpoint_auth_methods_supported: [authMethod],
  };
  return { authorizationServerUrl: tokenUrl, authorizationServerMetadata: metadata };
}

/**
 * Gives an SDK provider the `discoveryState` / `saveDiscoveryState` hooks: the first discovery
 * binds the credentials to the authorization server it found, and later token requests of the
 * connection (after a 401) reuse it instead of discovering again.
 */
function keepDiscoveryState(
  provider: ClientCredentialsProvider | PrivateKeyJwtProvider,
  initial: OAuthDiscoveryState | undefined,
): OAuthClientProvider {
  let state = initial;
  const hooked: OAuthClientProvider = provider;
  hooked.discoveryState = () => state;
  hooked.saveDiscoveryState = (next) => {
    if (!state) {
      provider.saveClientInformation({
        ...provider.clientInformation(),
        issuer: next.authorizationServerUrl,
      });
    }
    state = next;
  };
  return hooked;
}
