import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eq } from 'drizzle-orm';
import type { DatabaseHandle } from '../../../shared/db/open.js';
import { mcpServers, type McpServerRow } from '../../../shared/db/schema.js';
import { createServer, updateServer } from '../../../shared/db/servers.js';
import { createLogger } from '../../../shared/logger.js';
import type { StatusMonitor } from '../../../server/status/monitor.js';
import { createTestUser, openTestDatabase } from '../../helpers/database.js';
import {
  EVERYTHING_BIN,
  FIXTURE_SERVER_ARGS,
  isProcessAlive,
  waitForProcessExit,
} from '../../helpers/mcp-processes.js';
import { sandboxedMonitor } from '../../helpers/sandboxed.js';

let database: DatabaseHandle;
let monitor: StatusMonitor;
let userId: number;

beforeAll(async () => {
  database = await openTestDatabase();
  userId = (await createTestUser(database)).id;
});

afterAll(async () => {
  await monitor?.stop();
  await database?.close();
});

async function row(id: number): Promise<McpServerRow> {
  const [found] = await database.db.select().from(mcpServers).where(eq(mcpServers.id, id));
  return found!;
}

/** Polls the stored row until `predicate` holds (bounded: 100 tries, 50 ms apart). */
async function until(id: number, predicate: (r: McpServerRow) => boolean): Promise<McpServerRow> {
  let last = await row(id);
  for (let i = 0; i < 100 && !predicate(last); i++) {
    await new Promise((resolve) => setTimeout(resolve, 50));
    last = await row(id);
  }
  return last;
}

describe('StatusMonitor', () => {
  let good: McpServerRow;
  let bad: McpServerRow;

  it('connects every active server and stores status, tools and errors', async () => {
    good = await createServer(database, {
      userId,
      name: 'Everything',
      transport: 'stdio',
      sandbox: { network: 'none' },
      command: 'node',
      args: [EVERYTHING_BIN, 'stdio'],
    });
    bad = await createServer(database, {
      userId,
      name: 'Missing',
      transport: 'stdio',
      sandbox: { network: 'none' },
      command: 'switchboard-monitor-missing',
    });
    monitor = sandboxedMonitor({
      db: database.db,
      secrets: database.secrets,
      logger: createLogger({ level: 'silent' }),
      // Pings only when asked; retries after 100, 200, 400 ... ms (half of each bound).
      policy: { intervalMs: 3_600_000, backoffBaseMs: 200 },
      random: () => 0.5,
    });
    await monitor.start();

    const up = await row(good.id);
    expect(up.connectionStatus).toBe('connected');
    expect(up.lastConnected).not.toBeNull();
    expect(up.lastError).toBeNull();
    expect(up.metadata.toolNames).toContain('echo');
    expect(up.metadata.toolCount).toBe(up.metadata.toolNames!.length);
    expect(up.metadata.serverInfo?.name).toMatch(/everything/);

    const down = await row(bad.id);
    expect(down.connectionStatus).toBe('error');
    expect(down.lastError).toMatch(/switchboard-monitor-missing/);
  });

  it('writes a process death at once, then reconnects by itself', async () => {
    const pid = monitor.connection(good.id)!.pid!;
    expect(isProcessAlive(pid)).toBe(true);
    const before = (await row(good.id)).lastConnected!;
    process.kill(pid, 'SIGKILL');

    const lost = await until(good.id, (r) => r.connectionStatus === 'error');
    expect(lost.connectionStatus).toBe('error');
    expect(lost.lastError).toMatch(/closed/);

    const back = await until(good.id, (r) => r.connectionStatus === 'connected');
    expect(back.connectionStatus).toBe('connected');
    expect(back.lastError).toBeNull();
    expect(back.lastConnected!.getTime()).toBeGreaterThan(before.getTime());
    expect(monitor.connection(good.id)!.pid).not.toBe(pid);
  });

  it('records a new tool list when the server announces one', async () => {
    const fixture = await createServer(database, {
      userId,
      name: 'Growing',
      transport: 'stdio',
      sandbox: { network: 'none' },
      command: process.execPath,
      args: FIXTURE_SERVER_ARGS,
    });
    await monitor.sync(fixture.id);
    expect((await row(fixture.id)).metadata.toolNames).not.toContain('late');
    await monitor.connection(fixture.id)!.callTool('add-tool', { name: 'late' });
    const grown = await until(fixture.id, (r) => r.metadata.toolNames?.includes('late') === true);
    expect(grown.metadata.toolNames).toContain('late');
    expect(grown.metadata.toolCount).toBe(grown.metadata.toolNames!.length);
    await updateServer(database, userId, fixture.id, { isActive: false });
    await monitor.sync(fixture.id);
  });

  it('keeps retrying a failed server and picks up a fixed config', async () => {
    await monitor.checkAll();
    const still = await row(bad.id);
    expect(still.connectionStatus).toBe('error');
    // A retry may be in flight at this instant (retryAt is unset while it runs): poll.
    let retryAt: number | undefined;
    for (let i = 0; i < 100 && retryAt === undefined; i++) {
      retryAt = monitor.connection(bad.id)!.retryAt;
      if (retryAt === undefined) await new Promise((resolve) => setTimeout(resolve, 10));
    }
    expect(retryAt).toBeGreaterThan(0);

    await updateServer(database, userId, bad.id, {
      command: 'node',
      args: [EVERYTHING_BIN, 'stdio'],
    });
    await monitor.sync(bad.id);
    expect((await row(bad.id)).connectionStatus).toBe('connected');
  });

  it('closes a disabled server, ending its process, and marks it disconnected', async () => {
    const pid = monitor.connection(bad.id)!.pid!;
    await updateServer(database, userId, bad.id, { isActive: false });
    await monitor.sync(bad.id);
    expect(monitor.connection(bad.id)).toBeUndefined();
    expect((await row(bad.id)).connectionStatus).toBe('disconnected');
    expect(await waitForProcessExit(pid)).toBe(true);
  });

  it('ends every child process when stopped', async () => {
    const pid = monitor.connection(good.id)!.pid!;
    await monitor.stop();
    expect(await waitForProcessExit(pid)).toBe(true);
  });
});
