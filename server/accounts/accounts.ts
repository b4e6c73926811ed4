/**
 * Users and API tokens (DESIGN §3): the queries behind `/api/users` and `/api/tokens`. A token
 * is generated here, handed back once, and stored only as its hash (`http/auth.ts`).
 */
import { and, asc, eq, inArray, isNull } from 'drizzle-orm';
import type { Database } from '../../shared/db/open.js';
import { apiTokens, mcpServers, users, type User, type UserRole } from '../../shared/db/schema.js';
import { generateToken, hashToken, storeToken, type TokenScopes } from '../http/auth.js';

/** A new user's fields. */
export interface NewUser {
  name: string;
  email: string;
  role: UserRole;
}

/** A token row without its hash. */
export interface TokenSummary {
  id: number;
  label: string;
  createdAt: Date;
  lastUsedAt: Date | null;
  revokedAt: Date | null;
  /** What the token opens: null for everything ({@link TokenScopes}). */
  scopes: string[] | null;
}

/**
 * Creates a user and their first token in one transaction.
 *
 * @returns the user and the plain token (show it once).
 * @throws the driver's unique-violation error (SQLSTATE 23505) when the email is taken.
 */
export async function createUserWithToken(
  db: Database,
  values: NewUser,
): Promise<{ user: User; token: string }> {
  return db.transaction(async (tx) => {
    const [user] = await tx.insert(users).values(values).returning();
    const token = generateToken();
    await storeToken(tx, user!.id, token, 'created with the user');
    return { user: user!, token };
  });
}

/** Every user, oldest first. */
export async function listUsers(db: Database): Promise<User[]> {
  return db.select().from(users).orderBy(asc(users.id));
}

/** A user's tokens, oldest first, revoked ones included. */
export async function listTokens(db: Database, userId: number): Promise<TokenSummary[]> {
  return db
    .select({
      id: apiTokens.id,
      label: apiTokens.label,
      createdAt: apiTokens.createdAt,
      lastUsedAt: apiTokens.lastUsedAt,
      revokedAt: apiTokens.revokedAt,
      scopes: apiTokens.scopes,
    })
    .from(apiTokens)
    .where(eq(apiTokens.userId, userId))
    .orderBy(asc(apiTokens.id));
}

/**
 * Creates another token for a user.
 *
 * @param scopes what the token opens ({@link TokenScopes}); default null, everything. Stored as
 *   given: the API validates them first (`createTokenBody`, {@link serversNotOwned}).
 * @returns its row and the plain token (show it once).
 */
export async function createToken(
  db: Database,
  userId: number,
  label: string,
  scopes: TokenScopes = null,
): Promise<{ id: number; token: string; label: string; createdAt: Date; scopes: string[] | null }> {
  const token = generateToken();
  const [row] = await db
    .insert(apiTokens)
    .values({ userId, tokenHash: hashToken(token), label, scopes: scopes && [...scopes] })
    .returning({
      id: apiTokens.id,
      label: apiTokens.label,
      createdAt: apiTokens.createdAt,
      scopes: apiTokens.scopes,
    });
  return { ...row!, token };
}

/** Largest `serial` id PostgreSQL stores (int4); a larger id names no server. */
const MAX_ID = 2_147_483_647;

/**
 * The ids among `ids` that name no server of `userId` (missing, or another user's), in the order
 * given, each once: what a token's `server:<id>` scopes may not name.
 */
export async function serversNotOwned(
  db: Database,
  userId: number,
  ids: readonly number[],
): Promise<number[]> {
  const wanted = [...new Set(ids)];
  const storable = wanted.filter((id) => Number.isSafeInteger(id) && id > 0 && id <= MAX_ID);
  const owned = new Set(
    storable.length === 0
      ? []
      : (
          await db
            .select({ id: mcpServers.id })
            .from(mcpServers)
            .where(and(eq(mcpServers.userId, userId), inArray(mcpServers.id, storable)))
        ).map((row) => row.id),
  );
  return wanted.filter((id) => !owned.has(id));
}

/**
 * Revokes one of a user's tokens; revoking a revoked token keeps its first `revoked_at`.
 *
 * @returns the revoked token's hash (for caches to forget), or `undefined` when the token does
 *   not exist or belongs to someone else.
 */
export async function revokeToken(
  db: Database,
  userId: number,
  id: number,
): Promise<{ tokenHash: string } | undefined> {
  const owned = and(eq(apiTokens.id, id), eq(apiTokens.userId, userId));
  const [found] = await db.select({ tokenHash: apiTokens.tokenHash }).from(apiTokens).where(owned);
  if (!found) return undefined;
  await db
    .update(apiTokens)
    .set({ revokedAt: new Date() })
    .where(and(owned, isNull(apiTokens.revokedAt)));
  return found;
}
