/**
 * `/api/users` (admins only) and `/api/tokens` (the caller's own API tokens) (DESIGN §3).
 * Tokens are shown once, when created; listings never include them.
 */
import { Router } from 'express';
import type { z } from 'zod';
import type { Database } from '../../shared/db/open.js';
import { isUniqueViolation } from '../../shared/db/servers.js';
import type { User } from '../../shared/db/schema.js';
import {
  createToken,
  createUserWithToken,
  listTokens,
  listUsers,
  revokeToken,
  serversNotOwned,
} from '../accounts/accounts.js';
import { gatewayServerIds } from '../../shared/db/api-tokens.js';
import { API_ROUTES } from '../api/routes.js';
import type { tokenResource, userResource } from '../api/schemas.js';
import { currentUser } from '../http/auth.js';
import { ConflictError, HttpError, NotFoundError } from '../http/errors.js';
import { parseRequest } from '../api/route-spec.js';
import { requireAdmin } from '../http/scope.js';

/** The API form of a user, as `userResource` documents it: `createdAt` an ISO 8601 string. */
export function serializeUser(user: User): z.output<typeof userResource> {
  return {
    id: user.id,
    name: user.name,
    email: user.email,
    role: user.role,
    createdAt: user.createdAt.toISOString(),
  };
}

/** The router for `/api/users`. Mount behind `requireAuth`; it checks the admin role itself. */
export function usersRouter(db: Database): Router {
  const router = Router();
  router.use(requireAdmin());

  router.get('/', async (_req, res) => {
    res.json((await listUsers(db)).map(serializeUser));
  });

  router.post('/', async (req, res) => {
    const { body } = parseRequest(API_ROUTES.createUser, req);
    const created = await createUserWithToken(db, body).catch((error: unknown) => {
      if (isUniqueViolation(error)) {
        throw new ConflictError(`A user with the email ${body.email} already exists.`);
      }
      throw error;
    });
    res
      .status(201)
      .location(`/api/users/${created.user.id}`)
      .json({ user: serializeUser(created.user), token: created.token });
  });

  return router;
}

/** Options of {@link tokensRouter}. */
export interface TokensRouterOptions {
  /** Called with a revoked token's SHA-256, e.g. to drop it from a token cache. */
  onRevoke?: (tokenHash: string) => void;
}

/**
 * 422: a token's `server:<id>` scopes name servers that are not the caller's. A missing server
 * and another user's answer alike, so the answer tells nothing of other users' servers. `errors`
 * names each entry (`body.scopes.<index>`).
 */
export class ScopeServerProblem extends HttpError {
  override readonly name = 'ScopeServerProblem';
  /**
   * @param scopes the scopes as the request sent them (before duplicates were dropped), so each
   *   path names the entry's place in the request.
   * @param ids the server ids that are not the caller's.
   */
  constructor(scopes: readonly string[], ids: readonly number[]) {
    const reasons = ids.map((id) => `server ${id} is not one of your servers`);
    super(
      422,
      'unknown_server',
      `${reasons.join('; ')}: a token's server scopes may name only your own servers. No token ` +
        'was created.',
      {
        errors: ids.map((id, n) => ({
          path: `body.scopes.${scopes.indexOf(`server:${id}`)}`,
          message: reasons[n]!,
        })),
      },
    );
  }
}

/** The router for `/api/tokens`: the caller's tokens. Mount behind `requireAuth`. */
export function tokensRouter(db: Database, options: TokensRouterOptions = {}): Router {
  const router = Router();

  router.get('/', async (_req, res) => {
    const tokens = await listTokens(db, currentUser(res).id);
    res.json(
      tokens.map((token): z.output<typeof tokenResource> => ({
        id: token.id,
        label: token.label,
        createdAt: token.createdAt.toISOString(),
        lastUsedAt: token.lastUsedAt?.toISOString() ?? null,
        revokedAt: token.revokedAt?.toISOString() ?? null,
        scopes: token.scopes,
      })),
    );
  });

  router.post('/', async (req, res) => {
    const { body } = parseRequest(API_ROUTES.createToken, req);
    const caller = currentUser(res);
    const scopes = body.scopes ?? null;
    const servers = gatewayServerIds(scopes) ?? [];
    const notOwned = await serversNotOwned(db, caller.id, servers);
    if (notOwned.length > 0) {
      // Validated above as a list of strings; the paths count from the list as sent.
      throw new ScopeServerProblem((req.body as { scopes: string[] }).scopes, notOwned);
    }
    const created = await createToken(db, caller.id, body.label, scopes);
    res.status(201).json({ ...created, createdAt: created.createdAt.toISOString() });
  });

  router.delete('/:id', async (req, res) => {
    const { id } = parseRequest(API_ROUTES.revokeToken, req).params;
    const revoked = await revokeToken(db, currentUser(res).id, id);
    if (!revoked) throw new NotFoundError(`API token ${id} does not exist.`);
    options.onRevoke?.(revoked.tokenHash);
    res.status(204).end();
  });

  return router;
}
