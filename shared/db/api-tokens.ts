/**
 * API tokens as stored in `api_tokens`: how one is generated (random, recognisable by its `sb_`
 * prefix) and stored (only its SHA-256 hash, so a database leak reveals no usable token). Shared
 * by the API (first start, `/api/tokens`, authentication) and the admin command lines
 * (`npm run admin-token`), which use no HTTP layer.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { Database } from './open.js';
import { apiTokens } from './schema.js';

/** Prefix that makes Switchboard tokens recognisable in secret scanners. */
export const TOKEN_PREFIX = 'sb_';

/** Hex SHA-256 of a token, the form stored in `api_tokens.token_hash`. */
export function hashToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

/** A new random token: `sb_` + 32 random bytes in base64url (256 bits). */
export function generateToken(): string {
  return TOKEN_PREFIX + randomBytes(32).toString('base64url');
}

/**
 * Stores a token for a user.
 *
 * @param token the plain token; only its hash is written.
 * @param label shown in the token list (`GET /api/tokens`); default empty.
 * @param scopes what the token opens ({@link TokenScopes}); default null, everything. Not
 *   checked here: the API validates what callers send (`createTokenBody`).
 * @returns the new row's id.
 * @throws the driver's unique-violation error (SQLSTATE 23505) when the token is already stored.
 */
export async function storeToken(
  db: Database,
  userId: number,
  token: string,
  label = '',
  scopes: TokenScopes = null,
): Promise<number> {
  const [row] = await db
    .insert(apiTokens)
    .values({ userId, tokenHash: hashToken(token), label, scopes: scopes && [...scopes] })
    .returning({ id: apiTokens.id });
  return row!.id;
}

/** The scope that opens the REST API, the status endpoints, the status stream and `/metrics`. */
export const API_SCOPE = 'api';
/** The scope that opens the MCP gateway (`/mcp`, issue 15). */
export const GATEWAY_SCOPE = 'gateway';
/** Prefix of a scope limiting the gateway to one server: `server:<id>`. */
export const SERVER_SCOPE_PREFIX = 'server:';

/**
 * A token's `api_tokens.scopes` (issue 15): null for an unrestricted token (the REST API and the
 * gateway, every token made before scopes existed); otherwise a non-empty list of
 * {@link API_SCOPE}, {@link GATEWAY_SCOPE} and `server:<id>` entries, the last limiting the
 * gateway to those servers of the owner.
 */
export type TokenScopes = readonly string[] | null;

/** Whether a token with these scopes may use the REST API and status endpoints. */
export function allowsApi(scopes: TokenScopes): boolean {
  return scopes === null || scopes.includes(API_SCOPE);
}

/** Whether a token with these scopes may use the MCP gateway. */
export function allowsGateway(scopes: TokenScopes): boolean {
  return scopes === null || scopes.includes(GATEWAY_SCOPE);
}

/**
 * The servers a token's `server:<id>` scopes limit the gateway to, in the order listed, or null
 * when it names none (every server of the owner). An entry whose id is not a positive integer is
 * skipped (the API never stores one).
 */
export function gatewayServerIds(scopes: TokenScopes): number[] | null {
  const ids = (scopes ?? []).flatMap((scope) => {
    if (!scope.startsWith(SERVER_SCOPE_PREFIX)) return [];
    const id = Number(scope.slice(SERVER_SCOPE_PREFIX.length));
    return Number.isSafeInteger(id) && id > 0 ? [id] : [];
  });
  return ids.length > 0 ? ids : null;
}

/**
 * The 403 detail for a token without the {@link API_SCOPE} used on the REST API or a status
 * endpoint, naming its scopes, e.g. "This token is limited to the MCP gateway (scopes: gateway);
 * use a token with the api scope for the REST API."
 */
export function apiScopeRefusal(scopes: TokenScopes): string {
  const listed = scopes === null ? 'none' : scopes.join(', ') || 'none';
  return (
    `This token is limited to the MCP gateway (scopes: ${listed}); use a token with the ` +
    `${API_SCOPE} scope for the REST API.`
  );
}
