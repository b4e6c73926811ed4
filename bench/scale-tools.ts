/**
 * The tool-budget benchmark (`scale.tools`): a session of many MCP servers with many tools each,
 * connected over Streamable HTTP to an in-process server and built as a session builds them
 * (`McpToolset` per server, one `ToolBudget`), measures what the OpenAI realtime model would be
 * sent and how long `find_tools` takes.
 *
 * `sessionUpdateBytes` is the size of the `tools` of the `session.update` the OpenAI plugin
 * builds for the advertised tools, by the plugin's own conversion
 * (`realtime.RealtimeSession#createToolsUpdateEvent`, called on a bare receiver: it reads only
 * the model options), so it is the payload a realtime session really carries.
 */
import { llm } from '@livekit/agents';
import { realtime } from '@livekit/agents-plugin-openai';
import { McpToolset } from '../agent/mcp-toolset.js';
import { FIND_TOOLS_NAME, ToolBudget } from '../agent/tool-budget.js';
import type { Logger } from '../shared/logger.js';
import { mcpServerConfigSchema } from '../shared/mcp/server-config.js';
import { SupervisedConnection } from '../shared/mcp/supervised-connection.js';
import { startManyToolsMcpServer } from '../test/helpers/many-tools-mcp-server.js';
import { median, round } from './stats.js';

/** What the tool-budget benchmark measured. */
export interface ScaleTools {
  servers: number;
  toolsPerServer: number;
  /** Every tool of every server. */
  totalTools: number;
  /** The budget (`AGENT_MAX_TOOLS`). */
  maxTools: number;
  /** Function tools advertised at start, `find_tools` included. */
  advertisedTools: number;
  /** Bytes of the `session.update` `tools` JSON for the advertised tools. */
  sessionUpdateBytes: number;
  /** The same for every tool, as a session without a budget would send. */
  unbudgetedSessionUpdateBytes: number;
  /**
   * `maxTools` tools' worth of bytes: the largest payload any `maxTools` tools could make, i.e.
   * `find_tools` and the `maxTools - 1` largest MCP tools (array brackets and commas included).
   */
  budgetBytes: number;
  /** Median time of one `find_tools` search and selection, in milliseconds. */
  findToolsMs: number;
  /** Building the search index over every tool (once per tool-list change), in milliseconds. */
  indexBuildMs: number;
  /** `find_tools` calls measured. */
  searches: number;
}

/** The `tools` JSON of the `session.update` the OpenAI realtime plugin sends for `entries`. */
function sessionUpdateTools(entries: llm.ToolContextEntry[]): string {
  const build = (
    realtime.RealtimeSession.prototype as unknown as {
      createToolsUpdateEvent(
        this: unknown,
        tools: llm.ToolContext,
      ): { session: { tools: unknown } };
    }
  ).createToolsUpdateEvent;
  const receiver = { _options: { model: 'gpt-realtime', isAzure: false } };
  return JSON.stringify(build.call(receiver, new llm.ToolContext(entries)).session.tools);
}

/**
 * Connects `servers` × `toolsPerServer` tools, builds the session's budgeted tools with
 * `maxTools`, and times `searches` `find_tools` calls (queries cycle over tool names and words).
 */
export async function measureScaleTools(options: {
  servers: number;
  toolsPerServer: number;
  maxTools: number;
  searches: number;
  logger: Logger;
}): Promise<ScaleTools> {
  const { servers, toolsPerServer, maxTools, logger } = options;
  const mcp = await startManyToolsMcpServer(servers, toolsPerServer);
  const budget = new ToolBudget({ maxTools, logger });
  const toolsets: McpToolset[] = [];
  try {
    const taken = new Set<string>();
    for (let n = 0; n < servers; n++) {
      const connection = new SupervisedConnection(
        mcpServerConfigSchema.parse({ transport: 'streamable-http', url: mcp.urlOf(n) }),
        { logger, label: `ledger-${n}` },
      );
      if (!(await connection.start())) throw new Error(`ledger ${n} did not connect`);
      toolsets.push(
        new McpToolset({
          server: { id: n + 1, name: `Ledger ${n}` },
          connection,
          tools: connection.tools,
          taken,
          scope: { userId: 0, roomName: null, sessionId: 'bench' },
          budget,
          logger,
        }),
      );
    }
    const entries = budget.entries(toolsets);
    const advertisedTools = budget.advertisedCount();
    const sessionUpdateBytes = Buffer.byteLength(sessionUpdateTools(entries));
    const everyTool = toolsets.flatMap((toolset) => toolset.catalog.map((entry) => entry.tool));
    const unbudgetedSessionUpdateBytes = Buffer.byteLength(sessionUpdateTools(everyTool));
    // Each tool alone is `[<tool>]`: 2 bytes of brackets, and a comma between tools in a list.
    const sizeOf = (entry: llm.ToolContextEntry) =>
      Buffer.byteLength(sessionUpdateTools([entry])) - 2;
    const findTool = entries.find(
      (entry): entry is llm.FunctionTool =>
        llm.isFunctionTool(entry) && entry.name === FIND_TOOLS_NAME,
    );
    const largest = everyTool
      .map(sizeOf)
      .sort((a, b) => b - a)
      .slice(0, maxTools - (findTool ? 1 : 0));
    const worth = [...largest, ...(findTool ? [sizeOf(findTool)] : [])];
    const budgetBytes = worth.reduce((sum, size) => sum + size, 0) + worth.length - 1 + 2;

    const indexStarted = performance.now();
    budget.search('warm up');
    const indexBuildMs = performance.now() - indexStarted;
    const queries = [
      'weather forecast',
      ...Array.from({ length: 9 }, (_, i) => `ledger ${(i * 7) % servers} step ${(i * 13) % 40}`),
      'bookkeeping',
    ];
    const times: number[] = [];
    for (let i = 0; i < options.searches; i++) {
      const started = performance.now();
      await budget.find(queries[i % queries.length]!);
      times.push(performance.now() - started);
    }
    if (budget.advertisedCount() > maxTools) throw new Error('the budget was exceeded');
    const totalTools = budget.totalTools;
    return {
      servers,
      toolsPerServer,
      totalTools,
      maxTools,
      advertisedTools,
      sessionUpdateBytes,
      unbudgetedSessionUpdateBytes,
      budgetBytes,
      findToolsMs: round(median(times), 3),
      indexBuildMs: round(indexBuildMs, 2),
      searches: options.searches,
    };
  } finally {
    await Promise.all(toolsets.map((toolset) => toolset.aclose()));
    await mcp.close();
  }
}
