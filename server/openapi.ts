/**
 * Builds the API's OpenAPI 3.1 document from the route list (`api-routes.ts`) with zod 4's
 * `z.toJSONSchema` (JSON Schema 2020-12, the dialect OpenAPI 3.1 uses). Nothing in it is
 * written by hand but the titles and descriptions the routes carry.
 *
 * Follows the OpenAPI Specification 3.1.0 (https://spec.openapis.org/oas/v3.1.0).
 */
import { z } from 'zod';
import { problemResource } from './api-schemas.js';
import { errorStatuses, type RouteSpec } from './route-spec.js';

/** An OpenAPI 3.1 document (the members this builder writes). */
export interface OpenApiDocument {
  openapi: '3.1.0';
  info: { title: string; version: string; description: string };
  paths: Record<string, Record<string, OpenApiOperation>>;
  components: {
    schemas: Record<string, unknown>;
    securitySchemes: Record<string, unknown>;
  };
}

/** One operation of an {@link OpenApiDocument}. */
export interface OpenApiOperation {
  operationId: string;
  summary: string;
  description?: string;
  tags: string[];
  security: Record<string, string[]>[];
  parameters?: unknown[];
  requestBody?: { required: boolean; content: Record<string, { schema: unknown }> };
  responses: Record<string, unknown>;
}

const ERROR_DESCRIPTIONS: Record<number, string> = {
  400: 'The path, query or body is invalid; `errors` names each failing field.',
  401: 'No valid bearer token.',
  403: 'The caller may not do this.',
  404: "No such resource for this caller (another user's is a 404 too).",
  409: 'Conflicts with existing data.',
  413: 'The body is too large.',
  415: 'The body is not JSON.',
  422: 'Refused by policy, e.g. a private or metadata URL, or a command not on the allow list.',
  429: 'Too many requests for this token.',
  503: 'A dependency (the database or the MCP server) is unavailable, or LiveKit is not configured.',
};

/** JSON Schema of a zod schema as requests (`input`) or responses (`output`) see it. */
function jsonSchema(schema: z.ZodType, io: 'input' | 'output'): Record<string, unknown> {
  const json = z.toJSONSchema(schema, {
    target: 'draft-2020-12',
    io,
    unrepresentable: 'any',
  }) as Record<string, unknown>;
  // The document's dialect is declared once, by `openapi: 3.1.0`.
  delete json.$schema;
  return json;
}

/** `/api/mcp/servers/:id` → `/api/mcp/servers/{id}`. */
export function openApiPath(expressPath: string): string {
  return expressPath.replace(/:([A-Za-z0-9_]+)/g, '{$1}');
}

function parameters(schema: z.ZodObject, where: 'path' | 'query') {
  const object = jsonSchema(schema, 'input') as {
    properties?: Record<string, Record<string, unknown>>;
    required?: string[];
  };
  return Object.entries(object.properties ?? {}).map(([name, property]) => {
    const { description, ...rest } = property;
    return {
      name,
      in: where,
      required: where === 'path' || (object.required ?? []).includes(name),
      ...(typeof description === 'string' ? { description } : {}),
      schema: rest,
    };
  });
}

function operation(route: RouteSpec): OpenApiOperation {
  const op: OpenApiOperation = {
    operationId: route.operationId,
    summary: route.summary,
    ...(route.description ? { description: route.description } : {}),
    tags: [route.tag],
    security: route.auth === 'none' ? [] : [{ bearerAuth: [] }],
    responses: {},
  };
  const params = [
    ...(route.params ? parameters(route.params, 'path') : []),
    ...(route.query ? parameters(route.query, 'query') : []),
  ];
  if (params.length > 0) op.parameters = params;
  if (route.body) {
    op.requestBody = {
      required: route.bodyRequired ?? true,
      content: { 'application/json': { schema: jsonSchema(route.body, 'input') } },
    };
  }
  for (const [status, response] of Object.entries(route.responses)) {
    const contentType = response.contentType ?? 'application/json';
    op.responses[status] = {
      description: response.description,
      ...(response.schema
        ? { content: { [contentType]: { schema: jsonSchema(response.schema, 'output') } } }
        : {}),
    };
  }
  for (const status of errorStatuses(route)) {
    op.responses[String(status)] = {
      description: ERROR_DESCRIPTIONS[status] ?? 'An error.',
      content: { 'application/problem+json': { schema: { $ref: '#/components/schemas/Problem' } } },
    };
  }
  return op;
}

/**
 * The OpenAPI 3.1 document of the given routes.
 *
 * @param routes the route list, usually `ALL_ROUTES`.
 * @param version the API version written to `info.version`.
 */
export function buildOpenApiDocument(
  routes: readonly RouteSpec[],
  version: string,
): OpenApiDocument {
  const paths: OpenApiDocument['paths'] = {};
  for (const route of routes) {
    const path = openApiPath(route.path);
    paths[path] ??= {};
    paths[path][route.method] = operation(route);
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'Switchboard admin API',
      version,
      description:
        'MCP servers, users, API tokens and status of a Switchboard voice agent. Errors are ' +
        'RFC 9457 problem documents.',
    },
    paths,
    components: {
      schemas: { Problem: jsonSchema(problemResource, 'output') },
      securitySchemes: {
        bearerAuth: { type: 'http', scheme: 'bearer', description: 'An API token (`sb_...`).' },
      },
    },
  };
}
