import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eq } from 'drizzle-orm';
import type { DatabaseHandle } from '../../shared/db/open.js';
import { apiTokens, users } from '../../shared/db/schema.js';
import { createLogger } from '../../shared/logger.js';
import { hashToken } from '../../server/http/auth.js';
import { bootstrap } from '../../server/accounts/bootstrap.js';
import type { StatusMonitor } from '../../server/status/monitor.js';
import { StdioSandbox } from '../../shared/mcp/sandbox/stdio-sandbox.js';
import { openTestDatabase } from '../helpers/database.js';
import { serve, type TestServer } from '../helpers/http.js';
import { sandboxedApp, sandboxedMonitor } from '../helpers/sandboxed.js';

const ADMIN_TOKEN = 'admin-token-for-tests-0123456789';

describe('first start', () => {
  let database: DatabaseHandle;
  let dataDir: string;
  let monitor: StatusMonitor;
  let api: TestServer;

  beforeAll(async () => {
    database = await openTestDatabase();
    dataDir = mkdtempSync(path.join(tmpdir(), 'switchboard-data-'));
  });

  afterAll(async () => {
    await api?.close();
    await monitor?.stop();
    await database?.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('creates the admin with ADMIN_TOKEN and the three demo servers, once', async () => {
    const options = {
      adminEmail: 'root@test.local',
      adminToken: ADMIN_TOKEN,
      seedDemoServers: true,
      dataDir,
    };
    const first = await bootstrap(database, options);
    expect(first).toMatchObject({ created: true, demoServers: 3, generatedToken: undefined });
    expect(first.admin.role).toBe('admin');

    const again = await bootstrap(database, options);
    expect(again).toMatchObject({ created: false, demoServers: 0 });
    expect(again.admin.id).toBe(first.admin.id);
    const tokens = await database.db.select().from(apiTokens);
    expect(tokens).toHaveLength(1);
    expect(tokens[0]!.tokenHash).toBe(hashToken(ADMIN_TOKEN));
    expect(JSON.stringify(tokens)).not.toContain(ADMIN_TOKEN);
  });

  it('lists the demo servers connected in their sandboxes with their real tools, and keeps serving after a bad one', async () => {
    const logger = createLogger({ level: 'silent' });
    monitor = sandboxedMonitor({
      db: database.db,
      secrets: database.secrets,
      logger,
      policy: { intervalMs: 3_600_000 },
      guards: { sandbox: new StdioSandbox({ dataDir }) },
    });
    await monitor.start();
    api = await serve(sandboxedApp({ database, logger, watcher: monitor }));

    const list = await api.request('GET', '/api/mcp/servers', { token: ADMIN_TOKEN });
    expect(list.status).toBe(200);
    const byName = Object.fromEntries(
      list.body.items.map((s: { name: string }) => [s.name, s]),
    ) as Record<
      string,
      { connectionStatus: string; metadata: { toolCount: number; toolNames: string[] } }
    >;
    expect(Object.keys(byName).sort()).toEqual(['Everything', 'Files', 'Memory']);
    for (const server of Object.values(byName)) {
      expect(server.connectionStatus).toBe('connected');
      expect(server.metadata.toolCount).toBeGreaterThan(0);
    }
    expect(byName.Everything!.metadata.toolNames).toContain('echo');
    expect(byName.Memory!.metadata.toolNames).toContain('create_entities');
    expect(byName.Files!.metadata.toolNames).toContain('read_text_file');

    const broken = await api.request('POST', '/api/mcp/servers', {
      token: ADMIN_TOKEN,
      body: { name: 'Typo', transport: 'stdio', command: 'nodee' },
    });
    expect(broken.status).toBe(201);
    await monitor.sync(broken.body.id);
    const shown = await api.request('GET', `/api/mcp/servers/${broken.body.id}`, {
      token: ADMIN_TOKEN,
    });
    expect(shown.body.connectionStatus).toBe('error');
    expect(shown.body.lastError).toMatch(/command not found: nodee/);
    expect((await api.request('GET', '/api/health')).status).toBe(200);

    const status = await api.request('GET', '/api/status', { token: ADMIN_TOKEN });
    expect(status.body.mcp).toMatchObject({ status: 'degraded', total: 4 });
  });

  it('reads a file under DATA_DIR through the filesystem demo server', async () => {
    const list = await api.request('GET', '/api/mcp/servers', { token: ADMIN_TOKEN });
    const files = list.body.items.find((s: { name: string }) => s.name === 'Files');
    const connection = monitor.connection(files.id)!;
    const result = await connection.callTool('read_text_file', {
      path: path.join(dataDir, 'files', 'welcome.txt'),
    });
    expect(JSON.stringify(result.content)).toContain('Welcome to Switchboard');
  });

  it('lets the sandboxed Files and Memory demo servers write to their granted folders', async () => {
    const list = await api.request('GET', '/api/mcp/servers', { token: ADMIN_TOKEN });
    const byName = (name: string) => list.body.items.find((s: { name: string }) => s.name === name);
    const files = monitor.connection(byName('Files').id)!;
    const written = await files.callTool('write_file', {
      path: path.join(dataDir, 'files', 'note.txt'),
      content: 'written from the sandbox',
    });
    expect(written.isError).toBeFalsy();
    expect(readFileSync(path.join(dataDir, 'files', 'note.txt'), 'utf8')).toBe(
      'written from the sandbox',
    );
    const memory = monitor.connection(byName('Memory').id)!;
    const created = await memory.callTool('create_entities', {
      entities: [{ name: 'Ada', entityType: 'person', observations: ['likes tea'] }],
    });
    expect(created.isError).toBeFalsy();
    expect(readFileSync(path.join(dataDir, 'memory', 'memory.jsonl'), 'utf8')).toContain('Ada');
  });
});

describe('first start without ADMIN_TOKEN', () => {
  it('generates a token that is stored only as its hash', async () => {
    const database = await openTestDatabase();
    try {
      const result = await bootstrap(database, {
        adminEmail: 'admin@test.local',
        seedDemoServers: false,
        dataDir: tmpdir(),
      });
      expect(result.generatedToken).toMatch(/^sb_[A-Za-z0-9_-]{43}$/);
      expect(result.demoServers).toBe(0);
      const [token] = await database.db
        .select()
        .from(apiTokens)
        .where(eq(apiTokens.userId, result.admin.id));
      expect(token!.tokenHash).toBe(hashToken(result.generatedToken!));

      // A later start with ADMIN_TOKEN adds it for the same admin.
      await bootstrap(database, {
        adminEmail: 'admin@test.local',
        adminToken: ADMIN_TOKEN,
        seedDemoServers: true,
        dataDir: tmpdir(),
      });
      expect(await database.db.select().from(users)).toHaveLength(1);
      expect(await database.db.select().from(apiTokens)).toHaveLength(2);
    } finally {
      await database.close();
    }
  });
});
