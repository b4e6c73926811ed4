/**
 * The stdio MCP server processes one Node process owns (DESIGN §6: "capped per worker, reaped
 * when the session ends, never orphaned"): at most `maxProcesses` run at once
 * (`MCP_MAX_STDIO_PROCESSES`), and the limiter knows each one's process group, so `killAll()` can
 * end them all when the owner exits without closing them.
 *
 * Create one per process at its entry point (the API's `server/main.ts`, each agent job process)
 * and pass it to every `McpConnection` (option `stdioLimiter`); a limiter per connection caps
 * nothing.
 */

/** The default of `MCP_MAX_STDIO_PROCESSES`. */
export const DEFAULT_MAX_STDIO_PROCESSES = 32;

/** Thrown by {@link StdioProcessLimiter.acquire} when every slot is taken. */
export class StdioProcessLimitError extends Error {
  override readonly name = 'StdioProcessLimitError';
  /** The limit that was reached. */
  readonly limit: number;

  constructor(limit: number, label: string) {
    super(
      `limit of ${limit} stdio MCP server processes reached in this process ` +
        `(MCP_MAX_STDIO_PROCESSES); ${label} was not started. Close a session or raise the limit`,
    );
    this.limit = limit;
  }
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
}

/** Caps and tracks the stdio server processes of one Node process. */
export class StdioProcessLimiter {
  readonly maxProcesses: number;
  /** Held slots, each with its process group once spawned. */
  readonly #held = new Map<object, number | undefined>();

  /** @throws RangeError when `maxProcesses` is not a positive integer. */
  constructor(options: StdioProcessLimiterOptions = {}) {
    const max = options.maxProcesses ?? DEFAULT_MAX_STDIO_PROCESSES;
    if (!Number.isInteger(max) || max < 1) {
      throw new RangeError(`maxProcesses must be a positive integer, not ${max}`);
    }
    this.maxProcesses = max;
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
    if (this.#held.size >= this.maxProcesses) {
      throw new StdioProcessLimitError(this.maxProcesses, label);
    }
    const key = {};
    this.#held.set(key, undefined);
    return {
      track: (processGroupId) => {
        if (this.#held.has(key)) this.#held.set(key, processGroupId);
      },
      release: () => {
        this.#held.delete(key);
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
