/**
 * The SQLSTATE of a database error (PostgreSQL, "Appendix A. PostgreSQL Error Codes"), whether it
 * came from postgres.js or PGlite, bare or wrapped in drizzle's query error (its `cause`).
 */

/** SQLSTATE `unique_violation`. */
export const UNIQUE_VIOLATION = '23505';
/** SQLSTATE `foreign_key_violation`. */
export const FOREIGN_KEY_VIOLATION = '23503';

/**
 * True when `error`, or an error in its chain of `cause`s, carries the SQLSTATE `state` in its
 * `code` (e.g. {@link UNIQUE_VIOLATION}). False for anything else, never throws.
 */
export function hasSqlState(error: unknown, state: string): boolean {
  for (let current = error; current instanceof Error; current = current.cause) {
    if ((current as { code?: unknown }).code === state) return true;
  }
  return false;
}
