/**
 * Tool pinning (issue 16), the part that needs no database: what of an MCP tool is pinned, its
 * hash, whether a tool matches its pin, and what changed when it does not.
 *
 * A tool's pinned definition is every part of it that tells a model what the tool does or how
 * to call it (MCP 2025-11-25, "Tools › Tool": `name`, `title`, `description`, `inputSchema`,
 * `outputSchema`, `annotations`); `_meta`, `icons` and `execution` are left out, as they say
 * nothing to the model. Its hash is the SHA-256 of its canonical JSON (object keys sorted at
 * every level), so a server that reorders keys has not changed its tool.
 *
 * The comparison serves two readers: the API and dashboard, which show the owner the full
 * change (the description's word diff, schema properties added or removed) so they can approve
 * it, and the voice agent, which is told only which parts changed ({@link describeChanges}):
 * never the new text itself, which is exactly what a tool that turned hostile would use to
 * instruct the model.
 */
import { createHash } from 'node:crypto';
import type { Tool } from '@modelcontextprotocol/sdk/types.js';
import type { ToolParametersSchema } from './advertised-tools.js';

/** The pinned part of an MCP tool (what `tool_pins.definition` stores). */
export interface PinnedToolDefinition {
  name: string;
  title?: string;
  description?: string;
  inputSchema: Record<string, unknown>;
  outputSchema?: Record<string, unknown>;
  annotations?: Record<string, unknown>;
}

/** A tool's pin, as stored (`tool_pins`). */
export interface StoredToolPin {
  toolName: string;
  /** {@link toolHash} of `definition`. */
  hash: string;
  definition: PinnedToolDefinition;
  approvedAt: Date;
  /** The user who approved it; null for a pin made on first use. */
  approvedBy: number | null;
}

/** A server's pins. */
export interface ToolPinSet {
  /**
   * When the server's tools were first pinned; null when they never were (every tool then
   * counts as `new` until the first trusted listing pins them).
   */
  pinnedAt: Date | null;
  /** Pins by MCP tool name. */
  pins: ReadonlyMap<string, StoredToolPin>;
}

/** A pin set of a server whose tools were never pinned. */
export const NO_PINS: ToolPinSet = { pinnedAt: null, pins: new Map() };

/**
 * How a tool stands against its pin: `pinned` (its definition is the approved one), `changed`
 * (it differs) or `new` (no pin: it appeared after the server's tools were first pinned).
 */
export type PinState = 'pinned' | 'changed' | 'new';

/** One run of words in a {@link TextDiff}. */
export interface TextDiffPart {
  op: 'same' | 'added' | 'removed';
  text: string;
}

/** A text before and after, with its word diff. */
export interface TextChange {
  /** The pinned text; null when there was none. */
  before: string | null;
  /** The current text; null when there is none now. */
  after: string | null;
  /** Runs of words kept, removed and added, in order; concatenating `same` and `added` gives `after`. */
  diff: TextDiffPart[];
}

/** What changed in a JSON Schema object (an `inputSchema` or `outputSchema`). */
export interface SchemaChanges {
  /** `added`: the tool had no such schema before; `removed`: it has none now. */
  presence?: 'added' | 'removed';
  /** Names of `properties` added, removed, and present in both with a different schema. */
  added: string[];
  removed: string[];
  changed: string[];
  /** Property names that became required, or stopped being required. */
  requiredAdded: string[];
  requiredRemoved: string[];
  /** Other top-level keywords whose value changed (e.g. `additionalProperties`). */
  otherKeywords: string[];
}

/** What changed in a tool against its pin; only the parts that changed are present. */
export interface ToolChanges {
  title?: TextChange;
  description?: TextChange;
  inputSchema?: SchemaChanges;
  outputSchema?: SchemaChanges;
  annotations?: { before: Record<string, unknown> | null; after: Record<string, unknown> | null };
}

/** A tool's standing against its server's pins. */
export interface ToolPinStatus {
  state: PinState;
  /** {@link toolHash} of the tool as it is now. */
  hash: string;
  /** For a `changed` tool: what changed. */
  changes?: ToolChanges;
}

/**
 * The pinned part of a tool (see {@link PinnedToolDefinition}); members the tool does not have
 * are left out, so a missing description and an absent key hash alike.
 *
 * @param tool a tool as `tools/list` gave it (validated by the SDK's `Tool` schema).
 */
export function pinnedDefinitionOf(
  tool: Pick<Tool, 'name' | 'inputSchema'> & Partial<Tool>,
): PinnedToolDefinition {
  const definition: PinnedToolDefinition = {
    name: tool.name,
    inputSchema: { ...tool.inputSchema },
  };
  if (tool.title !== undefined) definition.title = tool.title;
  if (tool.description !== undefined) definition.description = tool.description;
  if (tool.outputSchema !== undefined) definition.outputSchema = { ...tool.outputSchema };
  if (tool.annotations !== undefined) definition.annotations = { ...tool.annotations };
  return definition;
}

/**
 * `JSON.stringify` with the keys of every object sorted (by UTF-16 code units), so two
 * definitions that differ only in key order give the same text. Arrays keep their order.
 */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, inner: unknown) => {
    if (inner === null || typeof inner !== 'object' || Array.isArray(inner)) return inner;
    return Object.fromEntries(
      Object.entries(inner as Record<string, unknown>).sort(([a], [b]) =>
        a < b ? -1 : a > b ? 1 : 0,
      ),
    );
  });
}

/**
 * The hash a tool is pinned by: SHA-256 (lower-case hex) of the canonical JSON
 * ({@link canonicalJson}) of its pinned definition.
 *
 * @param tool a tool from `tools/list`, or a pinned definition.
 */
export function toolHash(tool: Pick<Tool, 'name' | 'inputSchema'> & Partial<Tool>): string {
  return createHash('sha256')
    .update(canonicalJson(pinnedDefinitionOf(tool)))
    .digest('hex');
}

/**
 * How `tool` stands against `pins` (see {@link PinState}); a `changed` tool carries what changed.
 * A server whose tools were never pinned (`pins.pinnedAt` null) has every tool `new`.
 *
 * @param hash the tool's {@link toolHash} when the caller has it already; default computed.
 */
export function pinStatusOf(
  tool: Pick<Tool, 'name' | 'inputSchema'> & Partial<Tool>,
  pins: ToolPinSet,
  hash = toolHash(tool),
): ToolPinStatus {
  const pin = pins.pins.get(tool.name);
  if (!pin) return { state: 'new', hash };
  if (pin.hash === hash) return { state: 'pinned', hash };
  return {
    state: 'changed',
    hash,
    changes: diffDefinitions(pin.definition, pinnedDefinitionOf(tool)),
  };
}

/**
 * What differs between a pinned definition and the current one: title and description (with a
 * word diff), the input and output schemas (properties added, removed or changed, required
 * names, other top-level keywords) and the annotations. Parts that are equal are left out.
 */
export function diffDefinitions(
  before: PinnedToolDefinition,
  after: PinnedToolDefinition,
): ToolChanges {
  const changes: ToolChanges = {};
  for (const field of ['title', 'description'] as const) {
    const was = before[field] ?? null;
    const now = after[field] ?? null;
    if (was !== now)
      changes[field] = { before: was, after: now, diff: wordDiff(was ?? '', now ?? '') };
  }
  const input = schemaChanges(before.inputSchema, after.inputSchema);
  if (input) changes.inputSchema = input;
  const output = schemaChanges(before.outputSchema, after.outputSchema);
  if (output) changes.outputSchema = output;
  const annotationsBefore = before.annotations ?? null;
  const annotationsAfter = after.annotations ?? null;
  if (canonicalJson(annotationsBefore) !== canonicalJson(annotationsAfter)) {
    changes.annotations = { before: annotationsBefore, after: annotationsAfter };
  }
  return changes;
}

function propertiesOf(schema: Record<string, unknown> | undefined): Record<string, unknown> {
  const properties = schema?.properties;
  return properties !== null && typeof properties === 'object' && !Array.isArray(properties)
    ? (properties as Record<string, unknown>)
    : {};
}

function requiredOf(schema: Record<string, unknown> | undefined): Set<string> {
  const required = schema?.required;
  return new Set(
    Array.isArray(required) ? required.filter((name) => typeof name === 'string') : [],
  );
}

/** What changed between two schemas; undefined when they are equal (canonically). */
function schemaChanges(
  before: Record<string, unknown> | undefined,
  after: Record<string, unknown> | undefined,
): SchemaChanges | undefined {
  if (canonicalJson(before ?? null) === canonicalJson(after ?? null)) return undefined;
  const was = propertiesOf(before);
  const now = propertiesOf(after);
  const wasRequired = requiredOf(before);
  const nowRequired = requiredOf(after);
  const keywords = new Set([...Object.keys(before ?? {}), ...Object.keys(after ?? {})]);
  keywords.delete('properties');
  keywords.delete('required');
  const changes: SchemaChanges = {
    added: Object.keys(now).filter((name) => !(name in was)),
    removed: Object.keys(was).filter((name) => !(name in now)),
    changed: Object.keys(now).filter(
      (name) => name in was && canonicalJson(was[name]) !== canonicalJson(now[name]),
    ),
    requiredAdded: [...nowRequired].filter((name) => !wasRequired.has(name)),
    requiredRemoved: [...wasRequired].filter((name) => !nowRequired.has(name)),
    otherKeywords: [...keywords]
      .filter((key) => canonicalJson(before?.[key] ?? null) !== canonicalJson(after?.[key] ?? null))
      .sort(),
  };
  if (before === undefined) changes.presence = 'added';
  else if (after === undefined) changes.presence = 'removed';
  return changes;
}

/**
 * Largest product of the two texts' word counts diffed word by word; beyond it (after the
 * common start and end are set aside) the middle is shown as removed, then added.
 */
const MAX_DIFF_CELLS = 1_000_000;

/**
 * A word diff of two texts (longest common subsequence of words and the spaces between them):
 * runs kept, removed and added, in order, adjacent runs of one kind merged.
 */
export function wordDiff(before: string, after: string): TextDiffPart[] {
  const a = before.split(/(\s+)/).filter(Boolean);
  const b = after.split(/(\s+)/).filter(Boolean);
  let start = 0;
  while (start < a.length && start < b.length && a[start] === b[start]) start++;
  let endA = a.length;
  let endB = b.length;
  while (endA > start && endB > start && a[endA - 1] === b[endB - 1]) {
    endA--;
    endB--;
  }
  const parts: TextDiffPart[] = [];
  const push = (op: TextDiffPart['op'], text: string) => {
    const last = parts[parts.length - 1];
    if (last?.op === op) last.text += text;
    else parts.push({ op, text });
  };
  for (const word of a.slice(0, start)) push('same', word);
  const midA = a.slice(start, endA);
  const midB = b.slice(start, endB);
  if (midA.length * midB.length > MAX_DIFF_CELLS) {
    for (const word of midA) push('removed', word);
    for (const word of midB) push('added', word);
  } else {
    // lengths[i][j]: the longest common subsequence of midA[i..] and midB[j..].
    const width = midB.length + 1;
    const lengths = new Uint32Array((midA.length + 1) * width);
    for (let i = midA.length - 1; i >= 0; i--) {
      for (let j = midB.length - 1; j >= 0; j--) {
        lengths[i * width + j] =
          midA[i] === midB[j]
            ? lengths[(i + 1) * width + j + 1]! + 1
            : Math.max(lengths[(i + 1) * width + j]!, lengths[i * width + j + 1]!);
      }
    }
    let i = 0;
    let j = 0;
    while (i < midA.length || j < midB.length) {
      if (i < midA.length && j < midB.length && midA[i] === midB[j]) {
        push('same', midA[i]!);
        i++;
        j++;
      } else if (
        j >= midB.length ||
        (i < midA.length && lengths[(i + 1) * width + j]! >= lengths[i * width + j + 1]!)
      ) {
        push('removed', midA[i++]!);
      } else {
        push('added', midB[j++]!);
      }
    }
  }
  for (const word of a.slice(endA)) push('same', word);
  return parts;
}

/**
 * Which parts of a tool changed, in words for the model, naming no text the server wrote: e.g.
 * `its description and its inputs (1 added, 1 removed) changed`. The new text itself is never
 * included: it is what a tool that turned hostile would use to instruct the model.
 *
 * @param changes what {@link diffDefinitions} found; undefined or empty gives `its definition changed`.
 */
export function describeChanges(changes: ToolChanges | undefined): string {
  const parts: string[] = [];
  if (changes?.title) parts.push('its title');
  if (changes?.description) parts.push('its description');
  if (changes?.inputSchema) parts.push(`its inputs${schemaCounts(changes.inputSchema)}`);
  if (changes?.outputSchema) parts.push(`its output${schemaCounts(changes.outputSchema)}`);
  if (changes?.annotations) parts.push('its annotations (what it says it may change)');
  if (parts.length === 0) return 'its definition changed';
  const last = parts.pop()!;
  return `${parts.length > 0 ? `${parts.join(', ')} and ${last}` : last} changed`;
}

function schemaCounts(changes: SchemaChanges): string {
  const counts = [
    changes.added.length > 0 ? `${changes.added.length} added` : '',
    changes.removed.length > 0 ? `${changes.removed.length} removed` : '',
    changes.changed.length > 0 ? `${changes.changed.length} changed` : '',
  ].filter(Boolean);
  return counts.length > 0 ? ` (${counts.join(', ')})` : '';
}

/** MCP-style name of the per-server tool that tells the model about withheld tools. */
export const WITHHELD_TOOL_NAME = 'withheld_tools';

/** A tool a session does not offer until it is approved. */
export interface WithheldTool {
  /** Its advertised name (`<server slug>__<tool>`): sanitized, never the server's raw text. */
  name: string;
  state: Exclude<PinState, 'pinned'>;
  changes?: ToolChanges;
}

/** Most withheld tools named in the withheld tool's description. */
const NAMES_IN_DESCRIPTION = 20;

/**
 * The description and (empty) parameters of a server's `<server>__withheld_tools` tool, which a
 * session adds while any of the server's tools is withheld, so that the model, asked for such a
 * tool's work, can tell the user why it cannot do it.
 *
 * @param serverName the server's display name.
 * @param names the withheld tools' advertised names (the first 20 are named).
 */
export function withheldToolDefinition(
  serverName: string,
  names: readonly string[],
): { description: string; parameters: ToolParametersSchema } {
  const shown = names.slice(0, NAMES_IN_DESCRIPTION).join(', ');
  const more =
    names.length > NAMES_IN_DESCRIPTION ? ` and ${names.length - NAMES_IN_DESCRIPTION} more` : '';
  return {
    description:
      `Tools of ${serverName} you cannot use yet: ${shown}${more}. Each changed since the user ` +
      'approved it, or is new, and waits for approval in the Switchboard dashboard. When the ' +
      'user asks for something one of them would do, call this and tell the user what it says.',
    parameters: { type: 'object', properties: {}, additionalProperties: false },
  };
}

/**
 * What `<server>__withheld_tools` answers: each withheld tool and which parts of it changed
 * ({@link describeChanges}, never the server's new text), and that the owner must approve it in
 * the dashboard.
 *
 * @param serverName the server's display name.
 * @param withheld the server's withheld tools.
 */
export function withheldToolAnswer(serverName: string, withheld: readonly WithheldTool[]): string {
  if (withheld.length === 0) return `Every tool of ${serverName} is approved and available.`;
  const lines = withheld.map((tool) =>
    tool.state === 'changed'
      ? `${tool.name} changed since it was approved (${describeChanges(tool.changes)}).`
      : `${tool.name} is new on ${serverName} since its tools were approved.`,
  );
  const them = withheld.length === 1 ? 'it' : 'them';
  return [
    ...lines,
    `The owner of ${serverName} (or an admin) must approve ${them} in the Switchboard dashboard ` +
      `(Servers, ${serverName}, Tools) before I can use ${them}. Tell the user so.`,
  ].join('\n');
}
