/**
 * The status widget's API: `/api/widget-tokens` (the caller's read-only widget tokens, shown once
 * when created) and `GET /api/widget/status` (system health and the token owner's servers, for
 * the `/widget/status` page and for uptime pollers).
 *
 * `GET /api/widget/status` takes a widget token (`sbw_…`) or an API token: both only read here,
 * and a widget token opens no other route (`requireAuth` looks only in `api_tokens`); an API token
 * whose scopes lack `api` (a gateway-only token) is refused (403). Any origin
 * may call it (`Access-Control-Allow-Origin: *`, no credentials: the token travels in a header),
 * and its answer is never cached (`no-store`).
 */
import { Router, type RequestHandler } from 'express';
import type { z } from 'zod';
import type { Database } from '../../shared/db/open.js';
import {
  authenticateWidgetToken,
  createWidgetToken,
  isWidgetToken,
  listWidgetTokens,
  revokeWidgetToken,
  touchWidgetToken,
} from '../../shared/db/widget-tokens.js';
import type { User } from '../../shared/db/schema.js';
import { API_ROUTES } from '../api/routes.js';
import { parseRequest } from '../api/route-spec.js';
import type { widgetTokenResource } from '../api/schemas.js';
import { currentUser } from '../http/auth.js';
import { NotFoundError, UnauthorizedError } from '../http/errors.js';
import { bearerToken, type TokenCache } from '../http/token-cache.js';
import type { StatusSnapshot } from '../status/snapshot.js';
import { widgetServers, widgetStatus } from '../status/widget-status.js';

/** The router for `/api/widget-tokens`: the caller's widget tokens. Mount behind `requireAuth`. */
export function widgetTokensRouter(db: Database): Router {
  const router = Router();

  router.get('/', async (_req, res) => {
    const tokens = await listWidgetTokens(db, currentUser(res).id);
    res.json(
      tokens.map((token): z.output<typeof widgetTokenResource> => ({
        id: token.id,
        label: token.label,
        createdAt: token.createdAt.toISOString(),
        lastUsedAt: token.lastUsedAt?.toISOString() ?? null,
        revokedAt: token.revokedAt?.toISOString() ?? null,
      })),
    );
  });

  router.post('/', async (req, res) => {
    const { body } = parseRequest(API_ROUTES.createWidgetToken, req);
    const created = await createWidgetToken(db, currentUser(res).id, body.label);
    res
      .status(201)
      .location(`/api/widget-tokens/${created.id}`)
      .json({ ...created, createdAt: created.createdAt.toISOString() });
  });

  router.delete('/:id', async (req, res) => {
    const { id } = parseRequest(API_ROUTES.revokeWidgetToken, req).params;
    if (!(await revokeWidgetToken(db, currentUser(res).id, id))) {
      throw new NotFoundError(`Widget token ${id} does not exist.`);
    }
    res.status(204).end();
  });

  return router;
}

/** The path of the widget's JSON endpoint. */
export const WIDGET_STATUS_PATH = '/api/widget/status';

const CORS_HEADERS = {
  'Access-Control-Allow-Origin': '*',
  'Access-Control-Allow-Methods': 'GET',
  'Access-Control-Allow-Headers': 'Authorization',
  'Access-Control-Max-Age': '600',
} as const;

/**
 * Answers the CORS preflight of `GET /api/widget/status` from any origin (204). Mount before the
 * app's own CORS handling (`CORS_ORIGINS`), which would otherwise answer it for its origins only.
 */
export const widgetPreflight: RequestHandler = (req, res, next) => {
  if (req.method !== 'OPTIONS' || req.path !== WIDGET_STATUS_PATH) return next();
  res.set(CORS_HEADERS).status(204).end();
};

/** Dependencies of {@link widgetStatusRouter}. */
export interface WidgetStatusRouterDeps {
  db: Database;
  /** The status snapshot the system parts are read from (started here if not yet). */
  snapshot: StatusSnapshot;
  /** Lookups of API tokens (a widget token is looked up in `widget_tokens`). */
  tokens: TokenCache;
}

/**
 * The caller of the widget endpoint: a widget token's owner (its `last_used_at` kept current to
 * the minute) or an API token's.
 *
 * @throws UnauthorizedError (401) when the header is missing or the token unknown or revoked.
 * @throws ForbiddenError (403) for an API token whose scopes lack `api` (`TokenCache.user`).
 */
function requireWidgetAuth(db: Database, tokens: TokenCache): RequestHandler {
  return async (req, res, next) => {
    const token = bearerToken(req.get('authorization'));
    if (!token) {
      throw new UnauthorizedError(
        'A widget token is required: send "Authorization: Bearer sbw_…" (Access page → Status widget).',
      );
    }
    let user: User | undefined;
    if (isWidgetToken(token)) {
      const found = await authenticateWidgetToken(db, token);
      if (found) await touchWidgetToken(db, found);
      user = found?.user;
    } else {
      user = await tokens.user(token);
    }
    if (!user) throw new UnauthorizedError('The widget token is unknown or revoked.');
    res.locals.user = user;
    next();
  };
}

/** The router answering `GET /api/widget/status`. Mount at `/api/widget`. */
export function widgetStatusRouter({ db, snapshot, tokens }: WidgetStatusRouterDeps): Router {
  const router = Router();
  const headers: RequestHandler = (_req, res, next) => {
    // Set before authentication, so a 401 is readable by a page on another origin too.
    res.set(CORS_HEADERS);
    res.set('Cache-Control', 'no-store');
    next();
  };
  router.get('/status', headers, requireWidgetAuth(db, tokens), async (_req, res) => {
    if (!snapshot.isReady) await snapshot.ready();
    const answer = widgetStatus(snapshot.system(), await widgetServers(db, currentUser(res).id));
    res.status(answer.status === 'down' ? 503 : 200).json(answer);
  });
  return router;
}
