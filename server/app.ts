/**
 * `createApp(deps)`: the Express 5 application, with nothing started and nothing listening
 * (DESIGN §7.6). `server/main.ts` listens; tests call this with a test database.
 */
import express, { type Express } from 'express';
import type { DatabaseHandle } from '../shared/db/open.js';
import type { Logger } from '../shared/logger.js';
import type { StdioProcessLimiter } from '../shared/mcp/stdio-process-limiter.js';
import { requireAuth } from './auth.js';
import { httpSafety } from './http-safety.js';
import { notFoundHandler, problemHandler } from './errors.js';
import type { ServerWatcher } from './monitor.js';
import { openApiRouter } from './routes/openapi.js';
import type { ServerSafety } from './routes/server-safety.js';
import { serversRouter } from './routes/servers.js';
import { statusRouter } from './routes/status.js';
import { tokensRouter, usersRouter } from './routes/users.js';
import { requireCachedAuth, requireAdmin, TokenCache } from './cached-auth.js';
import { metricsHandler, type ApiMetrics } from './metrics.js';
import { statusSnapshotFor, type StatusSnapshot } from './status-snapshot.js';

/** Dependencies of {@link createApp}. */
export interface AppDeps {
  database: DatabaseHandle;
  logger: Logger;
  /** The status monitor; told of every server change. Optional in tests. */
  watcher?: ServerWatcher;
  /** LiveKit settings; any missing part reports LiveKit `unconfigured`. */
  livekit?: { url?: string; apiKey?: string; apiSecret?: string };
  /** OpenAI settings; no key reports OpenAI `unconfigured`. */
  openai?: { apiKey?: string; baseUrl?: string };
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
}

/** Builds the API application. */
export function createApp(deps: AppDeps): Express {
  const { database, logger } = deps;
  const snapshot = deps.statusSnapshot ?? statusSnapshotFor(deps);
  const tokens = deps.tokenCache ?? new TokenCache(database.db);

  const app = express();
  app.disable('x-powered-by');
  app.set('query parser', 'simple');
  if (deps.metrics) app.use(deps.metrics.middleware());
  app.use(
    httpSafety({ rateLimitPerMinute: deps.rateLimitPerMinute, corsOrigins: deps.corsOrigins }),
  );
  app.use(express.json({ limit: deps.bodyLimit ?? '100kb' }));
  app.use('/api', statusRouter({ snapshot, tokens }));
  if (deps.metrics) {
    app.get('/metrics', requireCachedAuth(tokens), requireAdmin, metricsHandler(deps.metrics));
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
    '/api/tokens',
    requireAuth(database.db),
    tokensRouter(database.db, { onRevoke: (tokenHash) => tokens.forget(tokenHash) }),
  );
  app.use(notFoundHandler);
  app.use(problemHandler(logger));
  return app;
}
