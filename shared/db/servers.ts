/**
 * Queries on `mcp_servers` that both the agent and the API need. Every query that reads or
 * changes one user's servers takes the user id, so a caller can never reach another user's row.
 */
import { and, asc, eq, getTableColumns, gt, inArray, isNull, ne, sql, type SQL } from 'drizzle-orm';
import {
  SERVERS_CHANNEL,
  announceLocalServerChange,
  notifyServerChange,
  serverChangeNotifications,
} from './notify.js';
import type { SecretBox } from '../secrets.js';
import type { Database } from './open.js';
import {
  allSecretHints,
  openServerSecrets,
  sealServerSecrets,
  secretHintsOf,
  type SecretHints,
} from './server-secrets.js';
import { storable } from './storable-text.js';
import type { ConnectionStatus } from '../mcp/server-config.js';
import {
  mcpServers,
  type McpServerRow,
  type NewMcpServerRow,
  type ServerMetadata,
} from './schema.js';
import { hasSqlState, UNIQUE_VIOLATION } from './sql-state.js';

/**
 * What the queries that read or write secret columns need: the database and the box that seals
 * and opens the secrets (`server-secrets.ts`). A `DatabaseHandle` is one.
 */
export interface ServerStore {
  db: Database;
  secrets: SecretBox;
}

/** Options of {@link listServers}. */
export interface ListServersOptions {
  /** Only servers with `is_active = true`. */
  activeOnly?: boolean;
}

/**
 * A user's servers, oldest first (the order the agent advertises their tools in), secrets opened.
 *
 * @throws SecretError when a secret cannot be opened with the store's keys.
 */
export async function listServers(
  { db, secrets }: ServerStore,
  userId: number,
  options: ListServersOptions = {},
): Promise<McpServerRow[]> {
  const where = options.activeOnly
    ? and(eq(mcpServers.userId, userId), eq(mcpServers.isActive, true))
    : eq(mcpServers.userId, userId);
  const rows = await db.select().from(mcpServers).where(where).orderBy(asc(mcpServers.id));
  return rows.map((row) => openServerSecrets(row, secrets));
}

/**
 * Every active server of every user, for the API's status monitor, secrets opened.
 *
 * @throws SecretError when a secret cannot be opened with the store's keys.
 */
export async function listAllActiveServers({ db, secrets }: ServerStore): Promise<McpServerRow[]> {
  const rows = await db
    .select()
    .from(mcpServers)
    .where(eq(mcpServers.isActive, true))
    .orderBy(asc(mcpServers.id));
  return rows.map((row) => openServerSecrets(row, secrets));
}

/**
 * One server by id, whoever owns it, secrets opened; `undefined` when it does not exist.
 *
 * @throws SecretError when a secret cannot be opened with the store's keys.
 */
export async function findServer(
  { db, secrets }: ServerStore,
  id: number,
): Promise<McpServerRow | undefined> {
  const [row] = await db.select().from(mcpServers).where(eq(mcpServers.id, id));
  return row && openServerSecrets(row, secrets);
}

/**
 * One of a user's servers, secrets opened; `undefined` when it does not exist or belongs to
 * someone else.
 *
 * @throws SecretError when a secret cannot be opened with the store's keys.
 */
export async function getServer(
  { db, secrets }: ServerStore,
  userId: number,
  id: number,
): Promise<McpServerRow | undefined> {
  const row = await getSealedServer(db, userId, id);
  return row && openServerSecrets(row, secrets);
}

/**
 * One of a user's servers as stored, its secrets still sealed (the worker hub hands such rows to
 * its job processes, which open them with their own key); `undefined` when it does not exist or
 * belongs to someone else.
 */
export async function getSealedServer(
  db: Database,
  userId: number,
  id: number,
): Promise<McpServerRow | undefined> {
  const [row] = await db
    .select()
    .from(mcpServers)
    .where(and(eq(mcpServers.id, id), eq(mcpServers.userId, userId)));
  return row;
}

/**
 * The user's server whose name equals `name` regardless of case (the uniqueness the index
 * `mcp_servers_user_lower_name_idx` enforces), to name it in a conflict.
 *
 * @param exceptId a server to leave out (the one being renamed); default none.
 * @returns its id and exact stored name, or `undefined` when the name is free.
 */
export async function findServerByName(
  db: Database,
  userId: number,
  name: string,
  exceptId?: number,
): Promise<{ id: number; name: string } | undefined> {
  const [row] = await db
    .select({ id: mcpServers.id, name: mcpServers.name })
    .from(mcpServers)
    .where(
      and(
        eq(mcpServers.userId, userId),
        eq(sql`lower(${mcpServers.name})`, sql`lower(${name})`),
        exceptId === undefined ? undefined : ne(mcpServers.id, exceptId),
      ),
    )
    .limit(1);
  return row;
}

/**
 * A `RETURNING` list of every column plus the write's change notifications
 * ({@link serverChangeNotifications}): the write notifies in its own round trip.
 */
function returningNotified(op: 'insert' | 'update') {
  return {
    ...getTableColumns(mcpServers),
    notified: serverChangeNotifications(mcpServers.userId, mcpServers.id, op),
  };
}

/** The row of a {@link returningNotified} write without its `notified` value. */
function withoutNotified<T extends { notified: unknown }>(written: T): Omit<T, 'notified'> {
  const { notified, ...row } = written;
  void notified;
  return row;
}

/**
 * Inserts a server, its secrets sealed; returns the row with plain secrets.
 *
 * @throws the driver's unique-violation error (SQLSTATE 23505) when the user already has a
 *   server of that name in any case (`Everything` next to `everything`); see
 *   {@link isUniqueViolation} and {@link findServerByName}.
 */
export async function createServer(
  { db, secrets }: ServerStore,
  values: NewMcpServerRow,
): Promise<McpServerRow> {
  const [written] = await db
    .insert(mcpServers)
    .values({
      ...sealServerSecrets(values, values.userId, secrets),
      secretHints: allSecretHints(values),
    })
    .returning(returningNotified('insert'));
  const row = openServerSecrets(withoutNotified(written!), secrets);
  announceLocalServerChange({ userId: row!.userId, serverId: row!.id, op: 'insert' });
  return row!;
}

/** The configuration columns a caller may change. */
export type ServerConfigPatch = Partial<
  Omit<
    NewMcpServerRow,
    | 'id'
    | 'userId'
    | 'createdAt'
    | 'updatedAt'
    | 'connectionStatus'
    | 'lastConnected'
    | 'lastError'
    | 'metadata'
    | 'secretHints'
  >
>;

/**
 * Changes a user's server configuration and bumps `updated_at`. A changed configuration also
 * resets the stored status to `disconnected` until the monitor reconnects. The secret columns in
 * `patch` are sealed (so a stored plain value is sealed when it is written again), and their hints
 * replace the stored ones in `secret_hints` in the same statement (jsonb `||`; a row whose hints
 * are still null keeps null, to be filled from all its secrets by {@link withSecretHints}).
 *
 * @param patch plain values; columns it omits are left as stored.
 * @returns the updated row with plain secrets, or `undefined` when the server is not the user's.
 * @throws the driver's unique-violation error on a duplicate name (in any case, another server's
 *   only: a server may change the case of its own name); SecretError when a stored
 *   secret the patch does not replace cannot be opened.
 */
export async function updateServer(
  { db, secrets }: ServerStore,
  userId: number,
  id: number,
  patch: ServerConfigPatch,
): Promise<McpServerRow | undefined> {
  const hints = secretHintsOf(patch);
  const [written] = await db
    .update(mcpServers)
    .set({
      ...sealServerSecrets(patch, userId, secrets),
      ...(Object.keys(hints).length > 0 && {
        secretHints: sql`${mcpServers.secretHints} || ${JSON.stringify(hints)}::jsonb`,
      }),
      updatedAt: new Date(),
    })
    .where(and(eq(mcpServers.id, id), eq(mcpServers.userId, userId)))
    .returning(returningNotified('update'));
  if (!written) return undefined;
  const row = openServerSecrets(withoutNotified(written), secrets);
  announceLocalServerChange({ userId, serverId: id, op: 'update' });
  return row;
}

/** A server row as stored (secrets sealed) with its {@link SecretHints} filled in. */
export type HintedServerRow = McpServerRow & { secretHints: SecretHints };

/**
 * Gives every row its secret hints. A row whose `secret_hints` is null (written before the column
 * existed) has its secrets opened once, here, and its hints written back, so later reads open
 * nothing: the write is conditional on the sealed columns being those read (a write in between
 * re-seals with a fresh IV, so it never matches), so hints computed from values since replaced
 * are never stored. Rows with hints are returned as they are, and no secret of theirs is opened.
 *
 * @param rows rows as read from `mcp_servers` (secrets sealed).
 * @returns the same rows, in the same order, secrets still sealed, each with `secretHints`.
 * @throws SecretError when a secret of a row without hints cannot be opened with the store's keys.
 */
export async function withSecretHints(
  { db, secrets }: ServerStore,
  rows: readonly McpServerRow[],
): Promise<HintedServerRow[]> {
  return Promise.all(
    rows.map(async (row): Promise<HintedServerRow> => {
      if (row.secretHints) return row as HintedServerRow;
      const secretHints = allSecretHints(openServerSecrets(row, secrets));
      await db
        .update(mcpServers)
        .set({ secretHints })
        .where(
          and(
            eq(mcpServers.id, row.id),
            isNull(mcpServers.secretHints),
            sql`${mcpServers.env} = ${JSON.stringify(row.env)}::jsonb`,
            sql`${mcpServers.headers} = ${JSON.stringify(row.headers)}::jsonb`,
            sql`${mcpServers.auth} = ${JSON.stringify(row.auth)}::jsonb`,
            sql`${mcpServers.apiKey} is not distinct from ${row.apiKey}`,
          ),
        );
      return { ...row, secretHints };
    }),
  );
}

/**
 * A server as the API shows it, read without its secrets: every column but `env`, `headers` and
 * `apiKey` (their names and hints are in `secretHints`), and `auth` as stored (its secret, if
 * any, sealed; the serializer shows the hint in its place).
 */
export type DisplayServerRow = Omit<McpServerRow, 'env' | 'headers' | 'apiKey' | 'secretHints'> & {
  secretHints: SecretHints;
};

/** The columns a display read selects: all but the sealed `env`, `headers` and `api_key`. */
const DISPLAY_COLUMNS = (() => {
  const { env, headers, apiKey, ...display } = getTableColumns(mcpServers);
  void [env, headers, apiKey];
  return display;
})();

/**
 * Reads servers for display: the {@link DISPLAY_COLUMNS} of the rows `where` selects, oldest
 * first, and, only for rows whose hints are still null, the whole row again so that
 * {@link withSecretHints} can fill them in. No secret of a row with hints is read or opened.
 *
 * @param limit how many rows at most; default all.
 */
async function displayRows(
  store: ServerStore,
  where: SQL | undefined,
  limit?: number,
): Promise<DisplayServerRow[]> {
  const query = store.db
    .select(DISPLAY_COLUMNS)
    .from(mcpServers)
    .where(where)
    .orderBy(asc(mcpServers.id));
  const rows = limit === undefined ? await query : await query.limit(limit);
  const missing = rows.filter((row) => row.secretHints === null).map((row) => row.id);
  if (missing.length === 0) return rows as DisplayServerRow[];
  const full = await store.db.select().from(mcpServers).where(inArray(mcpServers.id, missing));
  const filled = new Map((await withSecretHints(store, full)).map((row) => [row.id, row]));
  // A row deleted in between has no hints to show: it is left out, as a later read would.
  return rows.flatMap((row): DisplayServerRow[] => {
    if (row.secretHints !== null) return [row as DisplayServerRow];
    const hinted = filled.get(row.id);
    return hinted ? [hinted] : [];
  });
}

/** The most servers one page of {@link listServerPage} may hold. */
export const MAX_SERVER_PAGE = 200;

/** Options of {@link listServerPage}. */
export interface ServerPageOptions {
  /** How many servers at most, 1–{@link MAX_SERVER_PAGE}. */
  limit: number;
  /** Only servers with a greater id (the last id of the previous page); default from the first. */
  afterId?: number;
}

/** One page of a user's servers. */
export interface ServerPage {
  /** Oldest first (ascending id), without their secrets, hints filled. */
  rows: DisplayServerRow[];
  /** The id to pass as `afterId` for the next page; null when this page is the last. */
  nextAfterId: number | null;
}

/**
 * One page of a user's servers, oldest first, for display: keyset pagination on
 * `(user_id, id)` (index `mcp_servers_user_id_idx`), so a page costs the same wherever it starts
 * and a server inserted meanwhile never moves another from one page to the next. The secrets
 * are neither read nor opened: what the API shows of them is `secretHints` (filled by
 * {@link withSecretHints} for a row that has none yet, the one case that opens secrets).
 *
 * @throws RangeError when `limit` is not an integer from 1 to {@link MAX_SERVER_PAGE}; SecretError
 *   as {@link withSecretHints}.
 */
export async function listServerPage(
  store: ServerStore,
  userId: number,
  { limit, afterId }: ServerPageOptions,
): Promise<ServerPage> {
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_SERVER_PAGE) {
    throw new RangeError(`limit must be an integer from 1 to ${MAX_SERVER_PAGE}, not ${limit}`);
  }
  const where = and(
    eq(mcpServers.userId, userId),
    afterId === undefined ? undefined : gt(mcpServers.id, afterId),
  );
  // One more than asked tells whether another page follows.
  const rows = await displayRows(store, where, limit + 1);
  const page = rows.slice(0, limit);
  return {
    rows: page,
    nextAfterId: rows.length > limit ? page[page.length - 1]!.id : null,
  };
}

/**
 * One of a user's servers for display, without its secrets, hints filled (see
 * {@link listServerPage}); `undefined` when it does not exist or belongs to someone else.
 *
 * @throws SecretError as {@link withSecretHints}.
 */
export async function getHintedServer(
  store: ServerStore,
  userId: number,
  id: number,
): Promise<DisplayServerRow | undefined> {
  const [row] = await displayRows(store, and(eq(mcpServers.id, id), eq(mcpServers.userId, userId)));
  return row;
}

/** Deletes a user's server. @returns whether a row was deleted. */
export async function deleteServer(db: Database, userId: number, id: number): Promise<boolean> {
  const rows = await db
    .delete(mcpServers)
    .where(and(eq(mcpServers.id, id), eq(mcpServers.userId, userId)))
    .returning({
      id: mcpServers.id,
      notified: serverChangeNotifications(mcpServers.userId, mcpServers.id, 'delete'),
    });
  if (rows.length > 0) announceLocalServerChange({ userId, serverId: id, op: 'delete' });
  return rows.length > 0;
}

/** Status columns the monitor and the "test" route write. */
export interface ServerStatusPatch {
  connectionStatus?: ConnectionStatus;
  lastConnected?: Date;
  lastError?: string | null;
  metadata?: ServerMetadata;
}

/**
 * Writes status columns without touching `updated_at`, and notifies `mcp_servers_changed` with
 * op `status`. No-op for a deleted server. NUL characters in `lastError` and `metadata` are
 * stored as U+FFFD (PostgreSQL cannot store NUL; see `storable`).
 */
export async function updateServerStatus(
  db: Database,
  id: number,
  patch: ServerStatusPatch,
): Promise<void> {
  if (Object.keys(patch).length === 0) return;
  const [row] = await db
    .update(mcpServers)
    // What a server said (its info, capabilities, error texts) may hold NUL: see storable().
    .set(storable(patch))
    .where(eq(mcpServers.id, id))
    .returning({ userId: mcpServers.userId });
  if (row) await notifyServerChange(db, { userId: row.userId, serverId: id, op: 'status' });
}

/**
 * Writes the status patches of many servers in one statement (the status monitor's batch of a
 * tick): one multi-row `UPDATE … FROM jsonb_to_recordset(…)` that leaves `updated_at` alone, and
 * in the same statement one `NOTIFY mcp_servers_changed` with op `status` per server whose
 * `connection_status`, `last_error` or `metadata` was in its patch. A patch of `last_connected`
 * alone (the monitor's periodic "still healthy" refresh) notifies nobody: no listener reacts to
 * it. Deleted servers are skipped; an empty patch, or an empty map, writes nothing. NUL characters
 * are stored as U+FFFD (see `storable`).
 *
 * @param patches each server's patch, by server id.
 * @returns how many rows were updated.
 * @throws the driver's error when the statement fails (nothing is written then: it is one
 *   statement).
 */
export async function updateServerStatuses(
  db: Database,
  patches: ReadonlyMap<number, ServerStatusPatch>,
): Promise<number> {
  const rows = [];
  for (const [id, raw] of patches) {
    if (Object.keys(raw).length === 0) continue;
    const patch = storable(raw);
    rows.push({
      id,
      status: patch.connectionStatus ?? null,
      lastConnected: patch.lastConnected?.toISOString() ?? null,
      setLastError: 'lastError' in patch,
      lastError: patch.lastError ?? null,
      metadata: patch.metadata ?? null,
      notify: 'connectionStatus' in patch || 'lastError' in patch || 'metadata' in patch,
    });
  }
  if (rows.length === 0) return 0;
  const result: unknown = await db.execute(sql`
    with input as (
      select * from jsonb_to_recordset(${JSON.stringify(rows)}::jsonb) as v(
        id integer, status text, "lastConnected" timestamptz, "setLastError" boolean,
        "lastError" text, metadata jsonb, notify boolean)
    ), updated as (
      update mcp_servers as s set
        connection_status = coalesce(v.status, s.connection_status),
        last_connected = coalesce(v."lastConnected", s.last_connected),
        last_error = case when v."setLastError" then v."lastError" else s.last_error end,
        metadata = coalesce(v.metadata, s.metadata)
      from input as v
      where s.id = v.id
      returning s.id, s.user_id, v.notify
    )
    select count(*)::int as updated,
      count(pg_notify(${SERVERS_CHANNEL}, json_build_object(
        'userId', user_id, 'serverId', id, 'op', 'status')::text)) filter (where notify)
        as notified
    from updated`);
  // postgres.js answers an array of rows, PGlite `{ rows }`.
  const [counts] = (Array.isArray(result) ? result : (result as { rows: unknown[] }).rows) as {
    updated: number;
  }[];
  return counts?.updated ?? 0;
}

/**
 * True when a database error is a unique-constraint violation (SQLSTATE 23505), whether it
 * came from postgres.js or PGlite, bare or wrapped in drizzle's query error.
 */
export function isUniqueViolation(error: unknown): boolean {
  return hasSqlState(error, UNIQUE_VIOLATION);
}
