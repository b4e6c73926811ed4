/** The audit log of tool calls made by agent sessions (`tool_calls`, DESIGN §3). */
import { and, asc, desc, eq, gt, sql } from 'drizzle-orm';
import type { Database } from './open.js';
import { mcpServers, toolCalls, type ToolCallRow } from './schema.js';
import { storable } from './storable-text.js';

/** One finished tool call. Arguments are deliberately not part of it. */
export interface ToolCallRecord {
  userId: number;
  serverId: number | null;
  /** The tool's original MCP name. */
  toolName: string;
  roomName?: string | null;
  sessionId?: string | null;
  startedAt: Date;
  durationMs: number;
  ok: boolean;
  error?: string | null;
}

/**
 * Appends one tool call to `tool_calls`. NUL characters in its texts (a server's error message)
 * are stored as U+FFFD (PostgreSQL cannot store NUL; see `storable`).
 */
export async function recordToolCall(db: Database, record: ToolCallRecord): Promise<void> {
  await db.insert(toolCalls).values(storableCall(record));
}

/**
 * Appends many tool calls to `tool_calls` with one multi-row INSERT (all or none), stored as
 * {@link recordToolCall} stores each. An empty list writes nothing.
 *
 * @throws the database's error when the INSERT fails; no row of the list is then stored.
 */
export async function recordToolCalls(
  db: Database,
  records: readonly ToolCallRecord[],
): Promise<void> {
  if (records.length === 0) return;
  await db.insert(toolCalls).values(records.map(storableCall));
}

/** The row of one call: texts made storable, the duration rounded to whole milliseconds. */
function storableCall(record: ToolCallRecord) {
  return {
    ...record,
    toolName: storable(record.toolName),
    roomName: storable(record.roomName),
    sessionId: storable(record.sessionId),
    error: storable(record.error),
    durationMs: Math.round(record.durationMs),
  };
}

/** Where a page of {@link listToolCalls} starts: after this call, newest first. */
export interface ToolCallPosition {
  startedAt: Date;
  id: number;
}

/**
 * A server's tool calls, newest first: descending `(started_at, id)` (the id breaks ties between
 * calls started in the same millisecond), a page at a time by keyset on the index
 * `tool_calls_server_started_idx` `(server_id, started_at, id)`, never by OFFSET. Calls are
 * stored with the millisecond start times of JavaScript dates, which a cursor's ISO 8601 text
 * carries exactly.
 *
 * @param limit how many calls at most; default 50 (the route asks for one more than its page
 *   of 1–200, to tell whether another page follows).
 * @param after only calls before this one in that order (the last call of the previous page).
 */
export async function listToolCalls(
  db: Database,
  serverId: number,
  limit = 50,
  after?: ToolCallPosition,
): Promise<ToolCallRow[]> {
  return db
    .select()
    .from(toolCalls)
    .where(
      and(
        eq(toolCalls.serverId, serverId),
        after &&
          sql`(${toolCalls.startedAt}, ${toolCalls.id}) < (${after.startedAt.toISOString()}::timestamptz, ${after.id})`,
      ),
    )
    .orderBy(desc(toolCalls.startedAt), desc(toolCalls.id))
    .limit(limit);
}

/** A tool call with the name its server has now (null when the server was deleted). */
export interface RoomToolCallRow extends ToolCallRow {
  serverName: string | null;
}

/** What {@link listRoomToolCalls} selects. */
export interface RoomToolCallQuery {
  /** Only this user's calls. */
  userId: number;
  /** The LiveKit room name, compared exactly. */
  roomName: string;
  /** Only calls whose id is greater (a cursor: the last id already seen); 0 for all. */
  afterId: number;
  /** How many calls at most, oldest first. */
  limit: number;
}

/**
 * One user's tool calls in one room, oldest first, after a cursor: what the Voice page polls to
 * show the calls of its session as they finish. Ids grow with each insert, so `afterId` (the
 * last id seen) never skips or repeats a call.
 */
export async function listRoomToolCalls(
  db: Database,
  query: RoomToolCallQuery,
): Promise<RoomToolCallRow[]> {
  const rows = await db
    .select({ call: toolCalls, serverName: mcpServers.name })
    .from(toolCalls)
    .leftJoin(mcpServers, eq(mcpServers.id, toolCalls.serverId))
    .where(
      and(
        eq(toolCalls.userId, query.userId),
        eq(toolCalls.roomName, query.roomName),
        gt(toolCalls.id, query.afterId),
      ),
    )
    .orderBy(asc(toolCalls.id))
    .limit(query.limit);
  return rows.map(({ call, serverName }) => ({ ...call, serverName }));
}
