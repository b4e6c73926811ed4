/**
 * Builds the API's OpenAPI 3.1 document from the route list (`routes.ts`) with
 * `@asteasolutions/zod-to-openapi`: each {@link RouteSpec} is registered as a path whose
 * parameters, body and responses are its zod schemas (their `.meta()` descriptions included),
 * and the generator writes the JSON Schemas (2020-12, the dialect OpenAPI 3.1 uses). What is
 * written here is only the mapping from a route's contract to an operation: its error
 * responses (RFC 9457 problem documents), its security and its tag.
 *
 * Follows the OpenAPI Specification 3.1.0 (https://spec.openapis.org/oas/v3.1.0).
 */
import {
  OpenAPIRegistry,
  OpenApiGeneratorV31,
  type RouteConfig,
} from '@asteasolutions/zod-to-openapi';
import { problemResource } from './schemas.js';
import { errorStatuses, type RouteSpec } from './route-spec.js';

/** An OpenAPI 3.1 document, as the generator types it. */
export type OpenApiDocument = ReturnType<OpenApiGeneratorV31['generateDocument']>;

const ERROR_DESCRIPTIONS: Record<number, string> = {
  400: 'The path, query or body is invalid; `errors` names each failing field.',
  401: 'No valid bearer token.',
  403:
    'The caller may not do this, or the token may not use the REST API (its scopes lack `api`: ' +
    'a token limited to the MCP gateway).',
  404: "No such resource for this caller (another user's is a 404 too).",
  409: 'Conflicts with existing data.',
  413: 'The body is too large.',
  415: 'The body is not JSON.',
  422:
    'Refused by policy, e.g. a private or metadata URL, or a command not on the allow list; or ' +
    'naming what does not exist, e.g. a tool to approve that the server does not list.',
  429: 'Too many requests for this token.',
  503: 'A dependency (the database or the MCP server) is unavailable, or LiveKit is not configured.',
};

/**
 * `/api/mcp/servers/:id` → `/api/mcp/servers/{id}`.
 *
 * @param expressPath an Express route path whose parameters are `:name`.
 * @returns the OpenAPI path template (OpenAPI 3.1.0 §4.8.8, "Paths Object").
 */
export function openApiPath(expressPath: string): string {
  return expressPath.replace(/:([A-Za-z0-9_]+)/g, '{$1}');
}

/** The path registration of one route: its contract's schemas, responses and errors. */
function routeConfig(route: RouteSpec): RouteConfig {
  const responses: RouteConfig['responses'] = {};
  for (const [status, response] of Object.entries(route.responses)) {
    responses[status] = {
      description: response.description,
      ...(response.schema
        ? { content: { [response.contentType ?? 'application/json']: { schema: response.schema } } }
        : {}),
    };
  }
  for (const status of errorStatuses(route)) {
    // A status the route documents as an answer of its own (the widget's 503 `down`) keeps it.
    if (responses[status]) continue;
    responses[status] = {
      description: ERROR_DESCRIPTIONS[status] ?? 'An error.',
      // `problemResource` carries the id `Problem`: a `$ref` to its component.
      content: { 'application/problem+json': { schema: problemResource } },
    };
  }
  return {
    method: route.method,
    path: openApiPath(route.path),
    operationId: route.operationId,
    summary: route.summary,
    ...(route.description ? { description: route.description } : {}),
    tags: [route.tag],
    security: route.auth === 'none' ? [] : [{ bearerAuth: [] }],
    request: {
      ...(route.params ? { params: route.params } : {}),
      ...(route.query ? { query: route.query } : {}),
      ...(route.body
        ? {
            body: {
              required: route.bodyRequired ?? true,
              content: { 'application/json': { schema: route.body } },
            },
          }
        : {}),
    },
    responses,
  };
}

/**
 * The OpenAPI 3.1.0 document of the given routes: every route a path operation (the WebSocket
 * of a `mount: 'upgrade'` route is its `GET` with a 101 response), the RFC 9457 problem document
 * as `components.schemas.Problem`, and the `bearerAuth` security scheme.
 *
 * @param routes the route list, usually `ALL_ROUTES`; operation ids must be unique.
 * @param version the API version written to `info.version`.
 * @throws Error from the generator when a schema has a zod type it cannot express.
 */
export function buildOpenApiDocument(
  routes: readonly RouteSpec[],
  version: string,
): OpenApiDocument {
  const registry = new OpenAPIRegistry();
  registry.registerComponent('securitySchemes', 'bearerAuth', {
    type: 'http',
    scheme: 'bearer',
    description: 'An API token (`sb_...`).',
  });
  for (const route of routes) registry.registerPath(routeConfig(route));
  return new OpenApiGeneratorV31(registry.definitions).generateDocument({
    openapi: '3.1.0',
    info: {
      title: 'Switchboard admin API',
      version,
      description:
        'MCP servers, users, API tokens and status of a Switchboard voice agent. Errors are ' +
        'RFC 9457 problem documents.',
    },
  });
}
