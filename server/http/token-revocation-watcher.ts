/**
 * Brings revocations made by other processes (another API replica, or a direct update of
 * `api_tokens`) to this one: every `intervalMs` (default 1 s) it reads the tokens revoked within
 * the last `lookbackMs` and hands each one not seen before to `TokenCache.forget`, which drops it
 * from the cache and closes the status streams it opened. Each check reads only the rows revoked
 * in the last minute; a minute of look-back also absorbs clock skew between the process that
 * wrote `revoked_at` and this one. (A Postgres NOTIFY would not reach PGlite's other processes,
 * which do not exist, nor a revocation written by hand; the poll covers both.)
 */
import { and, gt, isNotNull } from 'drizzle-orm';
import type { Database } from '../../shared/db/open.js';
import { apiTokens } from '../../shared/db/schema.js';
import type { Logger } from '../../shared/logger.js';
import type { TokenCache } from './token-cache.js';

/** Options of {@link TokenRevocationWatcher}. */
export interface TokenRevocationWatcherOptions {
  db: Database;
  tokens: TokenCache;
  logger: Logger;
  /** Milliseconds between checks; default 1000. */
  intervalMs?: number;
  /** Milliseconds back a revocation is looked for; default 60000. */
  lookbackMs?: number;
  /** Clock, epoch milliseconds; default `Date.now`. */
  now?: () => number;
}

/** Polls `api_tokens` for revocations and forgets them in this process's {@link TokenCache}. */
export class TokenRevocationWatcher {
  readonly #options: Required<Omit<TokenRevocationWatcherOptions, 'logger'>> & { logger: Logger };
  /** Hashes already forgotten, with their `revoked_at` (epoch ms), pruned past the look-back. */
  readonly #seen = new Map<string, number>();
  #timer?: NodeJS.Timeout;
  #checking = false;

  constructor(options: TokenRevocationWatcherOptions) {
    this.#options = {
      intervalMs: 1_000,
      lookbackMs: 60_000,
      now: Date.now,
      ...options,
      logger: options.logger.child({ component: 'token-revocations' }),
    };
  }

  /** Starts checking every `intervalMs` (the timer does not keep the process alive). */
  start(): void {
    if (this.#timer) return;
    this.#timer = setInterval(() => void this.check(), this.#options.intervalMs);
    this.#timer.unref();
  }

  /** Stops checking. */
  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  /**
   * Checks once now. Never rejects: a database error is logged and the next check tries again.
   *
   * @returns how many newly revoked tokens were forgotten.
   */
  async check(): Promise<number> {
    if (this.#checking) return 0;
    this.#checking = true;
    const { db, tokens, lookbackMs, now } = this.#options;
    try {
      const since = new Date(now() - lookbackMs);
      const rows = await db
        .select({ tokenHash: apiTokens.tokenHash, revokedAt: apiTokens.revokedAt })
        .from(apiTokens)
        .where(and(isNotNull(apiTokens.revokedAt), gt(apiTokens.revokedAt, since)));
      let forgotten = 0;
      for (const row of rows) {
        if (this.#seen.has(row.tokenHash)) continue;
        this.#seen.set(row.tokenHash, row.revokedAt!.getTime());
        tokens.forget(row.tokenHash);
        forgotten++;
      }
      for (const [hash, revokedAt] of this.#seen) {
        if (revokedAt <= since.getTime()) this.#seen.delete(hash);
      }
      return forgotten;
    } catch (error) {
      this.#options.logger.warn({ err: error }, 'could not check for revoked API tokens');
      return 0;
    } finally {
      this.#checking = false;
    }
  }
}
