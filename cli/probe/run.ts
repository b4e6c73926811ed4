/**
 * What `npm run probe` does with a server: connects with the agent's own connection code
 * (`McpConnection`), lists its tools as the agent would advertise them, optionally calls one, and
 * closes the connection (ending a stdio server's process) whatever happens.
 */
import type { Implementation, ServerCapabilities } from '@modelcontextprotocol/sdk/types.js';
import type { Logger } from '../../shared/logger.js';
import { advertiseTools } from '../../shared/mcp/advertised-tools.js';
import { McpConnection } from '../../shared/mcp/connection.js';
import type { ConnectionGuards } from '../../shared/mcp/connection-guards.js';
import type { McpServerConfig } from '../../shared/mcp/server-config.js';
import { toolResultToText } from '../../shared/mcp/tool-result.js';
import type { ProbeCall } from './args.js';

/** One tool of the probed server. */
export interface ProbeTool {
  /** Name the agent advertises to the model, e.g. `everything__echo`. */
  name: string;
  /** Name the server knows the tool by. */
  originalName: string;
  description: string;
}

/** Everything the probe learned; {@link formatProbeReport} prints it. */
export interface ProbeReport {
  /** The URL, or the command line of a stdio server. */
  target: string;
  /** The transport asked for. */
  requestedTransport: McpServerConfig['transport'];
  /** The transport used: `sse` when a `streamable-http` server only spoke HTTP+SSE. */
  transport: McpServerConfig['transport'];
  serverInfo?: Implementation;
  /** The negotiated MCP protocol version. */
  protocolVersion?: string;
  capabilities?: ServerCapabilities;
  instructions?: string;
  /** Time to a completed `initialize`, in milliseconds. */
  connectMs: number;
  tools: ProbeTool[];
  call?: ProbeCallResult;
}

/** The outcome of `--call`. */
export interface ProbeCallResult {
  /** The tool's MCP name. */
  tool: string;
  args: Record<string, unknown>;
  /** The result as the agent hands it to the model (`toolResultToText`). */
  text: string;
  /** True when the server answered `isError: true`. */
  isError: boolean;
  durationMs: number;
}

/** Options of {@link runProbe}. */
export interface RunProbeOptions {
  logger: Logger;
  /** Display name whose slug prefixes advertised names; default the server's own name. */
  name?: string;
  /** A tool to call after listing. */
  call?: ProbeCall;
  /**
   * The guards the connection is made under (`connectionGuards` of the settings, in
   * `cli/probe/main.ts`); default none (`{}`: private networks allowed, any command,
   * unsandboxed).
   */
  guards?: ConnectionGuards;
}

/**
 * Connects, lists the tools, runs the call if asked, and closes.
 *
 * @returns the report; a call answered with `isError: true` is reported, not thrown.
 * @throws McpConnectionError when connecting, listing or calling fails; Error when `call.tool` is
 *   not one of the server's tools.
 */
export async function runProbe(
  config: McpServerConfig,
  options: RunProbeOptions,
): Promise<ProbeReport> {
  const connection = new McpConnection(config, { ...options.guards, logger: options.logger });
  try {
    const info = await connection.connect();
    const mcpTools = await connection.listTools();
    const serverName = options.name ?? info.serverInfo?.name ?? 'server';
    const tools = advertiseTools(serverName, mcpTools).map(
      ({ name, originalName, description }) => ({ name, originalName, description }),
    );
    const report: ProbeReport = {
      target: describeTarget(config),
      requestedTransport: config.transport,
      transport: info.transport,
      serverInfo: info.serverInfo,
      protocolVersion: info.protocolVersion,
      capabilities: info.capabilities,
      instructions: info.instructions,
      connectMs: info.latencyMs,
      tools,
    };
    if (options.call) report.call = await callTool(connection, tools, options.call);
    return report;
  } finally {
    await connection.close();
  }
}

async function callTool(
  connection: McpConnection,
  tools: readonly ProbeTool[],
  call: ProbeCall,
): Promise<ProbeCallResult> {
  const tool = tools.find((t) => t.originalName === call.tool || t.name === call.tool);
  if (!tool) {
    const names = tools.map((t) => t.originalName);
    const listed = names.length > 20 ? `${names.slice(0, 20).join(', ')}, …` : names.join(', ');
    throw new Error(
      `unknown tool "${call.tool}": the server has ${names.length === 0 ? 'no tools' : listed}`,
    );
  }
  const started = performance.now();
  const result = await connection.callTool(tool.originalName, call.args);
  const durationMs = Math.round((performance.now() - started) * 10) / 10;
  return { tool: tool.originalName, args: call.args, ...toolResultToText(result), durationMs };
}

function describeTarget(config: McpServerConfig): string {
  if (config.transport !== 'stdio') return config.url;
  return [config.command, ...config.args].map(quoteIfNeeded).join(' ');
}

function quoteIfNeeded(word: string): string {
  return /^[\w./:=@%+-]+$/.test(word) ? word : JSON.stringify(word);
}
