/**
 * The messages between a worker's hub (`worker-hub.ts`, in the worker's command-line process)
 * and its job processes (`hub-client.ts`): newline-delimited JSON over a Unix domain socket.
 *
 * Why a small protocol of our own: agents-js runs each job in a child process of its own and
 * offers no channel for application messages between the worker and its jobs, and a session
 * needs only three things from the hub (a hello, a per-user change subscription and audit
 * batches). Each message is one JSON object on one line, validated with zod on receipt; a line
 * longer than {@link MAX_HUB_LINE_BYTES} ends the connection (`BoundedLineReader`).
 */
import { z } from 'zod';

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
  /** A notification on a channel the job listens to. */
  z.object({ type: z.literal('notify'), channel: z.string(), payload: z.string() }),
]);
export type HubMessage = z.infer<typeof hubMessageSchema>;
