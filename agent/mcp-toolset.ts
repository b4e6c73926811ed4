/**
 * One MCP server's tools as a LiveKit `llm.Toolset` (agents-js `src/llm/tool_context.ts`): each
 * MCP tool becomes a function tool named as DESIGN §4 says, whose `execute` calls the server
 * with the tool's original name. Failures the model should hear about come back as
 * `llm.ToolError` (DESIGN §7.4), and every call is written to `tool_calls` without delaying the
 * result.
 *
 * Issue 5 adds the server's `tool_policy`: calls that change things wait for the user's spoken yes
 * (`confirmation.ts`), long-running tools run in the background through an `llm.AsyncToolset`
 * (the conversation goes on, progress and the result are spoken when they arrive, the user can
 * cancel by voice with the runtime's `lk_agents_cancel_task`), and a call still running after
 * `AGENT_FILLER_AFTER_MS` makes the agent say a short filler (`slow-calls.ts`).
 */
import { llm, type voice } from '@livekit/agents';
import type { Progress, Tool as McpTool } from '@modelcontextprotocol/sdk/types.js';
import type { ToolCallRecord } from '../shared/db/tool-calls.js';
import { describeError } from '../shared/errors.js';
import type { Logger } from '../shared/logger.js';
import {
  McpConnectionError,
  advertiseTools,
  toolResultToText,
  type AdvertisedTool,
  type CallToolOptions,
} from '../shared/mcp/index.js';
import type { ToolFilter, ToolPolicy } from '../shared/mcp/server-config.js';
import type { SupervisedConnection } from '../shared/mcp/supervised-connection.js';
import { ConfirmationDesk, describeAction } from './confirmation.js';
import { SlowCall, SlowCallWatch, progressPhrase } from './slow-calls.js';
import { isLongRunning, needsConfirmation } from './tool-policy.js';

/** Default of {@link McpToolsetOptions.progressIntervalMs}, in milliseconds. */
export const DEFAULT_PROGRESS_INTERVAL_MS = 10_000;
/** Smallest timeout of a long-running call, in milliseconds (progress restarts it). */
export const LONG_RUNNING_TIMEOUT_MS = 10 * 60_000;
/** MCP name of the per-server confirm tool, advertised as `<server>__confirm_action`. */
const CONFIRM_TOOL_NAME = 'confirm_action';

/**
 * Writes one finished tool call somewhere (normally `recordToolCall` on the database). May
 * reject; the toolset logs the failure and carries on.
 */
export type ToolCallRecorder = (record: ToolCallRecord) => Promise<void>;

/** Who and where the calls of a session are made, for the `tool_calls` rows. */
export interface ToolCallScope {
  userId: number;
  /** The LiveKit room name; `null` outside a room (tests, text sessions). */
  roomName?: string | null;
  /** An id of the agent session, e.g. the LiveKit job id. */
  sessionId?: string | null;
}

/** The server fields a toolset needs; an `McpServerRow` fits. */
export interface McpToolsetServer {
  id: number;
  /** Display name; its slug prefixes every advertised tool name. */
  name: string;
  /** Allow or deny list of original tool names; default none. */
  toolFilter?: ToolFilter;
  /** Which tools need confirmation and which run in the background; default `{}`. */
  toolPolicy?: ToolPolicy;
}

/** Options of {@link McpToolset}. */
export interface McpToolsetOptions {
  server: McpToolsetServer;
  /**
   * The server's supervised connection (started, connected or retrying); the toolset owns it
   * from now on and closes it. Its tool changes reach the toolset through
   * {@link McpToolset.setServerTools}, which whoever creates the connection wires up.
   */
  connection: SupervisedConnection;
  /** The server's tools as last listed (empty while the server has not connected yet). */
  tools: readonly McpTool[];
  /**
   * Advertised names already used in the session; shared by all of a session's toolsets so
   * names stay unique (see `advertiseTools`). Default: a new set.
   */
  taken?: Set<string>;
  scope: ToolCallScope;
  /** Where calls are recorded; default nowhere. */
  recordToolCall?: ToolCallRecorder;
  /** Longest result handed to the model, in characters (`MCP_MAX_RESULT_CHARS`); default 8000. */
  maxResultChars?: number;
  /**
   * Milliseconds a call may run before the agent says a filler (`AGENT_FILLER_AFTER_MS`); default
   * none (no filler). Only calls made inside an agent session (with a `RunContext`) get one.
   */
  fillerAfterMs?: number;
  /**
   * Shortest time between two spoken progress updates of a long-running call, in milliseconds;
   * default {@link DEFAULT_PROGRESS_INTERVAL_MS}. Reports in between are not spoken (the latest
   * one is kept for the next filler).
   */
  progressIntervalMs?: number;
  logger: Logger;
}

/** The runtime's options of one tool call (agents-js `ToolOptions`); `ctx` is absent in benches. */
type ExecuteOptions = Partial<Pick<llm.ToolOptions, 'ctx'>> &
  Pick<llm.ToolOptions, 'abortSignal' | 'toolCallId'>;

/**
 * The toolset of one MCP server in one agent session, over a {@link SupervisedConnection} that
 * keeps itself connected; `aclose()` (called by the agent runtime when the agent's activity
 * ends, and by the session's cleanup) closes it, which ends a stdio server's child process.
 */
export class McpToolset extends llm.Toolset {
  readonly server: McpToolsetServer;
  readonly connection: SupervisedConnection;
  readonly #taken: Set<string>;
  readonly #scope: ToolCallScope;
  readonly #recordToolCall?: ToolCallRecorder;
  readonly #maxResultChars?: number;
  readonly #logger: Logger;
  readonly #pendingRecords = new Set<Promise<void>>();
  readonly #slowCalls?: SlowCallWatch;
  readonly #progressIntervalMs: number;
  /** Tools that ran past the filler delay in this session: their calls carry a progress token. */
  readonly #slowTools = new Set<string>();
  readonly #confirmations = new ConfirmationDesk();
  /** Holds the long-running tools, so they run on its own `ToolExecutor` (agents-js). */
  readonly #background: llm.AsyncToolset;
  /** Original names of the tools that run in the background. */
  readonly #longRunning = new Set<string>();
  #advertised: AdvertisedTool[] = [];
  #confirmToolName?: string;
  #context?: llm.ToolsetContext;

  /** @param options the server, its connection and tools, and where to record calls. */
  constructor(options: McpToolsetOptions) {
    super({ id: toolsetId(options.server.id), tools: [] });
    this.server = options.server;
    this.connection = options.connection;
    this.#taken = options.taken ?? new Set();
    this.#scope = options.scope;
    this.#recordToolCall = options.recordToolCall;
    this.#maxResultChars = options.maxResultChars;
    this.#logger = options.logger.child({ serverId: options.server.id });
    this.#progressIntervalMs = options.progressIntervalMs ?? DEFAULT_PROGRESS_INTERVAL_MS;
    if (options.fillerAfterMs !== undefined) {
      this.#slowCalls = new SlowCallWatch({ afterMs: options.fillerAfterMs, logger: this.#logger });
    }
    this.#background = llm.AsyncToolset.create({
      id: `${toolsetId(options.server.id)}-background`,
      tools: [],
    });
    this._setTools(this.#buildTools(options.tools));
  }

  /** The tools as advertised to the model, in the server's order. */
  get advertisedTools(): readonly AdvertisedTool[] {
    return this.#advertised;
  }

  /** Keeps the runtime's context so {@link refreshTools} can re-advertise the tools. */
  override async setup(context: llm.ToolsetContext): Promise<void> {
    this.#context = context;
  }

  /**
   * Replaces this toolset's tools with a new list from the server (after a reconnect or a
   * `notifications/tools/list_changed`); names that did not change stay the same. Once the agent
   * is running, the new list is re-advertised to the model through `ToolsetContext.updateTools`.
   */
  setServerTools(tools: readonly McpTool[]): void {
    this.#releaseNames();
    const functionTools = this.#buildTools(tools);
    if (this.#context) this.#context.updateTools(functionTools);
    else this._setTools(functionTools);
    this.#logger.info({ toolCount: this.#advertised.length }, 'mcp server tools updated');
  }

  /**
   * Lists the server's tools again; a changed list reaches {@link setServerTools}.
   *
   * @throws McpConnectionError when the server cannot list its tools (the old tools stay).
   */
  async refreshTools(): Promise<void> {
    this.setServerTools(await this.connection.refreshTools());
  }

  /**
   * Resolves when every `tool_calls` write started so far has finished or failed (failures are
   * logged, never thrown). `aclose()` does not wait for them: a hanging database must not keep
   * an MCP child process alive; closing the database lets queued writes finish or fail.
   */
  async flushRecords(): Promise<void> {
    await Promise.allSettled([...this.#pendingRecords]);
  }

  /**
   * Cancels the long-running calls still out (their MCP requests are cancelled), then closes the
   * connection, ending a stdio server's child process. Safe to call twice.
   */
  override async aclose(): Promise<void> {
    // Its names are free again for a toolset that replaces it (a server edited mid-session).
    this.#releaseNames();
    this.#slowCalls?.close();
    await this.#background.aclose().catch((error: unknown) => {
      this.#logger.warn({ err: error }, 'could not cancel background tool calls');
    });
    await this.connection.close();
  }

  /** Frees this toolset's advertised names (and its confirm tool's) in the session's set. */
  #releaseNames(): void {
    for (const tool of this.#advertised) this.#taken.delete(tool.name);
    if (this.#confirmToolName) this.#taken.delete(this.#confirmToolName);
  }

  #buildTools(mcpTools: readonly McpTool[]): llm.ToolContextEntry[] {
    const policy = this.server.toolPolicy;
    this.#advertised = advertiseTools(this.server.name, mcpTools, {
      filter: this.server.toolFilter,
      taken: this.#taken,
    });
    const byName = new Map(mcpTools.map((tool) => [tool.name, tool]));
    const ordinary: llm.FunctionTool[] = [];
    const background: llm.FunctionTool[] = [];
    let anyConfirmed = false;
    this.#longRunning.clear();
    for (const advertised of this.#advertised) {
      const mcpTool = byName.get(advertised.originalName);
      const confirm = needsConfirmation(mcpTool, policy);
      const longRunning = isLongRunning(mcpTool, policy);
      if (longRunning) this.#longRunning.add(advertised.originalName);
      anyConfirmed ||= confirm;
      const common = {
        name: advertised.name,
        description: advertised.description,
        // Already a clean JSON Schema object (advertiseTools); only its static type differs.
        parameters: advertised.parameters as llm.FunctionTool['parameters'],
      };
      if (confirm) {
        ordinary.push(
          llm.tool({
            ...common,
            execute: (args: Record<string, unknown> | undefined, options) =>
              this.#askConfirmation(advertised, args ?? {}, options),
          }),
        );
      } else if (longRunning) {
        background.push(
          llm.tool({
            ...common,
            description: `${advertised.description}\n(Runs in the background: the result comes later.)`,
            flags: llm.ToolFlag.CANCELLABLE,
            execute: (args: Record<string, unknown> | undefined, options) =>
              this.#runInBackground(advertised, args ?? {}, options),
          }),
        );
      } else {
        ordinary.push(
          llm.tool({
            ...common,
            execute: (args: Record<string, unknown> | undefined, { ctx, abortSignal }) =>
              this.#call(advertised, args ?? {}, abortSignal, ctx),
          }),
        );
      }
    }
    this.#confirmToolName = undefined;
    if (anyConfirmed) {
      // A confirmed long-running call runs in the background from the confirm tool's own call, so
      // the confirm tool then runs on the AsyncToolset's executor, cancellable like the tool.
      const confirmTool = this.#confirmTool(this.#longRunning.size > 0);
      (this.#longRunning.size > 0 ? background : ordinary).push(confirmTool);
    }
    this.#background._setTools(background);
    return background.length > 0 ? [...ordinary, this.#background] : ordinary;
  }

  /**
   * The server's confirm tool, named like its other tools (`<server>__confirm_action`);
   * cancellable when it may start a long-running call.
   */
  #confirmTool(cancellable: boolean): llm.FunctionTool {
    const [advertised] = advertiseTools(
      this.server.name,
      [{ name: CONFIRM_TOOL_NAME, inputSchema: { type: 'object' } }],
      { taken: this.#taken },
    );
    const name = advertised!.name;
    this.#confirmToolName = name;
    return llm.tool({
      name,
      description:
        `Runs or drops an action of ${this.server.name} that waited for the user's confirmation. ` +
        'Call it only after the user has answered: approved true only for a clear yes.',
      parameters: {
        type: 'object',
        properties: {
          confirmation_id: { type: 'string', description: 'The id the action answered with.' },
          approved: { type: 'boolean', description: 'True only if the user clearly said yes.' },
        },
        required: ['confirmation_id', 'approved'],
        additionalProperties: false,
      } as llm.FunctionTool['parameters'],
      flags: cancellable ? llm.ToolFlag.CANCELLABLE : llm.ToolFlag.NONE,
      execute: (args: Record<string, unknown> | undefined, options) =>
        this.#answerConfirmation(args ?? {}, options),
    });
  }

  /**
   * The first step of a call that needs the user's yes: holds it and tells the model what to ask.
   * Nothing is sent to the server.
   */
  async #askConfirmation(
    tool: AdvertisedTool,
    args: Record<string, unknown>,
    options: ExecuteOptions,
  ): Promise<string> {
    const pending = this.#confirmations.ask(tool, args, options.ctx?.speechHandle.id);
    const action = `${describeAction(tool, args)} on ${this.server.name}`;
    this.#logger.info(
      { tool: tool.originalName, confirmationId: pending.id },
      'tool call awaits confirmation',
    );
    return (
      `Not run yet: this action needs the user's spoken confirmation first. Ask the user: ` +
      `"${action}: are you sure?" and wait for the answer. Then call ${this.#confirmToolName} ` +
      `with confirmation_id "${pending.id}" and approved true only if they clearly said yes, ` +
      `or approved false otherwise.`
    );
  }

  /** The second step: runs the held call on a yes, drops it on a no. */
  async #answerConfirmation(
    args: Record<string, unknown>,
    options: ExecuteOptions,
  ): Promise<string | undefined> {
    const id = String(args.confirmation_id ?? '');
    const answer = this.#confirmations.take(id, options.ctx?.speechHandle.id);
    if ('refused' in answer) {
      switch (answer.refused) {
        case 'same_turn':
          throw new llm.ToolError(
            'The user has not answered yet. Ask them and wait for their answer before calling this.',
          );
        case 'expired':
          throw new llm.ToolError(
            `Confirmation ${id} expired. Call the action again if the user still wants it.`,
          );
        default:
          throw new llm.ToolError(
            `No action is waiting for confirmation ${JSON.stringify(id)}. Call the action again.`,
          );
      }
    }
    const { tool, args: heldArgs } = answer.pending;
    if (args.approved !== true) {
      this.#logger.info({ tool: tool.originalName }, 'tool call declined by the user');
      return (
        `Not done: the user declined, so ${describeAction(tool, heldArgs)} was not run on ` +
        `${this.server.name}. Tell the user nothing was changed.`
      );
    }
    if (this.#longRunning.has(tool.originalName)) {
      return this.#runInBackground(tool, heldArgs, options);
    }
    return this.#call(tool, heldArgs, options.abortSignal, options.ctx);
  }

  /**
   * A long-running call: the first `RunContext.update` makes it non-blocking (agents-js
   * `voice/run_context.js`), so the model hears at once that it started and the conversation
   * goes on; progress reports become further updates, at most one per `progressIntervalMs`; the
   * result (or a sentence saying what failed) is delivered as a reply when it arrives. The call's
   * abort signal is the AsyncToolset task's, which `lk_agents_cancel_task` aborts (the MCP request
   * is then cancelled with `notifications/cancelled`).
   */
  async #runInBackground(
    tool: AdvertisedTool,
    args: Record<string, unknown>,
    { ctx, abortSignal, toolCallId }: ExecuteOptions,
  ): Promise<string | undefined> {
    if (!ctx) return this.#call(tool, args, abortSignal, undefined);
    await ctx.update(
      `${tool.originalName} on ${this.server.name} has started and runs in the background ` +
        `(call_id ${toolCallId}). Tell the user you will let them know when it is done; if they ` +
        `no longer want it, cancel it with lk_agents_cancel_task and this call_id.`,
    );
    let lastSpoken = performance.now();
    const onProgress = (progress: Progress) => {
      const now = performance.now();
      if (now - lastSpoken < this.#progressIntervalMs) return;
      lastSpoken = now;
      void ctx
        .update(`Progress of ${tool.originalName}: ${progressPhrase(progress)}.`)
        .catch((error: unknown) => this.#logger.debug({ err: error }, 'progress update dropped'));
    };
    try {
      return await this.#call(tool, args, abortSignal, undefined, {
        onProgress,
        timeoutMs: Math.max(this.connection.config.timeoutMs, LONG_RUNNING_TIMEOUT_MS),
      });
    } catch (error) {
      // After the first update the runtime only logs a thrown error: say it as the result.
      if (abortSignal.aborted) return undefined;
      const text = error instanceof Error ? error.message : String(error);
      return `${tool.originalName} on ${this.server.name} failed: ${text}`;
    }
  }

  /**
   * Sends one call and turns its result into what the model reads. Inside a session (`ctx`) with a
   * filler delay, the call is watched and gets a filler once it runs past the delay; a tool that
   * was that slow before carries a progress token, so the filler can say how far it got.
   */
  async #call(
    tool: AdvertisedTool,
    args: Record<string, unknown>,
    signal: AbortSignal,
    ctx: voice.RunContext | undefined,
    extra?: Pick<CallToolOptions, 'onProgress' | 'timeoutMs'>,
  ): Promise<string> {
    const startedAt = new Date();
    const started = performance.now();
    const watch = ctx && this.#slowCalls;
    let slowCall: SlowCall | undefined;
    let options: CallToolOptions = { signal };
    if (watch) {
      slowCall = new SlowCall(ctx, started);
      if (this.#slowTools.has(tool.originalName) && !extra) {
        const call = slowCall;
        options = { signal, onProgress: (progress) => (call.progress = progress) };
      }
    }
    if (extra) options = { signal, ...extra };
    let error: string | null = null;
    try {
      const request = this.connection.callTool(tool.originalName, args, options);
      if (slowCall) {
        slowCall.promise = request;
        watch!.add(slowCall);
      }
      const result = await request;
      const { text, isError } = toolResultToText(result, {
        maxChars: this.#maxResultChars,
        structured: 'summary',
      });
      if (isError) {
        // A failing tool may quote the request it got: its own secrets never reach the record.
        error = this.connection.scrubber.scrub(text);
        throw new llm.ToolError(
          `The ${tool.originalName} tool of ${this.server.name} said: ${error}`,
        );
      }
      return text;
    } catch (thrown) {
      if (thrown instanceof llm.ToolError) throw thrown;
      error = this.connection.scrubber.scrub(describeError(thrown));
      if (signal.aborted) throw thrown;
      throw new llm.ToolError(this.#sentenceFor(tool, thrown));
    } finally {
      const durationMs = performance.now() - started;
      if (slowCall) {
        watch!.delete(slowCall);
        if (durationMs >= watch!.afterMs) this.#slowTools.add(tool.originalName);
      }
      this.#record({
        userId: this.#scope.userId,
        serverId: this.server.id,
        toolName: tool.originalName,
        roomName: this.#scope.roomName ?? null,
        sessionId: this.#scope.sessionId ?? null,
        startedAt,
        durationMs,
        ok: error === null,
        error,
      });
    }
  }

  /** A sentence the model can read and repeat to the user: what failed, and what happens next. */
  #sentenceFor(tool: AdvertisedTool, error: unknown): string {
    const server = this.server.name;
    if (!(error instanceof McpConnectionError)) {
      return `The ${tool.originalName} tool of ${server} failed: ${describeError(error)}`;
    }
    switch (error.code) {
      case 'unavailable':
        return error.message;
      case 'request_failed':
        return (
          `The ${server} server could not run ${tool.originalName}: ${error.message}. ` +
          `It was not retried.`
        );
      case 'timeout':
        return (
          `The ${server} server did not answer ${tool.originalName} in time, so it was cancelled ` +
          `and not retried; the user may try again later.`
        );
      case 'cancelled':
        return `The call of ${tool.originalName} on ${server} was cancelled before it finished.`;
      case 'connection_lost':
        return (
          `The connection to the ${server} server broke while ${tool.originalName} was running, ` +
          `so it may or may not have run. Reconnecting.`
        );
      default:
        return `The ${server} server is unavailable: ${error.message}`;
    }
  }

  /** Fire and forget: the tool result never waits for, or fails because of, the audit row. */
  #record(record: ToolCallRecord): void {
    this.#logger.info(
      { tool: record.toolName, durationMs: Math.round(record.durationMs), ok: record.ok },
      'mcp tool called',
    );
    const recorder = this.#recordToolCall;
    if (!recorder) return;
    const pending = Promise.resolve()
      .then(() => recorder(record))
      .catch((error: unknown) =>
        this.#logger.warn({ err: error, tool: record.toolName }, 'could not record tool call'),
      )
      .finally(() => this.#pendingRecords.delete(pending));
    this.#pendingRecords.add(pending);
  }
}

/**
 * The toolset id of a server: `mcp-server-<id>`, unique in a session and stable across
 * reconnects.
 *
 * @param serverId the server's `mcp_servers.id`.
 */
export function toolsetId(serverId: number): string {
  return `mcp-server-${serverId}`;
}
