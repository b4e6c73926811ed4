import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eq } from 'drizzle-orm';
import type { DatabaseHandle } from '../../../shared/db/open.js';
import { mcpServers } from '../../../shared/db/schema.js';
import { createLogger } from '../../../shared/logger.js';
import { generateToken, storeToken } from '../../../server/http/auth.js';
import { createTestUser, openTestDatabase } from '../../helpers/database.js';
import { serve, type TestServer } from '../../helpers/http.js';
import { EVERYTHING_BIN } from '../../helpers/mcp-processes.js';
import { sandboxedApp } from '../../helpers/sandboxed.js';

const server = {
  transport: 'stdio',
  sandbox: { network: 'none' },
  command: 'node',
  args: [EVERYTHING_BIN, 'stdio'],
  isActive: false,
};

let database: DatabaseHandle;
let api: TestServer;
let token: string;

beforeAll(async () => {
  database = await openTestDatabase();
  api = await serve(sandboxedApp({ database, logger: createLogger({ level: 'silent' }) }));
  const admin = await createTestUser(database, 'admin');
  token = generateToken();
  await storeToken(database.db, admin.id, token);
});

afterAll(async () => {
  await api?.close();
  await database?.close();
});

async function storedPolicy(id: number) {
  const [row] = await database.db
    .select({ toolPolicy: mcpServers.toolPolicy })
    .from(mcpServers)
    .where(eq(mcpServers.id, id));
  return row?.toolPolicy;
}

describe('toolPolicy', () => {
  it('defaults to {} and is returned with the server', async () => {
    const created = await api.request('POST', '/api/mcp/servers', {
      token,
      body: { ...server, name: 'Policy default' },
    });

    expect(created.status).toBe(201);
    expect(created.body.toolPolicy).toEqual({});
    expect(await storedPolicy(created.body.id)).toEqual({});
  });

  it('accepts a policy on create, returns it, and keeps it on an update that omits it', async () => {
    const toolPolicy = {
      confirm: 'always',
      longRunning: ['trigger-long-running-operation'],
      pinned: ['echo'],
    };
    const created = await api.request('POST', '/api/mcp/servers', {
      token,
      body: { ...server, name: 'Policy set', toolPolicy },
    });
    expect(created.status).toBe(201);
    expect(created.body.toolPolicy).toEqual(toolPolicy);

    const renamed = await api.request('PUT', `/api/mcp/servers/${created.body.id}`, {
      token,
      body: { name: 'Policy renamed' },
    });
    expect(renamed.status).toBe(200);
    expect(renamed.body.toolPolicy).toEqual(toolPolicy);

    const changed = await api.request('PUT', `/api/mcp/servers/${created.body.id}`, {
      token,
      body: { toolPolicy: { confirm: 'never', longRunning: 'all' } },
    });
    expect(changed.status).toBe(200);
    expect(changed.body.toolPolicy).toEqual({ confirm: 'never', longRunning: 'all' });

    const read = await api.request('GET', `/api/mcp/servers/${created.body.id}`, { token });
    expect(read.body.toolPolicy).toEqual({ confirm: 'never', longRunning: 'all' });
    expect(await storedPolicy(created.body.id)).toEqual({ confirm: 'never', longRunning: 'all' });
  });

  it.each([
    [{ confirm: 'sometimes' }, 'body.toolPolicy.confirm', /confirm must be one of/],
    [{ longRunning: 'some' }, 'body.toolPolicy.longRunning', /longRunning must be "all"/],
    [{ longRunning: [''] }, 'body.toolPolicy.longRunning.0', /./],
    [{ pinned: 'echo' }, 'body.toolPolicy.pinned', /./],
    [
      { pinned: Array.from({ length: 129 }, (_, i) => `t${i}`) },
      'body.toolPolicy.pinned',
      /at most 128/,
    ],
    [{ retries: 3 }, 'body.toolPolicy', /retries/],
    ['destructive', 'body.toolPolicy', /./],
  ])('refuses %j with a 400 naming the field', async (toolPolicy, path, message) => {
    const res = await api.request('POST', '/api/mcp/servers', {
      token,
      body: { ...server, name: `Bad policy ${JSON.stringify(toolPolicy)}`, toolPolicy },
    });

    expect(res.status).toBe(400);
    expect(res.headers.get('content-type')).toContain('application/problem+json');
    const error = (res.body.errors as { path: string; message: string }[]).find(
      (entry) => entry.path === path,
    );
    expect(error?.message).toMatch(message);
    expect(res.body.detail).toContain(path);
  });

  it('refuses a bad policy on update and leaves the stored one as it was', async () => {
    const created = await api.request('POST', '/api/mcp/servers', {
      token,
      body: { ...server, name: 'Policy kept', toolPolicy: { confirm: 'always' } },
    });

    const res = await api.request('PUT', `/api/mcp/servers/${created.body.id}`, {
      token,
      body: { toolPolicy: { confirm: 'maybe' } },
    });

    expect(res.status).toBe(400);
    expect(res.body.detail).toMatch(/body\.toolPolicy\.confirm/);
    expect(await storedPolicy(created.body.id)).toEqual({ confirm: 'always' });
  });

  it('documents toolPolicy in the OpenAPI server resource', async () => {
    const res = await api.request('GET', '/api/openapi.json');
    expect(JSON.stringify(res.body)).toContain('"toolPolicy"');
  });
});
