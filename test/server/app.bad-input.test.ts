/**
 * Input the API cannot use is a 4xx problem document, never a 500: a NUL character in any name
 * or label (PostgreSQL cannot store it), a path with malformed percent-encoding, and a body that
 * does not decode as its `Content-Encoding` says. Nothing is written.
 */
import { brotliCompressSync, deflateSync, gzipSync } from 'node:zlib';
import { count } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DatabaseHandle } from '../../shared/db/open.js';
import { apiTokens, mcpServers, users } from '../../shared/db/schema.js';
import { createLogger } from '../../shared/logger.js';
import { generateToken, storeToken } from '../../server/http/auth.js';
import { createTestUser, openTestDatabase } from '../helpers/database.js';
import { serve, type TestServer } from '../helpers/http.js';
import { sandboxedApp } from '../helpers/sandboxed.js';

let database: DatabaseHandle;
let api: TestServer;
let token: string;

beforeAll(async () => {
  database = await openTestDatabase();
  api = await serve(
    sandboxedApp({
      database,
      logger: createLogger({ level: 'silent' }),
      livekit: { url: 'ws://localhost:7880', apiKey: 'devkey', apiSecret: 'secret' },
    }),
  );
  const admin = await createTestUser(database, 'admin');
  token = generateToken();
  await storeToken(database.db, admin.id, token);
});

afterAll(async () => {
  await api?.close();
  await database?.close();
});

/** Rows in the tables a refused write could have touched. */
async function rowCounts(): Promise<number[]> {
  return Promise.all(
    [users, apiTokens, mcpServers].map(async (table) => {
      const [row] = await database.db.select({ n: count() }).from(table);
      return row!.n;
    }),
  );
}

async function send(
  method: string,
  path: string,
  body?: string | Uint8Array,
  headers: Record<string, string> = {},
) {
  const response = await fetch(api.baseUrl + path, {
    method,
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', ...headers },
    body,
  });
  return {
    status: response.status,
    type: response.headers.get('content-type') ?? '',
    body: JSON.parse((await response.text()) || '{}') as {
      id?: number;
      code: string;
      detail: string;
    },
  };
}

const remote = { transport: 'streamable-http', url: 'https://mcp.example.com/mcp' };

describe('a NUL character', () => {
  it.each([
    ['body.name', 'POST', '/api/mcp/servers', { name: 'a\u0000b', ...remote }],
    [
      'body.description',
      'POST',
      '/api/mcp/servers',
      { name: 'ok', description: '\u0000', ...remote },
    ],
    [
      'body.headers.X-\\u0000',
      'POST',
      '/api/mcp/servers',
      { name: 'ok', ...remote, headers: { 'X-\u0000': 'v' } },
    ],
    ['body.label', 'POST', '/api/tokens', { label: 'laptop\u0000' }],
    ['body.name', 'POST', '/api/users', { name: 'Eve\u0000', email: 'eve@example.com' }],
    ['body.email', 'POST', '/api/users', { name: 'Eve', email: 'eve\u0000@example.com' }],
    ['body.room', 'POST', '/api/livekit/token', { room: 'room\u0000' }],
  ])(
    'in %s (%s %s) is a 400 naming the field, and nothing is written',
    async (field, method, path, body) => {
      const before = await rowCounts();
      const res = await send(method, path, JSON.stringify(body));
      expect(res.status).toBe(400);
      expect(res.type).toContain('application/problem+json');
      expect(res.body.detail).toContain(field);
      expect(await rowCounts()).toEqual(before);
    },
  );

  it('in a query parameter is a 400', async () => {
    const res = await send('GET', '/api/mcp/servers?userId=1%00');
    expect(res.status).toBe(400);
    expect(res.body.detail).toContain('query.userId');
  });
});

describe('a path with malformed percent-encoding', () => {
  it.each(['GET', 'PUT', 'DELETE'])(
    '%s /api/mcp/servers/<malformed escape> is a 400 saying so',
    async (method) => {
      const res = await send(method, '/api/mcp/servers/%zz', method === 'PUT' ? '{}' : undefined);
      expect(res.status).toBe(400);
      expect(res.type).toContain('application/problem+json');
      expect(res.body.code).toBe('malformed_path');
      expect(res.body.detail).toMatch(/percent-encoding/);
    },
  );
});

describe('a body that does not decode as its Content-Encoding says', () => {
  const json = JSON.stringify({ name: 'Compressed', ...remote });
  const gzipped = gzipSync(json);

  it.each([
    ['gzip', Buffer.from('garbage, not gzip')],
    ['gzip', gzipped.subarray(0, gzipped.length - 6)],
    ['deflate', Buffer.from('garbage')],
    ['br', Buffer.from('garbage that is not brotli at all')],
  ])('%s (case %#) is a 400 body_undecodable, and nothing is written', async (encoding, body) => {
    const before = await rowCounts();
    const res = await send('POST', '/api/mcp/servers', body, { 'content-encoding': encoding });
    expect(res.status).toBe(400);
    expect(res.type).toContain('application/problem+json');
    expect(res.body.code).toBe('body_undecodable');
    expect(res.body.detail).toContain(`"${encoding}"`);
    expect(await rowCounts()).toEqual(before);
  });

  it('an unknown encoding is a 415', async () => {
    const res = await send('POST', '/api/mcp/servers', json, { 'content-encoding': 'x-unknown' });
    expect(res.status).toBe(415);
    expect(res.body.detail).toMatch(/unsupported content encoding "x-unknown"/);
  });

  it.each([
    ['gzip', gzipped],
    ['deflate', deflateSync(json)],
    ['br', brotliCompressSync(json)],
  ])('a well-formed %s body is accepted', async (encoding, body) => {
    const res = await send('POST', '/api/mcp/servers', body, { 'content-encoding': encoding });
    expect(res.status).toBe(201);
    expect((await send('DELETE', `/api/mcp/servers/${res.body.id}`)).status).toBe(204);
  });
});

describe('a method a path does not take', () => {
  it('is a 405 naming the methods in Allow, not a 404', async () => {
    const res = await api.request('PATCH', '/api/mcp/servers/1', { token, body: { name: 'x' } });
    expect(res.status).toBe(405);
    expect(res.headers.get('allow')).toBe('GET, PUT, DELETE, HEAD');
    expect(res.headers.get('content-type')).toContain('application/problem+json');
    expect(res.body.detail).toBe(
      'PATCH is not allowed on /api/mcp/servers/1: it takes GET, PUT, DELETE, HEAD.',
    );
  });

  it('leaves an unknown path a 404', async () => {
    const res = await api.request('GET', '/api/no-such-thing', { token });
    expect(res.status).toBe(404);
  });
});
