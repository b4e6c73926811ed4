/**
 * One MCP server's tools as a LiveKit `llm.Toolset` (agents-js `src/llm/tool_context.ts`): each
 * MCP tool becomes a function tool named as DESIGN §4 says, whose `execute` calls the server
 * with the tool's original name. Failures the model should hear about come back as
 * `llm.ToolError` (DESIGN §7.4), and every call is written to `tool_calls` without delaying the
 * result.
 */
import { llm } from '@livekit/agents';
import type { Tool as McpTool } from '@modelcontextprotocol/sdk/types.js';
import type { ToolFilter } from '../shared/db/schema.js';
import type { ToolCallRecord } from '../shared/db/tool-calls.js';
import type { Logger } from '../shared/logger.js';
import {
  McpConnectionError,
  advertiseTools,
  describeError,
  toolResultToText,
  type AdvertisedTool,
} from '../shared/mcp/index.js';
import type { SupervisedConnection } from '../shared/mcp/supervised-connection.js';

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
  logger: Logger;
}

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
  #advertised: AdvertisedTool[] = [];
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
    for (const tool of this.#advertised) this.#taken.delete(tool.name);
    const functionTools = this.#buildTools(tools);
    if (this.#context) this.#context.updateTools(functionTools);
    else this._setTools(functionTools);
    this.#logger.info({ toolCount: functionTools.length }, 'mcp server tools updated');
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

  /** Closes the connection, ending a stdio server's child process. Safe to call twice. */
  override async aclose(): Promise<void> {
    await this.connection.close();
  }

  #buildTools(mcpTools: readonly McpTool[]): llm.FunctionTool[] {
    this.#advertised = advertiseTools(this.server.name, mcpTools, {
      filter: this.server.toolFilter,
      taken: this.#taken,
    });
    return this.#advertised.map((advertised) =>
      llm.tool({
        name: advertised.name,
        description: advertised.description,
        // Already a clean JSON Schema object (advertiseTools); only its static type differs.
        parameters: advertised.parameters as llm.FunctionTool['parameters'],
        execute: (args: Record<string, unknown> | undefined, { abortSignal }) =>
          this.#call(advertised, args ?? {}, abortSignal),
      }),
    );
  }

  async #call(
    tool: AdvertisedTool,
    args: Record<string, unknown>,
    signal: AbortSignal,
  ): Promise<string> {
    const startedAt = new Date();
    const started = performance.now();
    let error: string | null = null;
    try {
      const result = await this.connection.callTool(tool.originalName, args, { signal });
      const { text, isError } = toolResultToText(result, { maxChars: this.#maxResultChars });
      if (isError) {
        error = text;
        throw new llm.ToolError(text);
      }
      return text;
    } catch (thrown) {
      if (thrown instanceof llm.ToolError) throw thrown;
      error = describeError(thrown);
      if (signal.aborted) throw thrown;
      throw new llm.ToolError(this.#sentenceFor(tool, thrown));
    } finally {
      this.#record({
        userId: this.#scope.userId,
        serverId: this.server.id,
        toolName: tool.originalName,
        roomName: this.#scope.roomName ?? null,
        sessionId: this.#scope.sessionId ?? null,
        startedAt,
        durationMs: performance.now() - started,
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
        return `The ${server} server could not run ${tool.originalName}: ${error.message}`;
      case 'timeout':
        return `The ${server} server did not answer ${tool.originalName} in time, so it was cancelled.`;
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
