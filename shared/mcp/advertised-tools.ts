/**
 * The form in which an MCP server's tools are handed to the model: advertised name, original
 * name, description and a clean JSON Schema for the parameters. `_meta`, `annotations`,
 * `outputSchema` and every other non-schema field stay behind (DESIGN §4 and §8: MCP `_meta`
 * once made LiveKit's realtime `session.update` fail).
 */
import type { Tool } from '@modelcontextprotocol/sdk/types.js';
import type { ToolFilter } from './server-config.js';
import { advertisedToolNames } from './tool-names.js';

/** A JSON Schema object describing a tool's arguments. */
export interface ToolParametersSchema {
  type: 'object';
  properties: Record<string, unknown>;
  required?: string[];
  [keyword: string]: unknown;
}

/** One tool as the agent advertises it and the API's `GET /:id/tools` shows it. */
export interface AdvertisedTool {
  /** Name the model calls, e.g. `everything__echo`. */
  name: string;
  /** Name the MCP server knows the tool by. */
  originalName: string;
  description: string;
  parameters: ToolParametersSchema;
}

/** Keys of a JSON Schema that carry no meaning for a model's function-calling API. */
const DROPPED_SCHEMA_KEYS = new Set(['$schema', '$id', '_meta']);

/**
 * A copy of a tool's `inputSchema` fit for a model: an `object` schema with `properties`,
 * without `$schema`, `$id` or `_meta`.
 */
export function cleanInputSchema(inputSchema: Tool['inputSchema']): ToolParametersSchema {
  const cleaned: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(inputSchema)) {
    if (!DROPPED_SCHEMA_KEYS.has(key)) cleaned[key] = value;
  }
  return {
    ...cleaned,
    type: 'object',
    properties: (inputSchema.properties as Record<string, unknown> | undefined) ?? {},
  };
}

/** True when the filter lets the tool through: allow list first, then deny list. */
export function toolPassesFilter(toolName: string, filter: ToolFilter = {}): boolean {
  if (filter.allow && filter.allow.length > 0 && !filter.allow.includes(toolName)) return false;
  return !filter.deny?.includes(toolName);
}

/** Options of {@link advertiseTools}. */
export interface AdvertiseToolsOptions {
  /** The server's allow or deny list of original tool names. */
  filter?: ToolFilter;
  /** Advertised names already in use in the session; see {@link advertisedToolNames}. */
  taken?: Set<string>;
}

/**
 * Builds the advertised tools of one server, in the server's order, after its tool filter.
 *
 * @param serverName the server's display name (prefix of every advertised name).
 * @param tools the server's tools from `tools/list`.
 */
export function advertiseTools(
  serverName: string,
  tools: readonly Tool[],
  options: AdvertiseToolsOptions = {},
): AdvertisedTool[] {
  const kept = tools.filter((tool) => toolPassesFilter(tool.name, options.filter));
  const names = advertisedToolNames(
    serverName,
    kept.map((tool) => tool.name),
    options.taken,
  );
  return kept.map((tool, index) => ({
    name: names[index]!,
    originalName: tool.name,
    description: tool.description ?? tool.title ?? `The ${tool.name} tool of ${serverName}.`,
    parameters: cleanInputSchema(tool.inputSchema),
  }));
}
