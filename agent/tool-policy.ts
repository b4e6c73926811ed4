/**
 * How the agent treats one MCP tool, from the server's `tool_policy` and the tool's own
 * MCP metadata (MCP spec 2025-11-25, "Tools › Tool": `annotations` and `execution`).
 */
import type { Tool as McpTool } from '@modelcontextprotocol/sdk/types.js';
import type { ToolPolicy } from '../shared/mcp/server-config.js';

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
