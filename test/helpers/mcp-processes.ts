/**
 * Real MCP server processes for tests: `@modelcontextprotocol/server-everything` over HTTP (SSE or
 * Streamable HTTP) on a port the kernel picks, and the command lines of stdio servers.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { resolvePackageBin } from '../../server/accounts/demo-servers.js';

const require = createRequire(import.meta.url);

/** Absolute path of server-everything's executable (`node <bin> stdio|sse|streamableHttp`). */
export const EVERYTHING_BIN = resolvePackageBin('@modelcontextprotocol/server-everything');

/** The repository root. */
export const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** `node` arguments that run `test/fixtures/stdio-fixture-server.ts` through tsx. */
export const FIXTURE_SERVER_ARGS: string[] = [
  '--import',
  pathToFileURL(require.resolve('tsx/esm')).href,
  fileURLToPath(new URL('../fixtures/stdio-fixture-server.ts', import.meta.url)),
];

/** Path of `test/fixtures/tiny-stdio-server.mjs` (run with plain `node`; starts in tens of ms). */
export const TINY_SERVER_PATH = fileURLToPath(
  new URL('../fixtures/tiny-stdio-server.mjs', import.meta.url),
);

const PORT_REPORTER = pathToFileURL(
  fileURLToPath(new URL('./report-listening-port.mjs', import.meta.url)),
).href;

/** A server-everything HTTP process. */
export interface EverythingHttpServer {
  /** `http://127.0.0.1:<port>` */
  origin: string;
  pid: number;
  /** Ends the process and waits until it has exited. Safe to call more than once. */
  stop(): Promise<void>;
}

/**
 * Starts server-everything in `sse` (GET /sse, POST /message) or `streamableHttp` (/mcp) mode on
 * `listenPort` (default 0: the kernel picks one), and resolves once it listens.
 *
 * @throws Error when the process exits or fails to start before it listens; the message carries
 *   its stderr.
 */
export async function startEverythingHttpServer(
  mode: 'sse' | 'streamableHttp',
  listenPort = 0,
): Promise<EverythingHttpServer> {
  const child = spawn(process.execPath, ['--import', PORT_REPORTER, EVERYTHING_BIN, mode], {
    env: { ...process.env, PORT: String(listenPort) },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  const port = await new Promise<number>((resolve, reject) => {
    let stderr = '';
    const onData = (chunk: Buffer) => {
      stderr += chunk.toString('utf8');
      const match = /^LISTENING (\d+)$/m.exec(stderr);
      if (match) {
        cleanup();
        resolve(Number(match[1]));
      }
    };
    const onExit = (code: number | null, signal: NodeJS.Signals | null) => {
      cleanup();
      reject(
        new Error(
          `server-everything ${mode} exited (${code ?? signal}) before listening: ${stderr}`,
        ),
      );
    };
    const onError = (error: Error) => {
      cleanup();
      reject(error);
    };
    const cleanup = () => {
      child.stderr?.off('data', onData);
      child.off('exit', onExit);
      child.off('error', onError);
    };
    child.stderr?.on('data', onData);
    child.once('exit', onExit);
    child.once('error', onError);
  });
  // Keep draining stderr so a chatty server never blocks on a full pipe.
  child.stderr?.resume();
  return { origin: `http://127.0.0.1:${port}`, pid: child.pid!, stop: () => stopProcess(child) };
}

/** Sends SIGTERM (then SIGKILL after `graceMs`) and resolves once the process has exited. */
export async function stopProcess(child: ChildProcess, graceMs = 5_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}

/**
 * Sends `signal` to `pid` unless it has already gone: a process that exits between a check and
 * the kill (ESRCH) is what the caller wanted anyway. Other errors are thrown.
 *
 * @returns true when the signal was delivered.
 */
export function signalIfAlive(pid: number, signal: NodeJS.Signals): boolean {
  try {
    process.kill(pid, signal);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ESRCH') return false;
    throw error;
  }
}

/**
 * True while a process with this id runs (signal 0 probes without signalling). A zombie counts as
 * gone: an orphaned grandchild that exited stays one for good under an init that does not reap.
 */
export function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (error) {
    return (error as NodeJS.ErrnoException).code !== 'ESRCH';
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !/^[ZX]/.test(stat.slice(stat.lastIndexOf(')') + 2));
  } catch {
    // No /proc (not Linux), or the process ended just now.
    return process.platform !== 'linux';
  }
}

/** A running (not zombie) process, as `ps` lists it. */
export interface ProcessRow {
  pid: number;
  ppid: number;
  pgid: number;
}

/**
 * Every running process (zombies and this `ps` itself left out), read with `ps`, independently of
 * the code under test.
 */
export function runningProcesses(): ProcessRow[] {
  const output = execFileSync('ps', ['-e', '-o', 'pid=,ppid=,pgid=,stat=,comm='], {
    encoding: 'utf8',
  });
  return output
    .split('\n')
    .map((line) => line.trim().split(/\s+/))
    .filter(([, , , stat, comm]) => stat !== undefined && !stat.startsWith('Z') && comm !== 'ps')
    .map(([pid, ppid, pgid]) => ({ pid: Number(pid), ppid: Number(ppid), pgid: Number(pgid) }));
}

/**
 * Every running process below `pid` (children, grandchildren…), from {@link runningProcesses}:
 * read independently of the code that started them; zombies (exited) left out.
 *
 * @param pid the ancestor; default this process.
 */
export function descendantPids(pid = process.pid): number[] {
  const rows = runningProcesses();
  const found: number[] = [];
  const queue = [pid];
  while (queue.length > 0) {
    const parent = queue.shift()!;
    for (const row of rows) {
      if (row.ppid === parent && row.pid !== pid) {
        found.push(row.pid);
        queue.push(row.pid);
      }
    }
  }
  return found;
}

/** A TCP port of 127.0.0.1 that was free a moment ago (listened on, then closed). */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** Ids of the running child processes of `parentPid` (default this process), in ascending order. */
export function childPids(parentPid = process.pid): number[] {
  return runningProcesses()
    .filter((row) => row.ppid === parentPid)
    .map((row) => row.pid);
}

/**
 * Waits until the process is gone, checking every `intervalMs`, at most `attempts` times.
 *
 * @returns true when it is gone, false when it still runs after the last attempt.
 */
export async function waitForProcessExit(
  pid: number,
  { attempts = 100, intervalMs = 50 } = {},
): Promise<boolean> {
  for (let attempt = 0; attempt < attempts; attempt++) {
    if (!isProcessAlive(pid)) return true;
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
  return !isProcessAlive(pid);
}
