/**
 * McpConnection with stdio servers that misbehave: pagination, tools that never answer, servers
 * that crash or cannot start, and child processes that must end with the connection (DESIGN §8).
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { ConnectionStatus } from '../../../shared/mcp/server-config.js';
import { createLogger } from '../../../shared/logger.js';
import type { McpConnection } from '../../../shared/mcp/index.js';
import {
  McpConnectionError,
  mcpServerConfigSchema,
  type McpServerConfigInput,
} from '../../../shared/mcp/index.js';
import {
  FIXTURE_CRASH_MESSAGE,
  FIXTURE_PAGE_SIZE,
  FIXTURE_TOOLS,
} from '../../fixtures/fixture-tools.js';
import {
  EVERYTHING_BIN,
  FIXTURE_SERVER_ARGS,
  isProcessAlive,
  waitForProcessExit,
} from '../../helpers/mcp-processes.js';
import { sandboxedConnection } from '../../helpers/sandboxed.js';

const logger = createLogger({ level: 'silent' });
const open: McpConnection[] = [];

function connection(
  input: McpServerConfigInput,
  onStatusChange?: (status: ConnectionStatus, error?: McpConnectionError) => void,
): McpConnection {
  const created = sandboxedConnection(mcpServerConfigSchema.parse(input), {
    logger,
    onStatusChange,
  });
  open.push(created);
  return created;
}

function fixtureServer(
  overrides: { env?: Record<string, string>; timeoutMs?: number } = {},
  onStatusChange?: (status: ConnectionStatus, error?: McpConnectionError) => void,
): McpConnection {
  return connection(
    {
      transport: 'stdio',
      sandbox: { network: 'none' },
      command: process.execPath,
      args: FIXTURE_SERVER_ARGS,
      ...overrides,
    },
    onStatusChange,
  );
}

afterEach(async () => {
  vi.useRealTimers();
  await Promise.all(open.splice(0).map((c) => c.close()));
});

describe('McpConnection.listTools', () => {
  it('follows nextCursor until the last page and returns the tools of every page', async () => {
    const conn = fixtureServer();
    await conn.connect();

    const tools = await conn.listTools();

    expect(FIXTURE_TOOLS.length).toBeGreaterThan(2 * FIXTURE_PAGE_SIZE);
    expect(tools.map((tool) => tool.name)).toEqual(FIXTURE_TOOLS.map((tool) => tool.name));
  });

  it('fails with request_failed instead of looping when the server repeats a cursor', async () => {
    const conn = fixtureServer({ env: { FIXTURE_ENDLESS_PAGES: '1' } });
    await conn.connect();

    await expect(conn.listTools()).rejects.toMatchObject({
      name: 'McpConnectionError',
      code: 'request_failed',
      message: expect.stringContaining('kept paginating'),
    });
  });
});

describe('McpConnection.callTool', () => {
  it("rejects with McpConnectionError once the server's timeoutMs has passed without an answer", async () => {
    // Also bounds initialize, which runs on real timers: room for a busy machine.
    const timeoutMs = 30_000;
    const conn = fixtureServer({ timeoutMs });
    await conn.connect();
    // Only the request timers are faked; the child process and its pipes run for real.
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });

    let settled = false;
    const call = conn.callTool('hang', {});
    call.then(
      () => (settled = true),
      () => (settled = true),
    );

    await vi.advanceTimersByTimeAsync(timeoutMs - 1);
    expect(settled).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    expect(settled).toBe(true);

    const failure = await call.catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(McpConnectionError);
    expect(failure).toMatchObject({
      code: 'timeout',
      message: expect.stringMatching(/tools\/call hang .*timed out/),
    });
    vi.useRealTimers();
    // A timed-out call is the server's problem, not the connection's.
    expect(conn.status).toBe('connected');
    await expect(conn.callTool('echo', { message: 'still here' })).resolves.toMatchObject({
      content: [{ type: 'text', text: 'Echo: still here' }],
    });
  });
});

describe('McpConnection.close', () => {
  it('ends the stdio child process', async () => {
    const conn = connection({
      transport: 'stdio',
      sandbox: { network: 'none' },
      command: process.execPath,
      args: [EVERYTHING_BIN, 'stdio'],
    });
    await conn.connect();
    const pid = conn.pid;
    expect(pid).toEqual(expect.any(Number));
    expect(isProcessAlive(pid!)).toBe(true);

    await conn.close();

    expect(conn.pid).toBeNull();
    expect(await waitForProcessExit(pid!)).toBe(true);
    expect(conn.status).toBe('disconnected');
  });
});

describe('McpConnection.close with a server that ignores its stdin closing', () => {
  it('signals the child process and resolves once it has exited', async () => {
    const conn = fixtureServer({ env: { FIXTURE_IGNORE_STDIN_CLOSE: '1' } });
    await conn.connect();
    const pid = conn.pid!;

    await conn.close();

    expect(isProcessAlive(pid)).toBe(false);
  });
});

describe('McpConnection.close while connecting', () => {
  it('stays disconnected, rejects the connect and ends the child process', async () => {
    const statuses: ConnectionStatus[] = [];
    const conn = connection(
      {
        transport: 'stdio',
        sandbox: { network: 'none' },
        command: process.execPath,
        args: [EVERYTHING_BIN, 'stdio'],
      },
      (status) => statuses.push(status),
    );

    // Settled into a value at once: the rejection arrives while close() is still running.
    const connecting = conn.connect().then(
      () => undefined,
      (error: unknown) => error,
    );
    // The sandbox starts its process asynchronously (after checking bwrap): wait for it.
    await vi.waitFor(() => expect(conn.pid).not.toBeNull(), { timeout: 60_000, interval: 5 });
    const pid = conn.pid;
    await conn.close();

    expect(await connecting).toBeInstanceOf(McpConnectionError);
    expect(conn.status).toBe('disconnected');
    expect(statuses).toEqual(['connecting', 'disconnected']);
    expect(pid).toEqual(expect.any(Number));
    expect(await waitForProcessExit(pid!)).toBe(true);
  });
});

describe('McpConnection.connect', () => {
  it('fails with connect_failed naming the command when the command does not exist', async () => {
    const command = 'switchboard-no-such-command-7f3a';
    const statuses: ConnectionStatus[] = [];
    const conn = connection(
      { transport: 'stdio', sandbox: { network: 'none' }, command },
      (status) => statuses.push(status),
    );

    const failure = await conn.connect().catch((error: unknown) => error);

    expect(failure).toBeInstanceOf(McpConnectionError);
    expect(failure).toMatchObject({ code: 'connect_failed' });
    expect((failure as Error).message).toContain(command);
    expect(conn.status).toBe('error');
    expect(conn.lastError).toBe(failure);
    expect(statuses).toEqual(['connecting', 'error']);
  });

  it('fails naming the working directory when the cwd does not exist', async () => {
    const cwd = '/switchboard/no/such/dir';
    const conn = connection({
      transport: 'stdio',
      sandbox: { network: 'none' },
      command: process.execPath,
      cwd,
    });

    const failure = await conn.connect().catch((error: unknown) => error);

    expect(failure).toMatchObject({
      code: 'connect_failed',
      message: expect.stringContaining(cwd),
    });
    expect((failure as Error).message).not.toContain('command not found');
  });

  it('fails with connect_timeout when the server never answers initialize', async () => {
    const conn = connection({
      transport: 'stdio',
      sandbox: { network: 'none' },
      command: process.execPath,
      // Reads its stdin and never writes: alive, but silent.
      args: ['-e', 'process.stdin.resume()'],
      timeoutMs: 200,
    });

    await expect(conn.connect()).rejects.toMatchObject({
      name: 'McpConnectionError',
      code: 'connect_timeout',
      message: expect.stringContaining('within 200 ms'),
    });
    expect(conn.status).toBe('error');
    expect(conn.pid).toBeNull();
  });

  it('fails with connect_failed and the stderr of a server that exits during initialize', async () => {
    const conn = connection({
      transport: 'stdio',
      sandbox: { network: 'none' },
      command: process.execPath,
      args: ['-e', 'console.error("missing API_TOKEN"); process.exit(1)'],
    });

    await expect(conn.connect()).rejects.toMatchObject({
      code: 'connect_failed',
      message: expect.stringContaining('missing API_TOKEN'),
    });
    expect(conn.status).toBe('error');
  });
});

describe('McpConnection with a stdio server that crashes', () => {
  it('reports connection_lost, then refuses calls with not_connected', async () => {
    const changes: [ConnectionStatus, string | undefined][] = [];
    const watched = fixtureServer({}, (status, error) => changes.push([status, error?.code]));
    await watched.connect();
    const pid = watched.pid!;

    const crashed = await watched.callTool('crash', {}).catch((error: unknown) => error);

    expect(crashed).toBeInstanceOf(McpConnectionError);
    expect(crashed).toMatchObject({ code: 'connection_lost' });
    expect(watched.status).toBe('error');
    expect(watched.lastError).toMatchObject({
      code: 'connection_lost',
      message: expect.stringContaining(FIXTURE_CRASH_MESSAGE),
    });
    expect(changes).toEqual([
      ['connecting', undefined],
      ['connected', undefined],
      ['error', 'connection_lost'],
    ]);
    expect(await waitForProcessExit(pid)).toBe(true);
    await expect(watched.callTool('echo', { message: 'hello?' })).rejects.toMatchObject({
      code: 'not_connected',
    });
    await expect(watched.ping()).rejects.toMatchObject({ code: 'not_connected' });
  });

  it('notices a server killed from outside while idle', async () => {
    let reportLost!: (error?: McpConnectionError) => void;
    const lost = new Promise<McpConnectionError | undefined>((resolve) => (reportLost = resolve));
    const conn = connection(
      {
        transport: 'stdio',
        sandbox: { network: 'none' },
        command: process.execPath,
        args: [EVERYTHING_BIN, 'stdio'],
      },
      (status, error) => {
        if (status === 'error') reportLost(error);
      },
    );
    await conn.connect();

    process.kill(conn.pid!, 'SIGKILL');

    expect(await lost).toMatchObject({ code: 'connection_lost' });
    expect(conn.status).toBe('error');
    await expect(conn.callTool('echo', { message: 'hello?' })).rejects.toMatchObject({
      code: 'not_connected',
    });
  });
});
