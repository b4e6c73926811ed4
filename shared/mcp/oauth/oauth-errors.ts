/**
 * Errors of the authorization code flow. The API maps {@link OAuthAuthorizationRequiredError}
 * to the `needs_authorization` status (DESIGN §5).
 */

/** Why the user has to authorize (again). */
export type AuthorizationRequiredReason =
  /** No usable tokens: the account was never connected, or the server wants more scope. */
  | 'authorization_required'
  /** Stored tokens could not be refreshed (revoked, expired refresh token, server refused). */
  | 'refresh_failed'
  /** The server wants more scope than the tokens carry (403 `insufficient_scope`). */
  | 'insufficient_scope';

const MESSAGES: Record<AuthorizationRequiredReason, string> = {
  authorization_required: 'the server needs an OAuth authorization; connect the account first',
  refresh_failed: 'the OAuth tokens could not be refreshed; the account must be connected again',
  insufficient_scope:
    'the server needs more OAuth scope than the account granted; connect the account again',
};

/**
 * The flow needs the user at the authorization server and nobody is there to send them. `code`
 * says why; `name` and `code` survive the connection's scrubbing of error chains, which copies
 * errors into plain `Error`s (see {@link authorizationRequiredReason}).
 */
export class OAuthAuthorizationRequiredError extends Error {
  override readonly name = 'OAuthAuthorizationRequiredError';
  readonly code: AuthorizationRequiredReason;

  constructor(reason: AuthorizationRequiredReason) {
    super(MESSAGES[reason]);
    this.code = reason;
  }
}

/** The redirect back from the authorization server cannot be accepted. */
export class OAuthCallbackError extends Error {
  override readonly name = 'OAuthCallbackError';
  /**
   * `no_pending_authorization`, `state_mismatch`, `issuer_mismatch`, `missing_code`, or the
   * `error` the authorization server redirected with (RFC 6749 §4.1.2.1, e.g. `access_denied`).
   */
  readonly code: string;

  constructor(code: string, message: string) {
    super(message);
    this.code = code;
  }
}

/**
 * Why authorization is required, when an {@link OAuthAuthorizationRequiredError} (or its scrubbed
 * copy, matched by `name`) is in `error`'s `cause` chain; undefined otherwise.
 */
export function authorizationRequiredReason(
  error: unknown,
): AuthorizationRequiredReason | undefined {
  for (let current = error; current instanceof Error; current = current.cause) {
    if (current.name === 'OAuthAuthorizationRequiredError') {
      const code = (current as { code?: unknown }).code;
      if (typeof code === 'string' && code in MESSAGES) return code as AuthorizationRequiredReason;
    }
  }
  return undefined;
}
