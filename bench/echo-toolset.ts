/**
 * Switchboard's side of the tool-call benchmark: one MCP server's tool exactly as an agent session
 * gets it, i.e. the `execute` function of the `FunctionTool` that `McpToolset` exposes, over a
 * started `SupervisedConnection`. Construction lives here only, so a change of `McpToolset`'s
 * constructor is adapted in one place.
 */
import { llm } from '@livekit/agents';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { McpToolset } from '../agent/mcp-toolset.js';
import type { Logger } from '../shared/logger.js';
import type { McpServerConfig } from '../shared/mcp/server-config.js';
import { SupervisedConnection } from '../shared/mcp/supervised-connection.js';

/** The JSON object a function tool is called with. */
export type ToolArguments = Parameters<llm.FunctionTool['execute']>[0];

/** One tool of a Switchboard toolset, callable as the agent runtime calls it. */
export interface BenchTool {
  /** The name advertised to the model, e.g. `bench__echo`. */
  name: string;
  /**
   * Calls the tool through `FunctionTool.execute` with the smallest options object the runtime
   * could pass: McpToolset's `execute` reads only `abortSignal`, so `ctx` is left out (cast).
   *
   * @param abortSignal the call's signal; the agents runtime gives each tool task its own
   *   AbortController, so pass a fresh one per call (the SDK never removes the abort listener it
   *   adds, so a shared signal would pile listeners up).
   */
  call(args: ToolArguments, abortSignal: AbortSignal): Promise<unknown>;
  /**
   * Calls the same tool through the bare SDK `Client.callTool` of the very connection the tool
   * uses (same transport, same server process), with the SDK's default options, and returns the
   * first text block. Throws when the connection is down.
   */
  bareCall(args: Record<string, unknown>): Promise<string | undefined>;
  /** Closes the toolset and its connection (ending a stdio server's process). */
  close(): Promise<void>;
}

/**
 * Connects to the server as a session would and returns its tool `toolName`. No tool-call
 * recorder is passed, so nothing is written per call; the toolset's per-call log line goes to
 * `logger` (pass a silent one).
 *
 * @throws Error when the server cannot be reached or has no such tool.
 */
export async function createBenchTool(
  config: McpServerConfig,
  toolName: string,
  logger: Logger,
): Promise<BenchTool> {
  const connection = new SupervisedConnection(config, { logger, label: 'bench' });
  if (!(await connection.start())) {
    await connection.close();
    throw new Error(`bench server unreachable: ${connection.lastError?.message ?? 'unknown'}`);
  }
  const toolset = new McpToolset({
    server: { id: 1, name: 'bench' },
    connection,
    tools: connection.tools,
    scope: { userId: 0, roomName: null, sessionId: 'bench' },
    logger,
  });
  const name = toolset.advertisedTools.find((tool) => tool.originalName === toolName)?.name;
  const tool = toolset.tools.find(
    (entry): entry is llm.FunctionTool => llm.isFunctionTool(entry) && entry.name === name,
  );
  if (!name || !tool) {
    await toolset.aclose();
    throw new Error(`the bench server has no ${toolName} tool`);
  }
  let callId = 0;
  return {
    name,
    call: (args, abortSignal) =>
      tool.execute(args, { ctx: undefined as never, toolCallId: `bench-${++callId}`, abortSignal }),
    bareCall: async (args) => {
      const client = connection.sdkClient;
      if (!client) throw new Error('the bench connection is down');
      const result = await client.callTool({ name: toolName, arguments: args });
      const first = (result as CallToolResult).content[0];
      return first?.type === 'text' ? first.text : undefined;
    },
    close: () => toolset.aclose(),
  };
}
