import { getEventListeners } from 'node:events';
import { chmodSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import type { Progress } from '@modelcontextprotocol/sdk/types.js';
import { createLogger } from '../../../shared/logger.js';
import type { McpConnection } from '../../../shared/mcp/connection.js';
import type { McpServerConfig } from '../../../shared/mcp/server-config.js';
import { startHttpMcpServer } from '../../helpers/http-mcp-server.js';
import { EVERYTHING_BIN, FIXTURE_SERVER_ARGS } from '../../helpers/mcp-processes.js';
import { sandboxedConnection } from '../../helpers/sandboxed.js';

const tmp = mkdtempSync(path.join(tmpdir(), 'switchboard-calls-'));
// The sandboxed fixture (its own uid) writes its call log here, mounted writable.
chmodSync(tmp, 0o777);
/** The fixture's sandbox: no network, and `tmp` (its call and crash files) writable. */
const FIXTURE_SANDBOX = { network: 'none' as const, mounts: [{ hostPath: tmp, writable: true }] };
const open: McpConnection[] = [];

afterEach(async () => {
  await Promise.all(open.splice(0).map((connection) => connection.close()));
});

afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function connect(config: McpServerConfig, lines: string[] = []): McpConnection {
  const destination = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(chunk.toString('utf8'));
      done();
    },
  });
  const connection = sandboxedConnection(config, {
    logger: createLogger({ level: 'warn', destination }),
    label: 'fixture',
  });
  open.push(connection);
  return connection;
}

function fixture(env: Record<string, string>, timeoutMs = 10_000): McpServerConfig {
  return {
    transport: 'stdio',
    sandbox: FIXTURE_SANDBOX,
    command: process.execPath,
    args: FIXTURE_SERVER_ARGS,
    env,
    timeoutMs,
  };
}

describe('tool listing', () => {
  it('skips a tool whose schema breaks the MCP Tool schema, with a log line, and keeps the rest', async () => {
    const lines: string[] = [];
    const connection = connect(fixture({ FIXTURE_BAD_TOOL: '1' }), lines);
    await connection.connect();
    const names = (await connection.listTools()).map((tool) => tool.name);
    expect(names).not.toContain('broken-schema');
    expect(names).toEqual(expect.arrayContaining(['echo', 'hang', 'crash']));
    const warning = lines.map((line) => JSON.parse(line)).find((l) => l.tool === 'broken-schema');
    expect(warning?.msg).toMatch(/tool skipped/);
  });
});

describe('cancellation and progress', () => {
  it('sends notifications/cancelled when the caller aborts a call', async () => {
    const log = path.join(tmp, 'cancel-log');
    const connection = connect(fixture({ FIXTURE_CALL_LOG: log }));
    await connection.connect();
    const controller = new AbortController();
    const call = connection.callTool('hang', {}, { signal: controller.signal }).catch((e) => e);
    // The server has the call once it has logged it.
    for (let i = 0; i < 200 && !readLog(log).includes('hang'); i++) await pause(10);
    controller.abort('the user said never mind');
    expect(await call).toMatchObject({ code: 'cancelled' });
    for (let i = 0; i < 200 && !readLog(log).includes('hang:cancelled'); i++) await pause(10);
    expect(readLog(log)).toEqual(['hang', 'hang:cancelled']);
    // The connection is fine afterwards.
    const echo = await connection.callTool('echo', { message: 'still here' });
    expect(echo.content).toEqual([{ type: 'text', text: 'Echo: still here' }]);
  });

  it('cancels a call aborted in its first millisecond, and refuses one aborted before', async () => {
    const log = path.join(tmp, 'early-abort-log');
    const connection = connect(fixture({ FIXTURE_CALL_LOG: log }));
    await connection.connect();
    const controller = new AbortController();
    const call = connection.callTool('hang', {}, { signal: controller.signal }).catch((e) => e);
    controller.abort('at once');
    expect(await call).toMatchObject({ code: 'cancelled' });
    for (let i = 0; i < 200 && !readLog(log).includes('hang:cancelled'); i++) await pause(10);
    expect(readLog(log)).toEqual(['hang', 'hang:cancelled']);

    const refused = await connection
      .callTool('echo', { message: 'never sent' }, { signal: controller.signal })
      .catch((e) => e);
    expect(refused).toMatchObject({ code: 'cancelled' });
    expect(readLog(log)).toEqual(['hang', 'hang:cancelled']);
  });

  it('leaves no listener on the caller signal, and sends a progress token only when asked', async () => {
    const log = path.join(tmp, 'listener-log');
    const connection = connect(fixture({ FIXTURE_CALL_LOG: log }));
    await connection.connect();
    const quick = new AbortController();
    await connection.callTool('echo', { message: 'a' }, { signal: quick.signal });
    expect(getEventListeners(quick.signal, 'abort')).toHaveLength(0);

    // A call that outlives a tick of the relay is watched, and unwatched once it settles.
    const slow = new AbortController();
    const hanging = connection.callTool('hang', {}, { signal: slow.signal }).catch((e) => e);
    for (let i = 0; i < 100 && getEventListeners(slow.signal, 'abort').length === 0; i++) {
      await pause(5);
    }
    expect(getEventListeners(slow.signal, 'abort')).toHaveLength(1);
    slow.abort();
    expect(await hanging).toMatchObject({ code: 'cancelled' });
    expect(getEventListeners(slow.signal, 'abort')).toHaveLength(0);

    await connection.callTool('echo', { message: 'b' }, { onProgress: () => {} });
    expect(readLog(log)).toEqual(['echo', 'hang', 'hang:cancelled', 'echo +progress']);
  });

  it('keeps a long call alive while the server reports progress, and hands the progress on', async () => {
    const connection = connect({
      transport: 'stdio',
      sandbox: { network: 'none' },
      command: process.execPath,
      args: [EVERYTHING_BIN, 'stdio'],
      env: {},
      // Shorter than the whole operation (8 s), far longer than one step (0.5 s), and long enough
      // for the server to start on a busy machine (the same timeout bounds initialize).
      timeoutMs: 4_000,
    });
    await connection.connect();
    const progress: Progress[] = [];
    const result = await connection.callTool(
      'trigger-long-running-operation',
      { duration: 8, steps: 16 },
      { onProgress: (p) => progress.push(p) },
    );
    expect(result.content).toEqual([
      { type: 'text', text: expect.stringContaining('Long running operation completed') },
    ]);
    // The last report races the result itself; every earlier one arrives, in order.
    expect(progress.map((p) => p.progress).slice(0, 15)).toEqual(
      Array.from({ length: 15 }, (_, i) => i + 1),
    );
    expect(progress.every((p) => p.total === 16)).toBe(true);
  });
});

function readLog(file: string): string[] {
  try {
    return readFileSync(file, 'utf8').trim().split('\n').filter(Boolean);
  } catch {
    return [];
  }
}

function pause(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

describe('Streamable HTTP resumability', () => {
  it('reconnects with Last-Event-ID after the server closes a response stream, and gets the result', async () => {
    const server = await startHttpMcpServer({ resumableRetryMs: 20 });
    try {
      const connection = connect({
        transport: 'streamable-http',
        url: server.url,
        headers: {},
        timeoutMs: 10_000,
      });
      await connection.connect();
      const result = await connection.callTool('interrupted-echo', { message: 'resumed' });
      expect(result.content).toEqual([{ type: 'text', text: 'Echo: resumed' }]);
      const resumes = server.requests.filter((r) => r.method === 'GET' && r.lastEventId);
      expect(resumes.length).toBeGreaterThan(0);
    } finally {
      await server.close();
    }
  });
});

describe('tools that run as tasks (MCP 2025-11-25 "Tasks")', () => {
  const everything = (): McpServerConfig => ({
    transport: 'stdio',
    sandbox: { network: 'none' },
    command: process.execPath,
    args: [EVERYTHING_BIN, 'stdio'],
    env: {},
    timeoutMs: 10_000,
  });

  it('runs a task-only tool as a task and hands its status messages on as progress', async () => {
    const connection = connect(everything());
    await connection.connect();
    const tools = await connection.listTools();
    const research = tools.find((tool) => tool.name === 'simulate-research-query');
    expect(research?.execution?.taskSupport).toBe('required');

    const progress: Progress[] = [];
    const result = await connection.callTool(
      'simulate-research-query',
      { topic: 'otters' },
      { onProgress: (p) => progress.push(p) },
    );
    expect(result.isError).toBeFalsy();
    expect(result.content[0]).toMatchObject({
      type: 'text',
      text: expect.stringContaining('Research Report: otters'),
    });
    expect(progress.length).toBeGreaterThan(1);
    expect(progress.map((p) => p.progress)).toEqual(progress.map((_, i) => i + 1));
    expect(progress.every((p) => typeof p.message === 'string' && p.message.length > 0)).toBe(true);
  });

  it('cancels the task when the caller aborts', async () => {
    const connection = connect(everything());
    await connection.connect();
    await connection.listTools();
    const controller = new AbortController();
    const call = connection
      .callTool(
        'simulate-research-query',
        { topic: 'never mind' },
        { signal: controller.signal, onProgress: () => controller.abort('the user said stop') },
      )
      .catch((error: unknown) => error);
    expect(await call).toMatchObject({ code: 'cancelled' });
    const client = connection.sdkClient!;
    let statuses: string[] = [];
    for (let i = 0; i < 100; i++) {
      const { tasks } = await client.experimental.tasks.listTasks();
      statuses = tasks.map((task) => task.status);
      if (statuses.includes('cancelled')) break;
      await pause(20);
    }
    expect(statuses).toContain('cancelled');
  });
});
