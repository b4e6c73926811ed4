/**
 * The shape of one API route's contract: method, path, who may call it, and the zod schemas of
 * its params, query, body and responses. `routes.ts` lists every route with it; the routers
 * validate with those schemas ({@link parseRequest}) and `openapi.ts` turns them into the OpenAPI
 * document, so the document cannot drift from what the API accepts.
 */
import type { Request } from 'express';
import type { z } from 'zod';
import { BadRequestError } from '../http/errors.js';

/** HTTP methods the API uses, lower-case as Express and OpenAPI spell them. */
export type HttpMethod = 'get' | 'post' | 'put' | 'delete';

/** One documented response. */
export interface ResponseSpec {
  description: string;
  /** JSON body schema; absent for empty bodies (204) or non-JSON ones. */
  schema?: z.ZodType;
  /** Media type of the body; default `application/json` when `schema` is set. */
  contentType?: string;
}

/** The contract of one route. */
export interface RouteSpec {
  method: HttpMethod;
  /** Express path, e.g. `/api/mcp/servers/:id`; documented as `/api/mcp/servers/{id}`. */
  path: string;
  /** Unique name of the operation (OpenAPI `operationId`). */
  operationId: string;
  summary: string;
  description?: string;
  /** OpenAPI tag grouping the route, e.g. `servers`. */
  tag: string;
  /**
   * `app` (default): an Express route of `createApp`. `upgrade`: a WebSocket served on the HTTP
   * server's `upgrade` event, outside Express.
   */
  mount?: 'app' | 'upgrade';
  /** `none`: public; `user`: any valid token; `admin`: an admin's token. */
  auth: 'none' | 'user' | 'admin';
  params?: z.ZodObject;
  query?: z.ZodObject;
  body?: z.ZodType;
  /** Whether the body must be sent; default true when `body` is set. */
  bodyRequired?: boolean;
  /** Success responses by status. */
  responses: Record<number, ResponseSpec>;
  /**
   * Error statuses beyond those implied by the contract (400 for any input; 401, 403, 429 and
   * 503 for `auth`; 404 for path params; 413 and 415 for a body); each is a problem document.
   */
  errors?: number[];
}

/** Declares a route, keeping its schemas' exact types for the handlers. */
export function defineRoute<const S extends RouteSpec>(spec: S): S {
  return spec;
}

/**
 * Parses one part of a request with its schema; `undefined` when the contract has none.
 *
 * @param where `params`, `query` or `body`, named in the error's field paths.
 * @throws BadRequestError (400) naming each failing field.
 */
function parsePart(
  schema: z.ZodType | undefined,
  value: unknown,
  where: 'params' | 'query' | 'body',
): unknown {
  if (!schema) return undefined;
  const result = schema.safeParse(value);
  if (!result.success) throw BadRequestError.fromZod(result.error, where);
  return result.data;
}

/** The parsed value of one part of a request: `undefined` when the contract has no schema. */
type Parsed<T> = T extends z.ZodType ? z.output<T> : undefined;

/** A request's params, query and body as its route's contract parses them. */
export interface RequestInput<S extends RouteSpec> {
  params: Parsed<S['params']>;
  query: Parsed<S['query']>;
  body: Parsed<S['body']>;
}

/**
 * The one way a route validates its request: the params, query and body its contract declares,
 * parsed in that order with the contract's schemas (a part the contract leaves out is not
 * read). An absent body (`req.body` undefined: none sent) is parsed as `{}`, so an optional
 * body's defaults apply and a required one names its missing fields.
 *
 * A helper the handler calls, rather than a middleware, so the parsed values keep their types
 * (Express 5's `req.query` is a getter a middleware cannot replace) and the handler decides
 * what runs first.
 *
 * @param spec the route's contract, an entry of `API_ROUTES`.
 * @param req the Express request (`params`, `query` and `body` are read).
 * @throws BadRequestError (400, RFC 9457 problem) naming each failing field of the first
 *   failing part as `params.<field>`, `query.<field>` or `body.<field>`.
 */
export function parseRequest<const S extends RouteSpec>(
  spec: S,
  req: Pick<Request, 'params' | 'query' | 'body'>,
): RequestInput<S> {
  return {
    params: parsePart(spec.params, req.params, 'params'),
    query: parsePart(spec.query, req.query, 'query'),
    body: parsePart(spec.body, req.body ?? {}, 'body'),
  } as RequestInput<S>;
}

/** The error statuses a route can answer with, sorted. */
export function errorStatuses(spec: RouteSpec): number[] {
  const statuses = new Set<number>(spec.errors ?? []);
  if (spec.params || spec.query || spec.body) statuses.add(400);
  if (spec.auth !== 'none') {
    // The token is looked up in the database (503 while it is down) and rate limited (429); a
    // token whose scopes lack `api` (a gateway-only token) is refused (403).
    for (const status of [401, 403, 429, 503]) statuses.add(status);
  }
  if (spec.params) statuses.add(404);
  if (spec.body) {
    statuses.add(413);
    statuses.add(415);
  }
  return [...statuses].sort((a, b) => a - b);
}
