/** The audit log of tool calls made by agent sessions (`tool_calls`, DESIGN §3). */
import { desc, eq } from 'drizzle-orm';
import type { Database } from './open.js';
import { toolCalls, type ToolCallRow } from './schema.js';
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
  await db.insert(toolCalls).values({
    ...record,
    toolName: storable(record.toolName),
    roomName: storable(record.roomName),
    sessionId: storable(record.sessionId),
    error: storable(record.error),
    durationMs: Math.round(record.durationMs),
  });
}

/** A server's most recent tool calls, newest first. */
export async function listToolCalls(
  db: Database,
  serverId: number,
  limit = 50,
): Promise<ToolCallRow[]> {
  return db
    .select()
    .from(toolCalls)
    .where(eq(toolCalls.serverId, serverId))
    .orderBy(desc(toolCalls.startedAt))
    .limit(limit);
}
