/**
 * Stdio servers as real child processes (DESIGN §6, §8): the environment they get, their stderr
 * in the log, the end of their whole process group, the per-process cap, and no process left
 * behind after many sessions or when the owner exits.
 */
import { execFile } from 'node:child_process';
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
  INHERITED_ENV_NAMES,
  stdioServerEnvironment,
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

const execFileAsync = promisify(execFile);
const silent = createLogger({ level: 'silent' });
const open: Array<{ close(): Promise<void> }> = [];

type StdioInput = Omit<Extract<McpServerConfigInput, { transport: 'stdio' }>, 'transport'>;

function stdio(input: StdioInput, options: Partial<McpConnectionOptions> = {}): McpConnection {
  const connection = new McpConnection(
    mcpServerConfigSchema.parse({ transport: 'stdio', ...input }),
    { logger: silent, ...options },
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
  it('keeps only PATH, HOME, locale and time zone of the parent, with the configured env on top', () => {
    const env = stdioServerEnvironment(
      { API_TOKEN: 'configured', LANG: 'de_DE.UTF-8' },
      {
        PATH: '/usr/bin',
        HOME: '/home/agent',
        LANG: 'C.UTF-8',
        LC_TIME: 'en_GB.UTF-8',
        TZ: 'Europe/Berlin',
        OPENAI_API_KEY: 'sk-secret',
        LIVEKIT_API_SECRET: 'secret',
        DATABASE_URL: 'postgres://user:pw@db/switchboard',
        TERM: '() { echo exported function; }',
      },
    );

    expect(env).toEqual({
      PATH: '/usr/bin',
      HOME: '/home/agent',
      LANG: 'de_DE.UTF-8',
      LC_TIME: 'en_GB.UTF-8',
      TZ: 'Europe/Berlin',
      API_TOKEN: 'configured',
    });
  });

  it('never shows a secret planted in the parent environment to the server (get-env)', async () => {
    vi.stubEnv('OPENAI_API_KEY', 'planted-secret');
    vi.stubEnv('LIVEKIT_API_SECRET', 'planted-secret-too');
    const conn = stdio({
      command: process.execPath,
      args: [EVERYTHING_BIN, 'stdio'],
      env: { CONFIGURED_VALUE: 'from-config' },
    });
    await conn.connect();

    const result = await conn.callTool('get-env', {});

    const text = (result.content[0] as { text: string }).text;
    const childEnv = JSON.parse(text) as Record<string, string>;
    expect(text).not.toContain('planted-secret');
    expect(childEnv.CONFIGURED_VALUE).toBe('from-config');
    expect(childEnv.PATH).toBe(process.env.PATH);
    const unexpected = Object.keys(childEnv).filter(
      (name) =>
        !INHERITED_ENV_NAMES.includes(name) && !/^LC_/.test(name) && name !== 'CONFIGURED_VALUE',
    );
    expect(unexpected).toEqual([]);
  });
});

describe('ending stdio servers', () => {
  it('ends the shell, the server and a background grandchild of a server started through sh -c', async () => {
    const conn = stdio({
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
    const conn = stdio(
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
        const conn = new McpConnection(
          mcpServerConfigSchema.parse({ transport: 'stdio', ...TINY }),
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
