/**
 * Which tool definitions from a server are usable at all. A tool is skipped (with a warning, by
 * the connection that lists it) when its name is empty, longer than 128 characters or holds a
 * control character, when its title or description holds a control character (C0 or DEL; tab,
 * line feed and carriage return are allowed there), or when any string or key anywhere in it
 * holds NUL: PostgreSQL `text` and `jsonb` cannot store `\u0000`, so such a tool would make every
 * status write and tool call record of its server fail.
 *
 * The MCP spec (2025-11-25, "Tools › Tool names") says names SHOULD be 1–128 of
 * `A-Z a-z 0-9 _ - .`; only the length is enforced here, as the SDK itself only warns: a name
 * with a space or a slash is still a usable tool, and the model sees a sanitized name anyway
 * (`tool-names.ts`).
 */

/** Longest tool name accepted, in characters (MCP spec 2025-11-25, "Tools › Tool names"). */
export const MAX_TOOL_NAME_LENGTH = 128;

/** C0 controls, DEL and C1 controls: none belongs in a name. */
// eslint-disable-next-line no-control-regex
const CONTROL_IN_NAME = /[\u0000-\u001f\u007f-\u009f]/;

/** C0 controls and DEL, except tab, line feed and carriage return. */
// eslint-disable-next-line no-control-regex
const CONTROL_IN_TEXT = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/;

/**
 * Why a tool definition cannot be used, or `undefined` when it can.
 *
 * @param tool a tool from `tools/list` that passed the SDK's `Tool` schema (only `name`, `title`,
 *   `description` are read by name; every other member is scanned for NUL).
 * @returns one sentence, e.g. `its title holds a control character`.
 */
export function toolDefinitionProblem(tool: {
  name: string;
  title?: string;
  description?: string;
  [member: string]: unknown;
}): string | undefined {
  if (tool.name.length === 0 || tool.name.length > MAX_TOOL_NAME_LENGTH) {
    return `its name ${JSON.stringify(tool.name.slice(0, 140))} is not 1-${MAX_TOOL_NAME_LENGTH} characters long (MCP tool name rule)`;
  }
  if (CONTROL_IN_NAME.test(tool.name)) {
    return `its name ${JSON.stringify(tool.name)} holds a control character`;
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
