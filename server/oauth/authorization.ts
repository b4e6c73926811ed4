/**
 * Connecting a user's account on an `oauth` server (issue 13, MCP authorization 2025-11-25):
 * starting the authorization code flow, finishing it at the callback, and disconnecting. The
 * SDK's `auth()` does discovery (RFC 9728, RFC 8414 / OpenID Connect with the spec's path
 * variants and the 2025-03-26 fallbacks), client registration (pre-registered, Client ID
 * Metadata Document, or RFC 7591), PKCE S256, `resource` (RFC 8707), the scope strategy and the
 * token exchange; {@link AuthorizationCodeProvider} adds `state`, RFC 9207 `iss` checks and
 * error words; {@link DatabaseOAuthFlowStore} keeps everything sealed in the database.
 */
import { randomBytes } from 'node:crypto';
import { selectClientAuthMethod } from '@modelcontextprotocol/sdk/client/auth.js';
import {
  accountProvider,
  accountStore,
  beginAuthorization,
  clientMetadataUrl,
  markAccountChanged,
  oauthRedirectUri,
  OAUTH_CLIENT_NAME,
  type OAuthAccountDeps,
} from '../../shared/db/oauth-accounts.js';
import {
  deleteOAuthConnection,
  findOAuthConnection,
  hashState,
  takeOAuthFlow,
} from '../../shared/db/oauth.js';
import type { McpServerRow } from '../../shared/db/schema.js';
import { getServer, updateServerStatus } from '../../shared/db/servers.js';
import { describeError } from '../../shared/errors.js';
import { GuardedNetwork } from '../../shared/mcp/guarded-network.js';
import { OAuthCallbackError, type AuthorizationCallback } from '../../shared/mcp/oauth/index.js';
import { HttpError } from '../http/errors.js';

/** What the OAuth flow needs of the API. */
export interface OAuthDeps extends OAuthAccountDeps {
  /**
   * Told when a user connects or disconnects an account (after `account_changed_at` is set), so
   * their sessions pick it up; default nothing.
   */
  onTokensChanged?: (userId: number, serverId: number) => void | Promise<void>;
}

/**
 * Switchboard's Client ID Metadata Document (draft-ietf-oauth-client-id-metadata-document,
 * MCP SEP-991): a public web client whose `client_id` is the document's own URL.
 *
 * @returns the document, or undefined when `PUBLIC_URL` is not HTTPS.
 */
export function clientMetadataDocument(publicUrl: string): Record<string, unknown> | undefined {
  const clientId = clientMetadataUrl(publicUrl);
  if (!clientId) return undefined;
  return {
    client_id: clientId,
    client_name: OAUTH_CLIENT_NAME,
    client_uri: publicUrl,
    redirect_uris: [oauthRedirectUri(publicUrl)],
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
    token_endpoint_auth_method: 'none',
    application_type: 'web',
  };
}

/** 409: the server does not use `oauth` authentication. */
export class NotOAuthServerError extends HttpError {
  override readonly name = 'NotOAuthServerError';
  constructor(row: McpServerRow) {
    super(
      409,
      'not_oauth',
      `${row.name} does not use OAuth accounts (its auth is ${row.auth.type}); set its auth to {"type": "oauth"} to connect an account.`,
    );
  }
}

/** 502: discovery, registration or the authorization server failed before the user was sent. */
export class AuthorizationServerError extends HttpError {
  override readonly name = 'AuthorizationServerError';
  constructor(detail: string) {
    super(502, 'authorization_server_error', detail);
  }
}

function assertOAuth(row: McpServerRow): asserts row is McpServerRow & { url: string } {
  if (row.auth.type !== 'oauth' || !row.url) throw new NotOAuthServerError(row);
}

/** A new nonce for the browser that starts an authorization (its cookie's value). */
export function newBrowserNonce(): string {
  return randomBytes(32).toString('base64url');
}

/**
 * Starts connecting the account of a server's owner: discovery, client registration and an
 * authorization request recorded for the callback (single use, 10 minutes, bound to the user,
 * the server, the PKCE verifier and `browserNonce`).
 *
 * @param row an `oauth` server of the caller (or of the user an admin acts for).
 * @param browserNonce the nonce kept in the starting browser's cookie.
 * @returns the authorization URL to send the browser to.
 * @throws NotOAuthServerError (409) for a server that does not use `oauth`.
 * @throws AuthorizationServerError (502) when discovery, registration or the authorization
 *   server fails, with the reason in words.
 */
export async function startAuthorization(
  deps: OAuthDeps,
  row: McpServerRow,
  browserNonce: string,
): Promise<URL> {
  assertOAuth(row);
  try {
    return await beginAuthorization(deps, row, browserNonce);
  } catch (error) {
    throw new AuthorizationServerError(describeError(error));
  }
}

/** What the callback found: whose server, and whether the account is now connected. */
export interface CallbackOutcome {
  ok: boolean;
  /** The server, when the state named one this browser started. */
  serverId?: number;
  serverName?: string;
  /** Why it failed, in words for the dashboard. */
  error?: string;
  /** A stable code: `connected`, `unknown_state`, `other_browser`, `access_denied`, … */
  code: string;
}

/**
 * Finishes an authorization at the redirect back (`GET /api/oauth/callback`): takes the flow by
 * its `state` (once; a replayed or expired state finds nothing), checks that this browser
 * started it, then has the provider check `iss` (RFC 9207) and exchange the code; the tokens are
 * stored sealed. Failures are returned in words, never thrown.
 *
 * @param query the redirect's query (`code`, `state`, `iss`, or `error` and
 *   `error_description`).
 * @param browserNonce the nonce of this browser's cookie, if any.
 */
export async function finishAuthorization(
  deps: OAuthDeps,
  query: AuthorizationCallback,
  browserNonce: string | undefined,
): Promise<CallbackOutcome> {
  if (!query.state) {
    return {
      ok: false,
      code: 'missing_state',
      error: 'The authorization server sent the browser back without the state of the request.',
    };
  }
  const flow = await takeOAuthFlow(deps.db, deps.secrets, query.state);
  if (!flow) {
    return {
      ok: false,
      code: 'unknown_state',
      error:
        'This authorization was used already, has expired (10 minutes) or was never started here: press Connect account again.',
    };
  }
  if (!browserNonce || hashState(browserNonce) !== flow.browserHash) {
    return {
      ok: false,
      code: 'other_browser',
      error:
        'This authorization was started in another browser or by another user: open the dashboard where you pressed Connect account and try again there.',
    };
  }
  const row = await getServer({ db: deps.db, secrets: deps.secrets }, flow.userId, flow.serverId);
  if (!row || row.auth.type !== 'oauth' || !row.url) {
    return { ok: false, code: 'server_gone', error: 'The server no longer uses OAuth accounts.' };
  }
  const network = new GuardedNetwork(deps.urlPolicy ?? { allowPrivateNetworks: true });
  const store = accountStore(deps, row, {
    pending: {
      state: query.state,
      codeVerifier: flow.codeVerifier,
      authorizationServerUrl: flow.issuer ?? '',
      createdAtMs: flow.expiresAt.getTime(),
    },
  });
  const provider = accountProvider(deps, row, store, { fetchFn: network.fetch });
  try {
    await provider.completeAuthorization(query);
  } catch (error) {
    const code = error instanceof OAuthCallbackError ? error.code : 'token_exchange_failed';
    const words =
      error instanceof OAuthCallbackError
        ? error.message
        : `the authorization server did not exchange the code: ${describeError(error)}`;
    return { ok: false, code, serverId: row.id, serverName: row.name, error: words };
  } finally {
    await network.close();
  }
  await updateServerStatus(deps.db, row.id, {
    connectionStatus: 'disconnected',
    lastError: null,
  });
  // The owner's sessions reconnect the server with the new tokens.
  await markAccountChanged(deps.db, row.id);
  await deps.onTokensChanged?.(row.userId, row.id);
  return { ok: true, code: 'connected', serverId: row.id, serverName: row.name };
}

/** Why a server shows `needs_authorization` before its owner connected an account. */
export const NOT_CONNECTED_REASON =
  'Connect your account: this server signs each user in with OAuth. Press Connect account, or ask the agent in a voice session.';

/**
 * Disconnects the account of a server's owner: revokes the refresh token (or the access token)
 * at the authorization server when its metadata names a `revocation_endpoint` (RFC 7009; a
 * failed revocation is reported but does not keep the tokens), then deletes the tokens and
 * marks the server `needs_authorization`.
 *
 * @returns whether the tokens were revoked at the authorization server.
 * @throws NotOAuthServerError (409) for a server that does not use `oauth`.
 */
export async function disconnectAccount(
  deps: OAuthDeps,
  row: McpServerRow,
): Promise<{ revoked: boolean; error?: string }> {
  assertOAuth(row);
  const connection = await findOAuthConnection(deps.db, deps.secrets, row.id);
  let outcome: { revoked: boolean; error?: string } = { revoked: false };
  if (connection?.tokens) {
    outcome = await revoke(deps, row, connection.tokens, connection.discovery);
  }
  await deleteOAuthConnection(deps.db, row.id);
  await updateServerStatus(deps.db, row.id, {
    connectionStatus: 'needs_authorization',
    lastError: NOT_CONNECTED_REASON,
  });
  await markAccountChanged(deps.db, row.id);
  await deps.onTokensChanged?.(row.userId, row.id);
  return outcome;
}

/**
 * RFC 7009 token revocation. The SDK has no revocation call (its `auth()` covers discovery,
 * registration, exchange and refresh only), so this one request is written here: a form POST
 * of `token` and `token_type_hint` with the client authenticated by the method the SDK's
 * `selectClientAuthMethod` picks for the server (Basic for `client_secret_basic` as the SDK
 * sends it, the body for `client_secret_post`, `client_id` alone for a public client).
 */
async function revoke(
  deps: OAuthDeps,
  row: McpServerRow,
  tokens: Record<string, unknown>,
  discovery: unknown,
): Promise<{ revoked: boolean; error?: string }> {
  const metadata = (discovery as { authorizationServerMetadata?: Record<string, unknown> } | null)
    ?.authorizationServerMetadata;
  const endpoint = metadata?.revocation_endpoint;
  if (typeof endpoint !== 'string') return { revoked: false };
  const store = accountStore(deps, row);
  const provider = accountProvider(deps, row, store);
  const client = await provider.clientInformation();
  const token =
    typeof tokens.refresh_token === 'string' ? tokens.refresh_token : String(tokens.access_token);
  const hint = typeof tokens.refresh_token === 'string' ? 'refresh_token' : 'access_token';
  const body = new URLSearchParams({ token, token_type_hint: hint });
  const headers: Record<string, string> = {
    'content-type': 'application/x-www-form-urlencoded',
  };
  if (client?.client_id) {
    // The method the token endpoint uses, chosen as the SDK chooses it for token requests.
    const supported = (metadata?.revocation_endpoint_auth_methods_supported ??
      metadata?.token_endpoint_auth_methods_supported ??
      []) as string[];
    const method = selectClientAuthMethod(client, supported);
    const secret = client.client_secret;
    if (method === 'client_secret_basic' && secret) {
      headers.authorization = `Basic ${Buffer.from(`${client.client_id}:${secret}`).toString('base64')}`;
    } else {
      body.set('client_id', client.client_id);
      if (method === 'client_secret_post' && secret) body.set('client_secret', secret);
    }
  }
  const network = new GuardedNetwork(deps.urlPolicy ?? { allowPrivateNetworks: true });
  try {
    const response = await network.fetch(endpoint, { method: 'POST', headers, body });
    await response.body?.cancel();
    if (response.ok) return { revoked: true };
    return { revoked: false, error: `the revocation endpoint answered ${response.status}` };
  } catch (error) {
    return { revoked: false, error: `the revocation endpoint failed: ${describeError(error)}` };
  } finally {
    await network.close();
  }
}
