/**
 * The resource tools a voice session adds for a server with the MCP `resources` capability
 * (issue 16; MCP 2025-11-25, "Resources"): their MCP-style names, how they are advertised, and
 * what the model is told of them. The agent runs them (`agent/resource-tools.ts`); the API lists
 * them with the server's tools (`GET /api/mcp/servers/:id/tools`), so both say the same.
 */
import {
  advertiseTools,
  type AdvertisedTool,
  type ToolParametersSchema,
} from './advertised-tools.js';
import type { ToolFilter } from './server-config.js';

/** MCP-style names of the resource tools, advertised as `<server>__<name>`. */
export const LIST_RESOURCES_TOOL = 'list_resources';
export const LIST_RESOURCE_TEMPLATES_TOOL = 'list_resource_templates';
export const READ_RESOURCE_TOOL = 'read_resource';

/** The three, in the order they are advertised. */
export const RESOURCE_TOOL_NAMES = [
  LIST_RESOURCES_TOOL,
  LIST_RESOURCE_TEMPLATES_TOOL,
  READ_RESOURCE_TOOL,
] as const;

/** One of {@link RESOURCE_TOOL_NAMES}. */
export type ResourceToolName = (typeof RESOURCE_TOOL_NAMES)[number];

/**
 * The resource tools of one server, named after the tools that took their names first: each of
 * {@link RESOURCE_TOOL_NAMES} that `filter` lets through, with its description and parameters.
 *
 * @param serverName the server's display name (prefix of every advertised name).
 * @param options.filter the server's tool filter, applied to the MCP-style names.
 * @param options.taken advertised names already in use in the session; the new names are added.
 * @returns the advertised tools (`originalName` is the MCP-style name), possibly empty.
 */
export function advertiseResourceTools(
  serverName: string,
  options: { filter?: ToolFilter; taken?: Set<string> } = {},
): AdvertisedTool[] {
  const named = advertiseTools(
    serverName,
    RESOURCE_TOOL_NAMES.map((name) => ({ name, inputSchema: { type: 'object' as const } })),
    options,
  );
  const names = new Map(named.map((tool) => [tool.originalName as ResourceToolName, tool.name]));
  return named.map((tool) => ({
    ...tool,
    ...resourceToolDefinition(serverName, tool.originalName as ResourceToolName, names),
  }));
}

/**
 * What the model is told of one resource tool: its description (naming the server's other
 * resource tools that exist, by their advertised names) and JSON Schema parameters.
 *
 * @param serverName the server's display name.
 * @param tool which resource tool.
 * @param names the advertised names of the server's resource tools that exist.
 */
export function resourceToolDefinition(
  serverName: string,
  tool: ResourceToolName,
  names: ReadonlyMap<ResourceToolName, string>,
): { description: string; parameters: ToolParametersSchema } {
  const list = names.get(LIST_RESOURCES_TOOL);
  const templates = names.get(LIST_RESOURCE_TEMPLATES_TOOL);
  const read = names.get(READ_RESOURCE_TOOL);
  switch (tool) {
    case LIST_RESOURCES_TOOL:
      return {
        description:
          `Lists the resources (documents, files, data) of ${serverName}, with their names and ` +
          `addresses.${read ? ` Read one with ${read} and its uri.` : ''}`,
        parameters: {
          type: 'object',
          properties: {
            query: {
              type: 'string',
              description: 'Only resources whose name, title or address contains these words.',
            },
          },
          additionalProperties: false,
        },
      };
    case LIST_RESOURCE_TEMPLATES_TOOL:
      return {
        description:
          `Lists the resource templates of ${serverName}: addresses with {placeholders} that name ` +
          `many resources (for example one per id).` +
          (read ? ` Fill in the placeholders and read the address with ${read}.` : ''),
        parameters: { type: 'object', properties: {}, additionalProperties: false },
      };
    case READ_RESOURCE_TOOL: {
      const from = [
        list && `from ${list}`,
        templates && `a template of ${templates} filled in`,
        'or a resource link a tool returned',
      ].filter(Boolean);
      return {
        description:
          `Reads one resource of ${serverName} by its uri (${from.join(', ')}). Text comes back ` +
          "for you to speak from; binary or long content is put on the user's screen.",
        parameters: {
          type: 'object',
          properties: {
            uri: { type: 'string', description: 'The resource address, exactly as listed.' },
          },
          required: ['uri'],
          additionalProperties: false,
        },
      };
    }
  }
}
