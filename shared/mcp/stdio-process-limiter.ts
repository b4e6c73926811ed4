/**
 * The stdio MCP server processes one Node process owns (DESIGN §6: "capped per process and per
 * user, reaped when it ends, never orphaned"): at most `maxProcesses` run at once
 * (`MCP_MAX_STDIO_PROCESSES`), at most `maxProcessesPerUser` of them for one user
 * (`MCP_MAX_STDIO_PROCESSES_PER_USER`), so one user with many servers cannot take every slot of
 * a process others share (the API's monitor and "test" probes). The limiter knows each process's
 * group, so `killAll()` can end them all when the owner exits without closing them.
 *
 * Create one per process at its entry point (the API's `server/main.ts`, each agent job process)
 * and pass it in the process's `ConnectionGuards` (`stdioLimiter`) to every `McpConnection`; a
 * connection given its server's owner (`ownerId`) takes its slot through the
 * {@link StdioProcessLimiter.forUser} view. A limiter per connection caps nothing.
 */

/** The default of `MCP_MAX_STDIO_PROCESSES`. */
export const DEFAULT_MAX_STDIO_PROCESSES = 32;

/** The default of `MCP_MAX_STDIO_PROCESSES_PER_USER`. */
export const DEFAULT_MAX_STDIO_PROCESSES_PER_USER = 8;

/** What frees a slot when a process does not say: its stdio servers. */
const DEFAULT_FREEING = 'Disable or delete a stdio server';

/** Thrown by {@link StdioProcessLimiter.acquire} when every slot is taken. */
export class StdioProcessLimitError extends Error {
  override readonly name: string = 'StdioProcessLimitError';
  /** The limit that was reached. */
  readonly limit: number;

  /**
   * @param limit the limit reached.
   * @param label the server that was not started.
   * @param freeing what frees a slot in this process, e.g. `Disable or delete a stdio server`.
   */
  constructor(limit: number, label: string, freeing = DEFAULT_FREEING) {
    super(
      `limit of ${limit} stdio MCP server processes reached in this process ` +
        `(MCP_MAX_STDIO_PROCESSES); ${label} was not started. ${freeing}, or raise the limit`,
    );
    this.limit = limit;
  }
}

/**
 * Thrown by {@link StdioProcessLimiter.acquire} when the server's owner already runs
 * `maxProcessesPerUser` stdio servers in this process (other users' servers still start).
 */
export class StdioUserProcessLimitError extends StdioProcessLimitError {
  override readonly name = 'StdioUserProcessLimitError';

  constructor(limit: number, label: string) {
    super(limit, label);
    this.message =
      `limit of ${limit} stdio MCP server processes per user reached in this process ` +
      `(MCP_MAX_STDIO_PROCESSES_PER_USER); ${label} was not started. Disable or delete another ` +
      `of this user's stdio servers, or raise the limit`;
  }
}

/** What a stdio transport takes a slot from: a {@link StdioProcessLimiter} or one user's view. */
export interface StdioProcessAdmission {
  /**
   * Takes a slot for one process, before it is spawned.
   *
   * @param label names the server in the error.
   * @throws StdioProcessLimitError when no slot is free.
   */
  acquire(label: string): StdioProcessSlot;
}

/** One admitted process. */
export interface StdioProcessSlot {
  /** Records the process group the server runs in (its pid: it leads its own group). */
  track(processGroupId: number): void;
  /** Frees the slot once the process group is gone. Safe to call more than once. */
  release(): void;
}

/** What {@link StdioProcessLimiter.killOnExit} listens to; `process` fits. */
export interface ExitEmitter {
  once(event: 'exit', listener: () => void): unknown;
  off(event: 'exit', listener: () => void): unknown;
}

/** Options of {@link StdioProcessLimiter}. */
export interface StdioProcessLimiterOptions {
  /** Processes allowed at once, a positive integer; default {@link DEFAULT_MAX_STDIO_PROCESSES}. */
  maxProcesses?: number;
  /**
   * Processes one user may hold at once through {@link StdioProcessLimiter.forUser}, a positive
   * integer; default {@link DEFAULT_MAX_STDIO_PROCESSES_PER_USER}. Slots taken without a user
   * count only against `maxProcesses`.
   */
  maxProcessesPerUser?: number;
  /**
   * What frees a slot in this process, said when the cap is reached: the API's servers are
   * freed by disabling or deleting one (the default, `Disable or delete a stdio server`), an
   * agent worker's by ending a voice session.
   */
  freeing?: string;
}

/** Caps and tracks the stdio server processes of one Node process. */
export class StdioProcessLimiter implements StdioProcessAdmission {
  readonly maxProcesses: number;
  readonly maxProcessesPerUser: number;
  readonly #freeing: string;
  /** Held slots, each with its process group once spawned. */
  readonly #held = new Map<object, number | undefined>();
  /** Slots held per user id. */
  readonly #perUser = new Map<number, number>();

  /** @throws RangeError when `maxProcesses` or `maxProcessesPerUser` is not a positive integer. */
  constructor(options: StdioProcessLimiterOptions = {}) {
    const max = options.maxProcesses ?? DEFAULT_MAX_STDIO_PROCESSES;
    const perUser = options.maxProcessesPerUser ?? DEFAULT_MAX_STDIO_PROCESSES_PER_USER;
    this.#freeing = options.freeing ?? DEFAULT_FREEING;
    for (const [name, value] of [
      ['maxProcesses', max],
      ['maxProcessesPerUser', perUser],
    ] as const) {
      if (!Number.isInteger(value) || value < 1) {
        throw new RangeError(`${name} must be a positive integer, not ${value}`);
      }
    }
    this.maxProcesses = max;
    this.maxProcessesPerUser = perUser;
  }

  /** Slots one user holds now. */
  activeFor(userId: number): number {
    return this.#perUser.get(userId) ?? 0;
  }

  /**
   * The limiter as one user's servers see it: each slot counts against `maxProcesses` and against
   * that user's `maxProcessesPerUser`. `McpConnection` uses it for a server whose owner it is
   * given (`McpConnectionOptions.ownerId`).
   *
   * @param userId the owner (`users.id`).
   */
  forUser(userId: number): StdioProcessAdmission {
    return { acquire: (label) => this.#acquire(label, userId) };
  }

  /** Slots held now. */
  get active(): number {
    return this.#held.size;
  }

  /**
   * Takes a slot for one process, before it is spawned.
   *
   * @param label names the server in the error.
   * @throws StdioProcessLimitError when `maxProcesses` slots are held.
   */
  acquire(label: string): StdioProcessSlot {
    return this.#acquire(label, undefined);
  }

  #acquire(label: string, userId: number | undefined): StdioProcessSlot {
    // The user's own cap first: when both are reached, it is the one the user can act on.
    if (userId !== undefined && this.activeFor(userId) >= this.maxProcessesPerUser) {
      throw new StdioUserProcessLimitError(this.maxProcessesPerUser, label);
    }
    if (this.#held.size >= this.maxProcesses) {
      throw new StdioProcessLimitError(this.maxProcesses, label, this.#freeing);
    }
    const key = {};
    this.#held.set(key, undefined);
    if (userId !== undefined) this.#perUser.set(userId, this.activeFor(userId) + 1);
    return {
      track: (processGroupId) => {
        if (this.#held.has(key)) this.#held.set(key, processGroupId);
      },
      release: () => {
        if (!this.#held.delete(key) || userId === undefined) return;
        const left = this.activeFor(userId) - 1;
        if (left > 0) this.#perUser.set(userId, left);
        else this.#perUser.delete(userId);
      },
    };
  }

  /**
   * Sends `signal` to every tracked process group, synchronously (so it can run in an `exit`
   * listener). Errors (a group already gone) are ignored. On Windows, which has no process
   * groups, only the processes themselves are signalled.
   *
   * @param signal default `SIGKILL`: at exit there is no time to wait for a graceful end.
   * @returns how many groups were signalled.
   */
  killAll(signal: NodeJS.Signals = 'SIGKILL'): number {
    let signalled = 0;
    for (const group of this.#held.values()) {
      if (group === undefined) continue;
      try {
        process.kill(process.platform === 'win32' ? group : -group, signal);
        signalled++;
      } catch {
        // Already gone.
      }
    }
    return signalled;
  }

  /**
   * Kills every tracked process group (SIGKILL) when `target` emits `exit`: a crash or a
   * `process.exit()` that skipped closing the connections then leaves no server behind. Nothing
   * runs when the owner itself is killed with SIGKILL; its servers then see their stdin close,
   * which ends a well-behaved server (MCP spec, "Lifecycle › Shutdown").
   *
   * @param target default `process`.
   * @returns a function that removes the listener.
   */
  killOnExit(target: ExitEmitter = process): () => void {
    const listener = () => void this.killAll('SIGKILL');
    target.once('exit', listener);
    return () => void target.off('exit', listener);
  }
}
