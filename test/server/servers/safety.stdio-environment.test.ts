/**
 * An admin token trying to run other code through a stdio server's configuration, against the
 * running app and a real database: `env` names that change how programs are found or loaded are
 * refused at create and update, a stored row that holds one never starts, and a `node` binary in
 * another folder is refused although `node` is allowed.
 */
import { existsSync, linkSync, copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { count, eq } from 'drizzle-orm';
import type { DatabaseHandle } from '../../../shared/db/open.js';
import { mcpServers, type McpServerRow } from '../../../shared/db/schema.js';
import { createServer } from '../../../shared/db/servers.js';
import { createLogger } from '../../../shared/logger.js';
import { DEFAULT_STDIO_ALLOWED_COMMANDS } from '../../../shared/mcp/command-guard.js';
import { generateToken, storeToken } from '../../../server/http/auth.js';
import type { StatusMonitor } from '../../../server/status/monitor.js';
import { createTestUser, openTestDatabase } from '../../helpers/database.js';
import { serve, type TestServer } from '../../helpers/http.js';
import { TINY_SERVER_PATH } from '../../helpers/mcp-processes.js';
import { sandboxedApp, sandboxedMonitor } from '../../helpers/sandboxed.js';

const logger = createLogger({ level: 'silent' });
let database: DatabaseHandle;
let api: TestServer;
let admin: string;
let adminId: number;
let monitor: StatusMonitor | undefined;
let scratch: string;
/** A real node binary outside Switchboard's PATH (a hard link, or a copy across filesystems). */
let strayNode: string;
/** A script that `NODE_OPTIONS=--require` would run: it leaves `marker` behind. */
let preload: string;
let marker: string;

const tiny = {
  transport: 'stdio',
  sandbox: { network: 'none' },
  command: 'node',
  args: [TINY_SERVER_PATH],
};

/** The attacks: each name, as an admin would send it, and a value that would run other code. */
const REFUSED_ENV: Array<[string, string]> = [
  ['PATH', '/tmp/evil:/usr/bin'],
  ['NODE_OPTIONS', '--require /tmp/evil.cjs'],
  ['NODE_PATH', '/tmp/evil/node_modules'],
  ['NODE_REPL_EXTERNAL_MODULE', '/tmp/evil.cjs'],
  ['NODE_V8_COVERAGE', '/etc'],
  ['LD_PRELOAD', '/tmp/evil.so'],
  ['LD_LIBRARY_PATH', '/tmp/evil'],
  ['DYLD_INSERT_LIBRARIES', '/tmp/evil.dylib'],
  ['GLIBC_TUNABLES', 'glibc.malloc.mxfast=0'],
  ['GCONV_PATH', '/tmp/evil'],
  ['PYTHONPATH', '/tmp/evil'],
  ['PYTHONSTARTUP', '/tmp/evil.py'],
  ['PYTHONHOME', '/tmp/evil'],
  ['PYTHONWARNINGS', 'ignore::evil.Warning'],
  ['BASH_ENV', '/tmp/evil.sh'],
  ['ENV', '/tmp/evil.sh'],
  ['SHELLOPTS', 'xtrace'],
  ['PS4', '$(id)'],
  ['IFS', '/'],
  ['PERL5LIB', '/tmp/evil'],
  ['PERL5OPT', '-Mevil'],
  ['PERLLIB', '/tmp/evil'],
  ['RUBYOPT', '-revil'],
  ['RUBYLIB', '/tmp/evil'],
  ['npm_config_node_options', '--require /tmp/evil.cjs'],
  ['NPM_CONFIG_SCRIPT_SHELL', '/tmp/evil.sh'],
  ['UV_PYTHON', '/tmp/evil/python'],
  ['HOME', '/tmp/evil-home'],
  ['http_proxy', 'http://127.0.0.1:9'],
  ['HTTPS_PROXY', 'http://127.0.0.1:9'],
  ['NO_PROXY', '*'],
];

async function serverCount(): Promise<number> {
  const [row] = await database.db.select({ n: count() }).from(mcpServers);
  return row!.n;
}

async function stored(id: number): Promise<McpServerRow> {
  const [found] = await database.db.select().from(mcpServers).where(eq(mcpServers.id, id));
  return found!;
}

beforeAll(async () => {
  database = await openTestDatabase();
  const user = await createTestUser(database, 'admin');
  adminId = user.id;
  admin = generateToken();
  await storeToken(database.db, user.id, admin);
  api = await serve(
    sandboxedApp({
      database,
      logger,
      guards: {
        urlPolicy: { allowPrivateNetworks: false },
        allowedCommands: DEFAULT_STDIO_ALLOWED_COMMANDS,
      },
    }),
  );
  scratch = mkdtempSync(path.join(os.tmpdir(), 'switchboard-stdioenv-'));
  strayNode = path.join(scratch, 'node');
  try {
    linkSync(process.execPath, strayNode);
  } catch {
    copyFileSync(process.execPath, strayNode);
  }
  marker = path.join(scratch, 'preloaded');
  preload = path.join(scratch, 'preload.cjs');
  writeFileSync(preload, `require('node:fs').writeFileSync(${JSON.stringify(marker)}, 'ran');\n`);
});

afterAll(async () => {
  await monitor?.stop();
  await api?.close();
  await database?.close();
  if (scratch) rmSync(scratch, { recursive: true, force: true });
});

describe('env names that change how programs are found or loaded', () => {
  it.each(REFUSED_ENV)(
    'answers 400 naming body.env.%s when a server is created with it, and writes nothing',
    async (name, value) => {
      const before = await serverCount();
      const res = await api.request('POST', '/api/mcp/servers', {
        token: admin,
        body: { ...tiny, name: `Env ${name}`, env: { SAFE_VALUE: 'ok', [name]: value } },
      });
      expect(res.status).toBe(400);
      expect(res.headers.get('content-type')).toContain('application/problem+json');
      const errors = res.body.errors as Array<{ path: string; message: string }>;
      expect(errors.map((error) => error.path)).toEqual([`body.env.${name}`]);
      expect(errors[0]!.message).toContain(`env ${name} is refused: it `);
      expect(res.body.detail).toContain(`body.env.${name}`);
      expect(await serverCount()).toBe(before);
    },
  );

  it.each(REFUSED_ENV)(
    'answers 400 naming body.env.%s when a server is updated with it, and keeps the stored env',
    async (name, value) => {
      const created = await api.request('POST', '/api/mcp/servers', {
        token: admin,
        body: { ...tiny, name: `Update ${name}`, isActive: false, env: { SAFE_VALUE: 'ok' } },
      });
      expect(created.status).toBe(201);
      const before = await stored(created.body.id as number);
      const res = await api.request('PUT', `/api/mcp/servers/${created.body.id}`, {
        token: admin,
        body: { env: { SAFE_VALUE: 'changed', [name]: value } },
      });
      expect(res.status).toBe(400);
      expect(res.body.errors.map((error: { path: string }) => error.path)).toEqual([
        `body.env.${name}`,
      ]);
      // The sealed value and the update time are as they were: nothing was written.
      const after = await stored(created.body.id as number);
      expect(after.env).toEqual(before.env);
      expect(Object.keys(after.env)).toEqual(['SAFE_VALUE']);
      expect(after.updatedAt).toEqual(before.updatedAt);
    },
  );

  it('still accepts ordinary names, including the allowed NODE_ENV and PYTHONUNBUFFERED', async () => {
    const res = await api.request('POST', '/api/mcp/servers', {
      token: admin,
      body: {
        ...tiny,
        name: 'Ordinary env',
        isActive: false,
        env: { API_TOKEN: 'x', NODE_ENV: 'production', PYTHONUNBUFFERED: '1', TZ: 'UTC' },
      },
    });
    expect(res.status).toBe(201);
  });
});

describe('a stored row that already holds such a name', () => {
  it('is not started with it: the monitor and the Test button show the error, and its code never ran', async () => {
    // Written past the API, as a row saved before the rule existed would be.
    const row = await createServer(database, {
      userId: adminId,
      name: 'Old preload',
      transport: 'stdio',
      sandbox: { network: 'none' },
      command: 'node',
      args: [TINY_SERVER_PATH],
      env: { NODE_OPTIONS: `--require ${preload}` },
    });
    monitor = sandboxedMonitor({
      db: database.db,
      secrets: database.secrets,
      logger,
      policy: { intervalMs: 3_600_000, backoffBaseMs: 3_600_000 },
      guards: { allowedCommands: DEFAULT_STDIO_ALLOWED_COMMANDS },
    });
    await monitor.sync(row.id);

    const shown = await api.request('GET', `/api/mcp/servers/${row.id}`, { token: admin });
    expect(shown.body.connectionStatus).toBe('error');
    expect(shown.body.lastError).toMatch(/env NODE_OPTIONS is refused/);
    const tested = await api.request('POST', `/api/mcp/servers/${row.id}/test`, { token: admin });
    expect(tested.body.status).toBe('error');
    expect(tested.body.error).toMatch(/env NODE_OPTIONS is refused/);
    expect(existsSync(marker)).toBe(false);
  });
});

describe('the command', () => {
  it('refuses a node binary in another folder with 403 although node is allowed, and writes nothing', async () => {
    const before = await serverCount();
    const res = await api.request('POST', '/api/mcp/servers', {
      token: admin,
      body: { ...tiny, name: 'Stray node', command: strayNode },
    });
    expect(res.status).toBe(403);
    expect(res.body.detail).toContain(`command ${JSON.stringify(strayNode)} is not allowed`);
    expect(res.body.detail).toContain("only the program of that name on Switchboard's PATH");
    expect(await serverCount()).toBe(before);
  });

  it('refuses a relative path with 400 naming body.command', async () => {
    const res = await api.request('POST', '/api/mcp/servers', {
      token: admin,
      body: { ...tiny, name: 'Relative', command: './node' },
    });
    expect(res.status).toBe(400);
    expect(res.body.errors[0]).toMatchObject({
      path: 'body.command',
      message: expect.stringContaining('not a relative path'),
    });
  });

  it('answers 422 naming body.command for an absolute path to no executable file', async () => {
    const res = await api.request('POST', '/api/mcp/servers', {
      token: admin,
      body: { ...tiny, name: 'Gone', command: path.join(scratch, 'missing', 'node') },
    });
    expect(res.status).toBe(422);
    expect(res.body.errors).toEqual([
      { path: 'body.command', message: expect.stringContaining('is not an executable file') },
    ]);
  });

  it('accepts node by name and by its full path, and the full path of the same file through a symlink', async () => {
    const link = path.join(scratch, 'node-link');
    const { symlinkSync } = await import('node:fs');
    symlinkSync(process.execPath, link);
    for (const command of ['node', process.execPath, link]) {
      const res = await api.request('POST', '/api/mcp/servers', {
        token: admin,
        body: { ...tiny, name: `Node ${command}`, isActive: false, command },
      });
      expect(res.status, command).toBe(201);
    }
  });
});
