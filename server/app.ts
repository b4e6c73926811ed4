/**
 * `createApp(deps)`: the Express 5 application, with nothing started and nothing listening
 * (DESIGN §7.6). `server/main.ts` listens; tests call this with a test database.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import express, { type Express } from 'express';
import { MemoryStore } from 'express-rate-limit';
import helmet from 'helmet';
import type { DatabaseHandle } from '../shared/db/open.js';
import type { Logger } from '../shared/logger.js';
import type { StdioProcessLimiter } from '../shared/mcp/stdio-process-limiter.js';
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
import type { ServerSafety } from './servers/safety.js';
import { serversRouter } from './routes/servers.js';
import { statusRouter } from './routes/status.js';
import { tokensRouter, usersRouter } from './routes/users.js';
import { dashboardRouter } from './routes/dashboard.js';
import { livekitRouter } from './routes/livekit.js';
import { requireCachedAuth, TokenCache } from './http/token-cache.js';
import { FailedAuthLimiter } from './http/failed-auth-limiter.js';
import { metricsHandler, type ApiMetrics } from './status/metrics.js';
import { requireAdmin } from './http/scope.js';
import { statusSnapshotFor, type StatusSnapshot } from './status/snapshot.js';
import { captureHeaders, statusFastPath } from './status/fast-path.js';

/** Dependencies of {@link createApp}. */
export interface AppDeps {
  database: DatabaseHandle;
  logger: Logger;
  /** The status monitor; told of every server change. Optional in tests. */
  watcher?: ServerWatcher;
  /**
   * LiveKit settings; any missing part reports LiveKit `unconfigured` and makes
   * `POST /api/livekit/token` answer 503.
   */
  livekit?: { url?: string; apiKey?: string; apiSecret?: string };
  /** The agent `POST /api/livekit/token` dispatches (`AGENT_NAME`); default `switchboard`. */
  agentName?: string;
  /** Seconds a token from `POST /api/livekit/token` can be used to join; default 3600. */
  livekitTokenTtlSeconds?: number;
  /** OpenAI settings; no key reports OpenAI `unconfigured`. */
  openai?: { apiKey?: string; baseUrl?: string; realtimeModel?: string };
  /** Timeout of the LiveKit and OpenAI checks, in milliseconds; default 3000. */
  statusCheckTimeoutMs?: number;
  /** How often LiveKit and OpenAI are checked in the background, in milliseconds; default 10000. */
  statusCacheMs?: number;
  /**
   * The status snapshot `/api/status` reads (share it with `attachStatusStream`); default: one
   * built from the settings above and started on the first status request.
   */
  statusSnapshot?: StatusSnapshot;
  /** Token lookups of the status endpoints (share it with `attachStatusStream`). */
  tokenCache?: TokenCache;
  /** Metrics: times every request and serves `GET /metrics` (admins only); default none. */
  metrics?: ApiMetrics;
  /** Largest JSON body accepted (`API_BODY_LIMIT`); larger answers 413; default `100kb`. */
  bodyLimit?: string;
  /**
   * URL policy and stdio allow list checked when servers are saved and connected
   * (`MCP_ALLOW_PRIVATE_NETWORKS`, `MCP_STDIO_ALLOWED_COMMANDS`); default private networks
   * allowed and any command. Stdio servers need an admin either way.
   */
  safety?: ServerSafety;
  /** Requests per minute per API token (`API_RATE_LIMIT_PER_MINUTE`), 0 for none; default 600. */
  rateLimitPerMinute?: number;
  /** Browser origins allowed by CORS (`CORS_ORIGINS`); default none (no CORS headers). */
  corsOrigins?: readonly string[];
  /** The process's cap on stdio server processes, shared with the monitor; default none. */
  stdioLimiter?: StdioProcessLimiter;
  /**
   * Failed authentications per client address (share it with `attachStatusStream`); default one
   * allowing `rateLimitPerMinute` failures a minute (none when that is 0).
   */
  authFailures?: FailedAuthLimiter;
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

/** Builds the API application. */
export function createApp(deps: AppDeps): Express {
  const { database, logger } = deps;
  const snapshot = deps.statusSnapshot ?? statusSnapshotFor(deps);
  const tokens = deps.tokenCache ?? new TokenCache(database.db);

  const app = express();
  app.disable('x-powered-by');
  app.set('query parser', 'simple');
  if (deps.metrics) app.use(deps.metrics.middleware());
  const rateLimitPerMinute = deps.rateLimitPerMinute ?? DEFAULT_RATE_LIMIT_PER_MINUTE;
  const rateLimitStore = new MemoryStore();
  const corsOrigins = deps.corsOrigins ?? [];
  const authFailures =
    deps.authFailures ??
    (rateLimitPerMinute > 0 ? new FailedAuthLimiter({ limit: rateLimitPerMinute }) : undefined);
  // A revoked token is no longer trusted past the failure limit.
  if (authFailures) tokens.onForget((tokenHash) => authFailures.distrust(tokenHash));
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
  app.use(
    '/api/mcp/servers',
    requireAuth(database.db),
    serversRouter({
      db: database.db,
      secrets: database.secrets,
      logger,
      watcher: deps.watcher,
      stdioLimiter: deps.stdioLimiter,
      safety: deps.safety,
    }),
  );
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
  app.use(dashboardRouter());
  app.use(methodNotAllowedHandler(ALL_ROUTES));
  app.use(notFoundHandler);
  app.use(problemHandler(logger));
  return app;
}
