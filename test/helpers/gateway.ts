/**
 * The MCP gateway as its tests run it: the API (`sandboxedApp`) with a real `Gateway` on the
 * test database, authenticated by API tokens (`gatewayAuthenticator`), served on a free port;
 * SDK clients of it with a bearer token; a caller (a new user with an API token); and a wait for
 * a tool to be listed (an upstream still connecting joins with `list_changed`).
 */
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { expect, vi } from 'vitest';
import {
  Gateway,
  gatewayAuthenticator,
  type GatewayOptions,
} from '../../server/gateway/gateway.js';
import { generateToken, storeToken } from '../../server/http/auth.js';
import type { DatabaseHandle } from '../../shared/db/open.js';
import type { User } from '../../shared/db/schema.js';
import { createLogger, type Logger } from '../../shared/logger.js';
import { createTestUser } from './database.js';
import { serve, type TestServer } from './http.js';
import { sandboxedApp, sandboxedGuards } from './sandboxed.js';

/** Options of {@link startGatewayApi}. */
export interface GatewayApiOptions {
  /** Default a silent logger. */
  logger?: Logger;
  /**
   * The gateway's connection guards; default `sandboxedGuards()` (stdio servers in the sandbox
   * when the machine has it).
   */
  guards?: GatewayOptions['guards'];
  /** Anything else of the gateway's options (session bounds, token recheck, clock). */
  gateway?: Partial<GatewayOptions>;
  /** The API's rate limit per token and minute; default the app's. */
  rateLimitPerMinute?: number;
}

/** Options of {@link GatewayApi.connect}. */
export interface GatewayClientOptions {
  /** The endpoint's path; default `/mcp` (`/mcp/servers/<id>` for one server). */
  path?: string;
  /** The client's options (its capabilities); default none. */
  client?: ConstructorParameters<typeof Client>[1];
  /** The client's name in `initialize`; default `gateway-test`. */
  name?: string;
}

/** A running API with its gateway, from {@link startGatewayApi}. */
export interface GatewayApi {
  gateway: Gateway;
  api: TestServer;
  /**
   * An SDK client connected to the gateway with `Authorization: Bearer <token>`; closed by
   * {@link close}.
   *
   * @throws what the SDK's connect throws (a 401 or 404 of the endpoint, for one).
   */
  connect(token: string, options?: GatewayClientOptions): Promise<Client>;
  /** Closes the clients, the gateway and the API. Safe to call twice. */
  close(): Promise<void>;
}

/**
 * Starts the API with a real gateway on `database`, as `server/main.ts` wires them (public URL
 * `http://127.0.0.1:3000`).
 */
export async function startGatewayApi(
  database: DatabaseHandle,
  options: GatewayApiOptions = {},
): Promise<GatewayApi> {
  const logger = options.logger ?? createLogger({ level: 'silent' });
  const gateway = new Gateway({
    database,
    logger,
    guards: options.guards ?? sandboxedGuards(),
    publicUrl: 'http://127.0.0.1:3000',
    authenticate: gatewayAuthenticator(database.db),
    ...options.gateway,
  });
  const { rateLimitPerMinute } = options;
  const api = await serve(
    sandboxedApp({
      database,
      logger,
      gateway,
      ...(rateLimitPerMinute !== undefined && { rateLimitPerMinute }),
    }),
  );
  const clients: Client[] = [];
  return {
    gateway,
    api,
    async connect(
      token,
      { path = '/mcp', client: clientOptions = {}, name = 'gateway-test' } = {},
    ) {
      const client = new Client({ name, version: '1.0.0' }, clientOptions);
      const transport = new StreamableHTTPClientTransport(new URL(`${api.baseUrl}${path}`), {
        requestInit: { headers: { Authorization: `Bearer ${token}` } },
      });
      await client.connect(transport);
      clients.push(client);
      return client;
    },
    async close() {
      await Promise.all(clients.splice(0).map((client) => client.close().catch(() => undefined)));
      await gateway.close();
      await api.close();
    },
  };
}

/** A new user of `database` with an API token of every scope. */
export async function gatewayCaller(
  database: DatabaseHandle,
): Promise<{ user: User; token: string }> {
  const user = await createTestUser(database);
  const token = generateToken();
  await storeToken(database.db, user.id, token);
  return { user, token };
}

/** Waits until `client`'s `tools/list` names `name` (default 20 s). */
export async function waitUntilListed(
  client: Client,
  name: string,
  timeoutMs = 20_000,
): Promise<void> {
  await vi.waitFor(
    async () => {
      const { tools } = await client.listTools();
      expect(tools.map((tool) => tool.name)).toContain(name);
    },
    { timeout: timeoutMs },
  );
}
