/**
 * A hostile stdio server in the API (status monitor and Test button), sandboxed: each attempt to
 * reach what the sandbox hides fails, while its own work in its private directory succeeds.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, mkdtempSync, rmSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { DatabaseHandle } from '../../shared/db/open.js';
import { createLogger } from '../../shared/logger.js';
import type { SupervisedConnection } from '../../shared/mcp/supervised-connection.js';
import { sandboxUid } from '../../shared/mcp/sandbox/stdio-sandbox.js';
import { storeToken, generateToken } from '../../server/http/auth.js';
import type { StatusMonitor } from '../../server/status/monitor.js';
import { createTestUser, openTestDatabase } from '../helpers/database.js';
import { serve, type TestServer } from '../helpers/http.js';
import { ESCAPE_SERVER, FIXTURES_DIR, testSandbox } from '../helpers/sandbox.js';
import { sandboxedApp, sandboxedMonitor } from '../helpers/sandboxed.js';

const MARKER = `host-env-marker-${process.pid}`;
const PROCESS_LIMIT = 64;

let database: DatabaseHandle;
let monitor: StatusMonitor;
let api: TestServer;
let token: string;
let dataDir: string;
let serverId: number;
let connection: SupervisedConnection;

/** Calls a tool of the hostile server; its JSON report. */
async function attempt(tool: string, args: Record<string, unknown> = {}) {
  const result = await connection.callTool(tool, args);
  const text = (result.content as { type: string; text: string }[])[0]!.text;
  return JSON.parse(text) as { ok: boolean; value?: unknown; error?: string };
}

/** Processes of host uid `uid` that still run (not zombies). */
function processesOf(uid: number): number {
  let count = 0;
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const status = readFileSync(`/proc/${name}/status`, 'utf8');
      const real = /^Uid:\s+(\d+)/m.exec(status)?.[1];
      if (Number(real) === uid && !/^State:\s+Z/m.test(status)) count++;
    } catch {
      // ended meanwhile
    }
  }
  return count;
}

beforeAll(async () => {
  dataDir = mkdtempSync(path.join(tmpdir(), 'switchboard-sandbox-'));
  writeFileSync(path.join(dataDir, 'secret.key'), 'the-secret-key', { mode: 0o600 });
  mkdirSync(path.join(dataDir, 'sandboxes', '999999'), { recursive: true });
  writeFileSync(path.join(dataDir, 'sandboxes', '999999', 'private.txt'), 'another server');
  database = await openTestDatabase();
  const admin = await createTestUser(database, 'admin');
  token = generateToken();
  await storeToken(database.db, admin.id, token);
  const sandbox = testSandbox(dataDir, { readOnlyPaths: [] });
  const logger = createLogger({ level: 'silent' });
  monitor = sandboxedMonitor({
    db: database.db,
    secrets: database.secrets,
    logger,
    policy: { intervalMs: 3_600_000 },
    guards: { sandbox },
  });
  await monitor.start();
  api = await serve(
    sandboxedApp({
      database,
      logger,
      watcher: monitor,
      guards: { urlPolicy: { allowPrivateNetworks: true }, sandbox },
    }),
  );
  const created = await api.request('POST', '/api/mcp/servers', {
    token,
    body: {
      name: 'Hostile',
      transport: 'stdio',
      command: 'node',
      args: [ESCAPE_SERVER],
      sandbox: {
        network: 'none',
        mounts: [{ hostPath: FIXTURES_DIR }],
        limits: { processes: PROCESS_LIMIT },
      },
    },
  });
  expect(created.status).toBe(201);
  serverId = created.body.id;
  await monitor.sync(serverId);
  connection = monitor.connection(serverId)!;
});

afterAll(async () => {
  await api?.close();
  await monitor?.stop();
  await database?.close();
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

describe('a hostile stdio server in the API', () => {
  it('is connected in its sandbox, and the Test button runs it there too', async () => {
    const shown = await api.request('GET', `/api/mcp/servers/${serverId}`, { token });
    expect(shown.body).toMatchObject({
      connectionStatus: 'connected',
      sandbox: { network: 'none', mounts: [{ hostPath: FIXTURES_DIR, writable: false }] },
    });
    const tested = await api.request('POST', `/api/mcp/servers/${serverId}/test`, { token });
    expect(tested.body).toMatchObject({ toolCount: 5 });
  });

  it('cannot read the secret key, list DATA_DIR or read another server’s directory', async () => {
    expect(await attempt('read_file', { path: path.join(dataDir, 'secret.key') })).toMatchObject({
      ok: false,
    });
    expect(await attempt('list_dir', { path: dataDir })).toMatchObject({ ok: false });
    expect(
      await attempt('read_file', {
        path: path.join(dataDir, 'sandboxes', '999999', 'private.txt'),
      }),
    ).toMatchObject({ ok: false });
    expect(
      await attempt('read_file', { path: path.join(FIXTURES_DIR, '..', '..', 'package.json') }),
    ).toMatchObject({ ok: false });
  });

  it('sees no host process, nor its environment, in /proc', async () => {
    // A host process with a marker in its environment, as a secret-holding process would have.
    const host = spawn('sleep', ['1000'], { env: { ...process.env, SANDBOX_TEST_MARKER: MARKER } });
    await once(host, 'spawn');
    try {
      for (const target of ['/proc/1/environ', `/proc/${host.pid}/environ`]) {
        const outcome = await attempt('read_file', { path: target });
        expect(outcome).toMatchObject({ ok: false });
        expect(JSON.stringify(outcome)).not.toContain(MARKER);
      }
      expect(await attempt('read_file', { path: `/proc/${process.pid}/cmdline` })).toMatchObject({
        ok: false,
      });
    } finally {
      host.kill('SIGKILL');
    }
  });

  it('cannot write outside its directory, but works in its own', async () => {
    expect(await attempt('write_file', { path: path.join(dataDir, 'planted.txt') })).toMatchObject({
      ok: false,
    });
    expect(
      await attempt('write_file', { path: path.join(FIXTURES_DIR, 'planted.txt') }),
    ).toMatchObject({ ok: false });
    expect(await attempt('write_file', { path: '/usr/planted.txt' })).toMatchObject({ ok: false });
    expect(readdirSync(dataDir)).not.toContain('planted.txt');

    expect(await attempt('write_file', { path: '/sandbox/note.txt', content: 'mine' })).toEqual({
      ok: true,
    });
    expect(await attempt('read_file', { path: '/sandbox/note.txt' })).toEqual({
      ok: true,
      value: 'mine',
    });
    expect(
      readFileSync(path.join(dataDir, 'sandboxes', String(serverId), 'note.txt'), 'utf8'),
    ).toBe('mine');
  });

  it('reaches neither the API nor Postgres with network none', async () => {
    const port = Number(new URL(api.baseUrl).port);
    expect(await attempt('connect', { host: '127.0.0.1', port })).toMatchObject({ ok: false });
    expect(await attempt('connect', { host: '127.0.0.1', port: 5432 })).toMatchObject({
      ok: false,
    });
  });

  it('is stopped by its process limit when it forks without bound, and leaves nothing behind', async () => {
    const uid = sandboxUid(serverId);
    const bomb = await attempt('fork_bomb');
    expect(bomb).toMatchObject({ ok: false, error: 'EAGAIN' });
    expect(bomb.value as number).toBeLessThan(PROCESS_LIMIT);
    expect(processesOf(uid)).toBeLessThanOrEqual(PROCESS_LIMIT);
    // The server still answers, and closing it reaps every process it started.
    expect(await attempt('read_file', { path: '/sandbox/note.txt' })).toEqual({
      ok: true,
      value: 'mine',
    });
    await monitor.stop();
    // The kernel reaps the killed sandbox's processes as it gets to them.
    await vi.waitFor(() => expect(processesOf(uid)).toBe(0), { timeout: 30_000, interval: 50 });
  });
});

describe('sandbox mounts at save', () => {
  it.each([
    ['DATA_DIR', () => dataDir],
    ['the secret key', () => path.join(dataDir, 'secret.key')],
    ['another server’s directory', () => path.join(dataDir, 'sandboxes', '999999')],
    ['a folder containing DATA_DIR', () => path.dirname(dataDir)],
  ])('refuses a mount of %s with a 422 naming the field', async (_what, hostPath) => {
    const refused = await api.request('POST', '/api/mcp/servers', {
      token,
      body: {
        name: `Refused ${_what}`,
        transport: 'stdio',
        command: 'node',
        args: [ESCAPE_SERVER],
        sandbox: {
          network: 'none',
          mounts: [{ hostPath: FIXTURES_DIR }, { hostPath: hostPath() }],
        },
      },
    });
    expect(refused.status).toBe(422);
    expect(refused.body.errors[0].path).toBe('body.sandbox.mounts.1.hostPath');
    expect(refused.body.detail).toContain('body.sandbox.mounts.1.hostPath');
  });
});

describe('sandbox working directory at save', () => {
  it('refuses a cwd outside the sandbox with a 422 that says which folders work', async () => {
    const refused = await api.request('POST', '/api/mcp/servers', {
      token,
      body: {
        name: 'Host cwd',
        transport: 'stdio',
        command: 'node',
        args: [ESCAPE_SERVER],
        cwd: '/srv/mcp',
        sandbox: { network: 'none', mounts: [{ hostPath: FIXTURES_DIR }] },
      },
    });
    expect(refused.status).toBe(422);
    expect(refused.body.errors[0].path).toBe('body.cwd');
    expect(refused.body.detail).toContain('/sandbox');
    expect(refused.body.detail).toContain(FIXTURES_DIR);
  });

  it.each([['/sandbox/work'], [FIXTURES_DIR]])(
    'accepts a cwd inside the sandbox: %s',
    async (cwd) => {
      const created = await api.request('POST', '/api/mcp/servers', {
        token,
        body: {
          name: `Cwd ${cwd}`,
          transport: 'stdio',
          command: 'node',
          args: [ESCAPE_SERVER],
          cwd,
          isActive: false,
          sandbox: { network: 'none', mounts: [{ hostPath: FIXTURES_DIR }] },
        },
      });
      expect(created.status).toBe(201);
      expect(created.body.cwd).toBe(cwd);
    },
  );
});

/** Schema failures are 400 (the body fails validation), mount refusals 422 (see above). */
describe('sandbox allowDomains at save', () => {
  it('refuses a URL where a host name belongs with a 400 saying what to write', async () => {
    const refused = await api.request('POST', '/api/mcp/servers', {
      token,
      body: {
        name: 'Allow a URL',
        transport: 'stdio',
        command: 'node',
        args: [ESCAPE_SERVER],
        sandbox: { allowDomains: ['example.com', 'https://api.example.com/v1'] },
      },
    });
    expect(refused.status).toBe(400);
    expect(refused.body.errors[0].path).toBe('body.sandbox.allowDomains.1');
    expect(refused.body.errors[0].message).toContain('allowDomains: write the host name only');
    expect(refused.body.detail).toContain(
      'write the host name only: "api.example.com", not "https://api.example.com/v1"',
    );
  });

  it('refuses allowDomains with network "none" with a 400', async () => {
    const refused = await api.request('POST', '/api/mcp/servers', {
      token,
      body: {
        name: 'Allow without a network',
        transport: 'stdio',
        command: 'node',
        args: [ESCAPE_SERVER],
        sandbox: { network: 'none', allowDomains: ['example.com'] },
      },
    });
    expect(refused.status).toBe(400);
    expect(refused.body.errors[0].path).toBe('body.sandbox.allowDomains');
    expect(refused.body.detail).toContain('allowDomains applies only to network "outbound"');
  });
});
