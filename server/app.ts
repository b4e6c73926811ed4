/**
 * `createApp(deps)`: the Express 5 application, with nothing started and nothing listening
 * (DESIGN §7.6). `server/main.ts` listens; tests call this with a test database.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import express, { type Express } from 'express';
import { MemoryStore, type Store } from 'express-rate-limit';
import helmet from 'helmet';
import type { DatabaseHandle } from '../shared/db/open.js';
import type { Logger } from '../shared/logger.js';
import type { ConnectionGuards } from '../shared/mcp/connection-guards.js';
import { requireAuth } from './http/auth.js';
import {
  DEFAULT_RATE_LIMIT_PER_MINUTE,
  httpSafety,
  RATE_LIMIT_WINDOW_MS,
  refuseNulCharacters,
} from './http/safety.js';
import { ALL_ROUTES } from './api/routes.js';
import { methodNotAllowedHandler, notFoundHandler, problemHandler } from './http/errors.js';
import type { ServerWatcher } from './status/monitor.js';
import { openApiRouter } from './routes/openapi.js';
import { serversRouter } from './routes/servers.js';
import { oauthRouter } from './routes/oauth.js';
import { notifyServerChange } from '../shared/db/notify.js';
import { statusRouter } from './routes/status.js';
import { tokensRouter, usersRouter } from './routes/users.js';
import { dashboardRouter } from './routes/dashboard.js';
import { widgetPreflight, widgetStatusRouter, widgetTokensRouter } from './routes/widget.js';
import { widgetPageRouter } from './routes/widget-page.js';
import { livekitRouter } from './routes/livekit.js';
import { requireCachedAuth, type TokenCache } from './http/token-cache.js';
import type { FailedAuthLimiter } from './http/failed-auth-limiter.js';
import { metricsHandler, type ApiMetrics } from './status/metrics.js';
import { requireAdmin } from './http/scope.js';
import type { StatusSnapshot } from './status/snapshot.js';
import type { ServerPageCache } from './servers/page-cache.js';
import type { Gateway } from './gateway/gateway.js';
import { captureHeaders, statusFastPath } from './status/fast-path.js';

/**
 * The long-lived services the app uses but does not build: the caller (`server/main.ts`) builds
 * each once and shares it with the status stream (`attachStatusStream`), starts and stops it.
 */
export interface AppServices {
  /**
   * The status snapshot `/api/status` reads (`statusSnapshotFor`); the caller starts it (or the
   * first status request does) and stops it.
   */
  statusSnapshot: StatusSnapshot;
  /**
   * Token lookups of the status endpoints and `/metrics`; the app tells it of tokens revoked
   * through `/api/tokens`.
   */
  tokenCache: TokenCache;
  /**
   * Failed authentications per client address (`API_RATE_LIMIT_PER_MINUTE` a minute); the app
   * stops trusting a revoked token past it. `undefined`: failures are not limited (the setting
   * is 0).
   */
  authFailures: FailedAuthLimiter | undefined;
  /**
   * Where the per-token rate limit counts (the Express limiter and the status fast path alike):
   * on Postgres a `PostgresRateLimitStore` every API replica shares; default a new
   * express-rate-limit `MemoryStore` (this process alone).
   */
  rateLimitStore?: Store;
  /**
   * Keeps the bodies of `GET /api/mcp/servers` until a server changes (`ServerPageCache`); the
   * caller starts and stops it. Default none: every list is read from the database.
   */
  serverPages?: ServerPageCache;
  /**
   * The MCP gateway (`server/gateway/gateway.ts`) served at `/mcp`; the caller closes it. Default
   * none: `/mcp` answers 404.
   */
  gateway?: Gateway;
}

/** Dependencies of {@link createApp}: its {@link AppServices} and its settings. */
export interface AppDeps extends AppServices {
  database: DatabaseHandle;
  logger: Logger;
  /** The status monitor; told of every server change. Optional in tests. */
  watcher?: ServerWatcher;
  /** LiveKit settings; any missing part makes `POST /api/livekit/token` answer 503. */
  livekit?: { url?: string; apiKey?: string; apiSecret?: string };
  /** The agent `POST /api/livekit/token` dispatches (`AGENT_NAME`); default `switchboard`. */
  agentName?: string;
  /** Seconds a token from `POST /api/livekit/token` can be used to join; default 3600. */
  livekitTokenTtlSeconds?: number;
  /** Metrics: times every request and serves `GET /metrics` (admins only); default none. */
  metrics?: ApiMetrics;
  /**
   * The address people reach the API at (`PUBLIC_URL`, else `http://HOST:PORT`), without a
   * trailing slash: OAuth redirects come back to `<publicUrl>/api/oauth/callback`. Default
   * `http://127.0.0.1:3000`.
   */
  publicUrl?: string;
  /** Largest JSON body accepted (`API_BODY_LIMIT`); larger answers 413; default `100kb`. */
  bodyLimit?: string;
  /**
   * The process's connection guards (`connectionGuards` in `shared/settings.ts`, shared with the
   * monitor): checked when servers are saved, applied when they are tested. Stdio servers need an
   * admin either way.
   */
  guards: ConnectionGuards;
  /** Requests per minute per API token (`API_RATE_LIMIT_PER_MINUTE`), 0 for none; default 600. */
  rateLimitPerMinute?: number;
  /** Browser origins allowed by CORS (`CORS_ORIGINS`); default none (no CORS headers). */
  corsOrigins?: readonly string[];
  /**
   * Who may frame the status widget page (`WIDGET_FRAME_ANCESTORS`, CSP `frame-ancestors`
   * sources); default any origin (`*`).
   */
  widgetFrameAncestors?: readonly string[];
}

/**
 * Puts `fastPath` in front of the application's own request handling. Express 5's `app` function
 * calls `app.handle(req, res, next)` for every request (also through `app.listen`), so wrapping
 * the instance's `handle` covers every way the app is served, tests included.
 */
function installFastPath(
  app: Express,
  fastPath: (req: IncomingMessage, res: ServerResponse, fallback: () => void) => void,
): void {
  const handle = (app as unknown as { handle: ExpressHandle }).handle.bind(app);
  (app as unknown as { handle: ExpressHandle }).handle = (req, res, next) =>
    fastPath(req, res, () => handle(req, res, next));
}

type ExpressHandle = (req: IncomingMessage, res: ServerResponse, next?: unknown) => void;

/**
 * Builds the API application from the services it is given (it builds none of them): the routes,
 * the HTTP guards (rate limit, CORS, security headers, body limit) and the status fast path.
 */
export function createApp(deps: AppDeps): Express {
  const { database, logger, authFailures } = deps;
  const snapshot = deps.statusSnapshot;
  const tokens = deps.tokenCache;

  const app = express();
  app.disable('x-powered-by');
  app.set('query parser', 'simple');
  if (deps.metrics) app.use(deps.metrics.middleware());
  const rateLimitPerMinute = deps.rateLimitPerMinute ?? DEFAULT_RATE_LIMIT_PER_MINUTE;
  const rateLimitStore = deps.rateLimitStore ?? new MemoryStore();
  const corsOrigins = deps.corsOrigins ?? [];
  const publicUrl = deps.publicUrl ?? 'http://127.0.0.1:3000';
  // A revoked token is no longer trusted past the failure limit.
  if (authFailures) tokens.onForget((tokenHash) => authFailures.distrust(tokenHash));
  // Any origin may poll the widget endpoint, whatever `CORS_ORIGINS` says.
  app.use(widgetPreflight);
  app.use(httpSafety({ rateLimitPerMinute, corsOrigins, rateLimitStore, authFailures }));
  installFastPath(
    app,
    statusFastPath({
      snapshot,
      tokens,
      securityHeaders: captureHeaders(helmet()),
      rateLimit:
        rateLimitPerMinute > 0
          ? { limit: rateLimitPerMinute, windowMs: RATE_LIMIT_WINDOW_MS, store: rateLimitStore }
          : undefined,
      cors: corsOrigins.length > 0,
      metrics: deps.metrics,
    }),
  );
  app.use(express.json({ limit: deps.bodyLimit ?? '100kb' }));
  if (deps.gateway) {
    const gateway = deps.gateway;
    // A revoked token keeps no gateway session open.
    tokens.onForget((tokenHash) => gateway.forgetToken(tokenHash));
    app.use(gateway.router());
  }
  app.use('/api', refuseNulCharacters);
  app.use('/api', statusRouter({ snapshot, tokens }));
  if (deps.metrics) {
    app.get(
      '/metrics',
      requireCachedAuth(tokens),
      requireAdmin('read the metrics'),
      metricsHandler(deps.metrics),
    );
  }
  // Reads of the servers (the dashboard polls the list) are authenticated through the token
  // cache, as the status endpoints are: a revocation reaches it at once in this process and
  // within a second from another (`TokenRevocationWatcher`); anything else about the token's
  // owner (a role) within the cache's 10 s. Writes look the token up each time.
  const cachedAuth = requireCachedAuth(tokens);
  const strictAuth = requireAuth(database.db);
  app.use(
    '/api/mcp/servers',
    (req, res, next) =>
      req.method === 'GET' || req.method === 'HEAD'
        ? cachedAuth(req, res, next)
        : strictAuth(req, res, next),
    serversRouter({
      db: database.db,
      secrets: database.secrets,
      logger,
      watcher: deps.watcher,
      guards: deps.guards,
      publicUrl,
      serverPages: deps.serverPages,
    }),
  );
  app.use(
    oauthRouter({
      db: database.db,
      secrets: database.secrets,
      publicUrl,
      urlPolicy: deps.guards.urlPolicy,
      onTokensChanged: (userId, serverId) =>
        notifyServerChange(database.db, { userId, serverId, op: 'update' }),
    }),
  );
  app.use('/api/widget', widgetStatusRouter({ db: database.db, snapshot, tokens }));
  app.use('/api/widget-tokens', requireAuth(database.db), widgetTokensRouter(database.db));
  app.use('/api', openApiRouter());
  app.use('/api/users', requireAuth(database.db), usersRouter(database.db));
  app.use(
    '/api/livekit',
    requireAuth(database.db),
    livekitRouter({
      db: database.db,
      livekit: deps.livekit,
      agentName: deps.agentName,
      tokenTtlSeconds: deps.livekitTokenTtlSeconds,
    }),
  );
  app.use(
    '/api/tokens',
    requireAuth(database.db),
    tokensRouter(database.db, { onRevoke: (tokenHash) => tokens.forget(tokenHash) }),
  );
  app.use(dashboardRouter({ livekitUrl: deps.livekit?.url }));
  app.use(widgetPageRouter({ frameAncestors: deps.widgetFrameAncestors }));
  app.use(methodNotAllowedHandler(ALL_ROUTES));
  app.use(notFoundHandler);
  app.use(problemHandler(logger));
  return app;
}
