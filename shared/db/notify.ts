/**
 * Change notifications on `mcp_servers` (DESIGN §6): every write (configuration or status) sends a Postgres
 * `NOTIFY` on {@link SERVERS_CHANNEL} so running workers can react without polling. PGlite
 * implements `LISTEN`/`NOTIFY` within its one process, so the embedded database behaves alike.
 */
import { sql, type SQL, type SQLWrapper } from 'drizzle-orm';
import type { Database } from './open.js';

/** The channel every `mcp_servers` configuration write notifies. */
export const SERVERS_CHANNEL = 'mcp_servers_changed';

/**
 * The channel of one user's configuration changes: every {@link SERVERS_CHANNEL} notification
 * but `status` is also sent here, so a voice worker listens only to the users it has sessions
 * for (`agent/worker-hub.ts`) instead of receiving every user's changes and every status write.
 *
 * @param userId a user id (a positive integer).
 */
export function userServersChannel(userId: number): string {
  return `${USER_CHANNEL_PREFIX}${userId}`;
}

/** What {@link userServersChannel} puts before the user id. */
const USER_CHANNEL_PREFIX = 'switchboard_user_';

/**
 * The JSON payload of a {@link SERVERS_CHANNEL} notification. `op` is `insert`, `update` or
 * `delete` for configuration writes, `status` for the monitor's status writes (connection status,
 * last error, metadata), which a worker can ignore without reading the row. The monitor's
 * periodic `last_connected` refresh alone notifies nothing (`updateServerStatuses`).
 */
export interface ServerChange {
  userId: number;
  serverId: number;
  op: 'insert' | 'update' | 'delete' | 'status';
}

const OPS: ReadonlySet<string> = new Set(['insert', 'update', 'delete', 'status']);

/**
 * Sends `NOTIFY mcp_servers_changed, '{"userId":…,"serverId":…,"op":…}'` through
 * `pg_notify` (Postgres docs, "NOTIFY"), and the same payload on the user's own channel
 * ({@link userServersChannel}) unless `op` is `status`. Inside a transaction the notifications
 * are delivered on commit, and not at all on rollback.
 */
export async function notifyServerChange(db: Database, change: ServerChange): Promise<void> {
  try {
    await sendServerChange(db, change);
  } finally {
    // Even when the NOTIFY failed, the write before it may have landed: local caches forget.
    announceLocalServerChange(change);
  }
}

/**
 * The notifications of a configuration write of `mcp_servers`, as one SQL expression for the
 * write's own `RETURNING` list, evaluated once per row written: the same two `pg_notify` calls
 * as {@link notifyServerChange} (on {@link SERVERS_CHANNEL} and the row's
 * {@link userServersChannel}), with the payload built from the row's `user_id` and `id`. The
 * write and its notifications then take one round trip instead of two, and Postgres delivers
 * them when the statement's transaction commits (not at all if it fails), as it does for a
 * separate `NOTIFY` after it. Its value is an empty string. Call
 * {@link announceLocalServerChange} once the write has returned.
 *
 * @param userId the written row's `user_id` column; `id` its `id` column (drizzle columns).
 * @param op `insert`, `update` or `delete` (`status` writes go through `updateServerStatuses`).
 */
export function serverChangeNotifications(
  userId: SQLWrapper,
  id: SQLWrapper,
  op: Exclude<ServerChange['op'], 'status'>,
): SQL<string> {
  const payload = sql`json_build_object('userId', ${userId}, 'serverId', ${id}, 'op', ${op}::text)::text`;
  return sql<string>`concat(pg_notify(${SERVERS_CHANNEL}, ${payload}), pg_notify(${USER_CHANNEL_PREFIX} || ${userId}, ${payload}))`;
}

/**
 * Tells this process's {@link onLocalServerChange} listeners of a change whose notifications a
 * write sent itself ({@link serverChangeNotifications}); {@link notifyServerChange} calls it too.
 */
export function announceLocalServerChange(change: ServerChange): void {
  for (const listener of localListeners) listener(change);
}

/** Listeners of {@link onLocalServerChange}. */
const localListeners = new Set<(change: ServerChange) => void>();

/**
 * Calls `listener` synchronously whenever this process sends a change notification through
 * {@link notifyServerChange}, before the caller's write returns, so an in-process cache (the
 * API's server pages, `server/servers/page-cache.ts`) can forget a user's pages before the
 * caller answers: the `LISTEN` delivery of the same change comes a few milliseconds later and
 * would let a read right after a write see the old page. Changes made by other processes reach
 * only `LISTEN`.
 *
 * @param listener must not throw (an exception would surface in the writer).
 * @returns a function that removes the listener.
 */
export function onLocalServerChange(listener: (change: ServerChange) => void): () => void {
  localListeners.add(listener);
  return () => void localListeners.delete(listener);
}

async function sendServerChange(db: Database, change: ServerChange): Promise<void> {
  const payload = JSON.stringify({
    userId: change.userId,
    serverId: change.serverId,
    op: change.op,
  });
  if (change.op === 'status') {
    await db.execute(sql`select pg_notify(${SERVERS_CHANNEL}, ${payload})`);
  } else {
    await db.execute(
      sql`select pg_notify(${SERVERS_CHANNEL}, ${payload}), pg_notify(${userServersChannel(change.userId)}, ${payload})`,
    );
  }
}

/**
 * Parses a {@link SERVERS_CHANNEL} payload; `undefined` when it is not one (another sender on
 * the channel must not crash a listener).
 */
export function parseServerChange(payload: string): ServerChange | undefined {
  try {
    const value = JSON.parse(payload) as Partial<ServerChange>;
    if (
      typeof value.userId === 'number' &&
      typeof value.serverId === 'number' &&
      typeof value.op === 'string' &&
      OPS.has(value.op)
    ) {
      return { userId: value.userId, serverId: value.serverId, op: value.op };
    }
  } catch {
    // not JSON: not ours
  }
  return undefined;
}
