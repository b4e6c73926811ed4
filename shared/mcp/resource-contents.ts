/**
 * MCP resource contents (MCP spec 2025-11-25, "Resources › Resource Contents": a `text` or a
 * base64 `blob` item with its `uri` and optional `mimeType`) read for the ear: what a voice agent
 * can say of one item, and what should go to the user's screen instead.
 *
 * - JSON (`application/json`, `*+json`, or a `.json` name) is summarized, not read out: its
 *   top-level fields, list lengths and first items (`summarizeStructured`).
 * - Markdown and plain text short enough are read whole; a longer one is cut, markdown with its
 *   section headings first, and the whole text goes to the screen.
 * - Binary (`blob`) content is never read: it goes to the screen.
 *
 * Pure functions: the agent publishes the screen part and words the sentence
 * (`agent/resource-tools.ts`).
 */
import { base64ByteLength, formatBytes, summarizeStructured } from './tool-result.js';

/** One item of a `resources/read` result or of an embedded resource. */
export type ResourceContentItem =
  | { uri: string; mimeType?: string; text: string }
  | { uri: string; mimeType?: string; blob: string };

/** Default longest text the model is handed of one resource, in characters. */
export const DEFAULT_SPOKEN_RESOURCE_CHARS = 2_000;

/** Most section headings a markdown outline names. */
const OUTLINE_MAX_HEADINGS = 8;

/** What a voice agent does with one resource item. */
export interface EarPlan {
  /** Text for the model to speak from; empty for binary content. */
  spoken: string;
  /** Characters of the text left out of `spoken` (0 when it is whole or summarized whole). */
  cutChars: number;
  /**
   * The whole content, for the user's screen: set for binary content, for text longer than the
   * spoken limit, and for JSON longer than it.
   */
  screen?: { text: string } | { base64: string };
  /** `json`, `markdown`, `text` or `binary`: how it was read. */
  kind: 'json' | 'markdown' | 'text' | 'binary';
  /** Size of the content in bytes (UTF-8 text, decoded blob). */
  bytes: number;
}

/** True for `application/json` and structured-syntax `+json` types (RFC 6839). */
export function isJsonMimeType(mimeType: string | undefined): boolean {
  if (!mimeType) return false;
  const type = mimeType.split(';')[0]!.trim().toLowerCase();
  return type === 'application/json' || type.endsWith('+json') || type === 'text/json';
}

/** True for `text/markdown` (RFC 7763) and `text/x-markdown`. */
export function isMarkdownMimeType(mimeType: string | undefined): boolean {
  if (!mimeType) return false;
  const type = mimeType.split(';')[0]!.trim().toLowerCase();
  return type === 'text/markdown' || type === 'text/x-markdown';
}

/**
 * A short name for a resource the user can hear and see: its listed `title` or `name` when
 * known, otherwise the last segment of its URI, decoded (`features.md` for
 * `demo://resource/static/document/features.md`; a numeric one with the segment before it,
 * `blob 7` for `demo://resource/dynamic/blob/7`), otherwise the URI itself.
 */
export function resourceDisplayName(
  uri: string,
  known?: { name?: string; title?: string },
): string {
  const listed = known?.title ?? known?.name;
  if (listed) return listed;
  const path = uri.split(/[?#]/)[0] ?? uri;
  const segments = path
    .split('/')
    .filter((segment) => segment && !/^[a-z][a-z0-9+.-]*:$/i.test(segment))
    .map(decoded);
  const last = segments.at(-1);
  if (!last) return uri;
  // A bare id names little by itself: `blob 7` rather than `7`.
  const previous = segments.at(-2);
  return /^\d+$/.test(last) && previous ? `${previous} ${last}` : last;
}

function decoded(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}

/**
 * Decides how one resource item is read for the ear.
 *
 * @param item the item as the server sent it.
 * @param options.maxChars longest `spoken` text, in characters; default
 *   {@link DEFAULT_SPOKEN_RESOURCE_CHARS}. Text longer than this goes to the screen as well.
 * @param options.name the resource's name (a `.json` or `.md` name hints the type when the
 *   server gave no MIME type).
 */
export function planForEar(
  item: ResourceContentItem,
  options: { maxChars?: number; name?: string } = {},
): EarPlan {
  const maxChars = Math.max(1, options.maxChars ?? DEFAULT_SPOKEN_RESOURCE_CHARS);
  if ('blob' in item) {
    return {
      spoken: '',
      cutChars: 0,
      screen: { base64: item.blob },
      kind: 'binary',
      bytes: base64ByteLength(item.blob),
    };
  }
  const text = item.text;
  const bytes = Buffer.byteLength(text, 'utf8');
  const hint = (options.name ?? item.uri).toLowerCase();
  const long = text.length > maxChars;
  if (isJsonMimeType(item.mimeType) || (!item.mimeType && hint.endsWith('.json'))) {
    const value = parseJson(text);
    if (value !== undefined) {
      const summary = summarizeStructured(value);
      const spoken = summary.length > maxChars ? `${summary.slice(0, maxChars - 1)}…` : summary;
      return { spoken, cutChars: 0, screen: long ? { text } : undefined, kind: 'json', bytes };
    }
  }
  const markdown =
    isMarkdownMimeType(item.mimeType) ||
    (!item.mimeType && (hint.endsWith('.md') || hint.endsWith('.markdown')));
  if (!long) return { spoken: text, cutChars: 0, kind: markdown ? 'markdown' : 'text', bytes };
  if (markdown) {
    const outline = markdownOutline(text);
    const head = outline ? `Sections: ${outline}\n\n` : '';
    const room = Math.max(0, maxChars - head.length);
    const opening = cutAtWord(text, room);
    return {
      spoken: head + opening,
      cutChars: text.length - opening.length,
      screen: { text },
      kind: 'markdown',
      bytes,
    };
  }
  const opening = cutAtWord(text, maxChars);
  return {
    spoken: opening,
    cutChars: text.length - opening.length,
    screen: { text },
    kind: 'text',
    bytes,
  };
}

/**
 * The headings of a markdown text (ATX `#` headings, outside fenced code), joined with `; `,
 * at most eight, with a count of the rest; empty when it has none.
 */
export function markdownOutline(text: string): string {
  const headings: string[] = [];
  let fenced = false;
  for (const line of text.split('\n')) {
    if (/^\s*(```|~~~)/.test(line)) fenced = !fenced;
    if (fenced) continue;
    const match = /^\s{0,3}#{1,6}\s+(.+?)\s*#*\s*$/.exec(line);
    if (match) headings.push(match[1]!);
  }
  if (headings.length === 0) return '';
  const shown = headings.slice(0, OUTLINE_MAX_HEADINGS);
  const more = headings.length - shown.length;
  return shown.join('; ') + (more > 0 ? `; and ${more} more` : '');
}

/** Words describing binary content: `application/gzip, 1.2 KB`. */
export function describeBinary(plan: EarPlan, mimeType: string | undefined): string {
  return `${mimeType ?? 'binary data'}, ${formatBytes(plan.bytes)}`;
}

/** The first `max` characters of `text`, ending at a word boundary when one is near. */
function cutAtWord(text: string, max: number): string {
  if (text.length <= max) return text;
  const slice = text.slice(0, max);
  const boundary = slice.search(/\s\S*$/);
  return boundary > max * 0.8 ? slice.slice(0, boundary) : slice;
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}
