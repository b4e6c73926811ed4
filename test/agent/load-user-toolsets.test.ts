import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { getTableColumns } from 'drizzle-orm';
import { type loadUserToolsets, type UserToolsets } from '../../agent/load-user-toolsets.js';
import {
  FINGERPRINT_IGNORED_COLUMNS,
  serverFingerprint,
} from '../../shared/db/server-fingerprint.js';
import type { DatabaseHandle } from '../../shared/db/open.js';
import { mcpServers, type McpServerRow } from '../../shared/db/schema.js';
import { createServer } from '../../shared/db/servers.js';
import { createTestUser, openTestDatabase } from '../helpers/database.js';
import { isProcessAlive } from '../helpers/mcp-processes.js';
import { startSilentServer } from '../../bench/fixtures/silent-server.js';
import {
  startSlowInitializeServer,
  type FixtureHttpServer,
} from '../../bench/fixtures/slow-initialize-server.js';
import { brokenServer, everythingServer, silentLogger } from './fixtures.js';
import { sandboxedToolsets } from '../helpers/sandboxed.js';

const TOOL_NAME_RULE = /^[a-zA-Z0-9_-]{1,64}$/;

describe('loadUserToolsets', () => {
  let handle: DatabaseHandle;
  const opened: UserToolsets[] = [];

  async function load(
    userId: number,
    policy?: Parameters<typeof loadUserToolsets>[0]['policy'],
  ): Promise<UserToolsets> {
    const tools = await sandboxedToolsets({
      // Every server's first attempt ends the wait, not the deadline, even on a busy machine.
      startDeadlineMs: 60_000,
      db: handle.db,
      secrets: handle.secrets,
      userId,
      logger: silentLogger(),
      policy,
    });
    opened.push(tools);
    return tools;
  }

  beforeAll(async () => {
    handle = await openTestDatabase();
  });

  afterAll(async () => {
    await Promise.all(opened.map((tools) => tools.close()));
    await handle?.close();
  });

  it("advertises a working server's tools and keeps retrying a server that cannot start", async () => {
    const user = await createTestUser(handle);
    const everything = await createServer(handle, everythingServer(user.id));
    const broken = await createServer(handle, brokenServer(user.id));

    // A long backoff keeps the broken server's retry scheduled (not in flight) while we look.
    const tools = await load(user.id, { backoffBaseMs: 600_000, backoffCapMs: 600_000 });

    expect(tools.toolsets.map((toolset) => toolset.server.id)).toEqual([everything.id, broken.id]);
    expect(tools.unavailable).toEqual([
      { serverId: broken.id, name: 'Broken', error: expect.stringMatching(/not found|ENOENT/) },
    ]);
    const [toolset, retrying] = tools.toolsets;
    expect(retrying!.advertisedTools).toEqual([]);
    expect(retrying!.connection.status).toBe('error');
    expect(retrying!.connection.retryAt).toBeGreaterThan(0);
    expect(toolset!.id).toBe(`mcp-server-${everything.id}`);
    const names = toolset!.advertisedTools.map((tool) => tool.name);
    expect(names).toContain('everything__echo');
    expect(names).toContain('everything__get-sum');
    for (const name of names) expect(name).toMatch(TOOL_NAME_RULE);

    const echo = toolset!.tools.find((tool) => 'name' in tool && tool.name === 'everything__echo');
    expect(echo).toMatchObject({
      type: 'function',
      description: 'Echoes back the input string',
      parameters: { type: 'object', properties: { message: { type: 'string' } } },
    });
    expect(echo && 'parameters' in echo ? echo.parameters : {}).not.toHaveProperty('$schema');
  });

  it("leaves out inactive servers and other users' servers", async () => {
    const user = await createTestUser(handle);
    const other = await createTestUser(handle);
    await createServer(handle, { ...everythingServer(user.id, 'Dormant'), isActive: false });
    await createServer(handle, everythingServer(other.id));

    const tools = await load(user.id);

    expect(tools.toolsets).toEqual([]);
    expect(tools.unavailable).toEqual([]);
  });

  it('gives servers whose names share a slug distinct tool names, oldest server first', async () => {
    // Names unique regardless of case can still share a slug: punctuation is dropped.
    const user = await createTestUser(handle);
    await createServer(handle, everythingServer(user.id, 'Everything'));
    await createServer(handle, everythingServer(user.id, 'Everything!'));

    const tools = await load(user.id);

    expect(tools.toolsets).toHaveLength(2);
    const [first, second] = tools.toolsets.map((toolset) =>
      toolset.advertisedTools.map((tool) => tool.name),
    );
    expect(first).toContain('everything__echo');
    expect(second).not.toContain('everything__echo');
    expect(second!.some((name) => /^everything__echo_[0-9a-f]{6}$/.test(name))).toBe(true);
    const all = [...first!, ...second!];
    expect(new Set(all).size).toBe(all.length);
  });

  it('ends the stdio child processes on close()', async () => {
    const user = await createTestUser(handle);
    await createServer(handle, everythingServer(user.id));
    const tools = await load(user.id);
    const pid = tools.toolsets[0]!.connection.pid;
    expect(pid).toEqual(expect.any(Number));
    expect(isProcessAlive(pid!)).toBe(true);

    await tools.close();

    await vi.waitFor(() => expect(isProcessAlive(pid!)).toBe(false), {
      timeout: 10_000,
      interval: 50,
    });
    expect(tools.toolsets[0]!.connection.status).toBe('disconnected');
  });
});

describe('loadUserToolsets start deadline', () => {
  let handle: DatabaseHandle;
  let slow: FixtureHttpServer;
  let silent: FixtureHttpServer;
  let tools: UserToolsets | undefined;
  let releaseSlow: () => void = () => {};

  beforeAll(async () => {
    handle = await openTestDatabase();
    // Holds `initialize` until the test releases it, so it is still connecting at the deadline.
    slow = await startSlowInitializeServer(
      new Promise<void>((resolve) => {
        releaseSlow = resolve;
      }),
    );
    silent = await startSilentServer();
  });

  afterAll(async () => {
    releaseSlow();
    await tools?.close();
    await slow?.close();
    await silent?.close();
    await handle?.close();
  });

  it('starts with the ready servers at the deadline; a slow server adds its tools later', async () => {
    const user = await createTestUser(handle);
    await createServer(handle, everythingServer(user.id));
    const late = await createServer(handle, {
      userId: user.id,
      name: 'Slow',
      transport: 'streamable-http',
      url: slow.url,
      timeoutMs: 120_000,
    });
    const dead = await createServer(handle, {
      userId: user.id,
      name: 'Silent',
      transport: 'streamable-http',
      url: silent.url,
      timeoutMs: 120_000,
    });

    tools = await sandboxedToolsets({
      db: handle.db,
      secrets: handle.secrets,
      userId: user.id,
      logger: silentLogger(),
      // Long enough for server-everything to start on a busy machine; Slow and Silent are held
      // (Slow until released below, Silent for ever) past it.
      startDeadlineMs: 20_000,
    });

    expect(tools.pending.sort()).toEqual(['Silent', 'Slow']);
    const [everything, slowToolset, silentToolset] = tools.toolsets;
    expect(everything!.advertisedTools.map((t) => t.name)).toContain('everything__echo');
    expect(slowToolset!.server.id).toBe(late.id);
    expect(slowToolset!.advertisedTools).toEqual([]);
    expect(silentToolset!.server.id).toBe(dead.id);

    releaseSlow();
    await vi.waitFor(
      () => expect(slowToolset!.advertisedTools.map((t) => t.name)).toEqual(['slow__echo']),
      { timeout: 30_000, interval: 20 },
    );
    expect(silentToolset!.advertisedTools).toEqual([]);
  }, 90_000);
});

describe('serverFingerprint', () => {
  const row: McpServerRow = {
    id: 7,
    userId: 3,
    name: 'Notes',
    description: 'My notes',
    transport: 'stdio',
    url: null,
    command: 'node',
    args: ['notes.js'],
    cwd: null,
    sandbox: {},
    env: { A: '1', B: '2' },
    headers: {},
    apiKey: null,
    auth: { type: 'none' },
    secretHints: null,
    timeoutMs: 30_000,
    toolFilter: {},
    toolPolicy: {},
    isActive: true,
    pinTools: true,
    toolsPinnedAt: null,
    adminManaged: false,
    connectionStatus: 'connected',
    lastConnected: new Date(0),
    accountChangedAt: null,
    lastError: null,
    metadata: {},
    createdAt: new Date(0),
    updatedAt: new Date(0),
  };

  /** The same value, changed (whatever its type). */
  function changed(value: unknown): unknown {
    if (value === null) return 'set';
    if (value instanceof Date) return new Date(value.getTime() + 1);
    if (Array.isArray(value)) return [...value, 'more'];
    switch (typeof value) {
      case 'string':
        return `${value}-changed`;
      case 'number':
        return value + 1;
      case 'boolean':
        return !value;
      default:
        return { ...(value as object), changed: true };
    }
  }

  it('changes with every column of mcp_servers but the ignored ones, so none can be missed', () => {
    const columns = Object.keys(getTableColumns(mcpServers)) as (keyof McpServerRow)[];
    // The test row must cover the table, or a new column would go untested.
    expect(Object.keys(row).sort()).toEqual([...columns].sort());
    const ignored = new Set<string>(FINGERPRINT_IGNORED_COLUMNS);
    for (const column of FINGERPRINT_IGNORED_COLUMNS) expect(columns).toContain(column);

    const base = serverFingerprint(row);
    for (const column of columns) {
      const edited = serverFingerprint({ ...row, [column]: changed(row[column]) } as McpServerRow);
      if (ignored.has(column)) {
        expect(edited, `${column} is ignored`).toBe(base);
      } else {
        expect(edited, `${column} is part of the fingerprint`).not.toBe(base);
      }
    }
  });

  it('ignores the key order of JSON columns', () => {
    expect(serverFingerprint({ ...row, env: { B: '2', A: '1' } })).toBe(serverFingerprint(row));
  });
});
