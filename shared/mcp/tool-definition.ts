/**
 * Which tool definitions from a server are usable at all. A tool is skipped (with a warning, by
 * the connection that lists it) when its name breaks the MCP tool name rule (MCP spec 2025-11-25,
 * "Tools › Tool names": 1–128 of `A-Z a-z 0-9 _ - .`, checked with the SDK's own
 * `validateToolName`), when its name, title or description holds a control character (C0 or
 * DEL; tab, line feed and carriage return are allowed in the title and description), or when any
 * string or key anywhere in it holds NUL: PostgreSQL `text` and `jsonb` cannot store `\u0000`, so
 * such a tool would make every status write and tool call record of its server fail.
 */
import { validateToolName } from '@modelcontextprotocol/sdk/shared/toolNameValidation.js';

/** C0 controls and DEL, except tab, line feed and carriage return. */
// eslint-disable-next-line no-control-regex
const CONTROL_IN_TEXT = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/;

/**
 * Why a tool definition cannot be used, or `undefined` when it can.
 *
 * @param tool a tool from `tools/list` that passed the SDK's `Tool` schema (only `name`, `title`,
 *   `description` are read by name; every other member is scanned for NUL).
 * @returns one sentence, e.g. `its name "a b" breaks the MCP tool name rule (…)`.
 */
export function toolDefinitionProblem(tool: {
  name: string;
  title?: string;
  description?: string;
  [member: string]: unknown;
}): string | undefined {
  const name = validateToolName(tool.name);
  if (!name.isValid) {
    return `its name ${JSON.stringify(tool.name.slice(0, 140))} breaks the MCP tool name rule (1-128 of A-Z a-z 0-9 _ - .)`;
  }
  for (const field of ['title', 'description'] as const) {
    const text = tool[field];
    if (typeof text === 'string' && CONTROL_IN_TEXT.test(text)) {
      return `its ${field} holds a control character`;
    }
  }
  const nulAt = pathToNul(tool);
  return nulAt === undefined ? undefined : `${nulAt} holds a NUL character (\\u0000)`;
}

/**
 * The path of the first string or key holding NUL (`inputSchema.properties.x`), iteratively so a
 * deeply nested schema cannot overflow the stack; `undefined` when there is none.
 */
function pathToNul(root: unknown): string | undefined {
  const stack: [unknown, string][] = [[root, 'the tool']];
  // Bounded by the message size limit (`MCP_MAX_MESSAGE_BYTES`) the definition arrived within.
  while (stack.length > 0) {
    const [value, path] = stack.pop()!;
    if (typeof value === 'string') {
      if (value.includes('\0')) return path;
    } else if (value !== null && typeof value === 'object') {
      for (const [key, child] of Object.entries(value)) {
        if (key.includes('\0')) return `a key in ${path}`;
        stack.push([child, path === 'the tool' ? key : `${path}.${key}`]);
      }
    }
  }
  return undefined;
}
