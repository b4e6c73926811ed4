/**
 * The API's stdio processes, shared fairly: a user at `MCP_MAX_STDIO_PROCESSES_PER_USER` cannot
 * start more while other users' servers still start, and the Test button of a server the monitor
 * holds connected goes through that connection, so a full cap never breaks it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DatabaseHandle } from '../../../shared/db/open.js';
import { createServer, findServer } from '../../../shared/db/servers.js';
import type { McpServerRow } from '../../../shared/db/schema.js';
import { createLogger } from '../../../shared/logger.js';
import { StdioProcessLimiter } from '../../../shared/mcp/stdio-process-limiter.js';
import { generateToken, storeToken } from '../../../server/http/auth.js';
import type { StatusMonitor } from '../../../server/status/monitor.js';
import { createTestUser, openTestDatabase } from '../../helpers/database.js';
import { serve, type TestServer } from '../../helpers/http.js';
import { EVERYTHING_BIN, childPids } from '../../helpers/mcp-processes.js';
import { sandboxedApp, sandboxedMonitor } from '../../helpers/sandboxed.js';

const logger = createLogger({ level: 'silent' });
let database: DatabaseHandle;
let monitor: StatusMonitor;
let api: TestServer;
// Three processes in all, two per user.
const limiter = new StdioProcessLimiter({ maxProcesses: 3, maxProcessesPerUser: 2 });
const alice = { id: 0, token: generateToken(), servers: [] as McpServerRow[] };
const bob = { id: 0, token: generateToken(), servers: [] as McpServerRow[] };

function stdioServer(userId: number, name: string, args: string[]) {
  return createServer(database, {
    userId,
    name,
    transport: 'stdio',
    sandbox: { network: 'none' },
    command: 'node',
    args,
  });
}

beforeAll(async () => {
  database = await openTestDatabase();
  for (const user of [alice, bob]) {
    user.id = (await createTestUser(database)).id;
    await storeToken(database.db, user.id, user.token);
  }
  alice.servers.push(
    await stdioServer(alice.id, 'Everything', [EVERYTHING_BIN, 'stdio']),
    await stdioServer(alice.id, 'Everything two', [EVERYTHING_BIN, 'stdio']),
  );
  alice.servers.push(await stdioServer(alice.id, 'Everything three', [EVERYTHING_BIN, 'stdio']));
  bob.servers.push(await stdioServer(bob.id, 'Bob everything', [EVERYTHING_BIN, 'stdio']));
  monitor = sandboxedMonitor({
    db: database.db,
    secrets: database.secrets,
    logger,
    // Pings only when asked; a failed server is retried after an hour (not during the test).
    policy: { intervalMs: 3_600_000, backoffBaseMs: 3_600_000 },
    random: () => 0.5,
    guards: { stdioLimiter: limiter },
  });
  // One server at a time, so which of Alice's servers is refused is known.
  for (const row of [...alice.servers, ...bob.servers]) await monitor.sync(row.id);
  api = await serve(
    sandboxedApp({ database, logger, watcher: monitor, guards: { stdioLimiter: limiter } }),
  );
});

afterAll(async () => {
  await api?.close();
  await monitor?.stop();
  await database?.close();
});

describe('stdio processes per user', () => {
  it('refuses a user past their cap, naming the setting, while another user’s server starts', async () => {
    const [first, second, third] = await Promise.all(
      alice.servers.map((row) => findServer(database, row.id)),
    );
    expect(first?.connectionStatus).toBe('connected');
    expect(second?.connectionStatus).toBe('connected');
    expect(third?.connectionStatus).toBe('error');
    expect(third?.lastError).toContain('MCP_MAX_STDIO_PROCESSES_PER_USER');
    expect((await findServer(database, bob.servers[0]!.id))?.connectionStatus).toBe('connected');
    expect(limiter.activeFor(alice.id)).toBe(2);
    expect(limiter.activeFor(bob.id)).toBe(1);
    expect(limiter.active).toBe(3);

    const test = await api.request('POST', `/api/mcp/servers/${alice.servers[2]!.id}/test`, {
      token: alice.token,
      body: {},
    });
    expect(test.status).toBe(200);
    expect(test.body.status).toBe('error');
    expect(test.body.error).toContain('MCP_MAX_STDIO_PROCESSES_PER_USER');
  });

  it('tests a server the monitor holds connected through that connection, with every slot taken', async () => {
    const before = childPids();
    for (const [user, row] of [
      [alice, alice.servers[0]!],
      [alice, alice.servers[1]!],
      [bob, bob.servers[0]!],
    ] as const) {
      const test = await api.request('POST', `/api/mcp/servers/${row.id}/test`, {
        token: user.token,
        body: {},
      });
      expect(test.status).toBe(200);
      expect(test.body).toMatchObject({ status: 'connected' });
    }
    const everything = await api.request('POST', `/api/mcp/servers/${alice.servers[0]!.id}/test`, {
      token: alice.token,
      body: {},
    });
    expect(everything.body.toolCount).toBeGreaterThan(0);
    expect(everything.body.tools.map((tool: { name: string }) => tool.name)).toContain(
      'everything__echo',
    );
    expect(everything.body.serverInfo.name).toMatch(/everything/);
    expect(childPids()).toEqual(before);
    expect(limiter.active).toBe(3);
  });
});
