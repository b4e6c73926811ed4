/**
 * The opaque `cursor` of the paginated lists (`GET /api/mcp/servers`,
 * `GET /api/mcp/servers/:id/calls`): base64url (RFC 4648 §5) of a JSON array naming the list and
 * the sort key of the last item of the previous page. Clients pass back what `nextCursor` gave
 * them and read nothing in it; the API decodes it into a keyset position (never an OFFSET), so a
 * page costs the same wherever it starts and an insert between two requests never repeats or
 * skips an item already passed.
 *
 * - servers: `["servers", <id>]`, the last id of the page (servers are listed by ascending id).
 * - calls: `["calls", <startedAt ISO 8601>, <id>]` (calls are listed by descending
 *   `(started_at, id)`).
 */
import { z } from 'zod';

const int32 = z.number().int().min(1).max(2147483647);

const serverCursor = z.tuple([z.literal('servers'), int32]);
const callCursor = z.tuple([z.literal('calls'), z.iso.datetime(), int32]);

/** Where a page of servers starts: after this server id. */
export interface ServerCursor {
  afterId: number;
}

/** Where a page of tool calls starts: after this call, in descending `(startedAt, id)`. */
export interface CallCursor {
  startedAt: Date;
  id: number;
}

/** Longest cursor accepted: far longer than any the API gives out. */
export const MAX_CURSOR_LENGTH = 200;

function encode(value: unknown): string {
  return Buffer.from(JSON.stringify(value), 'utf8').toString('base64url');
}

/** The JSON inside a cursor, or `undefined` when it is not base64url of JSON. */
function decode(cursor: string): unknown {
  if (cursor.length > MAX_CURSOR_LENGTH || !/^[A-Za-z0-9_-]+$/.test(cursor)) return undefined;
  try {
    return JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as unknown;
  } catch {
    return undefined;
  }
}

/** The cursor of the servers page that follows the server `afterId`. */
export function encodeServerCursor(afterId: number): string {
  return encode(['servers', afterId]);
}

/**
 * Decodes a `GET /api/mcp/servers` cursor.
 *
 * @returns its position, or `undefined` when `cursor` is not one this list gave out.
 */
export function decodeServerCursor(cursor: string): ServerCursor | undefined {
  const parsed = serverCursor.safeParse(decode(cursor));
  return parsed.success ? { afterId: parsed.data[1] } : undefined;
}

/** The cursor of the calls page that follows the call `(startedAt, id)`. */
export function encodeCallCursor(startedAt: Date, id: number): string {
  return encode(['calls', startedAt.toISOString(), id]);
}

/**
 * Decodes a `GET /api/mcp/servers/:id/calls` cursor.
 *
 * @returns its position, or `undefined` when `cursor` is not one this list gave out.
 */
export function decodeCallCursor(cursor: string): CallCursor | undefined {
  const parsed = callCursor.safeParse(decode(cursor));
  return parsed.success ? { startedAt: new Date(parsed.data[1]), id: parsed.data[2] } : undefined;
}

/** What a `cursor` query parameter says when it is not one the list gave out. */
export const BAD_CURSOR =
  'cursor is not a cursor this list gave out: pass back the `nextCursor` of the previous page ' +
  'exactly, or leave cursor out to start from the first page';

/**
 * The zod schema of a `cursor` query parameter: a string that `decode` accepts (the handler
 * decodes it again after validation; a failure is a 400 naming `query.cursor`).
 */
export function cursorParam(decode: (cursor: string) => unknown, description: string) {
  return z
    .string({ error: BAD_CURSOR })
    .refine((cursor) => decode(cursor) !== undefined, BAD_CURSOR)
    .optional()
    .meta({ description });
}
