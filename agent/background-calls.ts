/**
 * Long-running tool calls that run in the background (README, "Tools that take time or change
 * things"): the conversation goes on while they run, their progress and result are spoken when
 * they arrive, and the user can cancel them by voice.
 *
 * It rides on two agents-js mechanisms. The tools sit in an `llm.AsyncToolset`, so they run on
 * its own `ToolExecutor` and the runtime's `lk_agents_cancel_task` can abort them; and the first
 * `RunContext.update` of a call makes it non-blocking (`voice/run_context.js`): the model hears at
 * once that it started, later updates are spoken as they come, and the return value is delivered
 * as a reply when it arrives.
 */
import { llm } from '@livekit/agents';
import type { Progress } from '@modelcontextprotocol/sdk/types.js';
import type { Logger } from '../shared/logger.js';
import type { CallToolOptions } from '../shared/mcp/index.js';
import { progressPhrase } from './slow-calls.js';
import { backgroundFailedSentence } from './tool-errors.js';

/** Default of {@link BackgroundCallsOptions.progressIntervalMs}, in milliseconds. */
export const DEFAULT_PROGRESS_INTERVAL_MS = 10_000;
/** Smallest timeout of a long-running call, in milliseconds (progress restarts it). */
export const LONG_RUNNING_TIMEOUT_MS = 10 * 60_000;

/** What a background call adds to the MCP call it makes: a progress listener and a timeout. */
export type BackgroundCallExtra = Pick<CallToolOptions, 'onProgress' | 'timeoutMs'>;

/** The runtime's options of one tool call (agents-js `ToolOptions`); `ctx` is absent in benches. */
export type ToolExecuteOptions = Partial<Pick<llm.ToolOptions, 'ctx'>> &
  Pick<llm.ToolOptions, 'abortSignal' | 'toolCallId'>;

/** Options of {@link BackgroundCalls}. */
export interface BackgroundCallsOptions {
  /** Id of the nested `AsyncToolset`, unique in the session (e.g. `mcp-server-7-background`). */
  id: string;
  /** The server's display name, used in what the model hears. */
  serverName: string;
  /**
   * Shortest time between two spoken progress updates of one call, in milliseconds; default
   * {@link DEFAULT_PROGRESS_INTERVAL_MS}. Reports in between are dropped.
   */
  progressIntervalMs?: number;
  /** Monotonic clock in milliseconds for that spacing; default `performance.now`. */
  now?: () => number;
  logger: Logger;
}

/** One background call, as {@link BackgroundCalls.run} takes it. */
export interface BackgroundCall {
  /** The tool's original MCP name. */
  toolName: string;
  /** The runtime's options of the tool call (its context, abort signal and call id). */
  options: ToolExecuteOptions;
  /** The connection's own call timeout (`timeoutMs` of the server), in milliseconds. */
  timeoutMs: number;
  /**
   * Makes the MCP call. Called once; with `extra` inside a session, without it outside one (then
   * the call is an ordinary, blocking one).
   */
  call(extra?: BackgroundCallExtra): Promise<string>;
}

/**
 * The background calls of one server in one session: holds the long-running tools in an
 * `AsyncToolset` (which the owning toolset lists among its tools) and runs their calls.
 */
export class BackgroundCalls {
  /** Holds the long-running tools, so they run on its own `ToolExecutor` (agents-js). */
  readonly toolset: llm.AsyncToolset;
  readonly #serverName: string;
  readonly #progressIntervalMs: number;
  readonly #now: () => number;
  readonly #logger: Logger;

  /** @param options the toolset id, server name, progress spacing, clock and logger. */
  constructor(options: BackgroundCallsOptions) {
    this.toolset = llm.AsyncToolset.create({ id: options.id, tools: [] });
    this.#serverName = options.serverName;
    this.#progressIntervalMs = options.progressIntervalMs ?? DEFAULT_PROGRESS_INTERVAL_MS;
    this.#now = options.now ?? (() => performance.now());
    this.#logger = options.logger;
  }

  /** The description a long-running tool is advertised with: the server's, plus a note. */
  static describe(description: string): string {
    return `${description}\n(Runs in the background: the result comes later.)`;
  }

  /** Replaces the long-running tools (built by the owning toolset). */
  setTools(tools: llm.FunctionTool[]): void {
    this.toolset._setTools(tools);
  }

  /**
   * Runs one call in the background and resolves with what the model hears when it ends: the
   * result, or a sentence saying what failed; `undefined` when it was cancelled. The call's abort
   * signal is the AsyncToolset task's, which `lk_agents_cancel_task` aborts (the MCP request is
   * then cancelled with `notifications/cancelled`). The call's timeout is at least
   * {@link LONG_RUNNING_TIMEOUT_MS}. Outside a session (no `ctx`) the call runs as an ordinary one
   * and its errors are thrown.
   */
  async run({ toolName, options, timeoutMs, call }: BackgroundCall): Promise<string | undefined> {
    const { ctx, abortSignal, toolCallId } = options;
    if (!ctx) return call();
    await ctx.update(
      `${toolName} on ${this.#serverName} has started and runs in the background ` +
        `(call_id ${toolCallId}). Tell the user you will let them know when it is done; if they ` +
        `no longer want it, cancel it with lk_agents_cancel_task and this call_id.`,
    );
    let lastSpoken = this.#now();
    const onProgress = (progress: Progress) => {
      const now = this.#now();
      if (now - lastSpoken < this.#progressIntervalMs) return;
      lastSpoken = now;
      void ctx
        .update(`Progress of ${toolName}: ${progressPhrase(progress)}.`)
        .catch((error: unknown) => this.#logger.debug({ err: error }, 'progress update dropped'));
    };
    try {
      return await call({ onProgress, timeoutMs: Math.max(timeoutMs, LONG_RUNNING_TIMEOUT_MS) });
    } catch (error) {
      // After the first update the runtime only logs a thrown error: say it as the result.
      if (abortSignal.aborted) return undefined;
      return backgroundFailedSentence(this.#serverName, toolName, error);
    }
  }

  /** Cancels the calls still out (their MCP requests are cancelled). Never rejects. */
  async aclose(): Promise<void> {
    await this.toolset.aclose().catch((error: unknown) => {
      this.#logger.warn({ err: error }, 'could not cancel background tool calls');
    });
  }
}
