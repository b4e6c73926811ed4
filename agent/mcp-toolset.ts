/**
 * One MCP server's tools as a LiveKit `llm.Toolset` (agents-js `src/llm/tool_context.ts`): each
 * MCP tool becomes a function tool named as DESIGN §4 says, whose `execute` calls the server
 * with the tool's original name. Failures the model should hear about come back as
 * `llm.ToolError` (DESIGN §7.4), and every call is written to `tool_calls` without delaying the
 * result.
 *
 * Like agents-js's own dynamic toolsets, it follows its connection's tool list: it listens for
 * changes (a reconnect, a `notifications/tools/list_changed`), keeps its tools current while no
 * session runs it, and once the runtime has called `setup()` pushes every change through
 * `ToolsetContext.updateTools`, which re-advertises the tools to the model. In a session with a
 * tool budget (`tool-budget.ts`) it shows only the tools the budget selects, and the budget
 * re-advertises instead.
 *
 * With tool pinning on (a {@link ToolPinSource}, issue 16), only tools whose definition matches
 * their pin are offered: a changed or new tool is withheld, and the toolset adds one
 * `<server>__withheld_tools` tool that names them and, when called, says what changed and that the
 * owner must approve them in the dashboard. Pins are read when the toolset starts, after its
 * server's tools are first listed (pinning them when the server never was: trust on first use),
 * and again on {@link McpToolset.refreshPins} (the session calls it when the owner approved
 * tools); until they are read, every tool is withheld.
 *
 * This class builds the tools and makes the MCP calls; the server's `tool_policy` decides how
 * each tool runs, and the parts of that live in their own modules: calls that change things wait
 * for the user's spoken yes (`confirmation.ts`), long-running tools run in the background
 * (`background-calls.ts`), slow calls get a spoken filler (`slow-calls.ts`), a server that asks
 * the user something during a call is answered by voice (`elicitation.ts`, with the server's
 * answer tool advertised while a question waits), failures are said in sentences from
 * `tool-errors.ts`, and every call is audited through `tool-call-log.ts`.
 */
import { llm, type voice } from '@livekit/agents';
import type { CallToolResult, Tool as McpTool } from '@modelcontextprotocol/sdk/types.js';
import { describeError } from '../shared/errors.js';
import type { Logger } from '../shared/logger.js';
import { McpConnectionError } from '../shared/mcp/errors.js';
import {
  advertiseTools,
  toolPassesFilter,
  plainResultText,
  toolResultToText,
  type AdvertisedTool,
  type CallToolOptions,
} from '../shared/mcp/index.js';
import type { ToolFilter, ToolPolicy } from '../shared/mcp/server-config.js';
import {
  NO_PINS,
  WITHHELD_TOOL_NAME,
  pinStatusOf,
  withheldToolAnswer,
  withheldToolDefinition,
  type ToolPinSet,
  type WithheldTool,
} from '../shared/mcp/tool-pinning.js';
import type { SupervisedConnection } from '../shared/mcp/supervised-connection.js';
import {
  BackgroundCalls,
  type BackgroundCallExtra,
  type ToolExecuteOptions,
} from './background-calls.js';
import { ServerConfirmations } from './confirmation.js';
import {
  ANSWER_TOOL_NAME,
  ServerElicitations,
  type CallOutcome,
  type SendLink,
} from './elicitation.js';
import { SlowCallWatch } from './slow-calls.js';
import {
  ToolCallLog,
  type ToolCallRecorder,
  type ToolCallScope,
  type ToolCallSink,
} from './tool-call-log.js';
import { callFailedSentence, toolSaidSentence } from './tool-errors.js';
import type { ToolCallRecord } from '../shared/db/tool-calls.js';
import { CONFIRM_TOOL_NAME, isLongRunning, needsConfirmation } from '../shared/mcp/tool-policy.js';
import type { BudgetedToolset, CatalogTool, ToolBudget } from './tool-budget.js';
import { ServerResources, type ShowOnScreen } from './resource-tools.js';

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

/**
 * Where a toolset reads its server's tool pins (issue 16): `pinToolsOnFirstUse` on the session's
 * database.
 */
export interface ToolPinSource {
  /**
   * The server's pins; when its tools were never pinned and `tools` is given, pins them first.
   *
   * @param tools the server's whole tool list as just listed; `undefined` when it has not been
   *   listed (the server is not connected yet): then the pins are only read.
   */
  pinsFor(serverId: number, tools: readonly McpTool[] | undefined): Promise<ToolPinSet>;
}

/** Options of {@link McpToolset}. */
export interface McpToolsetOptions {
  server: McpToolsetServer;
  /**
   * The server's supervised connection (started, connected or retrying); the toolset owns it
   * from now on, follows its tool changes, and closes it.
   */
  connection: SupervisedConnection;
  /**
   * The server's tools as last listed (empty while the server has not connected yet); normally
   * `connection.tools`. Later changes come from the connection.
   */
  tools: readonly McpTool[];
  /**
   * Advertised names already used in the session; shared by all of a session's toolsets so
   * names stay unique (see `advertiseTools`). Default: a new set.
   */
  taken?: Set<string>;
  scope: ToolCallScope;
  /**
   * Where calls are recorded: the session's batcher (a {@link ToolCallSink}) or a recorder called
   * once per call; default nowhere.
   */
  recordToolCall?: ToolCallRecorder | ToolCallSink;
  /** Longest result handed to the model, in characters (`MCP_MAX_RESULT_CHARS`); default 8000. */
  maxResultChars?: number;
  /**
   * The server's tool pins, when its `pinTools` is on: tools that do not match their pin are
   * withheld. Default none: every tool is offered.
   */
  pins?: ToolPinSource;
  /**
   * Puts a resource on the user's screen (a LiveKit data message, `resource-tools.ts`): binary
   * and long resources the resource tools read, and those in tool results. Default none.
   */
  showOnScreen?: ShowOnScreen;
  /**
   * The session's tool budget (`AGENT_MAX_TOOLS`, `tool-budget.ts`). With one, the toolset shows
   * only the tools the budget selects (none until it does) and reports tool-list changes to the
   * budget, which re-advertises, instead of `ToolsetContext.updateTools`. Default none: every
   * tool is shown.
   */
  budget?: Pick<ToolBudget, 'toolsChanged'>;
  /**
   * Milliseconds a call may run before the agent says a filler (`AGENT_FILLER_AFTER_MS`); default
   * none (no filler). Only calls made inside an agent session (with a `RunContext`) get one.
   */
  fillerAfterMs?: number;
  /**
   * Shortest time between two spoken progress updates of a long-running call, in milliseconds;
   * default `DEFAULT_PROGRESS_INTERVAL_MS` (10 s). Reports in between are not spoken.
   */
  progressIntervalMs?: number;
  /**
   * How long a server's question waits for the user's answer after they last spoke, in
   * milliseconds (`AGENT_ELICITATION_TIMEOUT_MS`); it is then answered `cancel`. Default
   * `DEFAULT_ELICITATION_TIMEOUT_MS` (60 s).
   */
  elicitationTimeoutMs?: number;
  /**
   * Sends a server's URL-mode elicitation link to the user's screen (a LiveKit data message on
   * `switchboard.link`); default none: such requests are declined.
   */
  sendLink?: SendLink;
  /**
   * Clock in milliseconds for the confirmation expiry and the progress spacing; default
   * `Date.now` and `performance.now` respectively. Tests pass a fake one.
   */
  now?: () => number;
  logger: Logger;
}

/**
 * The toolset of one MCP server in one agent session, over a {@link SupervisedConnection} that
 * keeps itself connected; `aclose()` (called by the agent runtime when the agent's activity
 * ends, and by the session's cleanup) closes it, which ends a stdio server's child process.
 */
export class McpToolset extends llm.Toolset implements BudgetedToolset {
  readonly server: McpToolsetServer;
  readonly connection: SupervisedConnection;
  readonly #taken: Set<string>;
  readonly #scope: ToolCallScope;
  readonly #maxResultChars?: number;
  readonly #logger: Logger;
  readonly #log: ToolCallLog;
  readonly #slowCalls?: SlowCallWatch;
  readonly #confirmations: ServerConfirmations;
  readonly #elicitations: ServerElicitations;
  /** The answer tool, advertised while a server's question waits for the user. */
  #answerTool?: llm.FunctionTool;
  #closed = false;
  readonly #background: BackgroundCalls;
  /** The resource tools (for a server with the `resources` capability) and link reading. */
  readonly #resources: ServerResources;
  /** Original names of the tools that run in the background. */
  readonly #longRunning = new Set<string>();
  #advertised: AdvertisedTool[] = [];
  /** Names this toolset holds in the session's set: every tool's, offered or withheld. */
  #names: string[] = [];
  #confirmToolName?: string;
  #withheldToolName?: string;
  readonly #pinSource?: ToolPinSource;
  /** The pins the tools were last built with; none until read. */
  #pinSet: ToolPinSet = NO_PINS;
  #withheld: WithheldTool[] = [];
  /** The tail of the pin reads (one at a time). */
  #pinWork: Promise<unknown> = Promise.resolve();
  /**
   * Resolves when the first read of the pins is over (at once without pinning); never rejects
   * (a failed read is logged, and the tools stay withheld until a later read succeeds).
   */
  readonly pinsReady: Promise<void>;
  readonly #budget?: Pick<ToolBudget, 'toolsChanged'>;
  /** Every tool built, ordinary (with the confirm tool) and long-running, unfiltered. */
  #ordinary: llm.FunctionTool[] = [];
  #backgroundTools: llm.FunctionTool[] = [];
  #catalog: CatalogTool[] = [];
  /** With a budget: the names it shows. */
  #shown: ReadonlySet<string> = new Set();
  /** The MCP tool list the current tools were built from. */
  #builtFrom: readonly McpTool[];
  /** The runtime's context, from `setup()` until `aclose()`. */
  #context?: llm.ToolsetContext;
  /** Stops listening to the connection's tool changes. */
  readonly #unsubscribe: () => void;

  /** @param options the server, its connection and tools, and where to record calls. */
  constructor(options: McpToolsetOptions) {
    super({ id: toolsetId(options.server.id), tools: [] });
    this.server = options.server;
    this.connection = options.connection;
    this.#taken = options.taken ?? new Set();
    this.#scope = options.scope;
    this.#maxResultChars = options.maxResultChars;
    this.#logger = options.logger.child({ serverId: options.server.id });
    this.#log = new ToolCallLog(options.recordToolCall, this.#logger);
    if (options.fillerAfterMs !== undefined) {
      this.#slowCalls = new SlowCallWatch({ afterMs: options.fillerAfterMs, logger: this.#logger });
    }
    this.#confirmations = new ServerConfirmations({
      serverName: options.server.name,
      logger: this.#logger,
      now: options.now,
    });
    this.#elicitations = new ServerElicitations({
      serverId: options.server.id,
      serverName: options.server.name,
      logger: this.#logger,
      timeoutMs: options.elicitationTimeoutMs,
      sendLink: options.sendLink,
      slowCalls: this.#slowCalls,
      onPendingChanged: () => this.#answerToolChanged(),
    });
    this.#background = new BackgroundCalls({
      id: `${toolsetId(options.server.id)}-background`,
      serverName: options.server.name,
      progressIntervalMs: options.progressIntervalMs,
      now: options.now,
      logger: this.#logger,
    });
    this.#resources = new ServerResources({
      server: options.server,
      connection: options.connection,
      taken: this.#taken,
      showOnScreen: options.showOnScreen,
      maxSpokenChars: options.maxResultChars && Math.min(options.maxResultChars, 2_000),
      record: ({ method, startedAt, durationMs, error }) =>
        this.#log.record({
          userId: this.#scope.userId,
          serverId: this.server.id,
          toolName: method,
          roomName: this.#scope.roomName ?? null,
          sessionId: this.#scope.sessionId ?? null,
          startedAt,
          durationMs,
          ok: error === null,
          error,
        }),
      logger: this.#logger,
    });
    this.#builtFrom = options.tools;
    this.#budget = options.budget;
    this.#pinSource = options.pins;
    this.#buildTools(options.tools);
    this.#publish();
    // Subscribed from the start, not only in setup(): a toolset is made before the session that
    // runs it, and a server that connects in between must not be missed.
    const unsubscribeTools = this.connection.onToolsChanged((tools) => this.#onServerTools(tools));
    // A (re)connect whose `resources` capability differs rebuilds, even with the same tools.
    const unsubscribeConnected = this.connection.onConnected((info) => {
      if ((info.capabilities?.resources !== undefined) !== this.#resources.enabled) {
        this.#onServerTools(this.connection.tools);
      }
    });
    this.#unsubscribe = () => {
      unsubscribeTools();
      unsubscribeConnected();
    };
    this.pinsReady = this.#pinSource
      ? this.#readPins(true).then(() => undefined)
      : Promise.resolve();
  }

  /**
   * The tools withheld because they changed since they were approved or are new (issue 16),
   * by advertised name; empty without pinning.
   */
  get withheldTools(): readonly WithheldTool[] {
    return this.#withheld;
  }

  /**
   * Reads the server's pins again (after an approval) and, when that changes which tools are
   * offered, rebuilds them and re-advertises, without reconnecting.
   *
   * @returns true when the tools offered changed. Never rejects (a failed read is logged).
   */
  refreshPins(): Promise<boolean> {
    return this.#pinSource ? this.#readPins(true) : Promise.resolve(false);
  }

  /** The tools as advertised to the model, in the server's order. */
  get advertisedTools(): readonly AdvertisedTool[] {
    return this.#advertised;
  }

  /**
   * Every function tool of the server as the model would see it, shown or not: the ordinary
   * tools in the server's order, then the long-running ones; the confirm tool comes last of its
   * group, and each tool that needs confirmation names it as its `companion`.
   */
  get catalog(): readonly CatalogTool[] {
    if (!this.#answerTool || !this.#elicitations.hasPending) return this.#catalog;
    const answer = { tool: this.#answerTool, serverName: this.server.name, required: true };
    return [...this.#catalog, answer];
  }

  /**
   * Shows only the named tools (the session's tool budget decides which); the runtime is not
   * told, the budget re-advertises once for all toolsets. Without a budget nothing calls it.
   *
   * @param names advertised names; names of other servers' tools are ignored.
   */
  show(names: ReadonlySet<string>): void {
    this.#shown = names;
    this.#publish();
  }

  /**
   * Called by the agents runtime when the toolset joins an agent's activity: from now on, tool
   * changes are pushed through `context.updateTools` (which re-advertises them to the model).
   * The connection's current list is pushed at once if it differs from the one the tools were
   * built from (a `tools` option older than the connection's).
   */
  override async setup(context: llm.ToolsetContext): Promise<void> {
    this.#context = context;
    const current = this.connection.tools;
    if (JSON.stringify(current) !== JSON.stringify(this.#builtFrom)) this.#onServerTools(current);
  }

  /**
   * Lists the server's tools again; a changed list reaches the toolset through the connection's
   * tool-change listener, like any other change.
   *
   * @throws McpConnectionError when the server cannot list its tools (the old tools stay).
   */
  async refreshTools(): Promise<void> {
    await this.connection.refreshTools();
  }

  /**
   * Writes this toolset's recorded calls now (with a session batcher: every buffered row of the
   * session) and resolves when they are written or have failed (failures are logged, never
   * thrown). `aclose()` does not wait for them: a hanging database must not keep an MCP child
   * process alive; the session flushes its batcher after closing its toolsets.
   */
  async flushRecords(): Promise<void> {
    await this.#log.flush();
  }

  /**
   * Stops following the connection's tool changes, cancels the long-running calls still out
   * (their MCP requests are cancelled), then closes the connection, ending a stdio server's
   * child process. Safe to call twice.
   */
  override async aclose(): Promise<void> {
    this.#closed = true;
    this.#unsubscribe();
    this.#context = undefined;
    // Questions still waiting are answered `cancel`; held calls are ended with the connection.
    this.#elicitations.close();
    // Its names are free again for a toolset that replaces it (a server edited mid-session).
    this.#releaseNames();
    this.#slowCalls?.close();
    await this.#background.aclose();
    await this.connection.close();
  }

  /**
   * Replaces this toolset's tools with a new list from the server; names that did not change
   * stay the same. Inside a session the list goes through `ToolsetContext.updateTools`, before
   * one with `_setTools`.
   */
  #onServerTools(tools: readonly McpTool[]): void {
    this.#rebuild(tools);
    this.#logger.info({ toolCount: this.#advertised.length }, 'mcp server tools updated');
    // A server never pinned is pinned from its first listing (trust on first use).
    if (this.#pinSource && this.#pinSet.pinnedAt === null) void this.#readPins(false);
  }

  /** Builds the tools from `tools` and pushes them (see {@link McpToolset.#onServerTools}). */
  #rebuild(tools: readonly McpTool[]): void {
    this.#releaseNames();
    this.#builtFrom = tools;
    this.#buildTools(tools);
    if (this.#budget) {
      this.#publish();
      this.#budget.toolsChanged();
    } else if (this.#context) {
      this.#context.updateTools(this.#entries());
    } else {
      this._setTools(this.#entries());
    }
  }

  /**
   * Reads the pins (after the reads queued before), pinning the server's listed tools when it was
   * never pinned, and rebuilds the tools when what is withheld changed.
   *
   * @param always read even when the pins are known (a refresh); otherwise only while the server
   *   was never pinned.
   * @returns true when the tools offered changed. Never rejects.
   */
  #readPins(always: boolean): Promise<boolean> {
    const read = async (): Promise<boolean> => {
      if (this.#closed || (!always && this.#pinSet.pinnedAt !== null)) return false;
      const status = this.connection.status;
      const listed = status === 'connected' || status === 'degraded';
      let pins: ToolPinSet;
      try {
        pins = await this.#pinSource!.pinsFor(
          this.server.id,
          listed ? this.connection.tools : undefined,
        );
      } catch (error) {
        this.#logger.warn(
          { err: describeError(error) },
          'cannot read the tool pins; changed and new tools stay withheld',
        );
        return false;
      }
      if (this.#closed) return false;
      const tools = this.#builtFrom;
      const before = this.#pinKey(tools, this.#pinSet);
      this.#pinSet = pins;
      if (this.#pinKey(tools, pins) === before) return false;
      this.#rebuild(tools);
      this.#logger.info(
        { toolCount: this.#advertised.length, withheld: this.#withheld.map((tool) => tool.name) },
        'mcp server tools updated from their pins',
      );
      return true;
    };
    const run = this.#pinWork.then(read, read);
    this.#pinWork = run;
    return run;
  }

  /** Sets the tools shown: all of them, or with a budget the ones it selected. */
  #publish(): void {
    this._setTools(this.#entries());
  }

  /**
   * The toolset's entries: the shown ordinary tools, then the background toolset (kept while the
   * server has long-running tools, so the runtime keeps it set up) with its shown tools.
   */
  #entries(): llm.ToolContextEntry[] {
    const shown = (tool: llm.FunctionTool) => !this.#budget || this.#shown.has(tool.name);
    this.#background.setTools(this.#backgroundTools.filter(shown));
    const ordinary = this.#ordinary.filter(shown);
    const answer = this.#answerTool;
    if (answer && this.#elicitations.hasPending && shown(answer)) ordinary.push(answer);
    return this.#backgroundTools.length > 0 ? [...ordinary, this.#background.toolset] : ordinary;
  }

  /** A question started or stopped waiting: the answer tool appears or goes. */
  #answerToolChanged(): void {
    if (this.#closed) return;
    if (this.#budget) {
      this.#budget.toolsChanged();
    } else if (this.#context) {
      this.#context.updateTools(this.#entries());
    } else {
      this._setTools(this.#entries());
    }
  }

  /**
   * Frees this toolset's names (every tool's, offered or withheld, and its confirm, withheld
   * and answer tools') in the session's set.
   */
  #releaseNames(): void {
    for (const name of this.#names) this.#taken.delete(name);
    if (this.#confirmToolName) this.#taken.delete(this.#confirmToolName);
    if (this.#withheldToolName) this.#taken.delete(this.#withheldToolName);
    if (this.#answerTool) this.#taken.delete(this.#answerTool.name);
    this.#resources.release();
    this.#names = [];
    this.#confirmToolName = undefined;
    this.#withheldToolName = undefined;
  }

  /**
   * How the tools of `tools` that pass the filter stand against `pins`, as text: equal texts
   * give the same tools offered and withheld.
   */
  #pinKey(tools: readonly McpTool[], pins: ToolPinSet): string {
    return JSON.stringify(
      tools
        .filter((tool) => toolPassesFilter(tool.name, this.server.toolFilter))
        .map((tool) => {
          const status = pinStatusOf(tool, pins);
          return [tool.name, status.state, status.changes ?? null];
        }),
    );
  }

  /**
   * Builds every tool of `mcpTools` (see {@link McpToolset.catalog}); nothing is shown yet.
   * Withheld tools keep their names (reserved in the session's set), so approving one renames
   * no other.
   */
  #buildTools(mcpTools: readonly McpTool[]): void {
    const policy = this.server.toolPolicy;
    const byName = new Map(mcpTools.map((tool) => [tool.name, tool]));
    const all = advertiseTools(this.server.name, mcpTools, {
      filter: this.server.toolFilter,
      taken: this.#taken,
    });
    const withheld: WithheldTool[] = [];
    this.#advertised = all.filter((advertised) => {
      if (!this.#pinSource) return true;
      const status = pinStatusOf(byName.get(advertised.originalName)!, this.#pinSet);
      if (status.state === 'pinned') return true;
      withheld.push({ name: advertised.name, state: status.state, changes: status.changes });
      return false;
    });
    this.#withheld = withheld;
    this.#names = all.map((advertised) => advertised.name);
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
        // Once the user said "yes, and don't ask again" for it, it runs as approved. A
        // long-running one sits with the background tools, so such a call runs in the background.
        (longRunning ? background : ordinary).push(
          llm.tool({
            ...common,
            ...(longRunning && {
              description: BackgroundCalls.describe(advertised.description),
              flags: llm.ToolFlag.CANCELLABLE,
            }),
            execute: async (args: Record<string, unknown> | undefined, options) =>
              this.#confirmations.remembered(advertised)
                ? this.#runApproved(advertised, args ?? {}, options)
                : this.#confirmations.ask(advertised, args ?? {}, options.ctx?.speechHandle.id),
          }),
        );
      } else if (longRunning) {
        background.push(
          llm.tool({
            ...common,
            description: BackgroundCalls.describe(advertised.description),
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
      const cancellable = this.#longRunning.size > 0;
      (cancellable ? background : ordinary).push(this.#confirmTool(cancellable));
    }
    this.#withheldToolName = undefined;
    if (withheld.length > 0) ordinary.push(this.#withheldTool(withheld));
    ordinary.push(
      ...this.#resources.build(this.connection.info?.capabilities?.resources !== undefined),
    );
    this.#ordinary = ordinary;
    this.#backgroundTools = background;
    // Named now, like the confirm tool, so its name stays the same however often it shows.
    const [answerName] = advertiseTools(
      this.server.name,
      [{ name: ANSWER_TOOL_NAME, inputSchema: { type: 'object' } }],
      { taken: this.#taken },
    );
    this.#answerTool = this.#elicitations.answerTool(answerName!.name);
    const confirmName = this.#confirmToolName;
    const advertisedByName = new Map(this.#advertised.map((entry) => [entry.name, entry]));
    const pinned = new Set(policy?.pinned ?? []);
    this.#catalog = [...ordinary, ...background].map((tool) => {
      const advertised = advertisedByName.get(tool.name);
      const needs = advertised && needsConfirmation(byName.get(advertised.originalName), policy);
      return {
        tool,
        serverName: this.server.name,
        companion: needs && confirmName ? confirmName : undefined,
        // The withheld tool goes first under a tool budget: it is how the model learns why a
        // tool the user asks for is missing.
        pinned:
          tool.name === this.#withheldToolName ||
          (advertised !== undefined && pinned.has(advertised.originalName)),
      };
    });
  }

  /**
   * The server's `<server>__withheld_tools` tool (named like its other tools): its description
   * names the withheld tools, and a call answers what changed in each and that the owner must
   * approve them in the dashboard (`withheldToolAnswer`).
   */
  #withheldTool(withheld: readonly WithheldTool[]): llm.FunctionTool {
    const [advertised] = advertiseTools(
      this.server.name,
      [{ name: WITHHELD_TOOL_NAME, inputSchema: { type: 'object' } }],
      { taken: this.#taken },
    );
    this.#withheldToolName = advertised!.name;
    const definition = withheldToolDefinition(
      this.server.name,
      withheld.map((tool) => tool.name),
    );
    return llm.tool({
      name: this.#withheldToolName,
      description: definition.description,
      parameters: definition.parameters as llm.FunctionTool['parameters'],
      execute: async () => withheldToolAnswer(this.server.name, withheld),
    });
  }

  /**
   * The server's confirm tool, named like its other tools (`<server>__confirm_action`); an
   * approved call runs as the tool would have (in the background when it is long-running).
   */
  #confirmTool(cancellable: boolean): llm.FunctionTool {
    const [advertised] = advertiseTools(
      this.server.name,
      [{ name: CONFIRM_TOOL_NAME, inputSchema: { type: 'object' } }],
      { taken: this.#taken },
    );
    this.#confirmToolName = advertised!.name;
    return this.#confirmations.confirmTool(
      this.#confirmToolName,
      cancellable,
      (tool, args, options) => this.#runApproved(tool, args, options),
    );
  }

  /** Runs a call the user approved as the tool would have: in the background when long-running. */
  #runApproved(
    tool: AdvertisedTool,
    args: Record<string, unknown>,
    options: ToolExecuteOptions,
  ): Promise<string | undefined> {
    return this.#longRunning.has(tool.originalName)
      ? this.#runInBackground(tool, args, options)
      : this.#call(tool, args, options.abortSignal, options.ctx);
  }

  /** A long-running call, through {@link BackgroundCalls}. */
  #runInBackground(
    tool: AdvertisedTool,
    args: Record<string, unknown>,
    options: ToolExecuteOptions,
  ): Promise<string | undefined> {
    return this.#background.run({
      toolName: tool.originalName,
      options,
      timeoutMs: this.connection.config.timeoutMs,
      // Its questions, if the server asks, go out as updates of the background call (`ctx`).
      call: (extra) => this.#call(tool, args, options.abortSignal, extra && options.ctx, extra),
    });
  }

  /**
   * Makes one call and turns its result into what the model reads. Inside a session (`ctx`) the
   * MCP call is held (`elicitation.ts`): a question the server asks meanwhile is answered by the
   * user, and this tool call then returns the question (the call goes on; the answer tool waits
   * for its result). With a filler delay the wait gets a filler once it runs past the delay; a
   * tool that was that slow before carries a progress token, so the filler can say how far it
   * got. A background call (`extra`) gets its questions as updates and waits for its result.
   *
   * @throws llm.ToolError with a sentence for the model when the call fails (the abort error
   *   itself when the call was aborted), or when the tool has been withheld since the model was
   *   given it (issue 16; nothing is sent to the server).
   */
  #call(
    tool: AdvertisedTool,
    args: Record<string, unknown>,
    signal: AbortSignal,
    ctx: voice.RunContext | undefined,
    extra?: BackgroundCallExtra,
  ): Promise<string> {
    // Not an async function, and no spread of `extra` on the foreground path: every session call
    // comes this way, and each promise layer and copied object is latency (`npm run bench`,
    // toolCallOverhead).
    // A call the model started (or a confirmation it got) before the tool was withheld.
    const withheld =
      this.#withheld.length > 0
        ? this.#withheld.find((entry) => entry.name === tool.name)
        : undefined;
    if (withheld) {
      return Promise.reject(new llm.ToolError(withheldToolAnswer(this.server.name, [withheld])));
    }
    if (!ctx) {
      const { answered, started } = this.#request(tool, { signal, ...extra }, args);
      return new Promise<string>((settle, fail) => {
        this.#sent(this.#receive(tool, answered, started, signal, { settle, fail }));
      });
    }
    const options: CallToolOptions = extra ? { signal, ...extra } : { signal };
    if (!extra && this.#slowCalls?.wasSlow(tool.originalName)) {
      // No report can arrive before the held call is made, below (the same turn of the loop).
      options.onProgress = (progress) => held.progressed(progress);
    }
    const { answered, started } = this.#request(tool, options, args);
    // The request is out: what waits for its outcome is made while the server works. Its
    // elicitation handler is read only when the server asks (`CallToolOptions.onElicitation`).
    const held = this.#elicitations.hold({
      toolName: tool.originalName,
      ctx,
      signal,
      background: extra !== undefined,
    });
    options.onElicitation = held.handler;
    this.#sent(this.#receive(tool, answered, started, signal, held));
    return extra ? held.result() : held.wait(ctx, signal);
  }

  /**
   * Sends one MCP call: the answer to come, and `performance.now()` once the request is out (or
   * waits for the connection). A connection that throws instead of rejecting is taken as one
   * that rejected.
   */
  #request(
    tool: AdvertisedTool,
    options: CallToolOptions,
    args: Record<string, unknown>,
  ): { answered: Promise<CallToolResult>; started: number } {
    let answered: Promise<CallToolResult>;
    try {
      answered = this.connection.callTool(tool.originalName, args, options);
    } catch (error) {
      answered = Promise.reject(error as Error);
    }
    return { answered, started: performance.now() };
  }

  /**
   * Records the call {@link #receive} waited for once the tool call waiting for it has its
   * outcome, in a job of its own after that tool call's: the row and its log line are not on the
   * call's latency (`npm run bench`, toolCallOverhead). A rejection, which only a bug there could
   * cause, is logged, never thrown: it must not end the worker.
   */
  #sent(receiving: Promise<ToolCallRecord>): void {
    receiving.then(this.#record, this.#sendFailed);
  }

  readonly #record = (record: ToolCallRecord): void => this.#log.record(record);

  readonly #sendFailed = (error: unknown): void => {
    this.#logger.error({ err: describeError(error) }, 'tool call bookkeeping failed');
  };

  /**
   * Waits for one MCP call's answer and hands what the model reads (or the `ToolError` for it)
   * to `outcome`: straight to the tool call waiting for it, with no promise layer between
   * (`npm run bench`, toolCallOverhead).
   *
   * @param answered the call's answer, from {@link #request}.
   * @param started `performance.now()` when its request went out.
   * @param signal the tool call's signal (an aborted call fails with the abort error itself).
   * @param outcome gets the text, or fails with an `llm.ToolError` holding a sentence for the
   *   model (the abort error itself when the call was aborted).
   * @returns the call's `tool_calls` row, for {@link #sent}; does not reject.
   */
  async #receive(
    tool: AdvertisedTool,
    answered: Promise<CallToolResult>,
    started: number,
    signal: AbortSignal,
    outcome: CallOutcome,
  ): Promise<ToolCallRecord> {
    let error: string | null = null;
    try {
      const result = await answered;
      const plain = plainResultText(result, this.#maxResultChars);
      if (plain !== undefined) outcome.settle(plain);
      else error = await this.#convert(tool, result, signal, outcome);
    } catch (thrown) {
      error = this.connection.scrubber.scrub(describeError(thrown));
      outcome.fail(await this.#failure(tool, thrown, signal));
    }
    const durationMs = performance.now() - started;
    return {
      userId: this.#scope.userId,
      serverId: this.server.id,
      toolName: tool.originalName,
      roomName: this.#scope.roomName ?? null,
      sessionId: this.#scope.sessionId ?? null,
      // The wall clock now, less the call's monotonic duration: no Date made before the request.
      startedAt: new Date(Date.now() - durationMs),
      durationMs,
      ok: error === null,
      error,
    };
  }

  /**
   * Turns a result that is more than one plain text into what the model reads and hands it to
   * `outcome`: resource links and embedded resources are read for the ear (or put on the
   * screen), structured content summarized; a result marked `isError` fails the tool call.
   *
   * @returns the error text for the record (scrubbed of the server's secrets), or null.
   */
  async #convert(
    tool: AdvertisedTool,
    result: CallToolResult,
    signal: AbortSignal | undefined,
    outcome: CallOutcome,
  ): Promise<string | null> {
    const reading = this.#resources.describeResultParts(result, signal);
    const parts = reading && (await reading);
    const { text, isError } = toolResultToText(result, {
      maxChars: this.#maxResultChars,
      structured: 'summary',
      describePart: parts && ((part) => parts.get(part)),
    });
    if (!isError) {
      outcome.settle(text);
      return null;
    }
    // A failing tool may quote the request it got: its own secrets never reach the record.
    const error = this.connection.scrubber.scrub(text);
    outcome.fail(new llm.ToolError(toolSaidSentence(this.server.name, tool.originalName, error)));
    return error;
  }

  /**
   * What the tool call throws for a call that failed with `thrown`: the abort error itself when
   * the call was cancelled (by the tool call's signal, or the one its MCP call follows since the
   * server asked something), else an `llm.ToolError` with a sentence for the model (after sending
   * the pages of a "URL elicitation required" error to the user's screen). Never rejects.
   */
  async #failure(tool: AdvertisedTool, thrown: unknown, signal?: AbortSignal): Promise<unknown> {
    const cancelled = thrown instanceof McpConnectionError && thrown.code === 'cancelled';
    if (signal?.aborted || cancelled) return thrown;
    if (thrown instanceof McpConnectionError && thrown.urlElicitations) {
      // The server needs the user on a web page first (-32042): links to the screen.
      return new llm.ToolError(
        await this.#elicitations.urlRequired(tool.originalName, tool.name, thrown.urlElicitations),
      );
    }
    return new llm.ToolError(callFailedSentence(this.server.name, tool.originalName, thrown));
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
