/**
 * A hostile stdio server in an agent session, sandboxed as the session runs it
 * (`loadUserToolsets` with the process's sandbox): every attempt to reach what the sandbox hides
 * fails, while its own work in its private directory succeeds.
 */
import { mkdirSync, mkdtempSync, rmSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { createServer as createTcpServer, type AddressInfo, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { UserToolsets } from '../../agent/load-user-toolsets.js';
import type { DatabaseHandle } from '../../shared/db/open.js';
import { createServer } from '../../shared/db/servers.js';
import type { SupervisedConnection } from '../../shared/mcp/supervised-connection.js';
import { createTestUser, openTestDatabase } from '../helpers/database.js';
import { ESCAPE_SERVER, FIXTURES_DIR, testSandbox } from '../helpers/sandbox.js';
import { silentLogger } from './fixtures.js';
import { sandboxedToolsets } from '../helpers/sandboxed.js';

let database: DatabaseHandle;
let tools: UserToolsets;
let dataDir: string;
let serverId: number;
let listener: Server;
let connection: SupervisedConnection;

async function attempt(tool: string, args: Record<string, unknown> = {}) {
  const result = await connection.callTool(tool, args);
  const text = (result.content as { type: string; text: string }[])[0]!.text;
  return JSON.parse(text) as { ok: boolean; value?: unknown; error?: string };
}

beforeAll(async () => {
  dataDir = mkdtempSync(path.join(tmpdir(), 'switchboard-agent-sandbox-'));
  writeFileSync(path.join(dataDir, 'secret.key'), 'the-secret-key', { mode: 0o600 });
  mkdirSync(path.join(dataDir, 'sandboxes', '999999'), { recursive: true });
  writeFileSync(path.join(dataDir, 'sandboxes', '999999', 'private.txt'), 'another server');
  // Stands in for the API's port on the host's loopback.
  listener = createTcpServer((socket) => socket.end());
  await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', resolve));
  database = await openTestDatabase();
  const user = await createTestUser(database);
  const row = await createServer(database, {
    userId: user.id,
    name: 'Hostile',
    transport: 'stdio',
    command: 'node',
    args: [ESCAPE_SERVER],
    sandbox: { network: 'none', mounts: [{ hostPath: FIXTURES_DIR, writable: false }] },
  });
  serverId = row.id;
  tools = await sandboxedToolsets({
    // Every server's first attempt ends the wait, not the deadline, even on a busy machine.
    startDeadlineMs: 60_000,
    db: database.db,
    secrets: database.secrets,
    userId: user.id,
    logger: silentLogger(),
    guards: { sandbox: testSandbox(dataDir, { readOnlyPaths: [] }) },
  });
  connection = tools.toolsets[0]!.connection;
});

afterAll(async () => {
  await tools?.close();
  listener?.close();
  await database?.close();
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

describe('a hostile stdio server in an agent session', () => {
  it('is advertised from inside its sandbox', () => {
    expect(tools.unavailable).toEqual([]);
    expect(tools.toolsets[0]!.advertisedTools.map((tool) => tool.name)).toContain(
      'hostile__read_file',
    );
  });

  it('cannot read the secret key, DATA_DIR, another server’s directory or host processes', async () => {
    for (const target of [
      path.join(dataDir, 'secret.key'),
      path.join(dataDir, 'sandboxes', '999999', 'private.txt'),
      '/proc/1/environ',
      `/proc/${process.pid}/cmdline`,
    ]) {
      expect(await attempt('read_file', { path: target })).toMatchObject({ ok: false });
    }
    expect(await attempt('list_dir', { path: dataDir })).toMatchObject({ ok: false });
  });

  it('cannot write outside its directory, but works in its own', async () => {
    expect(await attempt('write_file', { path: path.join(dataDir, 'planted.txt') })).toMatchObject({
      ok: false,
    });
    expect(readdirSync(dataDir)).not.toContain('planted.txt');
    expect(await attempt('write_file', { path: '/sandbox/note.txt', content: 'mine' })).toEqual({
      ok: true,
    });
    expect(
      readFileSync(path.join(dataDir, 'sandboxes', String(serverId), 'note.txt'), 'utf8'),
    ).toBe('mine');
  });

  it('reaches neither a host port nor Postgres with network none', async () => {
    const { port } = listener.address() as AddressInfo;
    expect(await attempt('connect', { host: '127.0.0.1', port })).toMatchObject({ ok: false });
    expect(await attempt('connect', { host: '127.0.0.1', port: 5432 })).toMatchObject({
      ok: false,
    });
  });
});
