/**
 * Failed authentications, limited per client address (DESIGN §9.4) without locking out the valid
 * tokens used from that address: only failures (401) count against an address, and once an
 * address is over the limit only the tokens this process has seen authenticate pass; every other
 * request from it answers 429 before any database lookup. The count is express-rate-limit's
 * `MemoryStore` (fixed window per address), or a store shared by the API replicas (on Postgres,
 * `shared-rate-limit.ts`), so the failures count across every process; addresses are keyed with
 * its `ipKeyGenerator`, so an IPv6 client counts per /56 network and cannot rotate addresses
 * within it. The tokens seen to authenticate are remembered per process.
 *
 * A valid token this process has never seen, used from an address over the limit, is refused
 * until the window ends: telling it apart from a guess would need the database lookup the limit
 * exists to spare.
 */
import type { RequestHandler } from 'express';
import { ipKeyGenerator, MemoryStore, type ClientRateLimitInfo } from 'express-rate-limit';
import { hashToken } from './auth.js';
import { bearerToken } from './token-cache.js';
import { HttpError } from './errors.js';

/** The window failures are counted in, in milliseconds. */
export const AUTH_FAILURE_WINDOW_MS = 60_000;

/** 429: too many failed authentications from the caller's address. */
export class TooManyAuthFailuresError extends HttpError {
  override readonly name = 'TooManyAuthFailuresError';
  /** @param limit the failures allowed per minute and address. */
  constructor(limit: number) {
    super(
      429,
      'rate_limited',
      `Too many failed authentications from this address: at most ${limit} per minute. ` +
        'Check the API token you send, and retry in a minute.',
    );
  }
}

/** Where failures are counted: an express-rate-limit store that can also read a count. */
export interface FailureStore {
  /** Called once with the window, as express-rate-limit does. */
  init(options: { windowMs: number }): void;
  get(key: string): Promise<ClientRateLimitInfo | undefined> | ClientRateLimitInfo | undefined;
  increment(key: string): Promise<ClientRateLimitInfo> | ClientRateLimitInfo;
  /** Stops its timers or closes its connections. */
  shutdown?(): Promise<void> | void;
}

/** Options of {@link FailedAuthLimiter}. */
export interface FailedAuthLimiterOptions {
  /** Failed authentications allowed per address and window, a positive integer. */
  limit: number;
  /** The window, in milliseconds; default {@link AUTH_FAILURE_WINDOW_MS}. */
  windowMs?: number;
  /** Most token hashes remembered as valid; the oldest is forgotten first. Default 10000. */
  maxTrusted?: number;
  /**
   * Where failures are counted (initialised here with the window); default a new
   * express-rate-limit `MemoryStore`, this process's alone. Pass a `PostgresRateLimitStore` to
   * count across API replicas.
   */
  store?: FailureStore;
}

/** Counts failed authentications per address and remembers which tokens authenticated. */
export class FailedAuthLimiter {
  readonly limit: number;
  readonly #store: FailureStore;
  readonly #maxTrusted: number;
  /** SHA-256 of tokens that authenticated in this process (insertion order: oldest first). */
  readonly #trusted = new Set<string>();

  /** @throws RangeError when `limit` is not a positive integer. */
  constructor(options: FailedAuthLimiterOptions) {
    if (!Number.isInteger(options.limit) || options.limit < 1) {
      throw new RangeError(`limit must be a positive integer, not ${options.limit}`);
    }
    this.limit = options.limit;
    this.#maxTrusted = options.maxTrusted ?? 10_000;
    this.#store = options.store ?? (new MemoryStore() as unknown as FailureStore);
    this.#store.init({ windowMs: options.windowMs ?? AUTH_FAILURE_WINDOW_MS });
  }

  /** The key an address counts under (IPv6 grouped by /56, as express-rate-limit does). */
  static addressKey(address: string | undefined): string {
    return `ip:${ipKeyGenerator(address ?? '')}`;
  }

  /**
   * True when a request from `address` must be refused: the address is over the limit and the
   * request's token (its SHA-256, if it has one) is not one this process saw authenticate.
   */
  async refuses(address: string | undefined, tokenHash?: string): Promise<boolean> {
    if (tokenHash !== undefined && this.#trusted.has(tokenHash)) return false;
    const info = await this.#store.get(FailedAuthLimiter.addressKey(address));
    return (info?.totalHits ?? 0) >= this.limit;
  }

  /** Counts a failed authentication from `address`; its token, if any, is no longer trusted. */
  async recordFailure(address: string | undefined, tokenHash?: string): Promise<void> {
    if (tokenHash !== undefined) this.#trusted.delete(tokenHash);
    await this.#store.increment(FailedAuthLimiter.addressKey(address));
  }

  /** Remembers that a token (by its SHA-256) authenticated. */
  trust(tokenHash: string): void {
    this.#trusted.delete(tokenHash);
    this.#trusted.add(tokenHash);
    if (this.#trusted.size > this.#maxTrusted) {
      this.#trusted.delete(this.#trusted.values().next().value!);
    }
  }

  /** Forgets a token (by its SHA-256), e.g. when it is revoked. */
  distrust(tokenHash: string): void {
    this.#trusted.delete(tokenHash);
  }

  /**
   * Express middleware: answers 429 ({@link TooManyAuthFailuresError}) for a refused request,
   * counts each 401 answer against the address, and trusts the token of each request that
   * authenticated (`res.locals.user` set by `requireAuth` or `requireCachedAuth`). Mount before
   * the routes; `/api/health` is never limited.
   */
  middleware(): RequestHandler {
    return async (req, res, next) => {
      if (req.path === '/api/health') return next();
      const token = bearerToken(req.get('authorization'));
      const tokenHash = token === undefined ? undefined : hashToken(token);
      const address = req.ip ?? req.socket.remoteAddress;
      if (await this.refuses(address, tokenHash)) throw new TooManyAuthFailuresError(this.limit);
      res.once('finish', () => {
        if (res.statusCode === 401) void this.recordFailure(address, tokenHash);
        else if (tokenHash !== undefined && res.locals.user !== undefined) this.trust(tokenHash);
      });
      next();
    };
  }

  /** Stops the store's cleanup timer, or closes its connections. */
  async close(): Promise<void> {
    await this.#store.shutdown?.();
  }
}
