/**
 * Recognises "the database cannot be reached" among driver errors, so the API can answer 503
 * instead of 500 and the status snapshot can say why.
 */

/** postgres.js and Node socket error codes that mean no usable connection. */
const CONNECTION_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EPIPE',
  'CONNECT_TIMEOUT',
  'CONNECTION_CLOSED',
  'CONNECTION_ENDED',
  'CONNECTION_DESTROYED',
]);

/**
 * SQLSTATEs (Postgres Appendix A) meaning the server refuses or dropped the session: class 08
 * (connection exception), 57P01-57P03 (shutdown, crash, cannot connect now), 53300 (too many
 * connections), 3D000 (database does not exist) and 55000 when the database does not accept
 * connections (`ALLOW_CONNECTIONS false`).
 */
function unavailableSqlState(code: string, message: string): boolean {
  return (
    code.startsWith('08') ||
    code === '57P01' ||
    code === '57P02' ||
    code === '57P03' ||
    code === '53300' ||
    code === '3D000' ||
    (code === '55000' && /not currently accepting connections/i.test(message))
  );
}

/**
 * True when `error` (or any error in its `cause` chain, as drizzle wraps driver errors) says the
 * database cannot be reached: refused or lost connections, timeouts, a server shutting down or
 * refusing sessions, or a closed embedded PGlite.
 */
export function isDatabaseUnavailable(error: unknown): boolean {
  for (let current = error, depth = 0; current instanceof Error && depth < 10; depth += 1) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string') {
      if (CONNECTION_CODES.has(code) || unavailableSqlState(code, current.message)) return true;
    }
    if (/PGlite is closed/i.test(current.message)) return true;
    if (current instanceof AggregateError && current.errors.some(isDatabaseUnavailable)) {
      return true;
    }
    current = current.cause;
  }
  return false;
}

/**
 * The driver's own words for a database failure: the message of the innermost error of the
 * `cause` chain (drizzle's wrapper only repeats the query).
 */
export function databaseErrorMessage(error: unknown): string {
  let message = error instanceof Error ? error.message : String(error);
  for (let current = error, depth = 0; current instanceof Error && depth < 10; depth += 1) {
    if (current.message) message = current.message;
    current = current.cause;
  }
  return message;
}
