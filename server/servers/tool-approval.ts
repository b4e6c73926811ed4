/**
 * Which tools `POST /api/mcp/servers/:id/tools/approve` approves (issue 16): the named ones
 * among those the server lists now, each at most once, and only the definition the caller saw
 * when they gave its hash.
 */
import type { Tool } from '@modelcontextprotocol/sdk/types.js';
import type { z } from 'zod';
import type { McpServerRow } from '../../shared/db/schema.js';
import { toolHash } from '../../shared/mcp/tool-pinning.js';
import type { approveToolsBody } from '../api/schemas.js';
import { ConflictError, HttpError } from '../http/errors.js';

/** 422: the body names tools the server does not list now; `errors` points at each. */
export class UnknownToolsProblem extends HttpError {
  override readonly name = 'UnknownToolsProblem';
  /**
   * @param server the server's display name.
   * @param unknown each unknown name with its index in `tools`.
   */
  constructor(server: string, unknown: readonly { index: number; name: string }[]) {
    super(
      422,
      'unknown_tool',
      `${server} does not list ${unknown.map((entry) => JSON.stringify(entry.name)).join(', ')} ` +
        'now, so there is nothing to approve under that name; use the tool names (originalName) ' +
        'GET /api/mcp/servers/:id/tools gives. Nothing was approved.',
      {
        errors: unknown.map((entry) => ({
          path: `body.tools.${entry.index}`,
          message: 'not a tool the server lists now',
        })),
      },
    );
  }
}

/**
 * The tools to approve, in the order named, each once.
 *
 * @param row the server (for its name in errors).
 * @param tools the server's tools as it lists them now (before the tool filter).
 * @param named the body's `tools`: MCP names, or `{name, hash}` to approve only that definition.
 * @throws UnknownToolsProblem (422) when a name is not a tool the server lists now;
 *   ConflictError (409) when a given hash is not the tool's definition now.
 */
export function toolsToApprove(
  row: Pick<McpServerRow, 'name'>,
  tools: readonly Tool[],
  named: z.output<typeof approveToolsBody>['tools'],
): Tool[] {
  const byName = new Map<string, Tool>();
  for (const tool of tools) if (!byName.has(tool.name)) byName.set(tool.name, tool);
  const unknown: { index: number; name: string }[] = [];
  const changed: string[] = [];
  const chosen = new Map<string, Tool>();
  named.forEach((entry, index) => {
    const name = typeof entry === 'string' ? entry : entry.name;
    const tool = byName.get(name);
    if (!tool) return void unknown.push({ index, name });
    if (typeof entry !== 'string' && toolHash(tool) !== entry.hash) changed.push(name);
    chosen.set(name, tool);
  });
  if (unknown.length > 0) throw new UnknownToolsProblem(row.name, unknown);
  if (changed.length > 0) {
    throw new ConflictError(
      `${changed.map((name) => JSON.stringify(name)).join(', ')} of ${row.name} changed again ` +
        'since the hash given: list the tools again, look at what changed, and approve the new ' +
        'hash. Nothing was approved.',
    );
  }
  return [...chosen.values()];
}
