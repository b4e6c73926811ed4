/**
 * The audit log of tool calls made by agent sessions and the MCP gateway (`tool_calls`, DESIGN
 * §3, issue 15).
 */
import { and, asc, desc, eq, gt, sql, type SQL } from 'drizzle-orm';
import { PgDialect } from 'drizzle-orm/pg-core';
import type { Database } from './open.js';
import { mcpServers, toolCalls, users, type ToolCallRow, type ToolCallSource } from './schema.js';
import { FOREIGN_KEY_VIOLATION, hasSqlState } from './sql-state.js';
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
  /** Who made the call: `agent` (a voice session; the default) or `gateway` (an MCP client). */
  source?: ToolCallSource;
  /** For a gateway call: the label of the API token it was made with; default null. */
  tokenLabel?: string | null;
}

/**
 * Appends one tool call to `tool_calls`. NUL characters in its texts (a server's error message)
 * are stored as U+FFFD (PostgreSQL cannot store NUL; see `storable`).
 */
export async function recordToolCall(db: Database, record: ToolCallRecord): Promise<void> {
  await db.insert(toolCalls).values(storableCall(record));
}

/** The columns a batch writes (every one but the generated `id`); {@link batchRow} fills each. */
const BATCH_COLUMNS = [
  toolCalls.userId,
  toolCalls.serverId,
  toolCalls.toolName,
  toolCalls.roomName,
  toolCalls.sessionId,
  toolCalls.startedAt,
  toolCalls.durationMs,
  toolCalls.ok,
  toolCalls.error,
  toolCalls.source,
  toolCalls.tokenLabel,
];

/**
 * The two batch statements, each `INSERT INTO tool_calls (…) SELECT … FROM json_to_recordset($1)`
 * with the batch's JSON as its one parameter. Their texts are rendered once, from the schema
 * (column names and SQL types), so a batch costs no query building, and each runs as a named
 * prepared query (see {@link runBatch}), which PostgreSQL parses and plans once per connection.
 *
 * - `plain` takes every row as it is: what nearly every batch runs.
 * - `joined` (`… FROM ROWS FROM (json_to_recordset(…)) WITH ORDINALITY AS r JOIN users … LEFT
 *   JOIN mcp_servers … ORDER BY r.ordinality`) gives each row what the foreign keys' `ON DELETE`
 *   rules would have given it had it been written a moment earlier: a call of a server deleted
 *   since is stored with `server_id` null (`SET NULL`), a call of a user deleted since is not
 *   stored (`CASCADE`), and the ids keep the order of the list. It costs PostgreSQL about a fifth
 *   more per row, so it runs only after `plain` failed on a foreign key.
 */
const BATCH_INSERT = (() => {
  const column = (name: string) => sql.identifier(name);
  const r = column('r');
  const server = column('server');
  const names = sql.join(
    BATCH_COLUMNS.map((entry) => column(entry.name)),
    sql`, `,
  );
  const joinedNames = sql.join(
    BATCH_COLUMNS.map((entry) =>
      entry === toolCalls.serverId
        ? sql`${server}.${column(mcpServers.id.name)}`
        : sql`${r}.${column(entry.name)}`,
    ),
    sql`, `,
  );
  const types = sql.join(
    BATCH_COLUMNS.map((entry) => sql`${column(entry.name)} ${sql.raw(entry.getSQLType())}`),
    sql`, `,
  );
  const dialect = new PgDialect();
  // The texts with `$1` where the JSON goes (a placeholder renders as the query's first parameter).
  const statement = (head: SQL, tail: SQL) =>
    dialect.sqlToQuery(sql`${head}${sql.placeholder('json')}${tail}`).sql;
  return {
    plain: statement(
      sql`insert into ${toolCalls} (${names}) select ${names} from json_to_recordset(`,
      sql`::json) as r(${types})`,
    ),
    joined: statement(
      sql`insert into ${toolCalls} (${names}) select ${joinedNames} from rows from (json_to_recordset(`,
      sql`::json) as (${types})) with ordinality as ${r}
          join ${users} on ${users.id} = ${r}.${column(toolCalls.userId.name)}
          left join ${mcpServers} as ${server}
            on ${server}.${column(mcpServers.id.name)} = ${r}.${column(toolCalls.serverId.name)}
          order by ${r}.${column('ordinality')}`,
    ),
  };
})();

/**
 * `text` with each lone UTF-16 surrogate replaced by U+FFFD (ES2024 `String#toWellFormed`, in
 * V8 since Node 20: about a tenth of a `/\p{Cs}/gu` replace); null stays null.
 */
function wellFormed(text: string | null | undefined): string | null {
  if (text === null || text === undefined) return null;
  return text.toWellFormed();
}

/**
 * One call as an object of the batch's JSON, keyed by column name: stored as
 * {@link recordToolCall} stores it, and each text made well-formed (a lone UTF-16 surrogate,
 * which JSON writes as an escape PostgreSQL refuses, becomes U+FFFD as the drivers encode it).
 */
function batchRow(record: ToolCallRecord): Record<string, unknown> {
  const row = storableCall(record);
  return {
    [toolCalls.userId.name]: row.userId,
    [toolCalls.serverId.name]: row.serverId,
    [toolCalls.toolName.name]: wellFormed(row.toolName),
    [toolCalls.roomName.name]: wellFormed(row.roomName),
    [toolCalls.sessionId.name]: wellFormed(row.sessionId),
    [toolCalls.startedAt.name]: row.startedAt.toISOString(),
    [toolCalls.durationMs.name]: row.durationMs,
    [toolCalls.ok.name]: row.ok,
    [toolCalls.error.name]: wellFormed(row.error),
    [toolCalls.source.name]: row.source,
    [toolCalls.tokenLabel.name]: wellFormed(row.tokenLabel),
  };
}

/**
 * Appends many tool calls to `tool_calls` with one INSERT (all or none), stored as
 * {@link recordToolCall} stores each. An empty list writes nothing.
 *
 * The rows go as one JSON parameter expanded by PostgreSQL's `json_to_recordset`, not as a
 * multi-row `VALUES` list: building and sending nine parameters per row cost the agent's process
 * about 50 µs a row on postgres.js, and made an in-process PGlite parse and plan a new statement
 * of up to 900 parameters each time (`npm run bench`, `toolCallOverhead.*.cpuPerCallRatio`).
 *
 * A server or user deleted while its calls waited in a session's batch does not cost the batch
 * its other rows: when the INSERT fails on a foreign key (SQLSTATE 23503), the list is written
 * again as `ON DELETE` would have left it (see `BATCH_INSERT.joined`): the deleted server's
 * calls with no server, the deleted user's calls not at all.
 *
 * @throws the database's error when the INSERT fails otherwise; no row of the list is then
 *   stored.
 */
export async function recordToolCalls(
  db: Database,
  records: readonly ToolCallRecord[],
): Promise<void> {
  if (records.length === 0) return;
  const json = JSON.stringify(records.map(batchRow));
  try {
    await runBatch(db, 'tool_calls_batch', BATCH_INSERT.plain, json);
  } catch (error) {
    if (!hasSqlState(error, FOREIGN_KEY_VIOLATION)) throw error;
    await runBatch(db, 'tool_calls_batch_joined', BATCH_INSERT.joined, json);
  }
}

/**
 * Runs one of {@link BATCH_INSERT}'s texts with `json` as `$1`, as a named prepared query
 * (drizzle's `PgSession.prepareQuery` with a name, what a query builder's `.prepare(name)` makes;
 * the builder's `insert().select()` would list every column, the generated `id` too, and
 * `db.execute` sends an unnamed statement that PostgreSQL parses and plans for every batch: about 2.5 µs of its CPU a
 * row in batches of 100, and 2 µs of the client's). On postgres.js the statement is prepared on
 * each connection the first time it runs there; PGlite runs it as any query.
 */
async function runBatch(db: Database, name: string, text: string, json: string): Promise<void> {
  await db._.session.prepareQuery({ sql: text, params: [json] }, undefined, name, false).execute();
}

/**
 * The row of one call: texts made storable, the duration rounded to whole milliseconds, `source`
 * defaulting to `agent` and `tokenLabel` to null.
 */
function storableCall(record: ToolCallRecord) {
  // Every field named, no `...record` spread: a spread followed by overrides takes V8's slow
  // path, about 3 µs a row against 0.06 µs (every session call's row is made here).
  return {
    userId: record.userId,
    serverId: record.serverId,
    toolName: storable(record.toolName),
    roomName: storable(record.roomName ?? null),
    sessionId: storable(record.sessionId ?? null),
    startedAt: record.startedAt,
    durationMs: Math.round(record.durationMs),
    ok: record.ok,
    error: storable(record.error ?? null),
    source: record.source ?? 'agent',
    tokenLabel: storable(record.tokenLabel ?? null),
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
