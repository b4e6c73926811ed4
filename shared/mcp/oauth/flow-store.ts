/**
 * Where an OAuth authorization code flow keeps its state between steps (MCP spec 2025-11-25,
 * "Authorization"): client registrations keyed by the authorization server that issued them,
 * the tokens, the pending authorization (state and PKCE verifier) and the discovery result.
 *
 * One store holds one authorization: one user's account on one MCP server. The in-memory store
 * below serves the probe and tests; the API keeps the same data in Postgres, sealed.
 */
import type { OAuthDiscoveryState } from '@modelcontextprotocol/sdk/client/auth.js';
import type {
  OAuthClientInformationMixed,
  OAuthTokens,
} from '@modelcontextprotocol/sdk/shared/auth.js';

/** An authorization request sent to the user's browser and not yet answered. */
export interface PendingAuthorization {
  /** The `state` parameter sent, which the redirect must echo (RFC 6749 §10.12). */
  state: string;
  /** The PKCE `code_verifier` of the request (RFC 7636). */
  codeVerifier: string;
  /** The authorization server (its URL as discovered) the request went to. */
  authorizationServerUrl: string;
  /** When the request was made, in epoch milliseconds. */
  createdAtMs: number;
}

/** What {@link OAuthFlowStore.invalidate} forgets; the SDK's `invalidateCredentials` scopes. */
export type OAuthInvalidation = 'all' | 'client' | 'tokens' | 'verifier' | 'discovery';

/**
 * The storage of an {@link AuthorizationCodeProvider}. Methods may be synchronous or async.
 * Values are stored and returned unchanged, including the `issuer` stamp the SDK puts on client
 * information and tokens.
 *
 * Client information is keyed by the authorization server's URL (as discovery found it), so a
 * registration is never presented to another authorization server (MCP 2026-07-28, SEP-2352).
 */
export interface OAuthFlowStore {
  /** The client registered with `authorizationServerUrl`, if any. */
  clientInformation(
    authorizationServerUrl: string,
  ): OAuthClientInformationMixed | undefined | Promise<OAuthClientInformationMixed | undefined>;
  saveClientInformation(
    authorizationServerUrl: string,
    information: OAuthClientInformationMixed,
  ): void | Promise<void>;
  tokens(): OAuthTokens | undefined | Promise<OAuthTokens | undefined>;
  saveTokens(tokens: OAuthTokens): void | Promise<void>;
  /**
   * When the stored access token expires, in epoch milliseconds (from `expires_in` at saving);
   * undefined when unknown. The provider refreshes shortly before. Optional.
   */
  tokensExpireAt?(): number | undefined | Promise<number | undefined>;
  pendingAuthorization():
    PendingAuthorization | undefined | Promise<PendingAuthorization | undefined>;
  savePendingAuthorization(pending: PendingAuthorization): void | Promise<void>;
  discoveryState(): OAuthDiscoveryState | undefined | Promise<OAuthDiscoveryState | undefined>;
  saveDiscoveryState(state: OAuthDiscoveryState): void | Promise<void>;
  /**
   * Forgets part of the state: `client` every client registration, `tokens` the tokens,
   * `verifier` the pending authorization, `discovery` the discovery state, `all` everything.
   */
  invalidate(what: OAuthInvalidation): void | Promise<void>;
}

/** An {@link OAuthFlowStore} in process memory: gone when the process ends. */
export class InMemoryOAuthFlowStore implements OAuthFlowStore {
  readonly #clients = new Map<string, OAuthClientInformationMixed>();
  #tokens?: OAuthTokens;
  #expiresAt?: number;

  /** @param now clock in epoch milliseconds, for token expiry; default `Date.now`. */
  constructor(private readonly now: () => number = Date.now) {}
  #pending?: PendingAuthorization;
  #discovery?: OAuthDiscoveryState;

  clientInformation(authorizationServerUrl: string): OAuthClientInformationMixed | undefined {
    return this.#clients.get(authorizationServerUrl);
  }

  saveClientInformation(
    authorizationServerUrl: string,
    information: OAuthClientInformationMixed,
  ): void {
    this.#clients.set(authorizationServerUrl, information);
  }

  tokens(): OAuthTokens | undefined {
    return this.#tokens;
  }

  saveTokens(tokens: OAuthTokens): void {
    this.#tokens = tokens;
    this.#expiresAt =
      typeof tokens.expires_in === 'number' ? this.now() + tokens.expires_in * 1000 : undefined;
  }

  tokensExpireAt(): number | undefined {
    return this.#tokens ? this.#expiresAt : undefined;
  }

  pendingAuthorization(): PendingAuthorization | undefined {
    return this.#pending;
  }

  savePendingAuthorization(pending: PendingAuthorization): void {
    this.#pending = pending;
  }

  discoveryState(): OAuthDiscoveryState | undefined {
    return this.#discovery;
  }

  saveDiscoveryState(state: OAuthDiscoveryState): void {
    this.#discovery = state;
  }

  invalidate(what: OAuthInvalidation): void {
    if (what === 'all' || what === 'client') this.#clients.clear();
    if (what === 'all' || what === 'tokens') this.#tokens = undefined;
    if (what === 'all' || what === 'verifier') this.#pending = undefined;
    if (what === 'all' || what === 'discovery') this.#discovery = undefined;
  }
}
