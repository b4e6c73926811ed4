/**
 * Stdio servers as real child processes (DESIGN §6, §8): the environment they get, their stderr
 * in the log, the end of their whole process group, the per-process cap, and no process left
 * behind after many sessions or when the owner exits.
 */
import { execFile } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createLogger, type Logger } from '../../../shared/logger.js';
import {
  McpConnection,
  mcpServerConfigSchema,
  type McpConnectionOptions,
  type McpServerConfigInput,
} from '../../../shared/mcp/index.js';
import { DEFAULT_STDERR_LIMITS } from '../../../shared/mcp/stderr-log.js';
import {
  EnvRefusedError,
  fixedSearchPath,
  stdioEnvironment,
} from '../../../shared/mcp/stdio-environment.js';
import { StdioProcessLimiter } from '../../../shared/mcp/stdio-process-limiter.js';
import { StdioProcessTransport } from '../../../shared/mcp/stdio-transport.js';
import { loadSettings } from '../../../shared/settings.js';
import {
  EVERYTHING_BIN,
  FIXTURE_SERVER_ARGS,
  TINY_SERVER_PATH,
  childPids,
  isProcessAlive,
  runningProcesses,
  waitForProcessExit,
} from '../../helpers/mcp-processes.js';
import { SANDBOX_HOME } from '../../../shared/mcp/sandbox/bwrap-command.js';
import { sandboxedConnection } from '../../helpers/sandboxed.js';

const execFileAsync = promisify(execFile);
const silent = createLogger({ level: 'silent' });
const open: Array<{ close(): Promise<void> }> = [];

type StdioInput = Omit<Extract<McpServerConfigInput, { transport: 'stdio' }>, 'transport'>;

function stdio(input: StdioInput, options: Partial<McpConnectionOptions> = {}): McpConnection {
  const connection = sandboxedConnection(
    mcpServerConfigSchema.parse({ transport: 'stdio', sandbox: { network: 'none' }, ...input }),
    { logger: silent, ...options },
  );
  open.push(connection);
  return connection;
}

/**
 * An UNSANDBOXED connection (the library default), for the tests of how the transport ends a
 * plain child's process group; the sandbox ends its servers through its init instead.
 */
function unsandboxed(
  input: StdioInput,
  options: Partial<McpConnectionOptions> = {},
): McpConnection {
  // Unsandboxed on purpose: these tests watch the server's own process group from the host.
  const connection = new McpConnection(
    mcpServerConfigSchema.parse({ transport: 'stdio', ...input }),
    {
      logger: silent,
      ...options,
    },
  );
  open.push(connection);
  return connection;
}

const TINY: StdioInput = { command: process.execPath, args: [TINY_SERVER_PATH] };

interface LogLine {
  level: number;
  msg: string;
  [field: string]: unknown;
}

/** A logger whose lines are kept, parsed, in `lines`. */
function capturingLogger(): { logger: Logger; lines: LogLine[] } {
  const lines: LogLine[] = [];
  const logger = createLogger({
    level: 'debug',
    destination: { write: (line: string) => void lines.push(JSON.parse(line) as LogLine) },
  });
  return { logger, lines };
}

afterEach(async () => {
  vi.unstubAllEnvs();
  await Promise.all(open.splice(0).map((item) => item.close()));
});

describe('stdio server environment', () => {
  it('is the fixed minimal environment with the configured env on top, and nothing of the parent but TZ', () => {
    const env = stdioEnvironment({
      env: { API_TOKEN: 'configured', LANG: 'de_DE.UTF-8' },
      home: '/srv/switchboard/servers/7',
      tmpdir: '/tmp',
      searchPath: ['/opt/node/bin', '/usr/bin'],
      parentEnv: {
        PATH: '/home/agent/evil:/usr/bin',
        HOME: '/home/agent',
        TZ: 'Europe/Berlin',
        NODE_OPTIONS: '--require /tmp/evil.cjs',
        OPENAI_API_KEY: 'sk-secret',
        DATABASE_URL: 'postgres://user:pw@db/switchboard',
      },
    });

    expect(env).toEqual({
      PATH: '/opt/node/bin:/usr/bin',
      HOME: '/srv/switchboard/servers/7',
      TMPDIR: '/tmp',
      LANG: 'de_DE.UTF-8',
      LC_ALL: 'C.UTF-8',
      TZ: 'Europe/Berlin',
      API_TOKEN: 'configured',
    });
  });

  it('puts the running node directory first on the fixed PATH, then the system directories', () => {
    expect(fixedSearchPath('/usr/bin/node')).toEqual([
      '/usr/bin',
      '/usr/local/sbin',
      '/usr/local/bin',
      '/usr/sbin',
      '/sbin',
      '/bin',
    ]);
    expect(stdioEnvironment().PATH).toBe(fixedSearchPath().join(':'));
  });

  it('refuses a configured name that changes how programs are loaded', () => {
    expect(() => stdioEnvironment({ env: { LD_PRELOAD: '/tmp/evil.so' } })).toThrow(
      EnvRefusedError,
    );
    expect(() => stdioEnvironment({ env: { NODE_OPTIONS: '--require x' } })).toThrow(
      /env NODE_OPTIONS is refused: it makes node load other code/,
    );
  });

  it('runs node from the fixed PATH and gives it the fixed PATH, whatever the parent PATH and NODE_OPTIONS (get-env)', async () => {
    // A fake `node` first on the parent's PATH, which the old lookup would have run.
    const evil = mkdtempSync(path.join(os.tmpdir(), 'switchboard-evil-path-'));
    const ran = path.join(evil, 'ran');
    writeFileSync(path.join(evil, 'node'), `#!/bin/sh\necho evil > '${ran}'\nexit 1\n`);
    chmodSync(path.join(evil, 'node'), 0o755);
    try {
      vi.stubEnv('PATH', `${evil}:${process.env.PATH ?? ''}`);
      vi.stubEnv('NODE_OPTIONS', `--require ${path.join(evil, 'missing.cjs')}`);
      vi.stubEnv('OPENAI_API_KEY', 'planted-secret');
      vi.stubEnv('LIVEKIT_API_SECRET', 'planted-secret-too');
      const conn = stdio({
        command: 'node',
        args: [EVERYTHING_BIN, 'stdio'],
        env: { CONFIGURED_VALUE: 'from-config' },
      });
      await conn.connect();

      const result = await conn.callTool('get-env', {});

      const text = (result.content[0] as { text: string }).text;
      const childEnv = JSON.parse(text) as Record<string, string>;
      expect(text).not.toContain('planted-secret');
      expect(existsSync(ran)).toBe(false);
      // Inside the sandbox: its home and /tmp, and the Wasm flag of stdio-sandbox.ts if known.
      expect(childEnv).toEqual({
        PATH: fixedSearchPath().join(':'),
        HOME: SANDBOX_HOME,
        PWD: SANDBOX_HOME,
        TMPDIR: '/tmp',
        ...(process.allowedNodeEnvironmentFlags.has('--disable-wasm-trap-handler')
          ? { NODE_OPTIONS: '--disable-wasm-trap-handler' }
          : {}),
        LANG: 'C.UTF-8',
        LC_ALL: 'C.UTF-8',
        ...(process.env.TZ ? { TZ: process.env.TZ } : {}),
        CONFIGURED_VALUE: 'from-config',
      });
    } finally {
      rmSync(evil, { recursive: true, force: true });
    }
  });

  it('does not start a server whose config holds a refused name, even one built past the schema', async () => {
    const marker = path.join(os.tmpdir(), `switchboard-never-ran-${process.pid}`);
    const conn = sandboxedConnection(
      {
        transport: 'stdio',
        sandbox: { network: 'none' },
        command: 'node',
        args: ['-e', `require('fs').writeFileSync(${JSON.stringify(marker)}, 'ran')`],
        env: { NODE_OPTIONS: '--no-warnings' },
        timeoutMs: 30_000,
      },
      { logger: silent },
    );
    open.push(conn);
    await expect(conn.connect()).rejects.toThrow(/env NODE_OPTIONS is refused/);
    expect(existsSync(marker)).toBe(false);
  });
});

describe('writing to a stdio server', () => {
  it('writes a lone message at once, and the messages sent in one tick after it in one write', async () => {
    const transport = new StdioProcessTransport({
      command: process.execPath,
      args: [TINY_SERVER_PATH],
    });
    open.push(transport);
    const answered = new Map<number, () => void>();
    transport.onmessage = (message) => {
      if ('id' in message && typeof message.id === 'number') answered.get(message.id)?.();
    };
    await transport.start();
    const request = (id: number) => {
      const answer = new Promise<void>((resolve) => answered.set(id, resolve));
      const sent = transport.send({ jsonrpc: '2.0', id, method: 'ping' });
      return { sent, answer };
    };
    // Every socket's writes are watched, for this test's sends only.
    const write = vi.spyOn(net.Socket.prototype, '_write');
    const writev = vi.spyOn(net.Socket.prototype, '_writev');
    try {
      const lone = request(1);
      // Handed to the pipe before the caller's tick ends.
      expect(write).toHaveBeenCalledTimes(1);
      await Promise.all([lone.sent, lone.answer]);
      write.mockClear();

      const burst = [2, 3, 4, 5, 6].map(request);
      expect(write).toHaveBeenCalledTimes(1);
      expect(writev).not.toHaveBeenCalled();
      await Promise.all(burst.map((item) => item.sent));
      // The four after the first went out together when the tick ended.
      expect(write).toHaveBeenCalledTimes(1);
      expect(writev).toHaveBeenCalledTimes(1);
      expect(writev.mock.calls[0]![0]).toHaveLength(4);
      // Each arrived whole: the server answered every one.
      await Promise.all(burst.map((item) => item.answer));
    } finally {
      write.mockRestore();
      writev.mockRestore();
    }
  });
});

describe('ending stdio servers', () => {
  it('ends the shell, the server and a background grandchild of a server started through sh -c', async () => {
    // Unsandboxed: counts the members of the server's process group on the host.
    const conn = unsandboxed({
      command: 'sh',
      args: ['-c', 'sleep 300 & "$0" "$1" stdio; exit $?', process.execPath, EVERYTHING_BIN],
    });
    await conn.connect();
    // The server behind the shell answers.
    expect((await conn.listTools()).length).toBeGreaterThan(0);
    const group = runningProcesses().filter((row) => row.pgid === conn.pid);
    expect(group).toHaveLength(3);

    await conn.close();

    for (const member of group) expect(await waitForProcessExit(member.pid)).toBe(true);
    expect(runningProcesses().filter((row) => row.pgid === group[0]!.pgid)).toEqual([]);
  });

  it('kills a server that ignores its stdin closing and SIGTERM with SIGKILL after the grace', async () => {
    const { logger, lines } = capturingLogger();
    // Unsandboxed: the SIGTERM-then-SIGKILL grace applies to a plain child's process group.
    const conn = unsandboxed(
      {
        command: process.execPath,
        args: FIXTURE_SERVER_ARGS,
        env: { FIXTURE_IGNORE_STDIN_CLOSE: '1', FIXTURE_IGNORE_SIGTERM: '1' },
      },
      { logger, killGraceMs: 200 },
    );
    await conn.connect();
    const pid = conn.pid!;

    await conn.close();

    expect(await waitForProcessExit(pid)).toBe(true);
    expect(lines.filter((line) => /sending SIGKILL/.test(line.msg))).toHaveLength(1);
  });

  it('leaves no child process behind after 200 open/close cycles', async () => {
    const limiter = new StdioProcessLimiter();
    const childrenBefore = childPids();
    const pids: number[] = [];
    let started = 0;
    const cycle = async () => {
      while (started < 200) {
        started++;
        const conn = sandboxedConnection(
          mcpServerConfigSchema.parse({
            transport: 'stdio',
            sandbox: { network: 'none' },
            ...TINY,
          }),
          {
            logger: silent,
            stdioLimiter: limiter,
          },
        );
        await conn.connect();
        pids.push(conn.pid!);
        await conn.close();
      }
    };

    await Promise.all(Array.from({ length: 6 }, cycle));

    expect(new Set(pids).size).toBe(200);
    expect(limiter.active).toBe(0);
    expect(childPids().filter((pid) => !childrenBefore.includes(pid))).toEqual([]);
    expect(pids.filter(isProcessAlive)).toEqual([]);
  }, 60_000);

  it('kills the server of an owner process that exits without closing it', async () => {
    const owner = fileURLToPath(new URL('../../fixtures/exit-without-close.ts', import.meta.url));
    const { stdout } = await execFileAsync(process.execPath, [
      ...FIXTURE_SERVER_ARGS.slice(0, 2),
      owner,
    ]);

    const pid = Number(stdout.trim());
    expect(pid).toBeGreaterThan(0);
    expect(await waitForProcessExit(pid)).toBe(true);
  });
});

describe('the stdio process limit', () => {
  it('refuses the 33rd stdio server with a clear error, and starts one once another closes', async () => {
    const limiter = new StdioProcessLimiter({
      maxProcesses: loadSettings({}).MCP_MAX_STDIO_PROCESSES,
    });
    const holders = Array.from(
      { length: 32 },
      () => new StdioProcessTransport({ command: 'cat', limiter }),
    );
    open.push(...holders);
    await Promise.all(holders.map((holder) => holder.start()));
    const childrenBefore = childPids();

    const refused = stdio(TINY, { stdioLimiter: limiter });
    await expect(refused.connect()).rejects.toThrow(
      /limit of 32 stdio MCP server processes reached/,
    );
    expect(refused.status).toBe('error');
    expect(childPids()).toEqual(childrenBefore);

    await holders[0]!.close();
    const admitted = stdio(TINY, { stdioLimiter: limiter });
    await expect(admitted.connect()).resolves.toMatchObject({
      serverInfo: { name: 'tiny-stdio-server' },
    });
    expect(limiter.active).toBe(32);
  });
});

describe('stdio server stderr', () => {
  it('cuts and rate-limits a flood of stderr in the log, and counts the suppressed lines once', async () => {
    const { logger, lines } = capturingLogger();
    const floodLines = 2000;
    const conn = stdio(
      {
        command: process.execPath,
        args: FIXTURE_SERVER_ARGS,
        env: { FIXTURE_STDERR_FLOOD: String(floodLines) },
      },
      // A clock that stands still: no token comes back, whatever the machine's speed.
      { logger, now: () => 0 },
    );
    await conn.connect();
    await conn.close();

    const { burstLines, maxLineBytes } = DEFAULT_STDERR_LIMITS;
    const logged = lines.filter((line) => line.msg === 'mcp server stderr');
    expect(logged).toHaveLength(burstLines);
    for (const line of logged) {
      const text = line.stderr as string;
      expect(text).toMatch(/^flood \d+ x+ …\[\d+ more bytes cut\]$/);
      expect(Buffer.byteLength(text)).toBeLessThan(maxLineBytes + 40);
    }
    const suppressed = lines.filter((line) => line.suppressedLines !== undefined);
    expect(suppressed.map((line) => line.suppressedLines)).toEqual([floodLines - burstLines]);
  });
});
