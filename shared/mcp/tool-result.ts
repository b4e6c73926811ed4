/**
 * Turns an MCP `CallToolResult` (MCP spec, "Tools › Tool Result") into text a language model
 * can use. Text parts are joined; image, audio and resource parts are described by type, MIME
 * type and size or URI, never silently dropped; `structuredContent` is used when present; long
 * results are cut with a note; `isError` is carried through.
 */
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';

/** The model-facing form of a tool result. */
export interface ToolResultText {
  /** Every content part, in order, as text. Never empty: an empty result says so. */
  text: string;
  /** True when the server reported the call as failed (`isError: true`). */
  isError: boolean;
}

type ContentPart = CallToolResult['content'][number];

/** Size in bytes of a base64 payload, without decoding it. */
export function base64ByteLength(data: string): number {
  const padding = data.endsWith('==') ? 2 : data.endsWith('=') ? 1 : 0;
  return Math.max(0, Math.floor((data.length * 3) / 4) - padding);
}

/** Human-readable size: `512 B`, `12.3 KB`, `4.0 MB`. */
export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KB`;
  return `${(bytes / (1024 * 1024)).toFixed(1)} MB`;
}

/** Describes one content part as text. Unknown part types are described by their `type`. */
export function contentPartToText(part: ContentPart): string {
  switch (part.type) {
    case 'text':
      return part.text;
    case 'image':
    case 'audio':
      return `[${part.type}: ${part.mimeType}, ${formatBytes(base64ByteLength(part.data))}]`;
    case 'resource': {
      const resource = part.resource;
      const mime = resource.mimeType ? `, ${resource.mimeType}` : '';
      if ('text' in resource && typeof resource.text === 'string') {
        return `[resource: ${resource.uri}${mime}]\n${resource.text}`;
      }
      const blob = 'blob' in resource && typeof resource.blob === 'string' ? resource.blob : '';
      return `[resource: ${resource.uri}${mime}, ${formatBytes(base64ByteLength(blob))} binary]`;
    }
    case 'resource_link': {
      const mime = part.mimeType ? `, ${part.mimeType}` : '';
      const title = part.title ?? part.name;
      return `[resource link: ${title} at ${part.uri}${mime}]`;
    }
    default: {
      const unknownPart = part as { type?: unknown };
      return `[${String(unknownPart.type ?? 'unknown')} content]`;
    }
  }
}

/** Default largest result handed to the model, in characters (about 2,000 tokens). */
export const DEFAULT_MAX_RESULT_CHARS = 8_000;

/** Options of {@link toolResultToText}. */
export interface ToolResultTextOptions {
  /**
   * Longest text handed on, in characters; a longer one is cut and ends with a note saying how
   * much was left out. Default {@link DEFAULT_MAX_RESULT_CHARS}; `Infinity` keeps everything.
   */
  maxChars?: number;
  /**
   * How `structuredContent` is given: `json` (the default) as compact JSON; `summary` as short
   * lines fit to be read out (see {@link summarizeStructured}), for a voice agent.
   */
  structured?: 'json' | 'summary';
  /**
   * The text of particular content parts, used instead of their plain description (a voice
   * session passes its reading of resource links and embedded resources, see
   * `agent/resource-tools.ts`); a part it returns `undefined` for is described as usual.
   */
  describePart?: (part: ContentPart) => string | undefined;
}

/** Most entries of an object or list a summary names before saying how many more there are. */
const SUMMARY_MAX_ENTRIES = 8;
/** Longest text value a summary quotes, in characters. */
const SUMMARY_MAX_VALUE_CHARS = 200;
/** Keys whose value names an object in a list, in order of preference. */
const LABEL_KEYS = ['name', 'title', 'label', 'summary', 'id'];

/**
 * A structured result (MCP spec, "Tools › Structured Content") as short lines to be spoken,
 * instead of a JSON dump: one `key: value` line per top-level field, lists counted with their
 * first items named (`incidents: 3 items: disk full; slow queries; cert expiring`), nested objects
 * shown one level deep, long text and long lists cut with a count of what was left out.
 *
 * @param value the `structuredContent` object (any JSON value is accepted).
 */
export function summarizeStructured(value: unknown): string {
  if (Array.isArray(value)) return summarizeList(value);
  if (!isPlainObject(value)) return scalarText(value);
  const entries = Object.entries(value);
  if (entries.length === 0) return 'No fields.';
  const lines = entries
    .slice(0, SUMMARY_MAX_ENTRIES * 2)
    .map(([key, field]) => `${key}: ${summarizeField(field)}`);
  const more = entries.length - lines.length;
  if (more > 0) lines.push(`(and ${more} more fields)`);
  return lines.join('\n');
}

function summarizeField(value: unknown): string {
  if (Array.isArray(value)) return summarizeList(value);
  if (isPlainObject(value)) {
    const entries = Object.entries(value);
    const shown = entries
      .slice(0, SUMMARY_MAX_ENTRIES)
      .map(([key, field]) => `${key} ${shortText(field)}`);
    const more = entries.length - shown.length;
    return shown.join(', ') + (more > 0 ? `, and ${more} more` : '');
  }
  return scalarText(value);
}

function summarizeList(items: unknown[]): string {
  if (items.length === 0) return 'none';
  const count = items.length === 1 ? '1 item' : `${items.length} items`;
  const shown = items.slice(0, SUMMARY_MAX_ENTRIES).map(shortText);
  const more = items.length - shown.length;
  return `${count}: ${shown.join('; ')}${more > 0 ? `; and ${more} more` : ''}`;
}

/**
 * An item in a list or a nested field: its label when it has one, otherwise its first three
 * fields (`day Mon, high 21`).
 */
function shortText(value: unknown): string {
  if (Array.isArray(value)) return value.length === 1 ? '1 item' : `${value.length} items`;
  if (isPlainObject(value)) {
    const key = LABEL_KEYS.find((candidate) => value[candidate] !== undefined);
    if (key) return scalarText(value[key]);
    const entries = Object.entries(value);
    const shown = entries.slice(0, 3).map(([field, inner]) => {
      const text = Array.isArray(inner) || isPlainObject(inner) ? '…' : scalarText(inner);
      return `${field} ${text}`;
    });
    return shown.join(', ') + (entries.length > 3 ? ', …' : '');
  }
  return scalarText(value);
}

function scalarText(value: unknown): string {
  if (value === null || value === undefined) return 'none';
  if (typeof value === 'string') {
    return value.length > SUMMARY_MAX_VALUE_CHARS
      ? `${value.slice(0, SUMMARY_MAX_VALUE_CHARS)}… (${value.length} characters)`
      : value;
  }
  if (typeof value === 'object') return JSON.stringify(value);
  return String(value);
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Converts a tool result to text. When the server sent `structuredContent` (MCP spec, "Tools ›
 * Structured Content"), that object is given as JSON in place of the text parts, which by the
 * spec only repeat it (as JSON, or summarized for speaking with `structured: 'summary'`); image,
 * audio and resource parts are still described. A text longer than `maxChars` is cut with a note.
 */
export function toolResultToText(
  result: CallToolResult,
  options: ToolResultTextOptions = {},
): ToolResultText {
  const structured = result.structuredContent;
  // One pass, no closures or intermediate arrays: every session call's result comes this way
  // (`npm run bench`, toolCallOverhead).
  let joined: string | undefined =
    structured === undefined
      ? undefined
      : options.structured === 'summary'
        ? summarizeStructured(structured)
        : JSON.stringify(structured);
  const { describePart } = options;
  for (const part of result.content ?? []) {
    if (structured !== undefined && part.type === 'text') continue;
    const piece = describePart?.(part) ?? contentPartToText(part);
    if (piece === '') continue;
    joined = joined === undefined ? piece : `${joined}\n${piece}`;
  }
  const isError = result.isError === true;
  const text =
    joined ?? (isError ? 'The tool failed without saying why.' : 'The tool returned no content.');
  return { text: truncate(text, options.maxChars ?? DEFAULT_MAX_RESULT_CHARS), isError };
}

/**
 * The text of the commonest result, a success with one non-empty text part and no
 * `structuredContent`, when it fits in `maxChars`: what {@link toolResultToText} would give,
 * without its general walk. Undefined for any other result.
 *
 * @param maxChars the longest text given (characters); default {@link DEFAULT_MAX_RESULT_CHARS}.
 */
export function plainResultText(
  result: CallToolResult,
  maxChars = DEFAULT_MAX_RESULT_CHARS,
): string | undefined {
  if (result.isError === true || result.structuredContent !== undefined) return undefined;
  const content = result.content;
  if (!Array.isArray(content) || content.length !== 1) return undefined;
  const part = content[0]!;
  if (part.type !== 'text' || part.text === '' || part.text.length > maxChars) return undefined;
  return part.text;
}

/**
 * Cuts `text` to at most `maxChars` characters (note included), ending with a note that says how
 * much was left out, so the model knows the result is partial.
 */
export function truncate(text: string, maxChars: number): string {
  if (text.length <= maxChars) return text;
  const note = (kept: number) =>
    `\n[Result cut: showing the first ${kept} of ${text.length} characters.]`;
  const kept = Math.max(0, maxChars - note(maxChars).length);
  return text.slice(0, kept) + note(kept);
}
