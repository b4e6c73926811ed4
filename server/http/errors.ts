/**
 * The API's named errors and the one middleware that turns any error into an RFC 9457
 * `application/problem+json` answer (DESIGN §7.4). Route handlers throw; Express 5 forwards
 * rejected promises here by itself.
 */
import type { ErrorRequestHandler, RequestHandler } from 'express';
import type { ZodError } from 'zod';
import { isDatabaseUnavailable } from '../../shared/db/unavailable.js';
import { describeIssues } from '../../shared/errors.js';
import type { Logger } from '../../shared/logger.js';

/** An error with an HTTP status, a stable `code` and a `detail` meant for the client. */
export class HttpError extends Error {
  override readonly name: string = 'HttpError';
  readonly status: number;
  readonly code: string;
  /** Extra members of the problem document, e.g. the failing fields. */
  readonly extras: Record<string, unknown>;

  /**
   * @param status HTTP status, 4xx or 5xx.
   * @param code machine-readable reason, e.g. `not_found`.
   * @param detail one sentence for the client.
   */
  constructor(status: number, code: string, detail: string, extras: Record<string, unknown> = {}) {
    super(detail);
    this.status = status;
    this.code = code;
    this.extras = extras;
  }
}

/** 400: the request is malformed or fails validation. */
export class BadRequestError extends HttpError {
  override readonly name = 'BadRequestError';
  constructor(detail: string, extras: Record<string, unknown> = {}) {
    super(400, 'bad_request', detail, extras);
  }

  /** Builds the error from a zod failure, naming each failing field. */
  static fromZod(error: ZodError, where = 'body'): BadRequestError {
    const { errors, detail } = describeIssues(error.issues, where);
    return new BadRequestError(detail, { errors });
  }
}

/** 401: no valid bearer token. */
export class UnauthorizedError extends HttpError {
  override readonly name = 'UnauthorizedError';
  constructor(detail = 'A valid API token is required: send "Authorization: Bearer <token>".') {
    super(401, 'unauthorized', detail);
  }
}

/** 403: authenticated but not allowed. */
export class ForbiddenError extends HttpError {
  override readonly name = 'ForbiddenError';
  constructor(detail: string) {
    super(403, 'forbidden', detail);
  }
}

/** 404: no such resource for this caller. */
export class NotFoundError extends HttpError {
  override readonly name = 'NotFoundError';
  constructor(detail: string) {
    super(404, 'not_found', detail);
  }
}

/** 409: the change conflicts with existing data (e.g. a duplicate name). */
export class ConflictError extends HttpError {
  override readonly name = 'ConflictError';
  constructor(detail: string) {
    super(409, 'conflict', detail);
  }
}

const TITLES: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  409: 'Conflict',
  413: 'Content Too Large',
  415: 'Unsupported Media Type',
  422: 'Unprocessable Content',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
};

/** 405: the path exists, but not for this method; the `Allow` header lists the methods it takes. */
export class MethodNotAllowedError extends HttpError {
  override readonly name = 'MethodNotAllowedError';
  /**
   * @param method the request's method.
   * @param path the request's path.
   * @param allow the methods the path takes, upper-case (`GET`, `PUT`).
   */
  constructor(
    method: string,
    path: string,
    readonly allow: readonly string[],
  ) {
    super(
      405,
      'method_not_allowed',
      `${method} is not allowed on ${path}: it takes ${allow.join(', ')}.`,
    );
  }
}

/**
 * Answers 405 with `Allow` for a request whose path one of `routes` serves under other methods
 * (RFC 9110 §15.5.6); passes anything else on (to {@link notFoundHandler}).
 *
 * @param routes each route's method (lower-case) and Express path (`/api/mcp/servers/:id`).
 */
export function methodNotAllowedHandler(
  routes: readonly { method: string; path: string }[],
): RequestHandler {
  const patterns = routes.map((route) => ({
    method: route.method.toUpperCase(),
    pattern: new RegExp(
      `^${route.path
        .split('/')
        .map((part) =>
          part.startsWith(':') ? '[^/]+' : part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'),
        )
        .join('/')}/?$`,
    ),
  }));
  return (req, _res, next) => {
    const allow = [
      ...new Set(patterns.filter((route) => route.pattern.test(req.path)).map((r) => r.method)),
    ];
    if (allow.length === 0 || allow.includes(req.method)) return next();
    if (allow.includes('GET')) allow.push('HEAD');
    throw new MethodNotAllowedError(req.method, req.path, allow);
  };
}

/** Answers every unmatched route with a 404 problem. */
export const notFoundHandler: RequestHandler = (req) => {
  throw new NotFoundError(`No route for ${req.method} ${req.path}`);
};

/**
 * The error middleware: `HttpError` → its status; body-parser failures (bad JSON, too large,
 * wrong charset or encoding) → their 4xx; a body that does not decode as its `Content-Encoding`
 * says → 400 `body_undecodable`; a path with malformed percent-encoding (the router's
 * `URIError`) → 400 `malformed_path`; the database unreachable → 503 `database_unavailable` with
 * `Retry-After`; anything else → 500 with a generic detail (the error is logged,
 * never echoed, so no internal detail or secret leaks). Unexpected failures are logged at
 * `error` with their stack; an `HttpError` answered with a 5xx on purpose (a setting missing, an
 * MCP server unreachable) at `warn`, with its code and detail.
 */
export function problemHandler(logger: Logger): ErrorRequestHandler {
  return (error: unknown, req, res, _next) => {
    let status = 500;
    let code = 'internal_error';
    let detail = 'The server failed to handle the request; the error has been logged.';
    let extras: Record<string, unknown> = {};
    if (error instanceof HttpError) {
      ({ status, code, extras } = error);
      detail = error.message;
    } else if (isBodyParserError(error)) {
      status = error.status;
      code = error.type.replace(/\./g, '_');
      detail =
        error.type === 'entity.parse.failed'
          ? 'The request body is not valid JSON.'
          : error.type === 'entity.too.large'
            ? 'The request body is too large.'
            : error.message;
    } else if (error instanceof URIError) {
      status = 400;
      code = 'malformed_path';
      detail =
        'The request path holds malformed percent-encoding (a "%" must start a %XX escape, ' +
        'e.g. %25 for "%" itself); fix the URL and retry.';
    } else if (isUndecodableBody(error, req.get('content-encoding'))) {
      status = 400;
      code = 'body_undecodable';
      detail =
        `The request body does not decode as its Content-Encoding ` +
        `(${JSON.stringify(req.get('content-encoding'))}) says; send it encoded correctly or ` +
        'uncompressed.';
    } else if (isDatabaseUnavailable(error)) {
      status = 503;
      code = 'database_unavailable';
      detail =
        'The database is unreachable, so this request cannot be served now; retry shortly. ' +
        'GET /api/status shows when it is back.';
      res.set('Retry-After', '5');
    }
    if (error instanceof MethodNotAllowedError) res.set('Allow', error.allow.join(', '));
    if (error instanceof HttpError && status >= 500) {
      // A deliberate 5xx (LiveKit not configured, an MCP server unreachable) is a condition of
      // the deployment, not a bug here: a warning with its code, without a stack.
      logger.warn({ code, detail, method: req.method, path: req.path }, 'request not served');
    } else if (status >= 500) {
      logger.error({ err: error, method: req.method, path: req.path }, 'request failed');
    }
    if (res.headersSent) return;
    res
      .status(status)
      .type('application/problem+json')
      .json({
        type: 'about:blank',
        title: TITLES[status] ?? 'Error',
        status,
        code,
        detail,
        instance: req.originalUrl,
        ...extras,
      });
  };
}

/**
 * A body-parser failure to decompress: body-parser gives the zlib error status 400 (through
 * http-errors) but no `type`, and the request names an encoding.
 */
function isUndecodableBody(error: unknown, contentEncoding: string | undefined): boolean {
  if (!(error instanceof Error) || !contentEncoding || /^\s*identity\s*$/i.test(contentEncoding)) {
    return false;
  }
  const candidate = error as { status?: unknown; type?: unknown };
  return candidate.status === 400 && candidate.type === undefined;
}

function isBodyParserError(error: unknown): error is Error & { status: number; type: string } {
  if (!(error instanceof Error)) return false;
  const candidate = error as { status?: unknown; type?: unknown };
  return (
    typeof candidate.status === 'number' &&
    candidate.status >= 400 &&
    candidate.status < 500 &&
    typeof candidate.type === 'string'
  );
}
