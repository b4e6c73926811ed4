/**
 * Postgres going away and coming back, for real: the test database is closed to new sessions
 * (`ALTER DATABASE ... ALLOW_CONNECTIONS false`) and its sessions are terminated, then it is
 * opened again. Needs `DATABASE_URL`; skipped on PGlite, which cannot be unreachable.
 */
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase, type DatabaseHandle } from '../../shared/db/open.js';
import { createLogger } from '../../shared/logger.js';
import { generateToken, storeToken } from '../../server/http/auth.js';
import { StatusSnapshot } from '../../server/status/snapshot.js';
import { createTestUser, testSecretBox } from '../helpers/database.js';
import { serve, type TestServer } from '../helpers/http.js';
import { randomBytes } from 'node:crypto';
import { sandboxedApp } from '../helpers/sandboxed.js';

const baseUrl = process.env.DATABASE_URL;
const logger = createLogger({ level: 'silent' });

describe.skipIf(!baseUrl)('Postgres unreachable', () => {
  const name = `switchboard_fault_${randomBytes(6).toString('hex')}`;
  let admin: postgres.Sql;
  let database: DatabaseHandle;
  let snapshot: StatusSnapshot;
  let api: TestServer;
  let token: string;

  beforeAll(async () => {
    admin = postgres(baseUrl!, { max: 1, onnotice: () => {} });
    await admin.unsafe(`create database ${name}`);
    const url = new URL(baseUrl!);
    url.pathname = `/${name}`;
    database = await openDatabase({
      databaseUrl: url.toString(),
      maxConnections: 2,
      secretBox: testSecretBox(),
    });
    const user = await createTestUser(database);
    token = generateToken();
    await storeToken(database.db, user.id, token);
    snapshot = new StatusSnapshot({ database, logger, databaseIntervalMs: 3_600_000 });
    await snapshot.start();
    api = await serve(sandboxedApp({ database, logger, statusSnapshot: snapshot }));
  });

  afterAll(async () => {
    await api?.close();
    snapshot?.stop();
    await database?.close();
    await admin.unsafe(`alter database ${name} allow_connections true`).catch(() => undefined);
    await admin.unsafe(`drop database if exists ${name} with (force)`);
    await admin.end();
  });

  async function block(): Promise<void> {
    await admin.unsafe(`alter database ${name} allow_connections false`);
    await admin.unsafe(
      `select pg_terminate_backend(pid) from pg_stat_activity where datname = '${name}'`,
    );
  }

  it('answers 503 with a clear detail, keeps /api/health up and reports database: error', async () => {
    expect((await api.request('GET', '/api/mcp/servers', { token })).status).toBe(200);
    expect((await api.request('GET', '/api/status', { token })).body.database.status).toBe(
      'connected',
    );

    await block();
    const servers = await api.request('GET', '/api/mcp/servers', { token });
    expect(servers.status).toBe(503);
    expect(servers.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(servers.headers.get('retry-after')).toBe('5');
    expect(servers.body).toMatchObject({ status: 503, code: 'database_unavailable' });
    expect(servers.body.detail).toMatch(/database is unreachable/);

    expect((await api.request('GET', '/api/health')).status).toBe(200);
    await snapshot.refreshDatabase();
    const status = await api.request('GET', '/api/status', { token });
    expect(status.status).toBe(200);
    expect(status.body.database.status).toBe('error');
    expect(status.body.database.detail).toMatch(
      /The database is unreachable: .*not currently accepting/,
    );

    await admin.unsafe(`alter database ${name} allow_connections true`);
    // A pooled connection that was terminated may fail one more query before it is replaced.
    let back = await api.request('GET', '/api/mcp/servers', { token });
    for (let i = 0; i < 5 && back.status !== 200; i++) {
      expect(back.status).toBe(503);
      back = await api.request('GET', '/api/mcp/servers', { token });
    }
    expect(back.status).toBe(200);
    await snapshot.refreshDatabase();
    expect((await api.request('GET', '/api/status', { token })).body.database.status).toBe(
      'connected',
    );
  });
});
