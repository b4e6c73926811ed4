/**
 * `GET /api/openapi.json`: a valid OpenAPI 3.1 document, generated from the route list, that
 * covers every route mounted on the app.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Express } from 'express';
import { Registry } from 'prom-client';
import { getTableColumns } from 'drizzle-orm';
import { mcpServers } from '../../../shared/db/schema.js';
import type { DatabaseHandle } from '../../../shared/db/open.js';
import { createLogger } from '../../../shared/logger.js';
import { ALL_ROUTES } from '../../../server/api/routes.js';
import { ApiMetrics } from '../../../server/status/metrics.js';
import { openApiPath } from '../../../server/api/openapi.js';
import { STATUS_STREAM_PATH } from '../../../server/status/stream.js';
import { openTestDatabase } from '../../helpers/database.js';
import { serve, type TestServer } from '../../helpers/http.js';
import { sandboxedApp } from '../../helpers/sandboxed.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- JSON read back from the API
type Json = any;

const METHODS = ['get', 'put', 'post', 'delete', 'patch', 'options', 'head', 'trace'];

let database: DatabaseHandle;
let app: Express;
let api: TestServer;

beforeAll(async () => {
  database = await openTestDatabase();
  // With every optional route on: metrics mounts `GET /metrics`.
  const metrics = new ApiMetrics({ registry: new Registry() });
  app = sandboxedApp({ database, logger: createLogger({ level: 'silent' }), metrics });
  api = await serve(app);
});

afterAll(async () => {
  await api?.close();
  await database?.close();
});

interface RouterLayer {
  rawPath?: unknown;
  route?: { path: string; methods: Record<string, boolean> };
  handle?: { stack?: RouterLayer[] };
}

/** `METHOD /path` of every route mounted on an Express 5 app, found by walking its routers. */
function mountedRoutes(stack: RouterLayer[], prefix = ''): string[] {
  const found: string[] = [];
  for (const layer of stack) {
    const path = typeof layer.rawPath === 'string' ? layer.rawPath : '';
    if (layer.route) {
      const full = prefix + (layer.route.path === '/' ? '' : layer.route.path) || '/';
      for (const [method, on] of Object.entries(layer.route.methods)) {
        if (on && METHODS.includes(method)) found.push(`${method.toUpperCase()} ${full}`);
      }
    } else if (layer.handle?.stack) {
      found.push(...mountedRoutes(layer.handle.stack, prefix + (path === '/' ? '' : path)));
    }
  }
  return found;
}

describe('GET /api/openapi.json', () => {
  it('answers an OpenAPI 3.1 document without a token', async () => {
    const res = await api.request('GET', '/api/openapi.json');

    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('application/json');
    expect(res.body.openapi).toBe('3.1.0');
    expect(res.body.info).toMatchObject({ title: expect.any(String), version: expect.any(String) });
    expect(res.body.components.securitySchemes.bearerAuth).toEqual(
      expect.objectContaining({ type: 'http', scheme: 'bearer' }),
    );
  });

  it('has a well-formed operation for every route, with schemas for bodies and responses', async () => {
    const { body: doc } = await api.request('GET', '/api/openapi.json');
    const operationIds = new Set<string>();

    for (const [path, item] of Object.entries<Record<string, Json>>(doc.paths)) {
      expect(path).toMatch(/^\/[^:]*$/);
      for (const [method, op] of Object.entries(item)) {
        expect(METHODS).toContain(method);
        expect(operationIds.has(op.operationId)).toBe(false);
        operationIds.add(op.operationId);
        expect(op.summary).toEqual(expect.any(String));
        expect(Object.keys(op.responses).length).toBeGreaterThan(0);
        for (const [status, response] of Object.entries<Json>(op.responses)) {
          expect(status).toMatch(/^[1-5]\d\d$/);
          expect(response.description).toEqual(expect.any(String));
        }
        for (const name of path.match(/\{(\w+)\}/g) ?? []) {
          const param = op.parameters.find((p: { name: string }) => `{${p.name}}` === name);
          expect(param).toMatchObject({ in: 'path', required: true, schema: expect.any(Object) });
        }
        if (method === 'post' || method === 'put') {
          expect(op.requestBody.content['application/json'].schema).toEqual(expect.any(Object));
        }
      }
    }
    expect(operationIds.size).toBe(ALL_ROUTES.length);
    expect(doc.paths[STATUS_STREAM_PATH].get.responses['101']).toBeDefined();
    expect(doc.paths['/metrics'].get.responses['200'].content['text/plain']).toBeDefined();
  });

  it('generates request schemas from the zod schemas the routes validate with', async () => {
    const { body: doc } = await api.request('GET', '/api/openapi.json');

    const createServer = doc.paths['/api/mcp/servers'].post;
    const variants = createServer.requestBody.content['application/json'].schema.oneOf;
    // A literal is written `enum: [value]` (equivalent to `const` in JSON Schema 2020-12).
    expect(variants.flatMap((v: Json) => v.properties.transport.enum).sort()).toEqual([
      'sse',
      'stdio',
      'streamable-http',
      'websocket',
    ]);
    const createUser = doc.paths['/api/users'].post.requestBody.content['application/json'];
    expect(createUser.schema).toMatchObject({
      type: 'object',
      required: ['name', 'email'],
      properties: { role: { enum: ['admin', 'user'] } },
    });
    const calls = doc.paths['/api/mcp/servers/{id}/calls'].get;
    expect(calls.parameters).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          name: 'limit',
          in: 'query',
          required: false,
          schema: expect.objectContaining({ minimum: 1, maximum: 200, default: 50 }),
        }),
      ]),
    );
    expect(calls.responses['404'].content['application/problem+json'].schema.$ref).toBe(
      '#/components/schemas/Problem',
    );
    // Both lists are paginated by an opaque cursor, documented on the same terms.
    const servers = doc.paths['/api/mcp/servers'].get;
    for (const operation of [calls, servers]) {
      expect(operation.parameters).toEqual(
        expect.arrayContaining([
          expect.objectContaining({
            name: 'limit',
            in: 'query',
            required: false,
            schema: expect.objectContaining({ minimum: 1, maximum: 200, default: 50 }),
          }),
          expect.objectContaining({
            name: 'cursor',
            in: 'query',
            required: false,
            schema: expect.objectContaining({ type: 'string' }),
          }),
        ]),
      );
    }
    expect(calls.responses['200'].content['application/json'].schema.$ref).toBe(
      '#/components/schemas/ToolCallPage',
    );
  });

  it('names the response schemas, derived from the tables, with the secrets masked', async () => {
    const { body: doc } = await api.request('GET', '/api/openapi.json');

    const list = doc.paths['/api/mcp/servers'].get.responses['200'].content['application/json'];
    expect(list.schema.$ref).toBe('#/components/schemas/ServerPage');
    const page = doc.components.schemas.ServerPage;
    expect(page.required).toEqual(['items', 'nextCursor']);
    expect(page.properties.items.items.$ref).toBe('#/components/schemas/Server');
    expect(page.properties.nextCursor.type).toEqual(expect.arrayContaining(['string', 'null']));
    const server = doc.components.schemas.Server;
    // Every column but the stored hints, which show inside the masked secrets.
    expect(Object.keys(server.properties).sort()).toEqual(
      Object.keys(getTableColumns(mcpServers))
        .filter((column) => column !== 'secretHints')
        .sort(),
    );
    for (const secrets of [server.properties.env, server.properties.headers]) {
      expect(secrets.additionalProperties.required).toEqual(['set', 'last4']);
    }
    expect(server.properties.createdAt).toMatchObject({ type: 'string', format: 'date-time' });
    expect(Object.keys(doc.components.schemas.Token.properties)).not.toContain('tokenHash');
  });

  it('documents every route mounted on the app, and nothing that is not mounted', async () => {
    const { body: doc } = await api.request('GET', '/api/openapi.json');
    // The status stream is a WebSocket on the HTTP server's `upgrade` event, outside Express.
    const upgrades = new Set(
      ALL_ROUTES.filter((r) => r.mount === 'upgrade').map((r) => openApiPath(r.path)),
    );
    expect([...upgrades]).toEqual([STATUS_STREAM_PATH]);
    const documented = Object.entries<Record<string, unknown>>(doc.paths)
      .filter(([path]) => !upgrades.has(path))
      .flatMap(([path, item]) => Object.keys(item).map((m) => `${m.toUpperCase()} ${path}`))
      .sort();

    const mounted = mountedRoutes(
      (app as unknown as { router: { stack: RouterLayer[] } }).router.stack,
    )
      // The dashboard's `GET /` (a redirect to its page) is for browsers, not an API operation.
      .filter((route) => route !== 'GET /')
      .map((route) => {
        const [method, path] = route.split(' ');
        return `${method} ${openApiPath(path!)}`;
      })
      .sort();

    expect(mounted.length).toBeGreaterThan(10);
    expect(documented).toEqual([...new Set(mounted)]);
  });
});
