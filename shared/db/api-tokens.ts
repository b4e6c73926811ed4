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
 * @returns the new row's id.
 * @throws the driver's unique-violation error (SQLSTATE 23505) when the token is already stored.
 */
export async function storeToken(
  db: Database,
  userId: number,
  token: string,
  label = '',
): Promise<number> {
  const [row] = await db
    .insert(apiTokens)
    .values({ userId, tokenHash: hashToken(token), label })
    .returning({ id: apiTokens.id });
  return row!.id;
}
