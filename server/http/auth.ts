/**
 * Bearer-token authentication (RFC 6750). Tokens are random, shown once, and stored only as
 * their SHA-256 hash, so a database leak reveals no usable token.
 */
import { and, eq, isNull, lt, or, sql } from 'drizzle-orm';
import type { RequestHandler, Response } from 'express';
import type { Database } from '../../shared/db/open.js';
import { hashToken } from '../../shared/db/api-tokens.js';
import { apiTokens, users, type User } from '../../shared/db/schema.js';
import { UnauthorizedError } from './errors.js';

// Generating and storing tokens is shared with the admin command lines (`npm run admin-token`).
export { TOKEN_PREFIX, generateToken, hashToken, storeToken } from '../../shared/db/api-tokens.js';

/** How often, at most, a token's `last_used_at` is written: once a minute. */
export const TOKEN_TOUCH_INTERVAL_MS = 60_000;

/** A valid token and its owner, as {@link authenticateToken} finds them. */
export interface Authenticated {
  user: User;
  tokenId: number;
  /** When the token was last used, as stored (updated at most once a minute). */
  lastUsedAt: Date | null;
}

/**
 * The token lookup every authenticated request runs, built once per database (drizzle's
 * prepared query: its SQL is not rebuilt per request, which was a tenth of a request's CPU).
 */
const tokenLookups = new WeakMap<Database, ReturnType<typeof prepareTokenLookup>>();

function prepareTokenLookup(db: Database) {
  return db
    .select({ user: users, tokenId: apiTokens.id, lastUsedAt: apiTokens.lastUsedAt })
    .from(apiTokens)
    .innerJoin(users, eq(users.id, apiTokens.userId))
    .where(and(eq(apiTokens.tokenHash, sql.placeholder('tokenHash')), isNull(apiTokens.revokedAt)))
    .limit(1)
    .prepare('switchboard_authenticate_token');
}

/** The user and token row a plain token stands for, or `undefined` when unknown or revoked. */
export async function authenticateToken(
  db: Database,
  token: string,
): Promise<Authenticated | undefined> {
  let lookup = tokenLookups.get(db);
  if (!lookup) tokenLookups.set(db, (lookup = prepareTokenLookup(db)));
  const [row] = await lookup.execute({ tokenHash: hashToken(token) });
  return row;
}

/** The user a plain token belongs to, or `undefined` when it is unknown or revoked. */
export async function userForToken(db: Database, token: string): Promise<User | undefined> {
  return (await authenticateToken(db, token))?.user;
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
 * Middleware that requires `Authorization: Bearer <token>`, puts the caller in
 * `res.locals.user` and the token's id in `res.locals.tokenId`, and keeps the token's
 * `last_used_at` current to the minute ({@link touchToken}).
 *
 * @throws UnauthorizedError (401) when the header is missing, malformed, or the token unknown.
 */
export function requireAuth(db: Database): RequestHandler {
  return async (req, res, next) => {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(req.get('authorization') ?? '');
    if (!match) throw new UnauthorizedError();
    const found = await authenticateToken(db, match[1]!);
    if (!found) throw new UnauthorizedError('The API token is unknown or revoked.');
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
