/**
 * Tool pins in the database (issue 16; the table `tool_pins` and `mcp_servers.tools_pinned_at`).
 *
 * Trust on first use: the first trusted path to list a server's tools (a voice session, the
 * gateway, the status monitor, the Test button, `GET /api/mcp/servers/:id/tools`) pins all of
 * them through {@link pinToolsOnFirstUse}. That claims the server by setting `tools_pinned_at`
 * where it is still null, in the same transaction as the pins: two paths seeing a new server at
 * once cannot both pin (the second one's update waits on the first one's row lock, then finds the
 * column set and pins nothing), and both then read the one set that was stored. After that, pins
 * change only through {@link approveTools}.
 *
 * Nothing here notifies: approvals are announced by the caller (`notifyServerChange`, so running
 * sessions and the gateway read the pins again); a first-use pin changes nothing anyone shows.
 */
import { and, eq, inArray, isNull, sql } from 'drizzle-orm';
import type { Tool } from '@modelcontextprotocol/sdk/types.js';
import {
  pinnedDefinitionOf,
  toolHash,
  type StoredToolPin,
  type ToolPinSet,
} from '../mcp/tool-pinning.js';
import type { Database } from './open.js';
import { mcpServers, toolPins } from './schema.js';

/** Rows per INSERT (6 parameters each, well under Postgres's 65535). */
const INSERT_CHUNK = 500;

/**
 * The pins of several servers, by server id. A server that does not exist is absent; one whose
 * tools were never pinned has `pinnedAt` null and no pins.
 *
 * @param serverIds `mcp_servers.id`s (the caller has scoped them to a user).
 */
export async function readToolPins(
  db: Database,
  serverIds: readonly number[],
): Promise<Map<number, ToolPinSet>> {
  const sets = new Map<number, ToolPinSet>();
  if (serverIds.length === 0) return sets;
  const ids = [...new Set(serverIds)];
  // One statement, so one snapshot: the server's mark and its pins are committed together
  // (`pinToolsOnFirstUse`), and two separate reads could see the mark without the pins.
  const rows = await db
    .select({ id: mcpServers.id, toolsPinnedAt: mcpServers.toolsPinnedAt, pin: toolPins })
    .from(mcpServers)
    .leftJoin(toolPins, eq(toolPins.serverId, mcpServers.id))
    .where(inArray(mcpServers.id, ids));
  const pinsOf = new Map<number, Map<string, StoredToolPin>>();
  for (const row of rows) {
    let pins = pinsOf.get(row.id);
    if (!pins) {
      pinsOf.set(row.id, (pins = new Map()));
      sets.set(row.id, { pinnedAt: row.toolsPinnedAt, pins });
    }
    if (!row.pin) continue;
    pins.set(row.pin.toolName, {
      toolName: row.pin.toolName,
      hash: row.pin.hash,
      definition: row.pin.definition,
      approvedAt: row.pin.approvedAt,
      approvedBy: row.pin.approvedBy,
    });
  }
  return sets;
}

/**
 * The pins of one server; `pinnedAt` null and no pins when its tools were never pinned or the
 * server does not exist.
 */
export async function readServerToolPins(db: Database, serverId: number): Promise<ToolPinSet> {
  return (await readToolPins(db, [serverId])).get(serverId) ?? { pinnedAt: null, pins: new Map() };
}

/**
 * The server's pins; when its tools were never pinned, first pins every tool of `tools` (trust
 * on first use: the caller listed them itself over a trusted path) and marks the server pinned,
 * in one transaction, unless another caller did so first (then that caller's pins stand). An
 * empty `tools` marks the server too: tools that appear later are `new`.
 *
 * @param tools the server's whole tool list, before any tool filter, as just listed; `undefined`
 *   when the caller has not listed them (e.g. not connected yet): the pins are then only read.
 * @returns the stored pins after the call (read again, so every caller sees the one set stored).
 * @throws whatever the database throws.
 */
export async function pinToolsOnFirstUse(
  db: Database,
  serverId: number,
  tools: readonly Tool[] | undefined,
): Promise<ToolPinSet> {
  const current = await readServerToolPins(db, serverId);
  if (current.pinnedAt !== null || tools === undefined) return current;
  await db.transaction(async (tx) => {
    const claimed = await tx
      .update(mcpServers)
      .set({ toolsPinnedAt: sql`now()` })
      .where(and(eq(mcpServers.id, serverId), isNull(mcpServers.toolsPinnedAt)))
      .returning({ id: mcpServers.id });
    if (claimed.length === 0) return; // Pinned meanwhile (or deleted): theirs stand.
    await insertPins(tx, serverId, tools, null, 'keep');
  });
  return readServerToolPins(db, serverId);
}

/**
 * Approves tools as they are now: pins each one's current definition (replacing its old pin),
 * recorded as approved by `approvedBy` now, and marks the server pinned if it was not.
 *
 * @param tools the tools to approve, as the server lists them now.
 * @param approvedBy the approving user's id (the owner or an admin).
 * @throws whatever the database throws (a deleted server: a foreign key violation).
 */
export async function approveTools(
  db: Database,
  serverId: number,
  tools: readonly Tool[],
  approvedBy: number,
): Promise<void> {
  await db.transaction(async (tx) => {
    await tx
      .update(mcpServers)
      .set({ toolsPinnedAt: sql`coalesce(${mcpServers.toolsPinnedAt}, now())` })
      .where(eq(mcpServers.id, serverId));
    await insertPins(tx, serverId, tools, approvedBy, 'replace');
  });
}

/** Inserts pins in chunks; `keep` leaves an existing pin alone, `replace` overwrites it. */
async function insertPins(
  db: Pick<Database, 'insert'>,
  serverId: number,
  tools: readonly Tool[],
  approvedBy: number | null,
  onConflict: 'keep' | 'replace',
): Promise<void> {
  // One row per name: a server that lists a name twice pins its first definition.
  const byName = new Map<string, Tool>();
  for (const tool of tools) if (!byName.has(tool.name)) byName.set(tool.name, tool);
  const rows = [...byName.values()].map((tool) => ({
    serverId,
    toolName: tool.name,
    hash: toolHash(tool),
    definition: pinnedDefinitionOf(tool),
    approvedBy,
  }));
  for (let start = 0; start < rows.length; start += INSERT_CHUNK) {
    const insert = db.insert(toolPins).values(rows.slice(start, start + INSERT_CHUNK));
    if (onConflict === 'keep') {
      await insert.onConflictDoNothing({ target: [toolPins.serverId, toolPins.toolName] });
    } else {
      await insert.onConflictDoUpdate({
        target: [toolPins.serverId, toolPins.toolName],
        set: {
          hash: sql`excluded.hash`,
          definition: sql`excluded.definition`,
          approvedAt: sql`now()`,
          approvedBy: sql`excluded.approved_by`,
        },
      });
    }
  }
}
