/**
 * `/api/mcp/servers`: the caller's MCP servers (DESIGN §4). Every query is scoped to the
 * caller, so another user's server answers 404 like a missing one.
 */
import { Router, type Response } from 'express';
import type { z } from 'zod';
import type { Tool } from '@modelcontextprotocol/sdk/types.js';
import type { Database } from '../../shared/db/open.js';
import type { McpServerRow } from '../../shared/db/schema.js';
import {
  createServer,
  deleteServer,
  findServerByName,
  getServer,
  isUniqueViolation,
  listServers,
  updateServer,
  updateServerStatus,
  type ServerStore,
} from '../../shared/db/servers.js';
import { listToolCalls } from '../../shared/db/tool-calls.js';
import type { Logger } from '../../shared/logger.js';
import type { SecretBox } from '../../shared/secrets.js';
import { advertiseTools, type AdvertisedTool } from '../../shared/mcp/advertised-tools.js';
import { describeError } from '../../shared/errors.js';
import { configFromColumns, type McpServerConfig } from '../../shared/mcp/server-config.js';
import type { StdioProcessLimiter } from '../../shared/mcp/stdio-process-limiter.js';
import { API_ROUTES } from '../api/routes.js';
import type { toolCallResource } from '../api/schemas.js';
import { ConflictError, HttpError, NotFoundError } from '../http/errors.js';
import { connectionMetadata, probeServer, type ServerWatcher } from '../status/monitor.js';
import { parseRequest } from '../api/route-spec.js';
import { currentUser } from '../http/auth.js';
import { actingUserId } from '../http/scope.js';
import { serializeServer } from '../servers/serialize.js';
import {
  adminManagedAfter,
  assertOwnerMayChange,
  changedManagedFields,
} from '../servers/admin-managed.js';
import { assertSecretsFollowDestination } from '../servers/secret-binding.js';
import { PERMISSIVE_SAFETY, assertServerAllowed, type ServerSafety } from '../servers/safety.js';
import { columnsFromBody, mergeUpdate } from '../servers/input.js';

/** Dependencies of {@link serversRouter}. */
export interface ServersRouterDeps {
  db: Database;
  /** Seals and opens the servers' secrets (`DatabaseHandle.secrets`). */
  secrets: SecretBox;
  logger: Logger;
  /** The status monitor, told of every change; absent in tests that do not need it. */
  watcher?: ServerWatcher;
  /** The process's cap on stdio server processes, for the probes; default none. */
  stdioLimiter?: StdioProcessLimiter;
  /**
   * Save-time and connect-time guards (URL policy, stdio allow list); default
   * {@link PERMISSIVE_SAFETY}. Stdio servers need an admin either way.
   */
  safety?: ServerSafety;
}

/**
 * Most tools one answer of `POST /:id/test` or `GET /:id/tools` lists: a server may list
 * thousands (each with a schema), and an answer must stay bounded (DESIGN §9.4). The first ones,
 * in the server's order, are shown; `toolCount` (or the `X-Total-Count` header) says how many
 * there are. The agent is not bound by this: it advertises its own bounded set.
 */
export const MAX_TOOLS_SHOWN = 500;

/** Result of `POST /api/mcp/servers/:id/test`. */
export type TestResult =
  | {
      status: 'connected';
      serverInfo: { name: string; version: string } | undefined;
      transport: string;
      /** Every tool the server listed (after the skipped ones), shown or not. */
      toolCount: number;
      /** The first {@link MAX_TOOLS_SHOWN} of them, as the agent advertises them. */
      tools: AdvertisedTool[];
      /** True when `tools` holds fewer than `toolCount`. */
      truncated: boolean;
      latencyMs: number;
    }
  | { status: 'error'; error: string; latencyMs: number };

/**
 * The advertised tools of one server, named as the agent names them: the user's earlier active
 * servers' tools (from their stored metadata) are taken first, so collisions resolve the same way.
 */
export function advertisedToolsFor(
  server: McpServerRow,
  tools: readonly Tool[],
  userServers: readonly McpServerRow[],
): AdvertisedTool[] {
  const taken = new Set<string>();
  for (const other of userServers) {
    if (other.id >= server.id || !other.isActive) continue;
    const names = other.metadata.toolNames ?? [];
    advertiseTools(
      other.name,
      names.map((name) => ({ name, inputSchema: { type: 'object' } })),
      { filter: other.toolFilter, taken },
    );
  }
  return advertiseTools(server.name, tools, { filter: server.toolFilter, taken });
}

/** True when a live connection was made from exactly the stored config of `row`. */
function sameConfig(config: McpServerConfig, row: McpServerRow): boolean {
  try {
    return JSON.stringify(config) === JSON.stringify(configFromColumns(row));
  } catch {
    return false;
  }
}

/**
 * The router for `/api/mcp/servers`. Mount behind `requireAuth`. Every route acts for the caller,
 * or for the user an admin names with `?userId=` (see `http/scope.ts`).
 */
export function serversRouter({
  db,
  secrets,
  logger,
  watcher,
  stdioLimiter,
  safety = PERMISSIVE_SAFETY,
}: ServersRouterDeps): Router {
  const router = Router();
  const store: ServerStore = { db, secrets };

  const notify = (id: number) => {
    void watcher?.sync(id);
  };

  /**
   * The stored server `:id` of the user the request acts for.
   *
   * @param input the request's validated `:id` and `?userId=`.
   * @throws NotFoundError (404) when that user has no such server.
   */
  async function loadServer(
    res: Response,
    { params, query }: { params: { id: number }; query: { userId?: number } },
  ): Promise<McpServerRow> {
    const row = await getServer(store, await actingUserId(db, res, query.userId), params.id);
    if (!row) throw new NotFoundError(`MCP server ${params.id} does not exist.`);
    return row;
  }

  /**
   * Turns a unique violation on the name into a 409 that names the server already holding it
   * (its exact name and id: names are unique per user regardless of case); rethrows anything else.
   *
   * @param userId the server's owner; `exceptId` the server being renamed, if any.
   * @throws ConflictError (409) on a duplicate name, else `error` itself.
   */
  async function conflictOnDuplicate(
    error: unknown,
    userId: number,
    name: string,
    exceptId?: number,
  ): Promise<never> {
    if (!isUniqueViolation(error)) throw error;
    const existing = await findServerByName(db, userId, name, exceptId);
    throw new ConflictError(
      existing
        ? `A server named "${existing.name}" (id ${existing.id}) already exists; names are ` +
            `unique regardless of case. Choose another name, or change that server instead.`
        : `A server named "${name}" already exists; names are unique regardless of case. ` +
            `Choose another name.`,
    );
  }

  router.get('/', async (req, res) => {
    const { query } = parseRequest(API_ROUTES.listServers, req);
    const rows = await listServers(store, await actingUserId(db, res, query.userId));
    res.json(rows.map(serializeServer));
  });

  router.post('/', async (req, res) => {
    const { query, body } = parseRequest(API_ROUTES.createServer, req);
    const userId = await actingUserId(db, res, query.userId);
    await assertServerAllowed(body, res, safety);
    const row = await createServer(store, {
      ...columnsFromBody(body),
      userId,
      adminManaged: adminManagedAfter(currentUser(res), userId),
    }).catch((error: unknown) => conflictOnDuplicate(error, userId, body.name));
    notify(row.id);
    res.status(201).location(`/api/mcp/servers/${row.id}`).json(serializeServer(row));
  });

  router.get('/:id', async (req, res) => {
    res.json(serializeServer(await loadServer(res, parseRequest(API_ROUTES.getServer, req))));
  });

  router.put('/:id', async (req, res) => {
    const input = parseRequest(API_ROUTES.updateServer, req);
    const patch = input.body;
    const row = await loadServer(res, input);
    const caller = currentUser(res);
    assertOwnerMayChange(row, patch, caller);
    assertSecretsFollowDestination(row, patch);
    const merged = mergeUpdate(row, patch);
    await assertServerAllowed(merged, res, safety, row);
    const adminManaged = adminManagedAfter(
      caller,
      row.userId,
      row,
      changedManagedFields(row, patch),
    );
    const updated = await updateServer(store, row.userId, row.id, {
      ...columnsFromBody(merged),
      adminManaged,
    }).catch((error: unknown) => conflictOnDuplicate(error, row.userId, merged.name, row.id));
    if (!updated) throw new NotFoundError(`MCP server ${row.id} does not exist.`);
    notify(row.id);
    res.json(serializeServer(updated));
  });

  router.delete('/:id', async (req, res) => {
    const row = await loadServer(res, parseRequest(API_ROUTES.deleteServer, req));
    if (!(await deleteServer(db, row.userId, row.id))) {
      throw new NotFoundError(`MCP server ${row.id} does not exist.`);
    }
    notify(row.id);
    res.status(204).end();
  });

  /**
   * Tests a server through the monitor's live connection (tools listed again, then a ping), so
   * the Test button of a healthy server needs no second process, which a full stdio cap would
   * refuse. `undefined` when the monitor holds no live connection for exactly the stored config.
   */
  async function testLive(row: McpServerRow): Promise<TestResult | undefined> {
    const live = watcher?.connection(row.id);
    if (!live || (live.status !== 'connected' && live.status !== 'degraded')) return undefined;
    if (!sameConfig(live.config, row)) return undefined;
    const started = performance.now();
    try {
      const tools = await live.refreshTools();
      const latencyMs = await live.ping();
      const info = live.info;
      await updateServerStatus(db, row.id, {
        connectionStatus: 'connected',
        lastConnected: new Date(),
        lastError: null,
        metadata: connectionMetadata(info, tools),
      });
      const userServers = await listServers(store, row.userId);
      const advertised = advertisedToolsFor(row, tools, userServers);
      return {
        status: 'connected',
        serverInfo: info?.serverInfo,
        transport: info?.transport ?? row.transport,
        toolCount: tools.length,
        tools: advertised.slice(0, MAX_TOOLS_SHOWN),
        truncated: advertised.length > MAX_TOOLS_SHOWN,
        latencyMs,
      };
    } catch (error) {
      // The monitor records the failure and reconnects on its own; the caller sees it now.
      return {
        status: 'error',
        error: describeError(error, (text) => live.scrubber.scrub(text)),
        latencyMs: Math.round(performance.now() - started),
      };
    }
  }

  router.post('/:id/test', async (req, res) => {
    const input = parseRequest(API_ROUTES.testServer, req);
    const row = await loadServer(res, input);
    if (row.auth.type !== 'user-token') {
      const answer = await testLive(row);
      if (answer) {
        res.json(answer);
        return;
      }
    }
    const started = performance.now();
    const result = await probeServer(row, logger, {
      stdioLimiter,
      ...safety,
      userToken: input.body.userToken,
    });
    const latencyMs = Math.round(performance.now() - started);
    // A user-token server's status belongs to the sessions; a test only refreshes its tools.
    const patch =
      row.auth.type !== 'user-token'
        ? result.patch
        : result.ok
          ? { metadata: result.patch.metadata }
          : {};
    await updateServerStatus(db, row.id, patch);
    let answer: TestResult;
    if (result.ok) {
      await result.connection.close();
      const userServers = await listServers(store, row.userId);
      const tools = advertisedToolsFor(row, result.tools, userServers);
      answer = {
        status: 'connected',
        serverInfo: result.info.serverInfo,
        transport: result.info.transport,
        toolCount: result.tools.length,
        tools: tools.slice(0, MAX_TOOLS_SHOWN),
        truncated: tools.length > MAX_TOOLS_SHOWN,
        latencyMs: result.info.latencyMs,
      };
    } else {
      answer = { status: 'error', error: result.error, latencyMs };
    }
    // A server the monitor had given up on is retried now that someone is looking at it.
    if (row.isActive && watcher?.connection(row.id)?.status !== 'connected') notify(row.id);
    res.json(answer);
  });

  router.get('/:id/tools', async (req, res) => {
    const row = await loadServer(res, parseRequest(API_ROUTES.listTools, req));
    const live = watcher?.connection(row.id);
    let tools: readonly Tool[];
    if (live?.status === 'connected') {
      tools = live.tools;
    } else {
      const result = await probeServer(row, logger, { stdioLimiter, ...safety });
      if (!result.ok) {
        await updateServerStatus(db, row.id, result.patch);
        throw new HttpError(
          503,
          'mcp_unavailable',
          `MCP server ${row.id} cannot be reached: ${result.error}`,
        );
      }
      await result.connection.close();
      tools = result.tools;
    }
    const userServers = await listServers(store, row.userId);
    const advertised = advertisedToolsFor(row, tools, userServers);
    res.set('X-Total-Count', String(advertised.length));
    res.json(advertised.slice(0, MAX_TOOLS_SHOWN));
  });

  router.get('/:id/calls', async (req, res) => {
    const input = parseRequest(API_ROUTES.listCalls, req);
    const row = await loadServer(res, input);
    const calls = await listToolCalls(db, row.id, input.query.limit);
    res.json(
      calls.map((call): z.output<typeof toolCallResource> => ({
        id: call.id,
        serverId: call.serverId,
        toolName: call.toolName,
        roomName: call.roomName,
        sessionId: call.sessionId,
        startedAt: call.startedAt.toISOString(),
        durationMs: call.durationMs,
        ok: call.ok,
        error: call.error,
      })),
    );
  });

  return router;
}
