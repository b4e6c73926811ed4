/**
 * The fast path of `GET /api/status`: the dashboard's poll, answered from the in-memory
 * {@link StatusSnapshot} without Express's per-request machinery.
 *
 * Why (the status poll's budget, p99 ≤ 5 ms at 50 concurrent connections on 2 cores): a bare
 * Express 5 handler returning the same JSON reaches about 8 000 requests/s here with a p99 near
 * 10 ms (its router, prototype swaps, `res.json` and ETag cost ~100 µs a request), while
 * Node's own `http` answers the same body at about 40 000 requests/s. So a request that is
 * plainly a status poll — `GET /api/status`, a bearer token already in the {@link TokenCache}
 * (and allowed the REST API: a gateway-only token falls through, and Express refuses it),
 * no CORS `Origin` to answer, the snapshot ready, under the rate limit — is answered here with
 * exactly what the Express route would send: the same JSON, helmet's headers (captured from
 * helmet itself at start), the same rate-limit headers from the same counter store, and the same
 * metrics. Everything else (no or unknown token, a browser origin, over the limit, any other
 * path or method) falls through to Express unchanged, which answers and enforces it.
 * `test/server/status/fast-path.test.ts` checks both paths answer alike, and pins the Express,
 * express-rate-limit and helmet releases this copy was checked against.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createHash } from 'node:crypto';
import type { RequestHandler } from 'express';
import type { Store } from 'express-rate-limit';
import { hashToken } from '../http/auth.js';
import { bearerToken, type TokenCache } from '../http/token-cache.js';
import type { ApiMetrics } from './metrics.js';
import type { StatusSnapshot } from './snapshot.js';

/** The rate limit the Express path applies, and the store it counts in. */
export interface FastPathRateLimit {
  /** Requests per window per token. */
  limit: number;
  /** Window length in milliseconds. */
  windowMs: number;
  /** The same store instance the Express limiter uses (so both paths count together). */
  store: Store;
}

/** Options of {@link statusFastPath}. */
export interface StatusFastPathOptions {
  snapshot: StatusSnapshot;
  tokens: TokenCache;
  /** helmet's response headers, from {@link captureHeaders}. */
  securityHeaders: Readonly<Record<string, string>>;
  /** The token rate limit; absent when rate limiting is off. */
  rateLimit?: FastPathRateLimit;
  /** True when CORS is configured: then a request with an `Origin` goes through Express. */
  cors: boolean;
  metrics?: ApiMetrics;
}

/**
 * Runs `middleware` (e.g. `helmet()`) once on a stand-in request and response and returns the
 * headers it set, so the fast path can send them without running it per request.
 *
 * @throws Error when the middleware does not finish synchronously (helmet does).
 */
export function captureHeaders(middleware: RequestHandler): Record<string, string> {
  const headers: Record<string, string> = {};
  let finished = false;
  const response = {
    setHeader(name: string, value: string | number | readonly string[]) {
      headers[name] = Array.isArray(value) ? value.join(', ') : String(value);
      return response;
    },
    removeHeader(name: string) {
      delete headers[name];
    },
    getHeader: (name: string) => headers[name],
  };
  void middleware(
    { headers: {}, method: 'GET', url: '/api/status' } as never,
    response as never,
    () => {
      finished = true;
    },
  );
  if (!finished) throw new Error('captureHeaders: the middleware did not finish synchronously');
  return headers;
}

/**
 * Builds the fast path (see the module comment).
 *
 * @returns `handle(req, res, fallback)`: answers a plain status poll itself, otherwise calls
 *   `fallback()` (the Express application) — possibly after an asynchronous rate-limit count.
 */
export function statusFastPath(
  options: StatusFastPathOptions,
): (req: IncomingMessage, res: ServerResponse, fallback: () => void) => void {
  const { snapshot, tokens, securityHeaders, rateLimit, cors, metrics } = options;
  const windowSeconds = rateLimit ? Math.ceil(rateLimit.windowMs / 1000) : 0;
  // express-rate-limit's draft-8 policy name (its `identifier`): e.g. `600-in-1min`.
  const policyName = rateLimit ? `${rateLimit.limit}-in-${durationName(rateLimit.windowMs)}` : '';

  // helmet's headers and the content type, flattened once for writeHead's raw-array form (one
  // call instead of a validated setHeader per header).
  const staticHeaders: string[] = ['Content-Type', 'application/json; charset=utf-8'];
  for (const name in securityHeaders) staticHeaders.push(name, securityHeaders[name]!);

  const answer = (res: ServerResponse, userId: number, started: number, extra?: string[]) => {
    const body = JSON.stringify(snapshot.forUser(userId));
    const headers = [...staticHeaders, 'Content-Length', String(Buffer.byteLength(body))];
    if (extra) headers.push(...extra);
    res.writeHead(200, headers);
    res.end(body);
    metrics?.httpDuration.observe(
      { method: 'GET', route: '/api/status', status: '200' },
      (performance.now() - started) / 1000,
    );
  };

  return (req, res, fallback) => {
    if (req.method !== 'GET' || req.url !== '/api/status' || !snapshot.isReady) return fallback();
    if (cors && req.headers.origin !== undefined) return fallback();
    const token = bearerToken(req.headers.authorization);
    if (!token) return fallback();
    const hash = hashToken(token);
    const user = tokens.freshByHash(hash);
    if (!user) return fallback();
    const started = performance.now();
    if (!rateLimit) return answer(res, user.id, started);
    const key = `token:${hash}`;
    Promise.resolve(rateLimit.store.increment(key)).then(
      ({ totalHits, resetTime }) => {
        if (totalHits > rateLimit.limit) {
          // Over the limit: Express counts it again and answers the 429 with its headers.
          fallback();
          return;
        }
        const resetSeconds = resetTime
          ? Math.max(0, Math.ceil((resetTime.getTime() - Date.now()) / 1000))
          : windowSeconds;
        const remaining = Math.max(rateLimit.limit - totalHits, 0);
        answer(res, user.id, started, [
          'RateLimit',
          `"${policyName}"; r=${remaining}; t=${resetSeconds}`,
          'RateLimit-Policy',
          `"${policyName}"; q=${rateLimit.limit}; w=${windowSeconds}; pk=:${partitionKey(key)}:`,
        ]);
      },
      () => fallback(),
    );
  };
}

/** express-rate-limit's partition key: base64 of the first 12 hex digits of SHA-256(key). */
function partitionKey(key: string): string {
  const hex = createHash('sha256').update(key).digest('hex').slice(0, 12);
  return Buffer.from(hex).toString('base64');
}

/** express-rate-limit's duration words for a window, e.g. 60000 → `1min`. */
function durationName(windowMs: number): string {
  const seconds = windowMs / 1000;
  const minutes = seconds / 60;
  const hours = minutes / 60;
  const days = hours / 24;
  if (seconds < 60) return `${seconds}sec`;
  if (minutes < 60) return `${minutes}min`;
  if (hours < 24) return `${hours}hr${hours > 1 ? 's' : ''}`;
  return `${days}day${days > 1 ? 's' : ''}`;
}
