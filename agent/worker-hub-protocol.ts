/**
 * The messages between a worker's hub (`worker-hub.ts`, in the worker's command-line process)
 * and its job processes (`hub-client.ts`): newline-delimited JSON over a Unix domain socket.
 *
 * Why a small protocol of our own: agents-js runs each job in a child process of its own and
 * offers no channel for application messages between the worker and its jobs, and a session
 * needs only four things from the hub (a hello, a per-user change subscription, reads of the
 * user's servers and audit batches). Each message is one JSON object on one line, validated with
 * zod on receipt; a line longer than {@link MAX_HUB_LINE_BYTES} ends the connection
 * (`BoundedLineReader`).
 */
import { getTableColumns } from 'drizzle-orm';
import { z } from 'zod';
import { mcpServers, type McpServerRow } from '../shared/db/schema.js';

/** Longest message line either side accepts, in bytes (a batch of 100 audit rows fits easily). */
export const MAX_HUB_LINE_BYTES = 4 * 1024 * 1024;

/**
 * The environment variable through which the worker tells its job processes (which inherit its
 * environment) where the hub listens: `<socket path>#<token>`.
 */
export const HUB_ENV = 'SWITCHBOARD_WORKER_HUB';

/** A channel a job may listen to: one user's configuration changes (`userServersChannel`). */
export const USER_CHANNEL_PATTERN = /^switchboard_user_[1-9][0-9]{0,15}$/;

const toolCallRecord = z.object({
  userId: z.number().int(),
  serverId: z.number().int().nullable(),
  toolName: z.string(),
  roomName: z.string().nullable().optional(),
  sessionId: z.string().nullable().optional(),
  startedAt: z.iso.datetime().transform((value) => new Date(value)),
  durationMs: z.number().nonnegative(),
  ok: z.boolean(),
  error: z.string().nullable().optional(),
});

/** What a job process sends. Requests carry an `id` the answer repeats. */
export const clientMessageSchema = z.discriminatedUnion('type', [
  /** First message: the token from {@link HUB_ENV}; nothing else is read before it. */
  z.object({ type: z.literal('hello'), token: z.string() }),
  /** Starts forwarding the notifications of `channel` ({@link USER_CHANNEL_PATTERN}). */
  z.object({
    type: z.literal('listen'),
    id: z.number().int(),
    channel: z.string().regex(USER_CHANNEL_PATTERN),
  }),
  z.object({ type: z.literal('unlisten'), id: z.number().int(), channel: z.string() }),
  /**
   * Reads one of a user's servers (`getSealedServer`) through the hub's pool, so a configuration
   * change costs the session no connection of its own; answered with `server`. Any user's: a
   * job that holds the hub's token runs in the worker's own trust (it has `DATABASE_URL` and
   * the secret key itself), so the hub adds no reach, and the row's secrets stay sealed on the
   * socket.
   */
  z.object({
    type: z.literal('readServer'),
    id: z.number().int(),
    userId: z.number().int().positive(),
    serverId: z.number().int().positive(),
  }),
  /** Writes audit rows with one INSERT (`recordToolCalls`). */
  z.object({
    type: z.literal('toolCalls'),
    id: z.number().int(),
    records: z.array(toolCallRecord).max(1000),
  }),
]);
/** A job's message as received (dates parsed). */
export type ClientMessage = z.infer<typeof clientMessageSchema>;
/** A job's message as sent (dates as ISO 8601 text). */
export type ClientMessageInput = z.input<typeof clientMessageSchema>;

/** What the hub sends. */
export const hubMessageSchema = z.discriminatedUnion('type', [
  /** A request succeeded. */
  z.object({ type: z.literal('done'), id: z.number().int() }),
  /** A request failed; `error` is readable and holds no secret. */
  z.object({ type: z.literal('failed'), id: z.number().int(), error: z.string() }),
  /**
   * The answer to `readServer`: the row as stored (secrets sealed, dates as ISO 8601 text), or
   * null when the user has no such server. {@link serverRowFromWire} makes it a row again.
   */
  z.object({
    type: z.literal('server'),
    id: z.number().int(),
    row: z.record(z.string(), z.unknown()).nullable(),
  }),
  /** A notification on a channel the job listens to. */
  z.object({ type: z.literal('notify'), channel: z.string(), payload: z.string() }),
]);
export type HubMessage = z.infer<typeof hubMessageSchema>;

/** The properties of an `mcp_servers` row that are dates (timestamp columns). */
const SERVER_DATE_KEYS = Object.entries(getTableColumns(mcpServers))
  .filter(([, column]) => column.dataType === 'date')
  .map(([key]) => key);

/**
 * An `mcp_servers` row as the hub sent it (`JSON.stringify` of the stored row) made a row again:
 * its timestamp columns become `Date`s; its secrets stay sealed.
 *
 * @param wire the `row` of a `server` message (not null).
 * @throws TypeError when a timestamp is neither null nor a valid date text.
 */
export function serverRowFromWire(wire: Record<string, unknown>): McpServerRow {
  const row: Record<string, unknown> = { ...wire };
  for (const key of SERVER_DATE_KEYS) {
    const value = row[key];
    if (value === null || value === undefined) continue;
    if (typeof value !== 'string' || Number.isNaN(Date.parse(value))) {
      throw new TypeError(`the worker hub sent an invalid ${key}`);
    }
    row[key] = new Date(value);
  }
  return row as McpServerRow;
}
