/**
 * `/api/mcp/servers`: the caller's MCP servers (DESIGN §4). Every query is scoped to the
 * caller, so another user's server answers 404 like a missing one.
 */
import { Router, type Response } from 'express';
import type { z } from 'zod';
import type { Database } from '../../shared/db/open.js';
import type { McpServerRow } from '../../shared/db/schema.js';
import {
  createServer,
  deleteServer,
  findServerByName,
  getHintedServer,
  getServer,
  isUniqueViolation,
  listServerPage,
  updateServer,
  type DisplayServerRow,
  type ServerStore,
} from '../../shared/db/servers.js';
import { listToolCalls } from '../../shared/db/tool-calls.js';
import type { Logger } from '../../shared/logger.js';
import type { SecretBox } from '../../shared/secrets.js';
import type { ConnectionGuards } from '../../shared/mcp/connection-guards.js';
import { API_ROUTES } from '../api/routes.js';
import type { toolCallResource } from '../api/schemas.js';
import { ConflictError, NotFoundError } from '../http/errors.js';
import type { ServerWatcher } from '../status/monitor.js';
import { parseRequest } from '../api/route-spec.js';
import { currentUser } from '../http/auth.js';
import { actingUserId } from '../http/scope.js';
import { hintsOfPlainRow, serializeServer } from '../servers/serialize.js';
import {
  decodeCallCursor,
  decodeServerCursor,
  encodeCallCursor,
  encodeServerCursor,
} from '../api/cursor.js';
import {
  adminManagedAfter,
  assertOwnerMayChange,
  changedManagedFields,
} from '../servers/admin-managed.js';
import { assertSecretsFollowDestination } from '../servers/secret-binding.js';
import { assertServerAllowed } from '../servers/safety.js';
import {
  MAX_TOOLS_SHOWN,
  currentTools,
  listedTools,
  testServer,
  type TestServerDeps,
} from '../servers/test-server.js';
import { approveTools } from '../../shared/db/tool-pins.js';
import { toolsToApprove } from '../servers/tool-approval.js';
import { columnsFromBody, mergeUpdate } from '../servers/input.js';
import { notifyServerChange } from '../../shared/db/notify.js';
import {
  disconnectAccount,
  newBrowserNonce,
  startAuthorization,
  type OAuthDeps,
} from '../oauth/authorization.js';
import type { ServerPageCache } from '../servers/page-cache.js';
import { OAUTH_BROWSER_COOKIE, cookieOf, setBrowserCookie } from './oauth.js';

/** Dependencies of {@link serversRouter}. */
export interface ServersRouterDeps {
  db: Database;
  /** Seals and opens the servers' secrets (`DatabaseHandle.secrets`). */
  secrets: SecretBox;
  logger: Logger;
  /** The status monitor, told of every change; absent in tests that do not need it. */
  watcher?: ServerWatcher;
  /**
   * The process's connection guards: checked when a server is saved (URL policy, stdio allow
   * list, sandbox mounts) and applied when one is tested. Stdio servers need an admin either way.
   */
  guards: ConnectionGuards;
  /** `PUBLIC_URL` (or `http://HOST:PORT`), for OAuth redirects. */
  publicUrl: string;
  /** Keeps the bodies of server lists until a server changes; default none (read each time). */
  serverPages?: ServerPageCache;
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
  guards,
  publicUrl,
  serverPages,
}: ServersRouterDeps): Router {
  const router = Router();
  const store: ServerStore = { db, secrets };
  const oauth: OAuthDeps = {
    db,
    secrets,
    publicUrl,
    urlPolicy: guards.urlPolicy,
    // The owner's sessions read their servers again (the live-configuration path).
    onTokensChanged: (userId, serverId) =>
      notifyServerChange(db, { userId, serverId, op: 'update' }),
  };
  const testing: TestServerDeps = { db, secrets, logger, watcher, guards, oauth };

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

  /**
   * Like {@link loadServer}, for display: the row without its secrets, their hints filled
   * (`getHintedServer`), so no secret is opened.
   *
   * @throws NotFoundError (404) when that user has no such server.
   */
  async function loadDisplayServer(
    res: Response,
    { params, query }: { params: { id: number }; query: { userId?: number } },
  ): Promise<DisplayServerRow> {
    const userId = await actingUserId(db, res, query.userId);
    const row = await getHintedServer(store, userId, params.id);
    if (!row) throw new NotFoundError(`MCP server ${params.id} does not exist.`);
    return row;
  }

  /** The API form of a row whose secrets are plain (just written or opened). */
  const serializePlain = (row: McpServerRow) => serializeServer(row, hintsOfPlainRow(row));

  // Lists and shows servers from their stored hints: no secret is opened (issue 14).
  router.get('/', async (req, res) => {
    const { query } = parseRequest(API_ROUTES.listServers, req);
    const userId = await actingUserId(db, res, query.userId);
    const load = async () => {
      const page = await listServerPage(store, userId, {
        limit: query.limit,
        afterId: query.cursor === undefined ? undefined : decodeServerCursor(query.cursor)?.afterId,
      });
      return {
        items: page.rows.map((row) => serializeServer(row, row.secretHints)),
        nextCursor: page.nextAfterId === null ? null : encodeServerCursor(page.nextAfterId),
      };
    };
    if (!serverPages) return void res.json(await load());
    const page = await serverPages.page(userId, `${query.limit} ${query.cursor ?? ''}`, load);
    // With the tag set, Express neither hashes the body again nor misses a 304 (If-None-Match).
    res.type('application/json').set('ETag', page.etag).send(page.body);
  });

  router.post('/', async (req, res) => {
    const { query, body } = parseRequest(API_ROUTES.createServer, req);
    const userId = await actingUserId(db, res, query.userId);
    await assertServerAllowed(body, res, guards);
    const row = await createServer(store, {
      ...columnsFromBody(body),
      userId,
      adminManaged: adminManagedAfter(currentUser(res), userId),
    }).catch((error: unknown) => conflictOnDuplicate(error, userId, body.name));
    notify(row.id);
    res.status(201).location(`/api/mcp/servers/${row.id}`).json(serializePlain(row));
  });

  router.get('/:id', async (req, res) => {
    const row = await loadDisplayServer(res, parseRequest(API_ROUTES.getServer, req));
    res.json(serializeServer(row, row.secretHints));
  });

  router.put('/:id', async (req, res) => {
    const input = parseRequest(API_ROUTES.updateServer, req);
    const patch = input.body;
    const row = await loadServer(res, input);
    const caller = currentUser(res);
    assertOwnerMayChange(row, patch, caller);
    assertSecretsFollowDestination(row, patch);
    const merged = mergeUpdate(row, patch);
    await assertServerAllowed(merged, res, guards, row);
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
    res.json(serializePlain(updated));
  });

  router.delete('/:id', async (req, res) => {
    const row = await loadServer(res, parseRequest(API_ROUTES.deleteServer, req));
    if (!(await deleteServer(db, row.userId, row.id))) {
      throw new NotFoundError(`MCP server ${row.id} does not exist.`);
    }
    notify(row.id);
    res.status(204).end();
  });

  router.post('/:id/test', async (req, res) => {
    const input = parseRequest(API_ROUTES.testServer, req);
    const row = await loadServer(res, input);
    res.json(await testServer(testing, row, input.body.userToken));
  });

  router.post('/:id/oauth/start', async (req, res) => {
    const row = await loadServer(res, parseRequest(API_ROUTES.startOAuth, req));
    // One nonce per browser: two authorizations started side by side both finish here.
    const nonce = cookieOf(req, OAUTH_BROWSER_COOKIE) ?? newBrowserNonce();
    const url = await startAuthorization(oauth, row, nonce);
    setBrowserCookie(res, nonce, publicUrl);
    res.set('Cache-Control', 'no-store').json({ authorizationUrl: url.href });
  });

  router.delete('/:id/oauth', async (req, res) => {
    const row = await loadServer(res, parseRequest(API_ROUTES.disconnectOAuth, req));
    const outcome = await disconnectAccount(oauth, row);
    notify(row.id);
    res.json({
      revoked: outcome.revoked,
      detail: outcome.revoked
        ? `Disconnected ${row.name}: the authorization server revoked the tokens and Switchboard deleted them.`
        : `Disconnected ${row.name}: Switchboard deleted the tokens${
            outcome.error ? ` (revoking them failed: ${outcome.error})` : ''
          }.`,
    });
  });

  router.get('/:id/tools', async (req, res) => {
    const row = await loadServer(res, parseRequest(API_ROUTES.listTools, req));
    const advertised = await currentTools(testing, row);
    res.set('X-Total-Count', String(advertised.length));
    res.json(advertised.slice(0, MAX_TOOLS_SHOWN));
  });

  router.post('/:id/tools/approve', async (req, res) => {
    const input = parseRequest(API_ROUTES.approveTools, req);
    const row = await loadServer(res, input);
    const listed = await listedTools(testing, row, input.body.userToken);
    const chosen = toolsToApprove(row, listed.tools, input.body.tools);
    await approveTools(db, row.id, chosen, currentUser(res).id);
    logger.info(
      { serverId: row.id, tools: chosen.map((tool) => tool.name), by: currentUser(res).id },
      'tools approved',
    );
    // The owner's voice sessions and gateway read the pins again (no reconnect: pins are not
    // part of the server's fingerprint).
    await notifyServerChange(db, { userId: row.userId, serverId: row.id, op: 'update' });
    const tools = await currentTools(testing, row, listed);
    res.set('X-Total-Count', String(tools.length));
    res.json(tools.slice(0, MAX_TOOLS_SHOWN));
  });

  router.get('/:id/calls', async (req, res) => {
    const input = parseRequest(API_ROUTES.listCalls, req);
    const row = await loadDisplayServer(res, input);
    const { limit, cursor } = input.query;
    const after = cursor === undefined ? undefined : decodeCallCursor(cursor);
    // One more than asked tells whether another page follows.
    const rows = await listToolCalls(db, row.id, limit + 1, after);
    const calls = rows.slice(0, limit);
    const last = calls[calls.length - 1];
    res.json({
      items: calls.map((call): z.output<typeof toolCallResource> => ({
        id: call.id,
        serverId: call.serverId,
        toolName: call.toolName,
        roomName: call.roomName,
        sessionId: call.sessionId,
        startedAt: call.startedAt.toISOString(),
        durationMs: call.durationMs,
        ok: call.ok,
        error: call.error,
        source: call.source,
        tokenLabel: call.tokenLabel,
      })),
      nextCursor: rows.length > limit && last ? encodeCallCursor(last.startedAt, last.id) : null,
    });
  });

  return router;
}
