/**
 * An `OAuthClientProvider` for the OAuth 2.1 authorization code grant with PKCE (MCP spec
 * 2025-11-25, "Authorization"), for servers a user connects their own account to.
 *
 * Everything OAuth is the SDK's `auth()`: protected resource and authorization server discovery
 * (RFC 9728, RFC 8414), the client's identity (a Client ID Metadata Document URL when the
 * authorization server advertises `client_id_metadata_document_supported` and one is configured,
 * else pre-registered credentials, else dynamic registration, RFC 7591), scope selection
 * (SEP-835: the 401's `WWW-Authenticate` scope, then `scopes_supported`, then the configured
 * scope), PKCE (RFC 7636), the RFC 8707 `resource`, the code exchange and refresh. This class
 * only stores what `auth()` hands it, in an {@link OAuthFlowStore}, and adds what the SDK leaves
 * to the application: the `state` parameter and the checks of the redirect back (state, `error`,
 * RFC 9207 `iss`), in {@link AuthorizationCodeProvider.completeAuthorization}.
 *
 * The SDK's HTTP transports drive it: a 401 makes them call `auth()`, which refreshes the tokens
 * when there is a refresh token (and retries the request once), or starts a new authorization;
 * a 403 with `error="insufficient_scope"` calls `auth()` once per distinct challenge with the
 * scope it names (step-up). A refresh cannot widen a grant (RFC 6749 §6), yet `auth()` refreshes
 * whenever there is a refresh token; so the transport's `fetch` goes through
 * {@link AuthorizationCodeProvider.observeFetch}, which notes such a challenge and hides the
 * refresh token from that `auth()`, making it start a new authorization for the wider scope
 * (`createRemoteTransport` does this). A new authorization calls
 * `redirectToAuthorization`: with `onRedirect` the URL goes to the user and the request fails
 * with the SDK's `UnauthorizedError` until {@link AuthorizationCodeProvider.completeAuthorization}
 * has run; without it (an agent session, the status monitor) it throws
 * {@link OAuthAuthorizationRequiredError}, whose `reason` says whether a refresh failed.
 */
import { randomBytes } from 'node:crypto';
import {
  auth,
  type OAuthClientProvider,
  type OAuthDiscoveryState,
} from '@modelcontextprotocol/sdk/client/auth.js';
import type {
  OAuthClientInformationMixed,
  OAuthClientMetadata,
  OAuthTokens,
} from '@modelcontextprotocol/sdk/shared/auth.js';
import type { FetchLike } from '@modelcontextprotocol/sdk/shared/transport.js';
import type { OAuthFlowStore, OAuthInvalidation } from './flow-store.js';
import { OAuthAuthorizationRequiredError, OAuthCallbackError } from './oauth-errors.js';

/**
 * How long before their expiry tokens are refreshed, in milliseconds (60 s, or half the lifetime
 * of tokens that live less than two minutes): a request is never sent with a token about to lapse
 * on the way.
 */
export const REFRESH_BEFORE_EXPIRY_MS = 60_000;

/** `client_name` Switchboard registers under. */
const DEFAULT_CLIENT_NAME = 'switchboard';

/** A client registered with an authorization server beforehand. */
export interface PreRegisteredClient {
  clientId: string;
  /** Absent for a public client. */
  clientSecret?: string;
  /**
   * `client_secret_basic`, `client_secret_post` or `none`; default: the SDK picks from the
   * authorization server's `token_endpoint_auth_methods_supported`.
   */
  tokenEndpointAuthMethod?: string;
  /**
   * The authorization server (its URL, as the protected resource metadata names it) the client
   * is registered with; the credentials are never sent to another. Default: the one the MCP
   * server names (the operator gave the client for this server).
   */
  authorizationServerUrl?: string;
}

/** Options of {@link AuthorizationCodeProvider}. */
export interface AuthorizationCodeProviderOptions {
  /** The MCP server's URL (the protected resource). */
  serverUrl: string | URL;
  store: OAuthFlowStore;
  /** Where the authorization server sends the browser back (`redirect_uri`). */
  redirectUrl: string | URL;
  /**
   * Sends the user to the authorization URL (prints it, or returns it to the dashboard). Without
   * it, a flow that needs the user throws {@link OAuthAuthorizationRequiredError}.
   */
  onRedirect?: (authorizationUrl: URL) => void | Promise<void>;
  /** Credentials registered beforehand; default none (CIMD or dynamic registration). */
  client?: PreRegisteredClient;
  /**
   * HTTPS URL of Switchboard's Client ID Metadata Document, used as `client_id` when the
   * authorization server advertises `client_id_metadata_document_supported` (the SDK decides).
   */
  clientMetadataUrl?: string;
  /**
   * Scope requested when neither the server's `WWW-Authenticate` challenge nor its
   * `scopes_supported` names one (the SDK's SEP-835 order), space-separated.
   */
  scope?: string;
  /** `client_name` in dynamic registration; default `switchboard`. */
  clientName?: string;
  /**
   * OpenID Connect `application_type` in dynamic registration: `native` for a loopback redirect
   * (the probe, RFC 8252), `web` for the API's callback.
   */
  applicationType?: 'native' | 'web';
  /** The `fetch` of {@link AuthorizationCodeProvider.completeAuthorization}; default global. */
  fetchFn?: FetchLike;
  /** Called with every token response saved (e.g. to add the tokens to a secret scrubber). */
  onTokens?: (tokens: OAuthTokens) => void;
  /** Clock in epoch milliseconds; default `Date.now`. */
  now?: () => number;
}

/** The query of the redirect back to `redirectUrl` (RFC 6749 §4.1.2, RFC 9207). */
export interface AuthorizationCallback {
  code?: string | null;
  state?: string | null;
  error?: string | null;
  error_description?: string | null;
  iss?: string | null;
}

/** Authorization code flow provider over an {@link OAuthFlowStore}; one per authorization. */
export class AuthorizationCodeProvider implements OAuthClientProvider {
  readonly #options: AuthorizationCodeProviderOptions;
  readonly #store: OAuthFlowStore;
  readonly #now: () => number;
  /** The `state` of the authorization being started, until its verifier is saved with it. */
  #state?: string;
  /** Set when the SDK dropped the tokens after a refresh was refused (`invalid_grant`). */
  #tokensRefused = false;
  /** Set by a 403 `insufficient_scope` challenge until new tokens are saved. */
  #scopeRefused = false;
  /** Set while {@link tokens} refreshes tokens about to expire. */
  #refreshing = false;
  /** The transport's (guarded) fetch, seen by {@link observeFetch}, for refreshes. */
  #transportFetch?: FetchLike;

  /**
   * @throws Error when `clientMetadataUrl` is not an HTTPS URL with a path (SEP-991).
   */
  constructor(options: AuthorizationCodeProviderOptions) {
    const metadataUrl = options.clientMetadataUrl;
    if (metadataUrl !== undefined) {
      const parsed = URL.canParse(metadataUrl) ? new URL(metadataUrl) : undefined;
      if (parsed?.protocol !== 'https:' || parsed.pathname === '/') {
        throw new Error(
          `clientMetadataUrl must be an https URL with a path, got ${JSON.stringify(metadataUrl)}`,
        );
      }
    }
    this.#options = options;
    this.#store = options.store;
    this.#now = options.now ?? Date.now;
  }

  get redirectUrl(): string {
    return String(this.#options.redirectUrl);
  }

  get clientMetadataUrl(): string | undefined {
    return this.#options.clientMetadataUrl;
  }

  get clientMetadata(): OAuthClientMetadata {
    const options = this.#options;
    const metadata: OAuthClientMetadata & { application_type?: string } = {
      client_name: options.clientName ?? DEFAULT_CLIENT_NAME,
      redirect_uris: [this.redirectUrl],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      ...(options.scope !== undefined && { scope: options.scope }),
      ...(options.applicationType !== undefined && { application_type: options.applicationType }),
    };
    return metadata;
  }

  /** A fresh unguessable `state` for each authorization request (RFC 6749 §10.12). */
  state(): string {
    this.#state = randomBytes(32).toString('base64url');
    return this.#state;
  }

  /**
   * The client for the authorization server discovery found: pre-registered credentials, or the
   * registration stored for that server. Undefined before discovery.
   *
   * @throws Error when pre-registered credentials belong to another authorization server.
   */
  async clientInformation(): Promise<OAuthClientInformationMixed | undefined> {
    const issuer = await this.#authorizationServerUrl();
    if (issuer === undefined) return undefined;
    const client = this.#options.client;
    if (client) {
      if (client.authorizationServerUrl && !sameUrl(client.authorizationServerUrl, issuer)) {
        throw new Error(
          `the client id was registered with ${client.authorizationServerUrl}, but the MCP server names the authorization server ${issuer}`,
        );
      }
      return {
        client_id: client.clientId,
        ...(client.clientSecret !== undefined && { client_secret: client.clientSecret }),
        ...(client.tokenEndpointAuthMethod !== undefined && {
          token_endpoint_auth_method: client.tokenEndpointAuthMethod,
        }),
        redirect_uris: [this.redirectUrl],
        issuer,
      } as OAuthClientInformationMixed;
    }
    return (await this.#store.clientInformation(issuer)) ?? undefined;
  }

  async saveClientInformation(information: OAuthClientInformationMixed): Promise<void> {
    if (this.#options.client) return;
    const issuer = information.issuer ?? (await this.#authorizationServerUrl());
    if (issuer === undefined) return;
    await this.#store.saveClientInformation(issuer, information);
  }

  /**
   * The stored tokens; after a 403 `insufficient_scope` challenge, without the refresh token (see
   * the module doc), until new tokens are saved.
   */
  async tokens(): Promise<OAuthTokens | undefined> {
    let tokens = (await this.#store.tokens()) ?? undefined;
    if (tokens?.refresh_token && !this.#scopeRefused && !this.#refreshing) {
      const expiresAt = await this.#store.tokensExpireAt?.();
      // A minute before, or half the lifetime of short-lived tokens.
      const lifetimeMs = typeof tokens.expires_in === 'number' ? tokens.expires_in * 1000 : 0;
      const margin = Math.min(REFRESH_BEFORE_EXPIRY_MS, lifetimeMs / 2);
      if (expiresAt !== undefined && expiresAt - this.#now() < margin) {
        await this.#refreshNow();
        tokens = (await this.#store.tokens()) ?? undefined;
      }
    }
    if (!tokens || !this.#scopeRefused) return tokens;
    const withoutRefresh = { ...tokens };
    delete withoutRefresh.refresh_token;
    return withoutRefresh;
  }

  async saveTokens(tokens: OAuthTokens): Promise<void> {
    this.#tokensRefused = false;
    this.#scopeRefused = false;
    this.#options.onTokens?.(tokens);
    await this.#store.saveTokens(tokens);
  }

  /**
   * Hands the authorization URL to `onRedirect`.
   *
   * @throws OAuthAuthorizationRequiredError without `onRedirect`: `refresh_failed` when stored
   *   tokens could not be refreshed, `authorization_required` otherwise.
   */
  async redirectToAuthorization(authorizationUrl: URL): Promise<void> {
    const onRedirect = this.#options.onRedirect;
    if (!onRedirect) {
      if (this.#scopeRefused) throw new OAuthAuthorizationRequiredError('insufficient_scope');
      const stored = await this.#store.tokens();
      const refreshFailed = this.#tokensRefused || stored?.refresh_token !== undefined;
      throw new OAuthAuthorizationRequiredError(
        refreshFailed ? 'refresh_failed' : 'authorization_required',
      );
    }
    await onRedirect(authorizationUrl);
  }

  /**
   * Wraps the MCP transport's `fetch`: a 403 answer whose `WWW-Authenticate` says
   * `error="insufficient_scope"` makes the next `auth()` authorize anew instead of refreshing.
   */
  observeFetch(fetchFn: FetchLike): FetchLike {
    this.#transportFetch = fetchFn;
    return async (url, init) => {
      const response = await fetchFn(url, init);
      if (
        response.status === 403 &&
        /\berror\s*=\s*"?insufficient_scope\b/i.test(response.headers.get('www-authenticate') ?? '')
      ) {
        this.#scopeRefused = true;
      }
      return response;
    };
  }

  async saveCodeVerifier(codeVerifier: string): Promise<void> {
    const authorizationServerUrl = await this.#authorizationServerUrl();
    if (this.#state === undefined || authorizationServerUrl === undefined) {
      throw new Error('an authorization request was started without state or discovery');
    }
    await this.#store.savePendingAuthorization({
      state: this.#state,
      codeVerifier,
      authorizationServerUrl,
      createdAtMs: this.#now(),
    });
    this.#state = undefined;
  }

  /** @throws Error when no authorization is pending. */
  async codeVerifier(): Promise<string> {
    const pending = await this.#store.pendingAuthorization();
    if (!pending) throw new Error('no authorization is pending');
    return pending.codeVerifier;
  }

  async invalidateCredentials(what: OAuthInvalidation): Promise<void> {
    if (what === 'tokens' || what === 'all') this.#tokensRefused = true;
    await this.#store.invalidate(what);
  }

  async discoveryState(): Promise<OAuthDiscoveryState | undefined> {
    return (await this.#store.discoveryState()) ?? undefined;
  }

  async saveDiscoveryState(state: OAuthDiscoveryState): Promise<void> {
    await this.#store.saveDiscoveryState(state);
  }

  /**
   * Finishes an authorization from the redirect back: checks `state` against the pending
   * authorization, turns an `error` into words, checks `iss` against the authorization server's
   * issuer (RFC 9207 §2.4: it must match when present, and be present when the metadata says
   * `authorization_response_iss_parameter_supported`), then has the SDK's `auth()` exchange the
   * code (with the PKCE verifier) and save the tokens. The pending authorization is forgotten
   * whatever happens, so a redirect cannot be replayed.
   *
   * @throws OAuthCallbackError `no_pending_authorization`, `state_mismatch`, `access_denied` (or
   *   the redirect's other `error` code), `issuer_mismatch` or `missing_code`; the SDK's
   *   `OAuthError` subclasses when the token endpoint refuses the code.
   */
  async completeAuthorization(callback: AuthorizationCallback | URLSearchParams): Promise<void> {
    const query = callback instanceof URLSearchParams ? Object.fromEntries(callback) : callback;
    const pending = await this.#store.pendingAuthorization();
    if (!pending) {
      throw new OAuthCallbackError('no_pending_authorization', 'no authorization is pending');
    }
    if (!query.state || query.state !== pending.state) {
      await this.#store.invalidate('verifier');
      throw new OAuthCallbackError(
        'state_mismatch',
        'the redirect does not carry the state of the authorization request; start again',
      );
    }
    try {
      if (query.error) {
        const description = query.error_description ? `: ${query.error_description}` : '';
        throw new OAuthCallbackError(
          query.error,
          `the authorization server refused the authorization (${query.error}${description})`,
        );
      }
      await this.#checkIssuer(query.iss ?? undefined);
      if (!query.code) {
        throw new OAuthCallbackError('missing_code', 'the redirect carries no authorization code');
      }
      await auth(this, {
        serverUrl: this.#options.serverUrl,
        authorizationCode: query.code,
        fetchFn: this.#options.fetchFn,
      });
    } finally {
      await this.#store.invalidate('verifier');
    }
  }

  async #checkIssuer(iss: string | undefined): Promise<void> {
    const metadata = (await this.#store.discoveryState())?.authorizationServerMetadata;
    if (!metadata) return;
    if (iss === undefined) {
      if ((metadata as Record<string, unknown>).authorization_response_iss_parameter_supported) {
        throw new OAuthCallbackError(
          'issuer_mismatch',
          `the redirect carries no iss, and the authorization server ${metadata.issuer} says it sends one (RFC 9207)`,
        );
      }
      return;
    }
    if (iss !== metadata.issuer) {
      throw new OAuthCallbackError(
        'issuer_mismatch',
        `the redirect came from issuer ${JSON.stringify(iss)}, not ${metadata.issuer} (RFC 9207); the authorization may have been answered by another server`,
      );
    }
  }

  /**
   * Refreshes the tokens before they expire: the SDK's `auth()`, which with a refresh token
   * refreshes (a refused refresh invalidates them, and the server's next 401 then leads to the
   * usual `needs_authorization`). Its failure is left to that path.
   */
  async #refreshNow(): Promise<void> {
    this.#refreshing = true;
    try {
      await auth(this, {
        serverUrl: this.#options.serverUrl,
        fetchFn: this.#options.fetchFn ?? this.#transportFetch,
      });
    } catch {
      // The request goes out with what is stored; a 401 then runs the SDK's own handling.
    } finally {
      this.#refreshing = false;
    }
  }

  async #authorizationServerUrl(): Promise<string | undefined> {
    return (await this.#store.discoveryState())?.authorizationServerUrl;
  }
}

/** Two URLs as parsed, ignoring one trailing slash (as the SDK compares issuers). */
function sameUrl(a: string, b: string): boolean {
  const strip = (url: string) => {
    const href = URL.canParse(url) ? new URL(url).href : url;
    return href.endsWith('/') ? href.slice(0, -1) : href;
  };
  return strip(a) === strip(b);
}
