/**
 * Bearer-token authentication for the status endpoints, which must answer without touching the
 * database (polling costs nothing; `/api/status` reports `database: error` while Postgres is
 * down). A token's owner is remembered for a short time, and a remembered owner is still used
 * while the database is unreachable: a token can only be revoked through the database, so no
 * revocation can be missed while it is down.
 *
 * Only tokens that may use the REST API and status endpoints (scopes null or holding `api`,
 * issue 15) are let through: a gateway-only token is remembered with its scopes, and refused
 * with a 403 by {@link TokenCache.user} (never returned by {@link TokenCache.fresh}).
 */
import type { RequestHandler } from 'express';
import type { Database } from '../../shared/db/open.js';
import { allowsApi, type TokenScopes } from '../../shared/db/api-tokens.js';
import type { User } from '../../shared/db/schema.js';
import { isDatabaseUnavailable } from '../../shared/db/unavailable.js';
import { assertApiScope, authenticateToken, hashToken, touchToken } from './auth.js';
import { UnauthorizedError } from './errors.js';

/** Options of {@link TokenCache}. */
export interface TokenCacheOptions {
  /** How long an owner is reused without asking the database, in milliseconds; default 10000. */
  ttlMs?: number;
  /** Most tokens remembered; the oldest is forgotten first. Default 10000. */
  maxEntries?: number;
}

/** A remembered token: its owner, its scopes and when it was looked up (`Date.now()` ms). */
interface CachedToken {
  user: User;
  scopes: TokenScopes;
  at: number;
}

/**
 * Remembers which user each recently seen token belongs to, and its scopes (keyed by its
 * SHA-256). It answers for the REST API and status endpoints: a token whose scopes lack `api` is
 * refused (403).
 */
export class TokenCache {
  readonly #db: Database;
  readonly #ttlMs: number;
  readonly #maxEntries: number;
  readonly #entries = new Map<string, CachedToken>();
  readonly #forgetListeners = new Set<(tokenHash: string) => void>();

  constructor(db: Database, options: TokenCacheOptions = {}) {
    this.#db = db;
    this.#ttlMs = options.ttlMs ?? 10_000;
    this.#maxEntries = options.maxEntries ?? 10_000;
  }

  /**
   * The token's user when it was looked up within the lifetime and may use the API (scopes null
   * or holding `api`), without waiting; else `undefined` (then ask {@link user}, which refuses a
   * gateway-only token with a 403).
   */
  fresh(token: string, now = Date.now()): User | undefined {
    return this.freshByHash(hashToken(token), now);
  }

  /**
   * {@link fresh} for a token already hashed ({@link hashToken}, hex SHA-256), so a caller that
   * needs the hash anyway (the status fast path's rate-limit key) hashes once.
   */
  freshByHash(tokenHash: string, now = Date.now()): User | undefined {
    const cached = this.#entries.get(tokenHash);
    return cached && now - cached.at < this.#ttlMs && allowsApi(cached.scopes)
      ? cached.user
      : undefined;
  }

  /**
   * Forgets a revoked token (by its SHA-256, `api_tokens.token_hash`), so the revocation takes
   * effect in this process at once, and tells the {@link onForget} listeners (the status stream
   * closes the streams the token opened). Revocations made by other processes reach this one
   * through a `TokenRevocationWatcher`.
   */
  forget(tokenHash: string): void {
    this.#entries.delete(tokenHash);
    for (const listener of this.#forgetListeners) listener(tokenHash);
  }

  /**
   * Subscribes to {@link forget}.
   *
   * @param listener called with each forgotten token's SHA-256; must not throw.
   * @returns the unsubscriber.
   */
  onForget(listener: (tokenHash: string) => void): () => void {
    this.#forgetListeners.add(listener);
    return () => void this.#forgetListeners.delete(listener);
  }

  /**
   * The token's user, or `undefined` when it is unknown or revoked.
   *
   * @throws ForbiddenError (403) when the token's scopes lack `api` (a gateway-only token); the
   *   refusal is remembered like a user, so repeated tries do not reach the database.
   * @throws the database error when the token is not remembered and the database fails.
   */
  async user(token: string, now = Date.now()): Promise<User | undefined> {
    const key = hashToken(token);
    let entry = this.#entries.get(key);
    if (!entry || now - entry.at >= this.#ttlMs) entry = await this.#lookUp(token, key, entry, now);
    if (!entry) return undefined;
    assertApiScope(entry.scopes);
    return entry.user;
  }

  /**
   * Looks a token up in the database and remembers the answer; a remembered (stale) entry is
   * still used while the database is unreachable.
   */
  async #lookUp(
    token: string,
    key: string,
    stale: CachedToken | undefined,
    now: number,
  ): Promise<CachedToken | undefined> {
    let entry: CachedToken | undefined;
    try {
      const found = await authenticateToken(this.#db, token);
      // Looked up at most once per `ttlMs`; `touchToken` writes at most once a minute. A token
      // refused for its scopes is not marked used.
      if (found && allowsApi(found.scopes)) await touchToken(this.#db, found);
      entry = found && { user: found.user, scopes: found.scopes, at: now };
    } catch (error) {
      if (stale && isDatabaseUnavailable(error)) return stale;
      throw error;
    }
    this.#entries.delete(key);
    if (!entry) return undefined;
    this.#entries.set(key, entry);
    if (this.#entries.size > this.#maxEntries) {
      this.#entries.delete(this.#entries.keys().next().value!);
    }
    return entry;
  }
}

/** The bearer token of an `Authorization` header, or `undefined`. */
export function bearerToken(header: string | undefined): string | undefined {
  return /^Bearer\s+(\S+)\s*$/i.exec(header ?? '')?.[1];
}

/**
 * Like `requireAuth`, through a {@link TokenCache}: puts the caller in `res.locals.user`.
 *
 * @throws UnauthorizedError (401) when the header is missing, malformed, or the token unknown.
 * @throws ForbiddenError (403) when the token's scopes lack `api` (a gateway-only token).
 */
export function requireCachedAuth(cache: TokenCache): RequestHandler {
  return async (req, res, next) => {
    const token = bearerToken(req.get('authorization'));
    if (!token) throw new UnauthorizedError();
    // Most status polls hit the cache: answer them without a trip through the microtask queue.
    const user = cache.fresh(token) ?? (await cache.user(token));
    if (!user) throw new UnauthorizedError('The API token is unknown or revoked.');
    res.locals.user = user;
    next();
  };
}
