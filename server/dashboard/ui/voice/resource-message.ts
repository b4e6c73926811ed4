/**
 * The resources the agent puts on the user's screen (data messages on topic
 * `switchboard.resource`, from agent/resource-tools.ts), read as the Voice page shows them. Plain
 * data, so tests can run it directly.
 */

/** The data message topic of resources on the screen (agent/resource-tools.ts). */
export const RESOURCE_TOPIC = 'switchboard.resource';

/** Most resources the page keeps, newest first. */
export const MAX_SCREEN_RESOURCES = 10;

/** Image types the page shows inline; any other binary content is offered as a download. */
const INLINE_IMAGES = new Set(['image/png', 'image/jpeg', 'image/gif', 'image/webp']);

/** One resource to show. */
export interface ScreenResource {
  serverId: number;
  server: string;
  name: string;
  uri: string;
  mimeType?: string;
  /** The text (cut when `truncated`). */
  text?: string;
  /** The base64 bytes (absent when `truncated`: too large to send). */
  base64?: string;
  /** Size of the whole content in bytes. */
  size: number;
  truncated: boolean;
}

/** Reads one message; undefined for anything that is not a well-formed resource message. */
export function readScreenResource(payload: Uint8Array): ScreenResource | undefined {
  let message: unknown;
  try {
    message = JSON.parse(new TextDecoder().decode(payload));
  } catch {
    return undefined;
  }
  const item = message as Partial<ScreenResource> & { type?: unknown };
  if (item?.type !== 'resource') return undefined;
  if (typeof item.serverId !== 'number' || typeof item.server !== 'string') return undefined;
  if (typeof item.name !== 'string' || typeof item.uri !== 'string') return undefined;
  if (typeof item.size !== 'number' || typeof item.truncated !== 'boolean') return undefined;
  const optional = (value: unknown) => value === undefined || typeof value === 'string';
  if (!optional(item.mimeType) || !optional(item.text) || !optional(item.base64)) return undefined;
  if (item.base64 !== undefined && !/^[A-Za-z0-9+/]*={0,2}$/.test(item.base64)) return undefined;
  return {
    serverId: item.serverId,
    server: item.server,
    name: item.name,
    uri: item.uri,
    size: item.size,
    truncated: item.truncated,
    ...(item.mimeType !== undefined && { mimeType: item.mimeType }),
    ...(item.text !== undefined && { text: item.text }),
    ...(item.base64 !== undefined && { base64: item.base64 }),
  };
}

/**
 * How the page shows a resource: `text` in a block, an `image` inline (PNG, JPEG, GIF, WebP
 * only: never SVG), other bytes as a `download`, or `name` only when the bytes were too large to
 * send.
 */
export function screenForm(item: ScreenResource): 'text' | 'image' | 'download' | 'name' {
  if (item.text !== undefined) return 'text';
  if (item.base64 === undefined) return 'name';
  const type = item.mimeType?.split(';')[0]?.trim().toLowerCase();
  return type && INLINE_IMAGES.has(type) ? 'image' : 'download';
}

/** A readable size: `512 B`, `12.3 KB`, `4.0 MB`. */
export function sizeText(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KB`;
  return `${(bytes / (1024 * 1024)).toFixed(1)} MB`;
}
