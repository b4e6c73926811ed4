/**
 * The API's safety rules against the running app and a real database: admin-only stdio servers
 * and the command allow list, URL refusals when saving and when testing, body limits, content
 * types, the per-token rate limit, security headers and CORS.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { count } from 'drizzle-orm';
import type { DatabaseHandle } from '../../shared/db/open.js';
import { mcpServers } from '../../shared/db/schema.js';
import { createLogger } from '../../shared/logger.js';
import { DEFAULT_STDIO_ALLOWED_COMMANDS } from '../../shared/mcp/command-guard.js';
import { generateToken, storeToken } from '../../server/http/auth.js';
import { createTestUser, openTestDatabase } from '../helpers/database.js';
import { serve, type TestServer } from '../helpers/http.js';
import { startHttpMcpServer, type HttpMcpServer } from '../helpers/http-mcp-server.js';
import { sandboxedApp, type TestAppDeps } from '../helpers/sandboxed.js';

const logger = createLogger({ level: 'silent' });
let database: DatabaseHandle;
let mcp: HttpMcpServer;
let admin: string;
let user: string;
let userId: number;
const apps: TestServer[] = [];

/** An app with the strict defaults of the settings, plus `extra`. */
async function strictApp(extra: Partial<TestAppDeps> = {}): Promise<TestServer> {
  const app = await serve(
    sandboxedApp({
      database,
      logger,
      guards: {
        urlPolicy: {
          allowPrivateNetworks: false,
          resolve: async (host) =>
            host === 'internal.example'
              ? [{ address: '10.1.2.3' }]
              : [{ address: '93.184.216.34' }],
        },
        allowedCommands: DEFAULT_STDIO_ALLOWED_COMMANDS,
      },
      ...extra,
    }),
  );
  apps.push(app);
  return app;
}

async function serverCount(): Promise<number> {
  const [row] = await database.db.select({ n: count() }).from(mcpServers);
  return row!.n;
}

beforeAll(async () => {
  database = await openTestDatabase();
  mcp = await startHttpMcpServer();
  const [a, u] = [await createTestUser(database, 'admin'), await createTestUser(database)];
  admin = generateToken();
  user = generateToken();
  userId = u.id;
  await storeToken(database.db, a.id, admin);
  await storeToken(database.db, u.id, user);
});

afterAll(async () => {
  await Promise.all(apps.map((app) => app.close()));
  await mcp?.close();
  await database?.close();
});

describe('stdio servers', () => {
  let api: TestServer;
  beforeAll(async () => {
    api = await strictApp();
  });

  it('answers 403 problem+json when a non-admin registers one, and writes nothing', async () => {
    const before = await serverCount();
    const res = await api.request('POST', '/api/mcp/servers', {
      token: user,
      body: { name: 'Mine', transport: 'stdio', command: 'node' },
    });
    expect(res.status).toBe(403);
    expect(res.headers.get('content-type')).toContain('application/problem+json');
    expect(res.body.detail).toMatch(/Only admins may register or change stdio servers/);
    expect(await serverCount()).toBe(before);
  });

  it('answers 400 saying to move the arguments to args for a whole command line in command', async () => {
    const before = await serverCount();
    const res = await api.request('POST', '/api/mcp/servers', {
      token: admin,
      body: { name: 'Npx', transport: 'stdio', command: 'npx -y pkg' },
    });
    expect(res.status).toBe(400);
    expect(res.body.errors[0].path).toBe('body.command');
    expect(res.body.errors[0].message).toBe(
      'command is one program, without its arguments: put the rest in args, e.g. "command": "npx", "args": ["-y","pkg"]',
    );
    expect(await serverCount()).toBe(before);
  });

  it('answers 403 naming the allow list for a command not on it, even for an admin', async () => {
    const res = await api.request('POST', '/api/mcp/servers', {
      token: admin,
      body: { name: 'Shell', transport: 'stdio', command: '/bin/sh', args: ['-c', 'id'] },
    });
    expect(res.status).toBe(403);
    expect(res.body.detail).toBe(
      'command "/bin/sh" is not allowed: stdio commands must be on MCP_STDIO_ALLOWED_COMMANDS (node, npx, uvx, python3); a name on the list allows only the program of that name on Switchboard\'s PATH, a path allows exactly that file',
    );
  });

  it('lets an admin register an allowed command by base name or full path, also for a user', async () => {
    const res = await api.request('POST', `/api/mcp/servers?userId=${userId}`, {
      token: admin,
      body: { name: 'Node for user', transport: 'stdio', command: process.execPath },
    });
    expect(res.status).toBe(201);
    // The user owns it but may not change it, nor turn it into another command.
    const path = `/api/mcp/servers/${res.body.id}`;
    for (const body of [{ description: 'renamed' }, { command: 'bash' }]) {
      const put = await api.request('PUT', path, { token: user, body });
      expect(put.status).toBe(403);
      expect(put.body.detail).toMatch(/Only admins/);
    }
    const still = await api.request('GET', path, { token: user });
    expect(still.body).toMatchObject({ description: '', command: process.execPath });
    const byAdmin = await api.request('PUT', `${path}?userId=${userId}`, {
      token: admin,
      body: { command: 'bash' },
    });
    expect(byAdmin.status).toBe(403);
    expect(byAdmin.body.detail).toMatch(/MCP_STDIO_ALLOWED_COMMANDS/);
  });
});

describe('remote URLs when saved', () => {
  let api: TestServer;
  beforeAll(async () => {
    api = await strictApp();
  });

  it.each([
    ['http://169.254.169.254/latest/meta-data/', '169.254.169.254 is a cloud metadata address'],
    ['http://[::ffff:169.254.169.254]/mcp', 'is a cloud metadata address'],
    ['http://[fd00:ec2::254]/mcp', 'fd00:ec2::254 is a cloud metadata address'],
    [
      'http://metadata.google.internal/mcp',
      'metadata.google.internal is a cloud metadata host name',
    ],
    ['http://[fe80::1]/mcp', 'fe80::1 is a link-local address'],
    ['http://127.0.0.1:8080/mcp', '127.0.0.1 is a loopback address'],
    ['http://localhost:8080/mcp', 'localhost is a loopback host name'],
    ['https://10.0.0.8/mcp', '10.0.0.8 is a private network address'],
    ['https://172.20.1.1/mcp', '172.20.1.1 is a private network address'],
    ['https://192.168.1.10/mcp', '192.168.1.10 is a private network address'],
    ['https://100.64.0.1/mcp', '100.64.0.1 is a shared (CGNAT) network address'],
    ['http://0.0.0.0/mcp', '0.0.0.0 is an unspecified address'],
    ['https://internal.example/mcp', 'internal.example resolves to 10.1.2.3 is a private network'],
    ['https://user:pw@mcp.example.com/mcp', 'url must not contain credentials'],
  ])('refuses %s with 422 naming the url and why', async (url, why) => {
    const before = await serverCount();
    const res = await api.request('POST', '/api/mcp/servers', {
      token: user,
      body: { name: 'Remote', transport: 'streamable-http', url },
    });
    expect(res.status).toBe(422);
    expect(res.headers.get('content-type')).toContain('application/problem+json');
    expect(res.body.code).toBe('url_refused');
    expect(res.body.detail).toContain(why);
    expect(res.body.errors[0]).toMatchObject({ path: 'body.url' });
    expect(await serverCount()).toBe(before);
  });

  it('answers 400 for a scheme other than http, https, ws and wss', async () => {
    const res = await api.request('POST', '/api/mcp/servers', {
      token: user,
      body: { name: 'Ftp', transport: 'sse', url: 'ftp://mcp.example.com/' },
    });
    expect(res.status).toBe(400);
    expect(res.body.detail).toMatch(/url/);
  });

  it('accepts a public URL, and refuses an update that moves it to the metadata address', async () => {
    const created = await api.request('POST', '/api/mcp/servers', {
      token: user,
      body: { name: 'Public', transport: 'websocket', url: 'wss://mcp.example.com/ws' },
    });
    expect(created.status).toBe(201);
    const path = `/api/mcp/servers/${created.body.id}`;
    const moved = await api.request('PUT', path, {
      token: user,
      body: { url: 'ws://169.254.169.254/ws' },
    });
    expect(moved.status).toBe(422);
    const still = await api.request('GET', path, { token: user });
    expect(still.body.url).toBe('wss://mcp.example.com/ws');
  });
});

describe('remote URLs when connecting', () => {
  it('refuses at test time a server whose host resolves to loopback with private networks off', async () => {
    // Saved while private networks were allowed (a developer setup), tested under the strict policy.
    const open = await serve(sandboxedApp({ database, logger }));
    apps.push(open);
    const url = mcp.url.replace('127.0.0.1', 'localhost');
    const created = await open.request('POST', '/api/mcp/servers', {
      token: user,
      body: { name: 'Local dev', transport: 'streamable-http', url },
    });
    expect(created.status).toBe(201);
    const api = await strictApp();
    const res = await api.request('POST', `/api/mcp/servers/${created.body.id}/test`, {
      token: user,
    });
    expect(res.status).toBe(200);
    expect(res.body.status).toBe('error');
    expect(res.body.error).toMatch(/localhost is a loopback host name/);
    expect(mcp.requests).toHaveLength(0);
    const tools = await api.request('GET', `/api/mcp/servers/${created.body.id}/tools`, {
      token: user,
    });
    expect(tools.status).toBe(503);
    expect(tools.body.detail).toMatch(/loopback/);
  });
});

describe('HTTP protections', () => {
  it('answers 413 problem+json for a body over the limit', async () => {
    const api = await strictApp({ bodyLimit: '1kb' });
    const res = await api.request('POST', '/api/mcp/servers', {
      token: admin,
      body: { name: 'x'.repeat(2000), transport: 'stdio', command: 'node' },
    });
    expect(res.status).toBe(413);
    expect(res.headers.get('content-type')).toContain('application/problem+json');
    expect(res.body.detail).toMatch(/too large/);
  });

  it('answers 415 problem+json for a write that is not JSON', async () => {
    const api = await strictApp();
    for (const contentType of ['text/plain', 'application/x-www-form-urlencoded', 'text/json']) {
      const res = await api.request('POST', '/api/mcp/servers', {
        token: admin,
        body: 'name=x&transport=stdio',
        contentType,
      });
      expect(res.status, contentType).toBe(415);
      expect(res.headers.get('content-type')).toContain('application/problem+json');
      expect(res.body.detail).toContain(contentType);
    }
  });

  it('limits requests per token with 429 problem+json, each token counted apart', async () => {
    const api = await strictApp({ rateLimitPerMinute: 3 });
    for (let i = 0; i < 3; i++) {
      expect((await api.request('GET', '/api/mcp/servers', { token: user })).status).toBe(200);
    }
    const limited = await api.request('GET', '/api/mcp/servers', { token: user });
    expect(limited.status).toBe(429);
    expect(limited.headers.get('content-type')).toContain('application/problem+json');
    expect(limited.body.detail).toMatch(/at most 3 per minute/);
    expect(limited.headers.get('ratelimit-policy')).toMatch(/3/);
    expect((await api.request('GET', '/api/mcp/servers', { token: admin })).status).toBe(200);
    expect((await api.request('GET', '/api/health')).status).toBe(200);
  });

  it('limits failed authentications per client address, so guessing tokens is limited too', async () => {
    const api = await strictApp({ rateLimitPerMinute: 3 });
    for (let i = 0; i < 3; i++) {
      const guess = await api.request('GET', '/api/mcp/servers', { token: generateToken() });
      expect(guess.status).toBe(401);
    }
    const limited = await api.request('GET', '/api/mcp/servers', { token: generateToken() });
    expect(limited.status).toBe(429);
    expect(limited.body.code).toBe('rate_limited');
  });

  it('sends security headers', async () => {
    const api = await strictApp();
    const res = await api.request('GET', '/api/health');
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    expect(res.headers.get('x-frame-options')).toBe('SAMEORIGIN');
    expect(res.headers.get('strict-transport-security')).toMatch(/max-age/);
    expect(res.headers.get('content-security-policy')).toMatch(/default-src 'self'/);
    expect(res.headers.get('x-powered-by')).toBeNull();
  });

  it('sends no CORS headers unless origins are configured, then only for those', async () => {
    const preflight = (baseUrl: string, origin: string) =>
      fetch(`${baseUrl}/api/mcp/servers`, {
        method: 'OPTIONS',
        headers: {
          origin,
          'access-control-request-method': 'POST',
          'access-control-request-headers': 'authorization,content-type',
        },
      });
    const closed = await strictApp();
    const none = await preflight(closed.baseUrl, 'https://admin.example.com');
    expect(none.headers.get('access-control-allow-origin')).toBeNull();

    const open = await strictApp({ corsOrigins: ['https://admin.example.com'] });
    const allowed = await preflight(open.baseUrl, 'https://admin.example.com');
    expect(allowed.status).toBe(204);
    expect(allowed.headers.get('access-control-allow-origin')).toBe('https://admin.example.com');
    expect(allowed.headers.get('access-control-allow-headers')).toMatch(/authorization/);
    const other = await preflight(open.baseUrl, 'https://evil.example');
    expect(other.headers.get('access-control-allow-origin')).toBeNull();
  });
});
