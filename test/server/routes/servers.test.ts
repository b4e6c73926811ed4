import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { count, eq } from 'drizzle-orm';
import type { DatabaseHandle } from '../../../shared/db/open.js';
import { mcpServers } from '../../../shared/db/schema.js';
import { openServerSecrets } from '../../../shared/db/server-secrets.js';
import { createLogger } from '../../../shared/logger.js';
import { generateToken, storeToken } from '../../../server/http/auth.js';
import { createTestUser, openTestDatabase } from '../../helpers/database.js';
import { serve, type TestServer } from '../../helpers/http.js';
import { EVERYTHING_BIN } from '../../helpers/mcp-processes.js';
import { sandboxedApp } from '../../helpers/sandboxed.js';

const everything = {
  name: 'Everything',
  transport: 'stdio',
  sandbox: { network: 'none' },
  command: 'node',
  args: [EVERYTHING_BIN, 'stdio'],
};

let database: DatabaseHandle;
let api: TestServer;
let alice: string;
let bob: string;

beforeAll(async () => {
  database = await openTestDatabase();
  const logger = createLogger({ level: 'silent' });
  api = await serve(sandboxedApp({ database, logger }));
  // Admins: only admins may register stdio servers. Without ?userId= they see their own only.
  const [a, b] = [await createTestUser(database, 'admin'), await createTestUser(database, 'admin')];
  alice = generateToken();
  bob = generateToken();
  await storeToken(database.db, a.id, alice);
  await storeToken(database.db, b.id, bob);
});

afterAll(async () => {
  await api?.close();
  await database?.close();
});

async function serverCount(): Promise<number> {
  const [row] = await database.db.select({ n: count() }).from(mcpServers);
  return row!.n;
}

describe('authentication', () => {
  it('answers 401 problem+json without a token', async () => {
    const res = await api.request('GET', '/api/mcp/servers');
    expect(res.status).toBe(401);
    expect(res.headers.get('content-type')).toContain('application/problem+json');
    expect(res.body.detail).toMatch(/Bearer/);
  });

  it('answers 401 for an unknown token', async () => {
    const res = await api.request('GET', '/api/mcp/servers', { token: generateToken() });
    expect(res.status).toBe(401);
    expect(res.body.detail).toMatch(/unknown or revoked/);
  });

  it('serves /api/health without a token', async () => {
    const res = await api.request('GET', '/api/health');
    expect(res.status).toBe(200);
    expect(res.body.status).toBe('ok');
  });
});

describe('server CRUD', () => {
  it('creates, reads, updates and deletes a server with camelCase fields', async () => {
    const created = await api.request('POST', '/api/mcp/servers', {
      token: alice,
      body: { ...everything, name: 'CRUD', description: 'reference server' },
    });
    expect(created.status).toBe(201);
    expect(created.headers.get('location')).toBe(`/api/mcp/servers/${created.body.id}`);
    expect(created.body).toMatchObject({
      name: 'CRUD',
      transport: 'stdio',
      command: 'node',
      isActive: true,
      connectionStatus: 'disconnected',
      timeoutMs: 30000,
      lastConnected: null,
      metadata: {},
    });
    const id = created.body.id as number;

    const read = await api.request('GET', `/api/mcp/servers/${id}`, { token: alice });
    expect(read.status).toBe(200);
    expect(read.body.description).toBe('reference server');

    const updated = await api.request('PUT', `/api/mcp/servers/${id}`, {
      token: alice,
      body: { description: 'changed', isActive: false, timeoutMs: 5000 },
    });
    expect(updated.status).toBe(200);
    expect(updated.body).toMatchObject({
      description: 'changed',
      isActive: false,
      timeoutMs: 5000,
    });
    expect(updated.body.command).toBe('node');
    expect(Date.parse(updated.body.updatedAt)).toBeGreaterThanOrEqual(
      Date.parse(created.body.updatedAt),
    );

    const list = await api.request('GET', '/api/mcp/servers', { token: alice });
    expect(list.body.items.map((s: { id: number }) => s.id)).toContain(id);

    const deleted = await api.request('DELETE', `/api/mcp/servers/${id}`, { token: alice });
    expect(deleted.status).toBe(204);
    const gone = await api.request('GET', `/api/mcp/servers/${id}`, { token: alice });
    expect(gone.status).toBe(404);
  });

  it('shows secrets only as set with their last 4 characters', async () => {
    const created = await api.request('POST', '/api/mcp/servers', {
      token: alice,
      body: {
        name: 'Remote with secrets',
        transport: 'streamable-http',
        url: 'http://127.0.0.1:9/mcp',
        apiKey: 'sk-live-1234567890abcd',
        headers: { 'X-Tenant': 'tenant-secret-value-wxyz' },
      },
    });
    expect(created.status).toBe(201);
    const text = JSON.stringify(created.body);
    expect(text).not.toContain('sk-live-1234567890abcd');
    expect(text).not.toContain('tenant-secret-value');
    expect(created.body.apiKey).toEqual({ set: true, last4: 'abcd' });
    expect(created.body.headers['X-Tenant']).toEqual({ set: true, last4: 'wxyz' });

    // An update that omits the key keeps it.
    const updated = await api.request('PUT', `/api/mcp/servers/${created.body.id}`, {
      token: alice,
      body: { description: 'still secret' },
    });
    expect(updated.body.apiKey).toEqual({ set: true, last4: 'abcd' });
    const [row] = await database.db
      .select()
      .from(mcpServers)
      .where(eq(mcpServers.id, created.body.id));
    expect(row!.apiKey).toMatch(/^sb:v1:/);
    expect(openServerSecrets(row!, database.secrets).apiKey).toBe('sk-live-1234567890abcd');

    // null clears it.
    const cleared = await api.request('PUT', `/api/mcp/servers/${created.body.id}`, {
      token: alice,
      body: { apiKey: null },
    });
    expect(cleared.body.apiKey).toBeNull();
  });

  it('changes transport only when the new transport gets what it needs', async () => {
    const created = await api.request('POST', '/api/mcp/servers', {
      token: alice,
      body: { ...everything, name: 'Switcher' },
    });
    const id = created.body.id as number;
    const missingUrl = await api.request('PUT', `/api/mcp/servers/${id}`, {
      token: alice,
      body: { transport: 'sse' },
    });
    expect(missingUrl.status).toBe(400);
    expect(missingUrl.body.detail).toMatch(/url/);

    const switched = await api.request('PUT', `/api/mcp/servers/${id}`, {
      token: alice,
      body: { transport: 'sse', url: 'https://example.test/sse' },
    });
    expect(switched.status).toBe(200);
    expect(switched.body).toMatchObject({ transport: 'sse', command: null, args: [] });
    expect(switched.body.url).toBe('https://example.test/sse');
  });

  it('refuses a duplicate name with 409 and writes nothing', async () => {
    const first = await api.request('POST', '/api/mcp/servers', {
      token: alice,
      body: { ...everything, name: 'Unique' },
    });
    expect(first.status).toBe(201);
    const before = await serverCount();
    const second = await api.request('POST', '/api/mcp/servers', {
      token: alice,
      body: { ...everything, name: 'Unique' },
    });
    expect(second.status).toBe(409);
    expect(second.body.detail).toMatch(
      /^A server named "Unique" \(id \d+\) already exists; names are unique regardless of case\./,
    );
    expect(await serverCount()).toBe(before);

    // Another user may use the same name.
    const other = await api.request('POST', '/api/mcp/servers', {
      token: bob,
      body: { ...everything, name: 'Unique' },
    });
    expect(other.status).toBe(201);
  });

  it.each([
    [{}, /transport/],
    [{ name: 'x', transport: 'carrier-pigeon' }, /transport/],
    [{ name: 'x', transport: 'stdio' }, /command/],
    [{ name: '', transport: 'stdio', command: 'node' }, /name/],
    [{ name: 'x', transport: 'sse', url: 'not a url' }, /url/],
    [
      { name: 'x', transport: 'websocket', url: 'http://example.test/ws' },
      /url must use ws or wss/,
    ],
    [{ name: 'x', transport: 'stdio', command: 'node', timeoutMs: 5 }, /timeoutMs/],
    [{ name: 'x', transport: 'stdio', command: 'node', comand: 'typo' }, /comand/],
    [{ name: 'x', transport: 'stdio', command: 'node', env: { 'BAD NAME': 'v' } }, /env/],
  ])('rejects the invalid body %j with 400 naming the field', async (body, field) => {
    const before = await serverCount();
    const res = await api.request('POST', '/api/mcp/servers', { token: alice, body });
    expect(res.status).toBe(400);
    expect(res.headers.get('content-type')).toContain('application/problem+json');
    expect(res.body.detail).toMatch(field);
    expect(await serverCount()).toBe(before);
  });

  it('rejects malformed JSON with 400', async () => {
    const res = await api.request('POST', '/api/mcp/servers', { token: alice, body: '{"name":' });
    expect(res.status).toBe(400);
    expect(res.body.detail).toBe('The request body is not valid JSON.');
  });

  it('rejects a non-numeric id with 400 and a missing one with 404', async () => {
    const bad = await api.request('GET', '/api/mcp/servers/abc', { token: alice });
    expect(bad.status).toBe(400);
    expect(bad.body.detail).toMatch(/id must be a positive integer/);
    const missing = await api.request('GET', '/api/mcp/servers/999999', { token: alice });
    expect(missing.status).toBe(404);
    expect(missing.body.detail).toBe('MCP server 999999 does not exist.');
  });

  it("answers 404 for another user's server on every method", async () => {
    const created = await api.request('POST', '/api/mcp/servers', {
      token: bob,
      body: { ...everything, name: 'Bob only' },
    });
    const path = `/api/mcp/servers/${created.body.id}`;
    for (const [method, suffix, body] of [
      ['GET', '', undefined],
      ['PUT', '', { description: 'mine now' }],
      ['DELETE', '', undefined],
      ['POST', '/test', undefined],
      ['GET', '/tools', undefined],
    ] as const) {
      const res = await api.request(method, path + suffix, { token: alice, body });
      expect(res.status, `${method} ${suffix}`).toBe(404);
    }
    const list = await api.request('GET', '/api/mcp/servers', { token: alice });
    expect(list.body.items.map((s: { name: string }) => s.name)).not.toContain('Bob only');
    const still = await api.request('GET', path, { token: bob });
    expect(still.body.description).toBe('');
  });
});

describe('testing a server for real', () => {
  it('connects to server-everything and returns its tools and latency', async () => {
    const created = await api.request('POST', '/api/mcp/servers', {
      token: alice,
      body: { ...everything, name: 'Tested' },
    });
    const res = await api.request('POST', `/api/mcp/servers/${created.body.id}/test`, {
      token: alice,
    });
    expect(res.status).toBe(200);
    expect(res.body.status).toBe('connected');
    expect(res.body.serverInfo.name).toMatch(/everything/);
    expect(res.body.toolCount).toBeGreaterThan(5);
    expect(res.body.latencyMs).toBeGreaterThan(0);
    const echo = res.body.tools.find((t: { originalName: string }) => t.originalName === 'echo');
    expect(echo.name).toBe('tested__echo');
    expect(echo.parameters.type).toBe('object');

    const stored = await api.request('GET', `/api/mcp/servers/${created.body.id}`, {
      token: alice,
    });
    expect(stored.body.connectionStatus).toBe('connected');
    expect(stored.body.metadata.toolCount).toBe(res.body.toolCount);
    expect(stored.body.metadata.toolNames).toContain('echo');
    expect(stored.body.lastConnected).not.toBeNull();
  });

  it('counts the tools after the tool filter, as the agent gets them', async () => {
    const created = await api.request('POST', '/api/mcp/servers', {
      token: alice,
      body: { ...everything, name: 'Two tools', toolFilter: { allow: ['echo', 'get-sum'] } },
    });
    const res = await api.request('POST', `/api/mcp/servers/${created.body.id}/test`, {
      token: alice,
    });
    expect(res.body.status).toBe('connected');
    expect(res.body.toolCount).toBe(2);
    expect(res.body.tools.map((t: { originalName: string }) => t.originalName).sort()).toEqual([
      'echo',
      'get-sum',
    ]);
    const stored = await api.request('GET', `/api/mcp/servers/${created.body.id}`, {
      token: alice,
    });
    expect(stored.body.metadata.toolCount).toBe(2);
    expect(stored.body.metadata.toolNames.sort()).toEqual(['echo', 'get-sum']);
    expect(stored.body.metadata.serverToolCount).toBeGreaterThan(2);
  });

  it('leaves a disabled server disconnected after a test, refreshing only its tools', async () => {
    const created = await api.request('POST', '/api/mcp/servers', {
      token: alice,
      body: { ...everything, name: 'Disabled', isActive: false },
    });
    const res = await api.request('POST', `/api/mcp/servers/${created.body.id}/test`, {
      token: alice,
    });
    expect(res.body.status).toBe('connected');
    const stored = await api.request('GET', `/api/mcp/servers/${created.body.id}`, {
      token: alice,
    });
    expect(stored.body.isActive).toBe(false);
    expect(stored.body.connectionStatus).toBe('disconnected');
    expect(stored.body.lastConnected).toBeNull();
    expect(stored.body.metadata.toolCount).toBe(res.body.toolCount);
  });

  it('reports a command that does not exist as an error with the reason', async () => {
    const created = await api.request('POST', '/api/mcp/servers', {
      token: alice,
      body: { name: 'Broken', transport: 'stdio', command: 'switchboard-no-such-command' },
    });
    const res = await api.request('POST', `/api/mcp/servers/${created.body.id}/test`, {
      token: alice,
    });
    expect(res.status).toBe(200);
    expect(res.body.status).toBe('error');
    expect(res.body.error).toMatch(/switchboard-no-such-command/);
    const stored = await api.request('GET', `/api/mcp/servers/${created.body.id}`, {
      token: alice,
    });
    expect(stored.body.connectionStatus).toBe('error');
    expect(stored.body.lastError).toMatch(/switchboard-no-such-command/);
  });

  it('lists tools exactly as the agent advertises them, honouring the tool filter', async () => {
    const created = await api.request('POST', '/api/mcp/servers', {
      token: alice,
      body: { ...everything, name: 'Filtered', toolFilter: { allow: ['echo', 'get-sum'] } },
    });
    const res = await api.request('GET', `/api/mcp/servers/${created.body.id}/tools`, {
      token: alice,
    });
    expect(res.status).toBe(200);
    expect(res.body.map((t: { name: string }) => t.name).sort()).toEqual([
      'filtered__echo',
      'filtered__get-sum',
    ]);
    for (const tool of res.body) {
      expect(tool.name).toMatch(/^[a-zA-Z0-9_-]{1,64}$/);
      expect(Object.keys(tool).sort()).toEqual([
        'description',
        'hash',
        'name',
        'needsConfirmation',
        'originalName',
        'parameters',
        'pinState',
        'withheld',
      ]);
      expect(tool.needsConfirmation).toBe(false);
      // The first listing of a new server pins its tools (trust on first use).
      expect(tool).toMatchObject({ pinState: 'pinned', withheld: false });
    }
  });

  it('lists the confirm tool a session adds, and marks the tools that need a spoken yes', async () => {
    const created = await api.request('POST', '/api/mcp/servers', {
      token: alice,
      body: {
        ...everything,
        name: 'Careful',
        toolFilter: { allow: ['echo', 'get-sum'] },
        toolPolicy: { confirm: 'always' },
      },
    });
    const res = await api.request('GET', `/api/mcp/servers/${created.body.id}/tools`, {
      token: alice,
    });
    expect(res.status).toBe(200);
    expect(
      res.body.map((t: { name: string; needsConfirmation: boolean }) => [
        t.name,
        t.needsConfirmation,
      ]),
    ).toEqual([
      ['careful__echo', true],
      ['careful__get-sum', true],
      ['careful__confirm_action', false],
    ]);
    expect(res.body[2].parameters.required).toEqual(['confirmation_id', 'approved']);
    expect(res.headers.get('x-total-count')).toBe('3');
  });

  it('lists the resource tools a session adds for a server with resources, after its own', async () => {
    const created = await api.request('POST', '/api/mcp/servers', {
      token: alice,
      body: {
        ...everything,
        name: 'Docs',
        // The filter applies to the resource tools' MCP-style names too.
        toolFilter: { allow: ['echo', 'list_resources', 'read_resource'] },
      },
    });
    const res = await api.request('GET', `/api/mcp/servers/${created.body.id}/tools`, {
      token: alice,
    });
    expect(res.status).toBe(200);
    expect(res.body.map((t: { name: string }) => t.name)).toEqual([
      'docs__echo',
      'docs__list_resources',
      'docs__read_resource',
    ]);
    const [, list, read] = res.body;
    expect(list).toMatchObject({ originalName: 'list_resources', needsConfirmation: false });
    expect(list.description).toContain('Read one with docs__read_resource');
    expect(list).not.toHaveProperty('pinState');
    expect(read.parameters.required).toEqual(['uri']);
    // No templates tool: the read tool does not point at one.
    expect(read.description).not.toContain('list_resource_templates');
    expect(res.headers.get('x-total-count')).toBe('3');
  });

  it('answers 503 for the tools of a server that cannot be reached', async () => {
    const created = await api.request('POST', '/api/mcp/servers', {
      token: alice,
      body: { name: 'Unreachable', transport: 'stdio', command: 'switchboard-missing-too' },
    });
    const res = await api.request('GET', `/api/mcp/servers/${created.body.id}/tools`, {
      token: alice,
    });
    expect(res.status).toBe(503);
    expect(res.body.detail).toMatch(/switchboard-missing-too/);
  });
});
