/**
 * The client side of the MCP stdio transport (MCP spec 2025-11-25, "Transports › stdio"): spawns
 * the server and exchanges newline-delimited JSON-RPC over its stdin and stdout. Messages are
 * written and parsed with the SDK's own functions (`serializeMessage`, `deserializeMessage`);
 * lines are split by a {@link BoundedLineReader}, which refuses a message longer than
 * `maxMessageBytes` while it arrives (`MCP_MAX_MESSAGE_BYTES`).
 *
 * Why not the SDK's `StdioClientTransport` as it is: it spawns the server in our own process
 * group and, on close, signals only that direct child (stdin closed, 2 s, SIGTERM, 2 s,
 * SIGKILL). A server started through `npx`, `uvx`, `sh -c` or a wrapper script runs as a
 * grandchild that those signals never reach, and it lingers; enough sessions later the machine
 * runs out of memory (DESIGN §8, MetaMCP). This transport spawns the server `detached`, i.e. as
 * the leader of a new process group (POSIX `setsid`), and signals the whole group with
 * `kill(-pgid, signal)`, both on `close()` and when the server's main process exits by itself
 * (so a dead `npx` leaves no orphaned server behind). It also takes its environment from
 * {@link stdioEnvironment} on purpose rather than by default, makes the grace period
 * configurable, and holds a slot of a `StdioProcessLimiter` while the group lives.
 *
 * Being its own process group, the server no longer gets the terminal's Ctrl-C: the owner ends it
 * through `close()` or the limiter's `killOnExit`.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { rmSync } from 'node:fs';
import { readFile, readdir } from 'node:fs/promises';
import { PassThrough, type Writable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { deserializeMessage, serializeMessage } from '@modelcontextprotocol/sdk/shared/stdio.js';
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import type { JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js';
import type { Logger } from '../logger.js';
import { BoundedLineReader } from './bounded-line-reader.js';
import { DEFAULT_MAX_MESSAGE_BYTES } from './message-limit.js';
import { stdioEnvironment } from './stdio-environment.js';
import type { StdioProcessAdmission, StdioProcessSlot } from './stdio-process-limiter.js';
import type { SandboxConfig } from './server-config.js';
import { BLOCK_FD, INFO_FD } from './sandbox/bwrap-command.js';
import type { OutboundNetwork } from './sandbox/outbound-network.js';
import type { SandboxLaunch, StdioSandbox } from './sandbox/stdio-sandbox.js';

/** The default of {@link StdioProcessTransportOptions.killGraceMs}. */

/**
 * A line on a stdio server's stdout that is not a JSON-RPC message: MCP's stdio transport keeps
 * stdout for messages only (logs belong on stderr). `line` holds its first 200 characters.
 */
export class StrayStdoutError extends Error {
  override readonly name = 'StrayStdoutError';
  readonly line: string;

  /**
   * @param line the whole line as read.
   * @param cause why it could not be read as a message (a JSON or schema error).
   */
  constructor(line: string, cause: unknown) {
    const shown = line.length > 200 ? `${line.slice(0, 200)}…` : line;
    super(`the server wrote non-JSON to stdout: ${JSON.stringify(shown)}`, { cause });
    this.line = shown;
  }
}

export const DEFAULT_KILL_GRACE_MS = 2_000;

/** How often a signalled process group is checked for survivors, in milliseconds. */
const GROUP_POLL_MS = 25;

/** Windows has no process groups to signal; there the direct child alone is signalled. */
const USE_PROCESS_GROUPS = process.platform !== 'win32';

/** Options of {@link StdioProcessTransport}. */
export interface StdioProcessTransportOptions {
  /**
   * The executable: an absolute path, or a name looked up in the child's `PATH` (Switchboard's
   * fixed search path, see `fixedSearchPath`). `McpConnection` passes the path it resolved.
   */
  command: string;
  args?: readonly string[];
  /** Set on top of the safe environment of {@link stdioEnvironment}. */
  env?: Readonly<Record<string, string>>;
  /** Working directory; default the parent's. */
  cwd?: string;
  /**
   * Milliseconds the server gets to exit after its stdin closes, and its process group again
   * after SIGTERM, before SIGKILL; default {@link DEFAULT_KILL_GRACE_MS}.
   */
  killGraceMs?: number;
  /**
   * Caps and tracks this process's stdio servers (a `StdioProcessLimiter`, or its `forUser` view);
   * default none (no cap, no exit hook).
   */
  limiter?: StdioProcessAdmission;
  /** Names the server in the limiter's error and in logs; default `command`. */
  label?: string;
  /** Logs a server that had to be killed; default none. */
  logger?: Logger;
  /**
   * Largest message (one line) accepted from the server, in bytes; default
   * `DEFAULT_MAX_MESSAGE_BYTES` (4 MiB). A longer one fails with `McpMessageTooLargeError`
   * (through `onerror`) and closes the transport.
   */
  maxMessageBytes?: number;
  /**
   * Runs the server in this bubblewrap sandbox (see `sandbox/stdio-sandbox.ts`); `cwd` is then a
   * path inside the sandbox. Default none: the server runs as a plain child process.
   */
  sandbox?: StdioSandbox;
  /** The server's `sandbox` config (network, mounts, limits); default `{}`. */
  sandboxConfig?: SandboxConfig;
  /** The server's id, naming its private directory and host uid in the sandbox. */
  serverId?: number;
}

/**
 * An MCP client transport over a child process in its own process group. `start()` spawns it,
 * `close()` ends the whole group: stdin closed, up to `killGraceMs` for the server to exit, then
 * SIGTERM to the group, up to `killGraceMs` more, then SIGKILL (MCP spec, "Lifecycle › Shutdown").
 */
export class StdioProcessTransport implements Transport {
  onclose?: () => void;
  onerror?: (error: Error) => void;
  onmessage?: (message: JSONRPCMessage) => void;

  readonly #options: StdioProcessTransportOptions;
  readonly #graceMs: number;
  readonly #lines: BoundedLineReader;
  /** Set once a message was too large: what the server writes after it is ignored. */
  #refused = false;
  readonly #stderr = new PassThrough();
  #child?: ChildProcess;
  #slot?: StdioProcessSlot;
  #exited?: Promise<void>;
  /** Settles on the child's `close`: it exited and its stdio pipes closed. */
  #closed?: Promise<void>;
  #ending?: Promise<void>;
  #finished?: Promise<void>;
  #closing?: Promise<void>;
  /** Messages sent in the current tick (see {@link send}). */
  #tickSends = 0;
  /** The sandbox's outbound network while the server runs. */
  #network?: OutboundNetwork;
  /** How the sandboxed server was started (its hosts file is removed at the end). */
  #launch?: SandboxLaunch;
  /**
   * The host pid of the sandbox's init (bwrap's `child-pid`): in its own session, so the group
   * signals miss it; killing it ends every process of the sandbox's PID namespace.
   */
  #sandboxPid?: number;

  constructor(options: StdioProcessTransportOptions) {
    this.#options = options;
    this.#graceMs = options.killGraceMs ?? DEFAULT_KILL_GRACE_MS;
    this.#lines = new BoundedLineReader(options.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES);
  }

  /** The server's process id (and process group id) while its main process runs, else `null`. */
  get pid(): number | null {
    const child = this.#child;
    if (!child?.pid || child.exitCode !== null || child.signalCode !== null) return null;
    return child.pid;
  }

  /**
   * How the server's process ended, once it has: `exited with code 1`, `was killed by SIGKILL`;
   * undefined while it runs or before it started. A sandboxed server's code is bubblewrap's,
   * which passes on the server's own (128 + n for a signal n inside the sandbox).
   */
  get exit(): string | undefined {
    const child = this.#child;
    if (!child) return undefined;
    if (child.signalCode !== null) return `was killed by ${child.signalCode}`;
    if (child.exitCode !== null) return `exited with code ${child.exitCode}`;
    return undefined;
  }

  /**
   * The server's stderr, available before `start()` so no early output is missed (as the SDK's).
   * It is drained even when nobody listens, so a chatty server never blocks on a full pipe.
   */
  get stderr(): PassThrough {
    return this.#stderr;
  }

  /**
   * Spawns the server; resolves once it runs.
   *
   * @throws StdioProcessLimitError when the limiter has no free slot (nothing is spawned);
   *   the spawn error (`ENOENT` for a missing command) when the process cannot start.
   */
  async start(): Promise<void> {
    if (this.#child) throw new Error('StdioProcessTransport already started; create a new one');
    const { command, args = [], env, cwd, limiter, sandbox } = this.#options;
    const slot = limiter?.acquire(this.#options.label ?? command);
    let launch: SandboxLaunch | undefined;
    let child: ChildProcess;
    try {
      const environment = stdioEnvironment({ env });
      if (sandbox) {
        launch = await sandbox.prepare({
          serverId: this.#options.serverId,
          command,
          args,
          cwd,
          path: environment.PATH,
          sandbox: this.#options.sandboxConfig ?? {},
        });
      }
      // Sandboxed: fd 3 carries bwrap's info (the sandbox's init), fd 4 its go-ahead.
      const extra = launch ? (launch.network ? ['pipe', 'pipe'] : ['pipe']) : [];
      child = spawn(launch?.command ?? command, launch ? launch.args : [...args], {
        // Sandboxed, cwd is a path inside the sandbox (bwrap --chdir); prlimit starts in its home.
        cwd: launch ? launch.home : cwd,
        env: environment,
        stdio: ['pipe', 'pipe', 'pipe', ...extra] as ('pipe' | 'ignore')[],
        detached: USE_PROCESS_GROUPS,
        shell: false,
        windowsHide: true,
      });
    } catch (error) {
      slot?.release();
      removeHostsFile(launch);
      throw error;
    }
    this.#child = child;
    this.#launch = launch;
    this.#slot = slot;
    this.#exited = new Promise((resolve) => child.once('exit', () => resolve()));
    // The main process ending does not end its group: reap what it left behind.
    child.once('exit', () => void this.#endGroup());
    this.#closed = new Promise((resolve) => child.once('close', () => resolve()));
    this.#finished = this.#closed
      .then(() => this.#finish())
      .catch((error: unknown) => this.onerror?.(error as Error));
    child.stdout?.on('data', (chunk: Buffer) => this.#onStdout(chunk));
    child.stdout?.on('error', (error) => this.onerror?.(error));
    child.stdin?.on('error', (error) => this.onerror?.(error));
    // bwrap's info and go-ahead pipes: a bwrap that dies early resets them (ECONNRESET, EPIPE);
    // its exit is what reports the failure, so their errors are only logged.
    for (const fd of launch ? child.stdio.slice(3) : []) {
      (fd as NodeJS.EventEmitter | null)?.on('error', (error: Error) =>
        this.#options.logger?.debug({ err: error }, 'sandbox control pipe error'),
      );
    }
    child.stderr?.on('data', (chunk: Buffer) => {
      if (!this.#stderr.writableEnded) this.#stderr.write(chunk);
    });
    child.stderr?.once('close', () => {
      if (!this.#stderr.writableEnded) this.#stderr.end();
    });
    if (this.#stderr.listenerCount('data') === 0 && this.#stderr.listenerCount('readable') === 0) {
      this.#stderr.resume();
    }

    await new Promise<void>((resolve, reject) => {
      let spawned = false;
      child.on('error', (error) => {
        if (spawned) this.onerror?.(error);
        else reject(error);
      });
      child.once('spawn', () => {
        spawned = true;
        if (child.pid !== undefined) slot?.track(child.pid);
        resolve();
      });
    });
    if (launch) {
      try {
        this.#sandboxPid = await sandboxInitPid(child);
        if (launch.network) {
          this.#network = await attachNetwork(
            child,
            this.#sandboxPid,
            launch.network,
            this.#options.logger,
          );
        }
      } catch (error) {
        await this.close();
        throw error;
      }
    }
  }

  /**
   * Writes one message to the server's stdin; resolves once it is handed to the pipe.
   *
   * The first message of a tick is written at once (a lone call loses no time); the others sent
   * in the same tick (many calls in flight, answered together) are corked and go out in one
   * write when the tick ends (Node's `cork()`/`uncork()` on `process.nextTick`, as its stream
   * documentation shows): one system call, and one wake-up of the server, instead of one per
   * message (`npm run bench`, `toolCallOverhead.stdio.throughput16Ratio`).
   */
  send(message: JSONRPCMessage): Promise<void> {
    const stdin = this.#child?.stdin;
    if (!stdin?.writable || this.#closing) return Promise.reject(new Error('Not connected'));
    this.#tickSends += 1;
    if (this.#tickSends === 1) process.nextTick(StdioProcessTransport.#endTick, this, stdin);
    else if (this.#tickSends === 2) stdin.cork();
    return new Promise((resolve, reject) => {
      stdin.write(serializeMessage(message), (error) => (error ? reject(error) : resolve()));
    });
  }

  /** Ends a tick of {@link send}: writes what was corked. */
  static #endTick(transport: StdioProcessTransport, stdin: Writable): void {
    if (transport.#tickSends > 1) stdin.uncork();
    transport.#tickSends = 0;
  }

  /** Ends the server's whole process group (see the class comment). Safe to call more than once. */
  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    const child = this.#child;
    if (!child) {
      this.#lines.clear();
      return;
    }
    if (child.pid !== undefined) {
      child.stdin?.end();
      await this.#within(this.#exited!, this.#graceMs);
      await this.#endGroup();
    }
    await this.#finished;
  }

  #onStdout(chunk: Buffer): void {
    if (this.#refused) return;
    try {
      this.#lines.append(chunk, (line) => this.#onLine(line));
    } catch (error) {
      // A message larger than maxMessageBytes: the rest of the stream can no longer be framed.
      this.#refused = true;
      this.onerror?.(error as Error);
      void this.close();
    }
  }

  #onLine(line: string): void {
    let message: JSONRPCMessage;
    try {
      message = deserializeMessage(line);
    } catch (error) {
      // A line that is not JSON-RPC (stray output on stdout): reported, and skipped.
      this.onerror?.(new StrayStdoutError(line, error));
      return;
    }
    try {
      this.onmessage?.(message);
    } catch (error) {
      // A handler's failure is reported; the lines after this one in the chunk still count.
      this.onerror?.(error as Error);
    }
  }

  /** SIGTERM to what is left of the group, then SIGKILL after the grace. Runs once. */
  #endGroup(): Promise<void> {
    this.#ending ??= this.#killGroup();
    return this.#ending;
  }

  async #killGroup(): Promise<void> {
    const child = this.#child;
    const pid = child?.pid;
    if (!child || pid === undefined) return;
    if (await this.#groupAlive(child, pid)) {
      this.#signal(child, pid, 'SIGTERM');
      if (!(await this.#groupGoneWithin(child, pid, this.#graceMs))) {
        this.#options.logger?.warn(
          { pid, killGraceMs: this.#graceMs },
          'stdio server still running after SIGTERM and the grace period; sending SIGKILL',
        );
        this.#signal(child, pid, 'SIGKILL');
      }
    }
    await this.#endSandbox();
    // A process that left the group (its own setsid) may still hold our pipes: stop waiting on them.
    if (!(await this.#within(this.#closed!, this.#graceMs))) {
      this.#options.logger?.warn({ pid }, 'stdio server pipes still open after its group ended');
      child.stdin?.destroy();
      child.stdout?.destroy();
      child.stderr?.destroy();
    }
  }

  /**
   * Kills the sandbox's init, which ends its whole PID namespace, and waits (up to the grace) until
   * it is gone: its exit completes only after every process of the namespace has ended.
   */
  async #endSandbox(): Promise<void> {
    const pid = this.#sandboxPid;
    if (pid === undefined) return;
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      return; // already gone
    }
    const deadline = performance.now() + this.#graceMs;
    while ((await processRunning(pid)) && performance.now() < deadline) {
      await sleep(GROUP_POLL_MS);
    }
  }

  /** After the main process and its pipes closed: the group is reaped, so free the slot. */
  async #finish(): Promise<void> {
    await this.#ending;
    if (this.#stderr.readableFlowing && !this.#stderr.readableEnded) {
      await new Promise((resolve) => this.#stderr.once('end', resolve));
    }
    this.#slot?.release();
    await this.#network?.close().catch((error: unknown) => {
      this.#options.logger?.warn({ err: error }, 'closing a sandbox network failed');
    });
    removeHostsFile(this.#launch);
    this.#lines.clear();
    this.onclose?.();
  }

  #signal(child: ChildProcess, pid: number, signal: NodeJS.Signals): void {
    try {
      if (USE_PROCESS_GROUPS) process.kill(-pid, signal);
      else child.kill(signal);
    } catch {
      // The group ended meanwhile.
    }
  }

  async #groupAlive(child: ChildProcess, pid: number): Promise<boolean> {
    if (!USE_PROCESS_GROUPS) return child.exitCode === null && child.signalCode === null;
    return processGroupAlive(pid);
  }

  async #groupGoneWithin(child: ChildProcess, pid: number, ms: number): Promise<boolean> {
    const deadline = performance.now() + ms;
    while (await this.#groupAlive(child, pid)) {
      const left = deadline - performance.now();
      if (left <= 0) return false;
      await sleep(Math.min(GROUP_POLL_MS, left));
    }
    return true;
  }

  /** Waits for `promise` at most `ms` milliseconds; true when it settled in time. */
  async #within(promise: Promise<void>, ms: number): Promise<boolean> {
    const abort = new AbortController();
    const timeout = sleep(ms, false, { signal: abort.signal }).catch(() => false);
    const settled = await Promise.race([promise.then(() => true), timeout]);
    abort.abort();
    return settled;
  }
}

/**
 * Has the provider route the network namespace of the sandbox's init `pid` (with the launch's
 * `allowDomains` and hosts file; `logger` gets its warnings), then writes to
 * bwrap's `--block-fd` so it runs the server's command.
 *
 * @throws the provider's error.
 */
async function attachNetwork(
  child: ChildProcess,
  pid: number,
  network: NonNullable<SandboxLaunch['network']>,
  logger: Logger | undefined,
): Promise<OutboundNetwork> {
  const block = child.stdio[BLOCK_FD] as NodeJS.WritableStream;
  const attached = await network.provider.attach({
    pid,
    allowDomains: network.allowDomains,
    hostsFile: network.hostsFile,
    logger,
  });
  block.write('1');
  return attached;
}

/** Removes the launch's hosts file (`allowDomains`), if it has one; never throws. */
function removeHostsFile(launch: SandboxLaunch | undefined): void {
  const file = launch?.network?.hostsFile;
  try {
    if (file) rmSync(file, { force: true });
  } catch {
    // Left behind in DATA_DIR/sandbox-hosts: harmless, no sandbox sees it.
  }
}

/** True while process `pid` exists and is not a zombie. */
async function processRunning(pid: number): Promise<boolean> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '');
  if (!stat) return false;
  const state = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0];
  return state !== 'Z' && state !== 'X';
}

/**
 * The host pid of the sandbox's init, from bwrap's `--info-fd` JSON (`child-pid`).
 *
 * @throws Error when bwrap exits before reporting it.
 */
function sandboxInitPid(child: ChildProcess): Promise<number> {
  const info = child.stdio[INFO_FD] as NodeJS.ReadableStream;
  return new Promise<number>((resolve, reject) => {
    let text = '';
    const onData = (chunk: Buffer) => {
      text += chunk.toString('utf8');
      const match = /"child-pid"\s*:\s*(\d+)/.exec(text);
      if (match) {
        info.off('data', onData);
        resolve(Number(match[1]));
      }
    };
    info.on('data', onData);
    info.once('end', () => reject(new Error(`the sandbox ended before it started: ${text}`)));
    child.once('exit', () => reject(new Error('the sandbox ended before it started')));
  });
}

/**
 * True while a process group has a member that still runs. `kill(-pgid, 0)` alone also counts
 * zombies, and an init that does not reap orphans (the init of many containers) keeps those
 * forever; on Linux the members' states are read from `/proc` to tell them apart.
 */
async function processGroupAlive(pgid: number): Promise<boolean> {
  try {
    process.kill(-pgid, 0);
  } catch {
    // ESRCH: no member left. EPERM: members we may not signal, so nothing we could do anyway.
    return false;
  }
  if (process.platform !== 'linux') return true;
  let names: string[];
  try {
    names = await readdir('/proc');
  } catch {
    return true;
  }
  const states = await Promise.all(
    names
      .filter((name) => /^\d+$/.test(name))
      .map((name) => readFile(`/proc/${name}/stat`, 'utf8').catch(() => '')),
  );
  return states.some((stat) => {
    // "pid (comm) state ppid pgrp ...": comm may hold spaces and parentheses.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(fields[2]) === pgid && fields[0] !== 'Z' && fields[0] !== 'X';
  });
}
