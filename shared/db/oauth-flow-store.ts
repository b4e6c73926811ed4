/**
 * The API's and the agent's {@link OAuthFlowStore}: one user's authorization on one `oauth`
 * server, kept in Postgres (or PGlite) and sealed (shared/db/oauth.ts). Registrations are shared
 * by every server and user of the same authorization server and redirect URI; tokens and
 * discovery belong to the server (each server row has one owner); an authorization under way is
 * a row of `oauth_flows`, written when the SDK saves the PKCE verifier and taken once by the
 * callback.
 */
import type { OAuthDiscoveryState } from '@modelcontextprotocol/sdk/client/auth.js';
import type {
  OAuthClientInformationMixed,
  OAuthTokens,
} from '@modelcontextprotocol/sdk/shared/auth.js';
import type {
  OAuthFlowStore,
  OAuthInvalidation,
  PendingAuthorization,
} from '../mcp/oauth/flow-store.js';
import type { SecretBox } from '../secrets.js';
import {
  createOAuthFlow,
  deleteClientRegistration,
  findClientRegistration,
  findOAuthConnection,
  markNeedsAuthorization,
  saveClientRegistration,
  saveOAuthDiscovery,
  saveOAuthTokens,
} from './oauth.js';
import type { Database } from './open.js';

/** Why tokens were dropped when the SDK gives up on them (`invalidateCredentials('tokens')`). */
export const TOKENS_REFUSED_REASON =
  'the authorization server no longer accepts the stored tokens (the refresh was refused); connect the account again';

/** Options of {@link DatabaseOAuthFlowStore}. */
export interface DatabaseOAuthFlowStoreOptions {
  db: Database;
  box: SecretBox;
  /** The `oauth` server and its owner. */
  serverId: number;
  userId: number;
  /** The redirect URI registrations are made for (`<PUBLIC_URL>/api/oauth/callback`). */
  redirectUri: string;
  /**
   * Starting an authorization: the nonce of the browser that starts it (kept in its cookie);
   * the authorization under way is bound to it. Without it, the store cannot start one.
   */
  browserNonce?: string;
  /** Finishing an authorization: the one taken by its `state` from `oauth_flows`. */
  pending?: PendingAuthorization;
  /** Hide the stored tokens, so that the SDK authorizes anew (Connect, Reconnect). */
  ignoreTokens?: boolean;
}

/** An {@link OAuthFlowStore} over the OAuth tables; create one per authorization step. */
export class DatabaseOAuthFlowStore implements OAuthFlowStore {
  readonly #options: DatabaseOAuthFlowStoreOptions;
  #pending: PendingAuthorization | undefined;
  #discovery: OAuthDiscoveryState | undefined;
  #ignoreTokens: boolean;
  /** The expiry of the tokens {@link tokens} read last. */
  #expiresAt: number | undefined;

  /** @param options the database, the server and user, and what this step is. */
  constructor(options: DatabaseOAuthFlowStoreOptions) {
    this.#options = options;
    this.#pending = options.pending;
    this.#ignoreTokens = options.ignoreTokens ?? false;
  }

  async clientInformation(
    authorizationServerUrl: string,
  ): Promise<OAuthClientInformationMixed | undefined> {
    const { db, box, redirectUri } = this.#options;
    return (await findClientRegistration(db, box, authorizationServerUrl, redirectUri)) as
      OAuthClientInformationMixed | undefined;
  }

  async saveClientInformation(
    authorizationServerUrl: string,
    information: OAuthClientInformationMixed,
  ): Promise<void> {
    const { db, box, redirectUri } = this.#options;
    await saveClientRegistration(db, box, authorizationServerUrl, redirectUri, information);
  }

  /**
   * The stored tokens, read from the database on every call (another process, the API's Test or
   * another session, may have refreshed them). The expiry read with them is kept for
   * {@link tokensExpireAt}, which the provider asks right after, so one request reads once.
   */
  async tokens(): Promise<OAuthTokens | undefined> {
    if (this.#ignoreTokens) return undefined;
    const { db, box, serverId } = this.#options;
    const connection = await findOAuthConnection(db, box, serverId);
    this.#expiresAt = connection?.tokens ? connection.expiresAt?.getTime() : undefined;
    return (connection?.tokens ?? undefined) as OAuthTokens | undefined;
  }

  async saveTokens(tokens: OAuthTokens): Promise<void> {
    const { db, box, serverId, userId } = this.#options;
    const discovery = await this.discoveryState();
    await saveOAuthTokens(db, box, {
      serverId,
      userId,
      issuer: discovery?.authorizationServerUrl ?? null,
      tokens: tokens as unknown as Record<string, unknown>,
    });
    this.#ignoreTokens = false;
  }

  /** When the tokens last read by {@link tokens} expire, in epoch milliseconds. */
  tokensExpireAt(): number | undefined {
    return this.#ignoreTokens ? undefined : this.#expiresAt;
  }

  pendingAuthorization(): PendingAuthorization | undefined {
    return this.#pending;
  }

  /**
   * Records the authorization under way in `oauth_flows`, bound to the starting browser. A store
   * made without `browserNonce` (a session, Test) records nothing: nobody is there to use the
   * URL, and the provider then fails with `OAuthAuthorizationRequiredError`.
   */
  async savePendingAuthorization(pending: PendingAuthorization): Promise<void> {
    const { db, box, serverId, userId, redirectUri, browserNonce } = this.#options;
    if (!browserNonce) return;
    await createOAuthFlow(db, box, {
      state: pending.state,
      userId,
      serverId,
      issuer: pending.authorizationServerUrl,
      codeVerifier: pending.codeVerifier,
      redirectUri,
      browserNonce,
    });
    this.#pending = pending;
  }

  async discoveryState(): Promise<OAuthDiscoveryState | undefined> {
    if (this.#discovery) return this.#discovery;
    const { db, box, serverId } = this.#options;
    const stored = (await findOAuthConnection(db, box, serverId))?.discovery;
    this.#discovery = (stored ?? undefined) as OAuthDiscoveryState | undefined;
    return this.#discovery;
  }

  async saveDiscoveryState(state: OAuthDiscoveryState): Promise<void> {
    const { db, serverId, userId } = this.#options;
    this.#discovery = state;
    await saveOAuthDiscovery(db, serverId, userId, state);
  }

  async invalidate(what: OAuthInvalidation): Promise<void> {
    const { db, serverId, userId, redirectUri } = this.#options;
    if (what === 'all' || what === 'client') {
      const issuer = (await this.discoveryState())?.authorizationServerUrl;
      if (issuer) await deleteClientRegistration(db, issuer, redirectUri);
    }
    if (what === 'all' || what === 'tokens') {
      await markNeedsAuthorization(db, serverId, userId, TOKENS_REFUSED_REASON);
    }
    if (what === 'all' || what === 'verifier') this.#pending = undefined;
    if (what === 'all' || what === 'discovery') {
      this.#discovery = undefined;
      await saveOAuthDiscovery(db, serverId, userId, null);
    }
  }
}
