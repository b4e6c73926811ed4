/**
 * Names the agent advertises for MCP tools (DESIGN §4): `<server slug>__<tool name>`, using only
 * `[a-zA-Z0-9_-]`, at most 64 characters (the function-name rule of OpenAI's and most other
 * models' tool APIs), shortened with a stable hash suffix when too long or when two would
 * collide. The MCP server is always called with the tool's original name.
 */
import { createHash } from 'node:crypto';

/** Longest name a model's function-calling API accepts. */
export const MAX_TOOL_NAME_LENGTH = 64;
/** What separates the server slug from the tool name. */
export const TOOL_NAME_SEPARATOR = '__';
const HASH_LENGTH = 6;

/** Reduces any text to `[a-z0-9_-]`, runs of other characters becoming one `_`. */
export function slugify(text: string): string {
  const slug = text
    .toLowerCase()
    .replace(/[^a-z0-9_-]+/g, '_')
    .replace(/^[_-]+|[_-]+$/g, '');
  return slug || 'server';
}

function shortHash(text: string): string {
  return createHash('sha256').update(text).digest('hex').slice(0, HASH_LENGTH);
}

function sanitizeToolName(name: string): string {
  return name.replace(/[^a-zA-Z0-9_-]+/g, '_') || 'tool';
}

function withSuffix(base: string, key: string): string {
  const suffix = `_${shortHash(key)}`;
  return base.slice(0, MAX_TOOL_NAME_LENGTH - suffix.length) + suffix;
}

/**
 * Advertised names for one server's tools, in input order.
 *
 * @param serverName the server's display name; its slug prefixes every tool.
 * @param toolNames the tools' original MCP names.
 * @param taken names already used by other servers' tools; a colliding name gets a hash suffix.
 *   The new names are added to it, so passing the same set for each server keeps the names of a
 *   whole session unique.
 * @returns one advertised name per input name, each matching `^[a-zA-Z0-9_-]{1,64}$`.
 */
export function advertisedToolNames(
  serverName: string,
  toolNames: readonly string[],
  taken: Set<string> = new Set(),
): string[] {
  const slug = slugify(serverName);
  return toolNames.map((original) => {
    const key = `${slug}${TOOL_NAME_SEPARATOR}${original}`;
    let name = `${slug}${TOOL_NAME_SEPARATOR}${sanitizeToolName(original)}`;
    if (name.length > MAX_TOOL_NAME_LENGTH || name !== key) name = withSuffix(name, key);
    for (let attempt = 1; taken.has(name); attempt++) {
      name = withSuffix(name, `${key}#${attempt}`);
    }
    taken.add(name);
    return name;
  });
}
