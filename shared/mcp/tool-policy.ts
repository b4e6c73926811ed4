/**
 * How the agent treats one MCP tool, from the server's `tool_policy` and the tool's own
 * MCP metadata (MCP spec 2025-11-25, "Tools › Tool": `annotations` and `execution`), and the
 * per-server confirm tool a session adds when any tool needs confirmation. Shared so the API's
 * `GET /api/mcp/servers/:id/tools` lists exactly what a session advertises.
 */
import type { Tool as McpTool } from '@modelcontextprotocol/sdk/types.js';
import type { ToolParametersSchema } from './advertised-tools.js';
import type { ToolPolicy } from './server-config.js';

/**
 * True when a call of `tool` needs the user's spoken yes first: every tool with
 * `confirm: 'always'`, none with `'never'`, and otherwise (`'destructive'`, the default) a tool
 * whose annotations say `destructiveHint: true` without `readOnlyHint: true`. MCP annotations are
 * hints from the server; a missing tool (not listed) needs no confirmation.
 *
 * @param tool the tool as the server listed it.
 * @param policy the server's `tool_policy`; default `{}`.
 */
export function needsConfirmation(tool: McpTool | undefined, policy: ToolPolicy = {}): boolean {
  const mode = policy.confirm ?? 'destructive';
  if (mode === 'always') return true;
  if (mode === 'never' || !tool) return false;
  return tool.annotations?.destructiveHint === true && tool.annotations.readOnlyHint !== true;
}

/**
 * True when `tool` runs in the background: named in the policy's `longRunning` (or it is
 * `'all'`), or its `execution.taskSupport` is `optional` or `required` (the server says the tool
 * may be run as an MCP task, i.e. it can take long). MCP has no other "slow" hint.
 *
 * @param tool the tool as the server listed it.
 * @param policy the server's `tool_policy`; default `{}`.
 */
export function isLongRunning(tool: McpTool | undefined, policy: ToolPolicy = {}): boolean {
  if (!tool) return false;
  const listed = policy.longRunning;
  if (listed === 'all' || listed?.includes(tool.name)) return true;
  const taskSupport = (tool as { execution?: { taskSupport?: string } }).execution?.taskSupport;
  return taskSupport === 'optional' || taskSupport === 'required';
}

/** MCP-style name of the per-server confirm tool, advertised as `<server>__confirm_action`. */
export const CONFIRM_TOOL_NAME = 'confirm_action';

/**
 * The confirm tool's description and JSON Schema parameters, as the model sees them.
 *
 * @param serverName the server's display name.
 */
export function confirmToolDefinition(serverName: string): {
  description: string;
  parameters: ToolParametersSchema;
} {
  return {
    description:
      `Runs or drops an action of ${serverName} that waited for the user's confirmation. ` +
      'Call it only after the user has answered: approved true only for a clear yes; remember ' +
      'true as well only when the user said not to ask again ("yes, and don\'t ask again"), ' +
      'which lets that tool run without asking for the rest of this session.',
    parameters: {
      type: 'object',
      properties: {
        confirmation_id: { type: 'string', description: 'The id the action answered with.' },
        approved: { type: 'boolean', description: 'True only if the user clearly said yes.' },
        remember: {
          type: 'boolean',
          description:
            'True only if the user said yes and not to ask again for this tool ("yes, and don\'t ' +
            'ask again"); never on your own. Default false.',
        },
      },
      required: ['confirmation_id', 'approved'],
      additionalProperties: false,
    },
  };
}
