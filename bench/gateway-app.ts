/**
 * The API with a real MCP gateway as the gateway benchmarks run it (`gateway.ts`,
 * `gateway-conformance.ts`): `createApp` as `server/main.ts` builds it, with a {@link Gateway}
 * authenticating by API tokens, no connection guards (the upstreams are on loopback), and no
 * rate limit (the benchmarks make thousands of requests a minute with one token).
 */
import type { Express } from 'express';
import { createApp } from '../server/app.js';
import { Gateway, gatewayAuthenticator, type GatewayOptions } from '../server/gateway/gateway.js';
import { TokenCache } from '../server/http/token-cache.js';
import { StatusSnapshot } from '../server/status/snapshot.js';
import type { DatabaseHandle } from '../shared/db/open.js';
import type { Logger } from '../shared/logger.js';

/** Options of {@link benchGatewayApp}. */
export interface BenchGatewayAppOptions {
  database: DatabaseHandle;
  logger: Logger;
  /** Where clients reach the API (`PUBLIC_URL`): the gateway names it in its 401 metadata. */
  publicUrl: string;
  /** More of the gateway's options (e.g. `maxSessionsPerUser`). */
  gateway?: Partial<GatewayOptions>;
}

/**
 * Makes the gateway and the app that serves it; the caller listens with the app and closes the
 * gateway when done.
 */
export function benchGatewayApp(options: BenchGatewayAppOptions): {
  gateway: Gateway;
  app: Express;
} {
  const { database, logger, publicUrl } = options;
  const gateway = new Gateway({
    database,
    logger,
    guards: {},
    publicUrl,
    authenticate: gatewayAuthenticator(database.db),
    ...options.gateway,
  });
  const app = createApp({
    database,
    logger,
    statusSnapshot: new StatusSnapshot({ database, logger }),
    tokenCache: new TokenCache(database.db),
    authFailures: undefined,
    gateway,
    guards: {},
    rateLimitPerMinute: 0,
    publicUrl,
  });
  return { gateway, app };
}
