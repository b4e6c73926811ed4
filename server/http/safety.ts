/**
 * The API's HTTP-level protections, mounted by `createApp` before the body
 * parser: security headers (helmet), CORS only for the configured origins (off by default), a
 * per-token rate limit (express-rate-limit, keyed by the bearer token's SHA-256 so the token
 * itself is never held), a limit on failed authentications per client address that never refuses
 * a valid token (`failed-auth-limiter.ts`), and 415 for a write whose body is not JSON; and,
 * mounted after the JSON parser, 400 for a NUL character anywhere in the body or query
 * ({@link refuseNulCharacters}). Errors go through the problem+json error middleware like every
 * other error.
 */
import cors from 'cors';
import type { RequestHandler } from 'express';
import { ipKeyGenerator, rateLimit, type Store } from 'express-rate-limit';
import helmet from 'helmet';
import { hashToken } from './auth.js';
import { FailedAuthLimiter } from './failed-auth-limiter.js';
import { BadRequestError, HttpError } from './errors.js';

/** The rate limit's window, in milliseconds. */
export const RATE_LIMIT_WINDOW_MS = 60_000;

/** Default of {@link HttpSafetyOptions.rateLimitPerMinute} (`API_RATE_LIMIT_PER_MINUTE`). */
export const DEFAULT_RATE_LIMIT_PER_MINUTE = 600;

/** Options of {@link httpSafety}. */
export interface HttpSafetyOptions {
  /**
   * Requests per minute per API token (per client address without a token); 0 turns the limit
   * off. Default {@link DEFAULT_RATE_LIMIT_PER_MINUTE}. `/api/health` is never limited.
   */
  rateLimitPerMinute?: number;
  /**
   * Origins allowed to call the API from a browser (`CORS_ORIGINS`), e.g.
   * `['https://admin.example.com']`, or `['*']`; default none: no CORS headers at all.
   */
  corsOrigins?: readonly string[];
  /**
   * The store the per-token limit counts in; default a new express-rate-limit `MemoryStore`.
   * Pass one to share the count with the status fast path (`status/fast-path.ts`).
   */
  rateLimitStore?: Store;
  /**
   * Counts failed authentications per client address (share it with the status stream); default
   * a new {@link FailedAuthLimiter} allowing `rateLimitPerMinute` failures a minute.
   */
  authFailures?: FailedAuthLimiter;
}

/** 415: a write whose body is not `application/json`. */
export class UnsupportedMediaTypeError extends HttpError {
  override readonly name = 'UnsupportedMediaTypeError';
  /** @param contentType the request's `Content-Type`, quoted in the detail. */
  constructor(contentType: string) {
    super(
      415,
      'unsupported_media_type',
      `The request body must be application/json, not ${JSON.stringify(contentType)}.`,
    );
  }
}

/** 429: the caller sent more requests than the limit allows. */
export class TooManyRequestsError extends HttpError {
  override readonly name = 'TooManyRequestsError';
  /** @param limit the requests allowed per minute. */
  constructor(limit: number) {
    super(
      429,
      'rate_limited',
      `Too many requests: at most ${limit} per minute per API token. Retry after the time in the RateLimit headers.`,
    );
  }
}

/** Rejects a request body that is not JSON (requests without a body pass). */
export const requireJsonBody: RequestHandler = (req, _res, next) => {
  // `req.is` answers null when there is no body, false when the type does not match. An empty
  // body (`Content-Length: 0`, what fetch sends for a POST without one) is no body either.
  if (req.get('content-length') !== '0' && req.is('application/json') === false) {
    throw new UnsupportedMediaTypeError(req.get('content-type') ?? '');
  }
  next();
};

/**
 * 400 for a NUL character (`\u0000`) in any string or key of the parsed JSON body or the query:
 * PostgreSQL `text` and `jsonb` cannot store it, so it would fail the write as a 500, and no
 * name, label, URL, command or secret has a use for it (Node refuses it in a child's arguments
 * and environment, HTTP in headers). The failing field is named as validation errors name theirs
 * (`body.name`). Mount after `express.json()`.
 */
export const refuseNulCharacters: RequestHandler = (req, _res, next) => {
  for (const [where, value] of [
    ['body', req.body as unknown],
    ['query', req.query as unknown],
  ] as const) {
    const path = pathToNul(value, where);
    if (path) {
      const message = 'must not contain a NUL character (\\u0000)';
      throw new BadRequestError(`Invalid ${where}: ${path}: ${message}; remove it and retry.`, {
        errors: [{ path, message }],
      });
    }
  }
  next();
};

/** The path of the first string or key holding NUL (`body.env.A`), without recursion. */
function pathToNul(root: unknown, rootPath: string): string | undefined {
  const stack: [unknown, string][] = [[root, rootPath]];
  while (stack.length > 0) {
    const [value, path] = stack.pop()!;
    if (typeof value === 'string') {
      if (value.includes('\0')) return path;
    } else if (value !== null && typeof value === 'object') {
      for (const [key, child] of Object.entries(value)) {
        if (key.includes('\0')) return `${path}.${key.replaceAll('\0', '\\u0000')}`;
        stack.push([child, `${path}.${key}`]);
      }
    }
  }
  return undefined;
}

/** The rate limit key: the bearer token's hash, or the client address without one. */
function rateLimitKey(req: Parameters<RequestHandler>[0]): string {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(req.get('authorization') ?? '');
  if (match) return `token:${hashToken(match[1]!)}`;
  return `ip:${ipKeyGenerator(req.ip ?? req.socket.remoteAddress ?? 'unknown')}`;
}

/**
 * The middleware chain, in order: helmet, CORS (when origins are set), the rate limits (when
 * not 0: requests per token, and failed authentications per client address), then the JSON
 * content-type check. Mount before `express.json()`.
 */
export function httpSafety(options: HttpSafetyOptions = {}): RequestHandler[] {
  const handlers: RequestHandler[] = [helmet()];
  const origins = options.corsOrigins ?? [];
  if (origins.length > 0) {
    handlers.push(
      cors({ origin: origins.includes('*') ? '*' : [...origins], maxAge: 600 }) as RequestHandler,
    );
  }
  const limit = options.rateLimitPerMinute ?? DEFAULT_RATE_LIMIT_PER_MINUTE;
  if (limit > 0) {
    handlers.push(
      rateLimit({
        windowMs: RATE_LIMIT_WINDOW_MS,
        limit,
        store: options.rateLimitStore,
        standardHeaders: 'draft-8',
        legacyHeaders: false,
        keyGenerator: rateLimitKey,
        skip: (req) => req.path === '/api/health',
        handler: (_req, _res, next) => next(new TooManyRequestsError(limit)),
      }),
      // Each guessed token is a new key above, so failed authentications (401) are also counted
      // per client address: guessing tokens is limited too, valid tokens are not.
      (options.authFailures ?? new FailedAuthLimiter({ limit })).middleware(),
    );
  }
  handlers.push(requireJsonBody);
  return handlers;
}
