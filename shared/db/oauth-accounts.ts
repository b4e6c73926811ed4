/**
 * Users' accounts on `oauth` servers (issue 13), as both programs use them: the API (Connect,
 * callback, Test, disconnect) and the agent (sessions connect with the owner's tokens and refresh
 * them). It builds the {@link AuthorizationCodeProvider} of a server over its
 * {@link DatabaseOAuthFlowStore}, with Switchboard's redirect URI and client identity derived
 * from `PUBLIC_URL`.
 */
import { auth } from '@modelcontextprotocol/sdk/client/auth.js';
import type { OAuthTokens } from '@modelcontextprotocol/sdk/shared/auth.js';
import { eq } from 'drizzle-orm';
import { describeError } from '../errors.js';
import { GuardedNetwork } from '../mcp/guarded-network.js';
import { AuthorizationCodeProvider } from '../mcp/oauth/index.js';
import type { UrlPolicy } from '../mcp/url-policy.js';
import type { SecretBox } from '../secrets.js';
import { DatabaseOAuthFlowStore, type DatabaseOAuthFlowStoreOptions } from './oauth-flow-store.js';
import type { Database } from './open.js';
import { mcpServers, type McpServerRow } from './schema.js';

/** The path of the redirect back from authorization servers, under `PUBLIC_URL`. */
export const OAUTH_CALLBACK_PATH = '/api/oauth/callback';
/** The path of Switchboard's Client ID Metadata Document, under `PUBLIC_URL`. */
export const CLIENT_METADATA_PATH = '/oauth/client-metadata.json';
/** The `client_name` Switchboard registers under. */
export const OAUTH_CLIENT_NAME = 'Switchboard';

/** What a server's account needs: the database with its key, and `PUBLIC_URL`. */
export interface OAuthAccountDeps {
  db: Database;
  secrets: SecretBox;
  /** `PUBLIC_URL` (or `http://HOST:PORT`), without a trailing slash. */
  publicUrl: string;
  /**
   * Where the authorization server and the MCP server may be (DESIGN §9.3); default any, as an
   * `McpConnection` without a policy (both programs pass the process's).
   */
  urlPolicy?: UrlPolicy;
}

/** The `redirect_uri` registered with authorization servers: `<PUBLIC_URL>/api/oauth/callback`. */
export function oauthRedirectUri(publicUrl: string): string {
  return `${publicUrl}${OAUTH_CALLBACK_PATH}`;
}

/**
 * The URL of Switchboard's Client ID Metadata Document, or undefined when `PUBLIC_URL` is not
 * HTTPS (SEP-991: the client id must be an `https` URL the authorization server can fetch).
 */
export function clientMetadataUrl(publicUrl: string): string | undefined {
  return publicUrl.startsWith('https://') ? `${publicUrl}${CLIENT_METADATA_PATH}` : undefined;
}

/**
 * The store of one server's account, with the deps' database and key.
 *
 * @param extra what this step is: `browserNonce` to start an authorization, `pending` to finish
 *   one, `ignoreTokens` to authorize anew.
 */
export function accountStore(
  deps: OAuthAccountDeps,
  row: Pick<McpServerRow, 'id' | 'userId'>,
  extra: Partial<DatabaseOAuthFlowStoreOptions> = {},
): DatabaseOAuthFlowStore {
  return new DatabaseOAuthFlowStore({
    db: deps.db,
    box: deps.secrets,
    serverId: row.id,
    userId: row.userId,
    redirectUri: oauthRedirectUri(deps.publicUrl),
    ...extra,
  });
}

/**
 * The provider of one step of a server's authorization: the pre-registered client of its
 * `auth` config if any, else Switchboard's Client ID Metadata Document (when `PUBLIC_URL` is
 * HTTPS and the authorization server supports it) or dynamic registration as a web client.
 *
 * @param row an `oauth` server (its `url` is the protected resource).
 * @param store where the step keeps its state ({@link accountStore}).
 * @param options.onRedirect receives the authorization URL; without it a flow that needs the
 *   user fails with `OAuthAuthorizationRequiredError` (sessions, Test).
 * @param options.onTokens sees every token response saved (e.g. to scrub them).
 * @throws Error when the row is not an `oauth` server with a URL.
 */
export function accountProvider(
  deps: OAuthAccountDeps,
  row: McpServerRow,
  store: DatabaseOAuthFlowStore,
  options: {
    onRedirect?: (url: URL) => void;
    onTokens?: (tokens: OAuthTokens) => void;
    fetchFn?: typeof fetch;
  } = {},
): AuthorizationCodeProvider {
  if (row.auth.type !== 'oauth' || !row.url) {
    throw new Error(`${row.name} is not an oauth server with a URL`);
  }
  const config = row.auth;
  return new AuthorizationCodeProvider({
    serverUrl: row.url,
    store,
    redirectUrl: oauthRedirectUri(deps.publicUrl),
    onRedirect: options.onRedirect,
    client: config.clientId
      ? {
          clientId: config.clientId,
          clientSecret: config.clientSecret,
          tokenEndpointAuthMethod: config.tokenEndpointAuthMethod,
        }
      : undefined,
    clientMetadataUrl: clientMetadataUrl(deps.publicUrl),
    scope: config.scopes?.length ? config.scopes.join(' ') : undefined,
    clientName: OAUTH_CLIENT_NAME,
    applicationType: 'web',
    fetchFn: options.fetchFn,
    onTokens: options.onTokens,
  });
}

/**
 * Records that the owner connected or disconnected the server's account
 * (`mcp_servers.account_changed_at`): sessions see a changed server and reconnect it with the
 * new tokens, or without any.
 */
export async function markAccountChanged(
  db: Database,
  serverId: number,
  at = new Date(),
): Promise<void> {
  await db.update(mcpServers).set({ accountChangedAt: at }).where(eq(mcpServers.id, serverId));
}

/**
 * Starts an authorization of a server's account for a browser: discovery, client registration
 * and an authorization request recorded for the callback (single use, 10 minutes, bound to the
 * user, the server, the PKCE verifier and `browserNonce`). Stored tokens are ignored: the user is
 * always sent to the authorization server.
 *
 * @param browserNonce the nonce the browser will carry in its cookie to the callback.
 * @returns the authorization URL to send the browser to.
 * @throws Error naming the server and what failed (discovery, registration, the authorization
 *   server), in words.
 */
export async function beginAuthorization(
  deps: OAuthAccountDeps,
  row: McpServerRow,
  browserNonce: string,
): Promise<URL> {
  if (row.auth.type !== 'oauth' || !row.url) {
    throw new Error(`${row.name} is not an oauth server with a URL`);
  }
  const serverUrl = row.url;
  const network = new GuardedNetwork(deps.urlPolicy ?? { allowPrivateNetworks: true });
  let authorizationUrl: URL | undefined;
  const store = accountStore(deps, row, { browserNonce, ignoreTokens: true });
  const provider = accountProvider(deps, row, store, {
    onRedirect: (url) => {
      authorizationUrl = url;
    },
    fetchFn: network.fetch,
  });
  try {
    await auth(provider, { serverUrl, fetchFn: network.fetch });
  } catch (error) {
    throw new Error(
      `Cannot start the authorization for ${row.name} at ${new URL(serverUrl).origin}: ${describeError(error)}`,
      { cause: error },
    );
  } finally {
    await network.close();
  }
  if (!authorizationUrl) {
    throw new Error(
      `The authorization for ${row.name} finished without a page to send you to; try again.`,
    );
  }
  return authorizationUrl;
}
