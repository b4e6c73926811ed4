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
}

/**
 * Converts a tool result to text. When the server sent `structuredContent` (MCP spec, "Tools ›
 * Structured Content"), that object is given as JSON in place of the text parts, which by the
 * spec only repeat it; image, audio and resource parts are still described. A text longer
 * than `maxChars` is cut with a note.
 */
export function toolResultToText(
  result: CallToolResult,
  options: ToolResultTextOptions = {},
): ToolResultText {
  const structured = result.structuredContent;
  const parts = (result.content ?? [])
    .filter((part) => structured === undefined || part.type !== 'text')
    .map(contentPartToText)
    .filter((text) => text !== '');
  if (structured !== undefined) parts.unshift(JSON.stringify(structured));
  const isError = result.isError === true;
  const text =
    parts.length > 0
      ? parts.join('\n')
      : isError
        ? 'The tool failed without saying why.'
        : 'The tool returned no content.';
  return { text: truncate(text, options.maxChars ?? DEFAULT_MAX_RESULT_CHARS), isError };
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
