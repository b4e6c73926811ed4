/**
 * Bearer-token authentication (RFC 6750). Tokens are random, shown once, and stored only as
 * their SHA-256 hash, so a database leak reveals no usable token.
 */
import { and, eq, isNull, lt, or, sql } from 'drizzle-orm';
import type { RequestHandler, Response } from 'express';
import type { Database } from '../../shared/db/open.js';
import {
  allowsApi,
  allowsGateway,
  apiScopeRefusal,
  gatewayServerIds,
  hashToken,
  type TokenScopes,
} from '../../shared/db/api-tokens.js';
import { apiTokens, users, type User } from '../../shared/db/schema.js';
import { ForbiddenError, UnauthorizedError } from './errors.js';

// Generating and storing tokens is shared with the admin command lines (`npm run admin-token`).
export {
  TOKEN_PREFIX,
  generateToken,
  hashToken,
  storeToken,
  type TokenScopes,
} from '../../shared/db/api-tokens.js';

/** How often, at most, a token's `last_used_at` is written: once a minute. */
export const TOKEN_TOUCH_INTERVAL_MS = 60_000;

/** A valid token and its owner, as {@link authenticateToken} finds them. */
export interface Authenticated {
  user: User;
  tokenId: number;
  /** When the token was last used, as stored (updated at most once a minute). */
  lastUsedAt: Date | null;
  /** The token's label (`api_tokens.label`, may be empty). */
  label: string;
  /**
   * What the token opens (`api_tokens.scopes`): null for everything, else a list of `api`,
   * `gateway` and `server:<id>` ({@link TokenScopes}). This lookup does not check them:
   * {@link requireAuth} and `TokenCache` refuse a token without `api`,
   * {@link authenticateGatewayToken} one without `gateway`.
   */
  scopes: TokenScopes;
}

/**
 * The token lookup every authenticated request runs, built once per database (drizzle's
 * prepared query: its SQL is not rebuilt per request, which was a tenth of a request's CPU).
 */
const tokenLookups = new WeakMap<Database, ReturnType<typeof prepareTokenLookup>>();

function prepareTokenLookup(db: Database) {
  return db
    .select({
      user: users,
      tokenId: apiTokens.id,
      lastUsedAt: apiTokens.lastUsedAt,
      label: apiTokens.label,
      scopes: apiTokens.scopes,
    })
    .from(apiTokens)
    .innerJoin(users, eq(users.id, apiTokens.userId))
    .where(and(eq(apiTokens.tokenHash, sql.placeholder('tokenHash')), isNull(apiTokens.revokedAt)))
    .limit(1)
    .prepare('switchboard_authenticate_token');
}

/**
 * The user and token row a plain token stands for, or `undefined` when unknown or revoked. It
 * does not check the token's scopes (see {@link Authenticated.scopes}).
 */
export async function authenticateToken(
  db: Database,
  token: string,
): Promise<Authenticated | undefined> {
  let lookup = tokenLookups.get(db);
  if (!lookup) tokenLookups.set(db, (lookup = prepareTokenLookup(db)));
  const [row] = await lookup.execute({ tokenHash: hashToken(token) });
  return row;
}

/**
 * The user a plain token belongs to, for the REST API: `undefined` when the token is unknown,
 * revoked, or lacks the `api` scope (a gateway-only token).
 */
export async function userForToken(db: Database, token: string): Promise<User | undefined> {
  const found = await authenticateToken(db, token);
  return found && allowsApi(found.scopes) ? found.user : undefined;
}

/**
 * Refuses a token that may not use the REST API and status endpoints (its scopes lack `api`).
 *
 * @param scopes the token's `api_tokens.scopes`; null (unrestricted) passes.
 * @throws ForbiddenError (403) naming the token's scopes ({@link apiScopeRefusal}).
 */
export function assertApiScope(scopes: TokenScopes): void {
  if (!allowsApi(scopes)) throw new ForbiddenError(apiScopeRefusal(scopes));
}

/** The caller of the MCP gateway (`/mcp`, issue 15), as {@link authenticateGatewayToken} finds it. */
export interface GatewayCaller {
  user: User;
  tokenId: number;
  /** The token's label (may be empty), recorded with each gateway call (`tool_calls.token_label`). */
  label: string;
  /**
   * The servers the token's `server:<id>` scopes limit the gateway to, as listed; null = all the
   * user's servers. An id may name a server deleted since the token was made: skip it.
   */
  servers: number[] | null;
}

/**
 * Authenticates a bearer token for the MCP gateway and keeps its `last_used_at` current to the
 * minute ({@link touchToken}), as {@link requireAuth} does.
 *
 * @param token the plain token from `Authorization: Bearer <token>`.
 * @returns the caller, or `undefined` when the token is unknown, revoked, or its scopes lack
 *   `gateway` (an `api`-only token); {@link gatewayTokenProblem} tells those apart.
 * @throws the database's error when the lookup fails.
 */
export async function authenticateGatewayToken(
  db: Database,
  token: string,
): Promise<GatewayCaller | undefined> {
  const found = await authenticateToken(db, token);
  if (!found || !allowsGateway(found.scopes)) return undefined;
  await touchToken(db, found);
  return {
    user: found.user,
    tokenId: found.tokenId,
    label: found.label,
    servers: gatewayServerIds(found.scopes),
  };
}

/**
 * Why {@link authenticateGatewayToken} refused a token, for choosing the answer: `unknown` (unknown
 * or revoked: 401), `not_gateway` (valid, but its scopes lack `gateway`: 403), or `undefined` when
 * the token may use the gateway. Touches nothing.
 *
 * @throws the database's error when the lookup fails.
 */
export async function gatewayTokenProblem(
  db: Database,
  token: string,
): Promise<'unknown' | 'not_gateway' | undefined> {
  const found = await authenticateToken(db, token);
  if (!found) return 'unknown';
  return allowsGateway(found.scopes) ? undefined : 'not_gateway';
}

/**
 * Records that a token was used, unless it was already recorded within `intervalMs`: the
 * condition is in the `where`, so concurrent requests write once and most requests not at all.
 */
export async function touchToken(
  db: Database,
  found: Pick<Authenticated, 'tokenId' | 'lastUsedAt'>,
  now: Date = new Date(),
  intervalMs = TOKEN_TOUCH_INTERVAL_MS,
): Promise<void> {
  const threshold = new Date(now.getTime() - intervalMs);
  if (found.lastUsedAt && found.lastUsedAt > threshold) return;
  await db
    .update(apiTokens)
    .set({ lastUsedAt: now })
    .where(
      and(
        eq(apiTokens.id, found.tokenId),
        or(isNull(apiTokens.lastUsedAt), lt(apiTokens.lastUsedAt, threshold)),
      ),
    );
}

/**
 * Middleware that requires `Authorization: Bearer <token>` with a token that may use the REST
 * API, puts the caller in `res.locals.user` and the token's id in `res.locals.tokenId`, and keeps
 * the token's `last_used_at` current to the minute ({@link touchToken}).
 *
 * @throws UnauthorizedError (401) when the header is missing, malformed, or the token unknown.
 * @throws ForbiddenError (403) when the token's scopes lack `api` ({@link assertApiScope}).
 */
export function requireAuth(db: Database): RequestHandler {
  return async (req, res, next) => {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(req.get('authorization') ?? '');
    if (!match) throw new UnauthorizedError();
    const found = await authenticateToken(db, match[1]!);
    if (!found) throw new UnauthorizedError('The API token is unknown or revoked.');
    assertApiScope(found.scopes);
    await touchToken(db, found);
    res.locals.user = found.user;
    res.locals.tokenId = found.tokenId;
    next();
  };
}

/** The authenticated caller of a request that passed {@link requireAuth}. */
export function currentUser(res: Response): User {
  const user = res.locals.user as User | undefined;
  if (!user) throw new UnauthorizedError();
  return user;
}
