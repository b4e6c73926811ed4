/**
 * Which edits of an MCP server need its connection replaced: {@link serverFingerprint} of a row
 * is what a voice session's toolset and a gateway's upstream connection (`server/gateway/`)
 * depend on, so two rows with the same fingerprint can share one connection.
 */
import { getTableColumns } from 'drizzle-orm';
import { mcpServers, type McpServerRow } from './schema.js';

/**
 * Columns of `mcp_servers` a session's toolset does not depend on: the row's identity and owner,
 * its description, whether it is active (a session drops inactive servers before comparing), who
 * manages it, what the status monitor and the database write about it (and when its tools were
 * first pinned), and the secrets' hints
 * (derived from the secrets, which are part of it; the API fills them in for older rows). Every other column,
 * including any added later, is part of {@link serverFingerprint}: a column forgotten here costs
 * a needless reconnect, never a missed one.
 */
export const FINGERPRINT_IGNORED_COLUMNS = [
  'id',
  'userId',
  'description',
  'isActive',
  'adminManaged',
  'connectionStatus',
  'lastConnected',
  'lastError',
  'metadata',
  'secretHints',
  'toolsPinnedAt',
  'createdAt',
  'updatedAt',
] as const satisfies readonly (keyof McpServerRow)[];

/** The `mcp_servers` columns a toolset depends on, in a fixed (sorted) order. */
const FINGERPRINT_COLUMNS = Object.keys(getTableColumns(mcpServers))
  .filter((column) => !(FINGERPRINT_IGNORED_COLUMNS as readonly string[]).includes(column))
  .sort() as (keyof McpServerRow)[];

/**
 * What a session's toolset of `row` depends on: every `mcp_servers` column except
 * {@link FINGERPRINT_IGNORED_COLUMNS}, i.e. its connection settings (with the opened secrets),
 * sandbox, name, tool filter and tool policy. Two rows with the same fingerprint give the same
 * toolset, so an edit that keeps it needs no reconnect. JSON values are compared with their keys
 * sorted, so a reordered object is no change.
 *
 * @returns an opaque string, comparable only within one process.
 */
export function serverFingerprint(row: McpServerRow): string {
  return stableJson(FINGERPRINT_COLUMNS.map((column) => [column, row[column] ?? null]));
}

/** `JSON.stringify` with the keys of every plain object sorted. */
function stableJson(value: unknown): string {
  return JSON.stringify(value, (_key, inner: unknown) => {
    if (inner === null || typeof inner !== 'object' || Array.isArray(inner)) return inner;
    if (Object.getPrototypeOf(inner) !== Object.prototype) return inner;
    return Object.fromEntries(
      Object.entries(inner).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)),
    );
  });
}
