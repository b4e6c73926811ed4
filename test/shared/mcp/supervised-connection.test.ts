import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { createLogger } from '../../../shared/logger.js';
import { McpConnectionError } from '../../../shared/mcp/errors.js';
import type { McpServerConfig } from '../../../shared/mcp/server-config.js';
import type { SupervisedConnection } from '../../../shared/mcp/supervised-connection.js';
import {
  backoffDelayMs,
  type StatusChange,
  type SupervisedConnectionOptions,
} from '../../../shared/mcp/supervised-connection.js';
import {
  EVERYTHING_BIN,
  FIXTURE_SERVER_ARGS,
  runningProcesses,
  signalIfAlive,
  startEverythingHttpServer,
  waitForProcessExit,
  type EverythingHttpServer,
} from '../../helpers/mcp-processes.js';
import { startHttpMcpServer, type HttpMcpServer } from '../../helpers/http-mcp-server.js';
import { sandboxedSupervisedConnection } from '../../helpers/sandboxed.js';

const logger = createLogger({ level: 'silent' });
const open: SupervisedConnection[] = [];
const tmp = mkdtempSync(path.join(tmpdir(), 'switchboard-supervised-'));
// The sandboxed fixture (its own uid) writes its call log here, mounted writable.
chmodSync(tmp, 0o777);
/** The fixture's sandbox: no network, and `tmp` (its call and crash files) writable. */
const FIXTURE_SANDBOX = { network: 'none' as const, mounts: [{ hostPath: tmp, writable: true }] };

afterEach(async () => {
  await Promise.all(open.splice(0).map((connection) => connection.close()));
});

afterAll(() => {
  rmSync(tmp, { recursive: true, force: true });
});

/** `pid` and every running process below it, read with `ps`. */
function processTree(pid: number): number[] {
  const rows = runningProcesses();
  const tree = [pid];
  for (let i = 0; i < tree.length; i++) {
    for (const row of rows) if (row.ppid === tree[i]) tree.push(row.pid);
  }
  return tree;
}

function supervise(
  config: McpServerConfig,
  options: Partial<SupervisedConnectionOptions> = {},
): { connection: SupervisedConnection; changes: StatusChange[] } {
  const changes: StatusChange[] = [];
  const connection = sandboxedSupervisedConnection(config, {
    logger,
    label: 'Calendar',
    // No jitter draw above zero: retries start at once, so tests wait on events, not time.
    random: () => 0,
    policy: { intervalMs: 3_600_000 },
    onStatusChange: (change) => changes.push(change),
    ...options,
  });
  open.push(connection);
  return { connection, changes };
}

const fixture = (env: Record<string, string> = {}): McpServerConfig => ({
  transport: 'stdio',
  sandbox: FIXTURE_SANDBOX,
  command: process.execPath,
  args: FIXTURE_SERVER_ARGS,
  env,
  timeoutMs: 10_000,
});

const everything: McpServerConfig = {
  transport: 'stdio',
  sandbox: { network: 'none' },
  command: process.execPath,
  args: [EVERYTHING_BIN, 'stdio'],
  env: {},
  timeoutMs: 10_000,
};

/** Polls (bounded: 200 × 25 ms) until `check` holds; returns whether it did. */
/** Polls `check` every 25 ms for up to 30 s (a reconnect starts a process: slow on a busy machine). */
async function eventually(check: () => boolean): Promise<boolean> {
  for (let i = 0; i < 1_200 && !check(); i++) await new Promise((r) => setTimeout(r, 25));
  return check();
}

describe('backoffDelayMs', () => {
  it('draws from [0, min(cap, base * 2^attempt)) with full jitter', () => {
    const policy = { backoffBaseMs: 1000, backoffCapMs: 60_000 };
    expect([0, 1, 2, 3, 5, 6, 7, 30].map((n) => backoffDelayMs(n, policy, () => 0.999999))).toEqual(
      [999, 1999, 3999, 7999, 31999, 59999, 59999, 59999],
    );
    expect(backoffDelayMs(4, policy, () => 0)).toBe(0);
    expect(backoffDelayMs(4, policy, () => 0.5)).toBe(8000);
  });
});

describe('SupervisedConnection', () => {
  it('notices a kill -9 at once, reconnects, and has the tools back', async () => {
    const { connection, changes } = supervise(everything);
    expect(await connection.start()).toBe(true);
    const pid = connection.pid!;
    const toolCount = connection.tools.length;
    expect(toolCount).toBeGreaterThan(5);

    process.kill(pid, 'SIGKILL');
    expect(await eventually(() => changes.some((c) => c.status === 'error'))).toBe(true);
    const lost = changes.find((c) => c.status === 'error')!;
    expect(lost.error?.code).toBe('connection_lost');

    expect(await eventually(() => connection.status === 'connected')).toBe(true);
    expect(connection.pid).not.toBe(pid);
    expect(connection.tools).toHaveLength(toolCount);
    const result = await connection.callTool('echo', { message: 'back' });
    expect(result.content).toEqual([{ type: 'text', text: 'Echo: back' }]);
  });

  it('fails calls fast with a sentence the model can read while the server is down', async () => {
    const { connection } = supervise(
      {
        transport: 'stdio',
        sandbox: { network: 'none' },
        command: 'switchboard-no-such-calendar',
        args: [],
        env: {},
        timeoutMs: 10_000,
      },
      { random: () => 0.5, policy: { backoffBaseMs: 600_000, backoffCapMs: 600_000 } },
    );
    expect(await connection.start()).toBe(false);
    expect(connection.status).toBe('error');
    expect(connection.retryAt).toBeGreaterThan(Date.now());

    const failure = await connection.callTool('echo', {}).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(McpConnectionError);
    expect(failure).toMatchObject({ code: 'unavailable' });
    expect((failure as Error).message).toMatch(
      /^The Calendar server is unavailable: .*switchboard-no-such-calendar.*\. Retrying in \d+ s\.$/,
    );
  });

  it('retries a failing server with backoff and resets once it succeeds', async () => {
    // The command fails twice (counted in a file), then starts the real server.
    const counter = path.join(tmp, 'attempts');
    writeFileSync(counter, '');
    // Written by the sandboxed shell, which runs as its own uid.
    chmodSync(counter, 0o666);
    const script =
      `n=$(wc -l < '${counter}'); echo x >> '${counter}'; ` +
      `if [ "$n" -lt 2 ]; then exit 1; fi; exec '${process.execPath}' '${EVERYTHING_BIN}' stdio`;
    const { connection, changes } = supervise(
      {
        transport: 'stdio',
        sandbox: FIXTURE_SANDBOX,
        command: 'sh',
        args: ['-c', script],
        env: {},
        timeoutMs: 10_000,
      },
      { random: () => 0.01, policy: { backoffBaseMs: 100, backoffCapMs: 1000 } },
    );
    expect(await connection.start()).toBe(false);
    expect(await eventually(() => connection.status === 'connected')).toBe(true);
    expect(readFileSync(counter, 'utf8').trim().split('\n')).toHaveLength(3);
    // Retries stayed `error` (no flapping through `connecting`) until the success.
    // (The same status may be reported again when the reason changes between attempts.)
    const statuses = changes.map((c) => c.status).filter((status, i, all) => status !== all[i - 1]);
    expect(statuses).toEqual(['connecting', 'error', 'connected']);
    expect(connection.retryAt).toBeUndefined();
  });

  it('turns degraded after a failed ping and error at the threshold, then reconnects', async () => {
    const { connection, changes } = supervise(everything, {
      policy: { pingTimeoutMs: 200, failureThreshold: 3 },
    });
    await connection.start();
    // `pid` is the sandbox's init (bwrap), not the server: stop it and every process below it.
    const pid = connection.pid!;
    const tree = processTree(pid);
    expect(tree.length).toBeGreaterThan(1);
    for (const member of tree) signalIfAlive(member, 'SIGSTOP');
    try {
      for (const expected of ['degraded', 'degraded']) {
        await expect(connection.ping()).rejects.toMatchObject({ code: 'timeout' });
        expect(connection.status).toBe(expected);
      }
      await expect(connection.ping()).rejects.toMatchObject({ code: 'timeout' });
      expect(changes.map((c) => c.status)).toContain('error');
      expect(await eventually(() => connection.status === 'connected')).toBe(true);
      expect(connection.pid).not.toBe(pid);
    } finally {
      for (const member of tree) signalIfAlive(member, 'SIGKILL');
    }
    expect(await waitForProcessExit(pid)).toBe(true);
  });

  it('does not repeat a call whose connection broke while it ran', async () => {
    const log = path.join(tmp, 'calls-crash');
    const { connection } = supervise(fixture({ FIXTURE_CALL_LOG: log }));
    await connection.start();
    const failure = await connection.callTool('crash', {}).catch((error: unknown) => error);
    expect(failure).toMatchObject({ code: 'connection_lost' });
    expect(await eventually(() => connection.status === 'connected')).toBe(true);
    expect(readFileSync(log, 'utf8').trim().split('\n')).toEqual(['crash']);
  });

  it('re-lists tools on notifications/tools/list_changed', async () => {
    const seen: string[][] = [];
    const { connection } = supervise(fixture(), {
      onToolsChanged: (tools) => seen.push(tools.map((t) => t.name)),
    });
    await connection.start();
    expect(seen).toHaveLength(1);
    await connection.callTool('add-tool', { name: 'late-arrival' });
    expect(await eventually(() => seen.length === 2)).toBe(true);
    expect(seen[1]).toContain('late-arrival');
    expect(connection.tools.map((t) => t.name)).toContain('late-arrival');
  });

  it('times out a server that accepts the connection and never answers, without hanging', async () => {
    const silent: Server = createServer(() => {});
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const { port } = silent.address() as AddressInfo;
    try {
      const { connection } = supervise(
        {
          transport: 'streamable-http',
          url: `http://127.0.0.1:${port}/mcp`,
          headers: {},
          timeoutMs: 300,
        },
        { random: () => 0.5, policy: { backoffBaseMs: 600_000 } },
      );
      expect(await connection.start()).toBe(false);
      expect(connection.lastError?.code).toBe('connect_timeout');
      await expect(connection.callTool('echo', {})).rejects.toMatchObject({ code: 'unavailable' });
    } finally {
      silent.close();
    }
  });

  it('ends a connect in flight on close instead of waiting for its timeout', async () => {
    const silent: Server = createServer(() => {});
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const { port } = silent.address() as AddressInfo;
    try {
      // A timeout far beyond the test's own: only an interrupted connect lets this finish.
      const { connection } = supervise({
        transport: 'streamable-http',
        url: `http://127.0.0.1:${port}/mcp`,
        headers: {},
        timeoutMs: 3_600_000,
      });
      const started = connection.start();
      await vi.waitFor(() => expect(connection.status).toBe('connecting'));
      await connection.close();
      expect(await started).toBe(false);
      expect(connection.status).toBe('disconnected');
      expect(connection.retryAt).toBeUndefined();
    } finally {
      silent.close();
    }
  });

  it('closes cleanly: status disconnected, process gone, no retry left', async () => {
    const { connection } = supervise(everything);
    await connection.start();
    const pid = connection.pid!;
    await connection.close();
    expect(connection.status).toBe('disconnected');
    expect(await waitForProcessExit(pid)).toBe(true);
    await expect(connection.callTool('echo', {})).rejects.toMatchObject({ code: 'not_connected' });
  });
});

describe('SupervisedConnection over Streamable HTTP', () => {
  let server: EverythingHttpServer | undefined;

  afterEach(async () => {
    await server?.stop();
  });

  it('starts a new session when the server restarts on the same port', async () => {
    server = await startEverythingHttpServer('streamableHttp');
    const port = Number(new URL(server.origin).port);
    const { connection } = supervise(
      { transport: 'streamable-http', url: `${server.origin}/mcp`, headers: {}, timeoutMs: 10_000 },
      { random: () => 0.01, policy: { backoffBaseMs: 200, backoffCapMs: 400 } },
    );
    expect(await connection.start()).toBe(true);
    const firstSession = connection.info;

    await server.stop();
    server = await startEverythingHttpServer('streamableHttp', port);

    expect(
      await eventually(() => connection.status === 'connected' && connection.info !== firstSession),
    ).toBe(true);
    const result = await connection.callTool('echo', { message: 'after restart' });
    expect(result.content).toEqual([{ type: 'text', text: 'Echo: after restart' }]);
  });

  it('notices a stopped server from its broken event stream, before any call or ping', async () => {
    server = await startEverythingHttpServer('streamableHttp');
    const { connection, changes } = supervise(
      { transport: 'streamable-http', url: `${server.origin}/mcp`, headers: {}, timeoutMs: 5_000 },
      { random: () => 0.5, policy: { backoffBaseMs: 600_000 } },
    );
    await connection.start();
    await server.stop();
    expect(await eventually(() => connection.status === 'error')).toBe(true);
    expect(changes.find((c) => c.status === 'error')?.error?.code).toBe('connection_lost');
  });

  it('reports a stopped server and comes back when it returns', async () => {
    server = await startEverythingHttpServer('streamableHttp');
    const port = Number(new URL(server.origin).port);
    const { connection } = supervise(
      { transport: 'streamable-http', url: `${server.origin}/mcp`, headers: {}, timeoutMs: 5_000 },
      { random: () => 0.01, policy: { backoffBaseMs: 200, backoffCapMs: 400 } },
    );
    await connection.start();
    await server.stop();

    const failure = await connection.callTool('echo', { message: 'x' }).catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(McpConnectionError);
    expect(['connection_lost', 'unavailable']).toContain((failure as McpConnectionError).code);
    expect(connection.status).not.toBe('connected');

    server = await startEverythingHttpServer('streamableHttp', port);
    expect(await eventually(() => connection.status === 'connected')).toBe(true);
    const result = await connection.callTool('echo', { message: 'again' });
    expect(result.content).toEqual([{ type: 'text', text: 'Echo: again' }]);
  });
});

describe('SupervisedConnection and a session the server forgot', () => {
  let server: HttpMcpServer | undefined;

  afterEach(async () => {
    await server?.close();
  });

  it('re-initializes at once and sends the call exactly once', async () => {
    server = await startHttpMcpServer();
    const { connection } = supervise(
      { transport: 'streamable-http', url: server.url, headers: {}, timeoutMs: 10_000 },
      // Any backoff would be long: only an immediate re-initialize can pass this test.
      { random: () => 0.5, policy: { backoffBaseMs: 600_000 } },
    );
    expect(await connection.start()).toBe(true);
    expect(server.sessions).toBe(1);

    await server.forgetSessions();
    const result = await connection.callTool('echo', { message: 'once' });

    expect(result.content).toEqual([{ type: 'text', text: 'Echo: once' }]);
    expect(server.echoCalls).toBe(1);
    expect(server.sessions).toBe(2);
    expect(connection.status).toBe('connected');
  });
});
