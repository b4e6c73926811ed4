/**
 * Switchboard as an MCP server (issue 15): `POST/GET/DELETE /mcp`, Streamable HTTP (MCP
 * 2025-11-25, "Transports"), one endpoint for every user, authenticated by the user's API token
 * (`Authorization: Bearer`, RFC 6750) and answering for that user's servers only.
 *
 * - Two kinds of endpoint, the same sessions: `/mcp` aggregates every server the token may use
 *   under namespaced names (`<server slug>__<tool>`, `switchboard://server/<id>/<uri>`);
 *   `/mcp/servers/<id>` serves that one server transparently, under its own tool and prompt
 *   names and resource URIs (`singleServerNaming`), for a client configured for that server
 *   alone. A per-server endpoint of a server that does not exist, is another user's, or is
 *   outside the token's `server:<id>` scopes answers the same 404 (its existence is not told);
 *   a `user-token` server, which the gateway cannot serve, answers 404 saying so to its owner.
 *   A session belongs to the path that opened it: its id on another path is 404.
 *
 * - Authentication: the SDK's `requireBearerAuth`; a missing or unknown token answers 401 with
 *   `WWW-Authenticate: Bearer … resource_metadata="…"` naming the protected resource metadata
 *   (RFC 9728, served at `/.well-known/oauth-protected-resource/mcp`), whose
 *   `resource_documentation` says how to get a token. A token without the gateway scope answers
 *   403 (`insufficient_scope`).
 * - DNS rebinding (MCP "Security Warning" of Streamable HTTP): the `Host` must be one the gateway
 *   is reached at (the SDK's `hostHeaderValidation`), and a browser's `Origin`, when sent, one
 *   it allows; otherwise 403 before anything else is read.
 * - Sessions: one SDK `Server` and `StreamableHTTPServerTransport` per `Mcp-Session-Id`, bound to
 *   the token that opened it (any other token, even the same user's, gets 404 for it), at most
 *   {@link GatewayOptions.maxSessionsPerUser} per user (opening one more closes that user's least
 *   recently used) and {@link GatewayOptions.maxSessions} in all, closed after {@link GatewayOptions.sessionIdleMs} without a request, and at
 *   once when its token is revoked. Sessions live in the memory of the API process that opened
 *   them: behind a load balancer, route by the `Mcp-Session-Id` header (sticky); a request that
 *   reaches another replica answers 404, and the client starts a new session (the spec's rule for
 *   a session the server no longer knows), losing nothing but the session.
 * - Resumable streams (Streamable HTTP, "Resumability and Redelivery"; SEP-1699): each SSE
 *   stream opens with a priming event (an event id, `retry:` {@link GatewayOptions.sseRetryMs},
 *   no data) for clients of protocol 2025-11-25 or later, and every event of a session is kept
 *   in its bounded replay buffer (`event-store.ts`), so a client whose stream broke reconnects
 *   with `GET` and `Last-Event-ID` and gets what it missed, a call's result included.
 * - While a token has a session open, its owner is looked up again at most every
 *   {@link GatewayOptions.tokenRecheckMs} (default the `TokenCache` lifetime, 10 s), not on every
 *   request: a revocation closes its sessions at once anyway ({@link Gateway.forgetToken}, told
 *   by the app's token cache), and a token found gone at a later look-up closes them too.
 * - The user's servers' connections are shared by that user's sessions (`upstreams.ts`), and
 *   every call is audited in `tool_calls` through one batcher.
 */
import { randomUUID } from 'node:crypto';
import { Router, type Request, type Response, type RequestHandler } from 'express';
import { requireBearerAuth } from '@modelcontextprotocol/sdk/server/auth/middleware/bearerAuth.js';
import {
  InsufficientScopeError,
  InvalidTokenError,
} from '@modelcontextprotocol/sdk/server/auth/errors.js';
import { getOAuthProtectedResourceMetadataUrl } from '@modelcontextprotocol/sdk/server/auth/router.js';
import { hostHeaderValidation } from '@modelcontextprotocol/sdk/server/middleware/hostHeaderValidation.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import type { Server } from '@modelcontextprotocol/sdk/server/index.js';
import { isInitializeRequest } from '@modelcontextprotocol/sdk/types.js';
import { and, eq } from 'drizzle-orm';
import { hashToken } from '../../shared/db/api-tokens.js';
import { mcpServers } from '../../shared/db/schema.js';
import type { Database, DatabaseHandle } from '../../shared/db/open.js';
import { authenticateGatewayToken, gatewayTokenProblem } from '../http/auth.js';
import { ToolCallBatcher } from '../../shared/db/tool-call-batch.js';
import { recordToolCalls } from '../../shared/db/tool-calls.js';
import type { Logger } from '../../shared/logger.js';
import type { ConnectionGuards } from '../../shared/mcp/connection-guards.js';
import type { HealthPolicy } from '../../shared/mcp/supervised-connection.js';
import { BoundedEventStore, type ReplayBufferLimits } from './event-store.js';
import { AGGREGATE_NAMING, singleServerNaming } from './catalog.js';
import { createGatewayServer, type GatewayCallerScope } from './session.js';
import { UpstreamPool, type UpstreamLease } from './upstreams.js';

/** The path of the endpoint. */
export const GATEWAY_PATH = '/mcp';
/** The Express path of the per-server endpoints: `/mcp/servers/<server id>`. */
export const SERVER_GATEWAY_PATH = `${GATEWAY_PATH}/servers/:id`;
/** Default of {@link GatewayOptions.maxSessionsPerUser}. */
export const DEFAULT_MAX_SESSIONS_PER_USER = 16;
/** Default of {@link GatewayOptions.maxSessions}. */
export const DEFAULT_MAX_SESSIONS = 1_000;
/** Default of {@link GatewayOptions.sessionIdleMs}: 30 minutes. */
export const DEFAULT_SESSION_IDLE_MS = 30 * 60_000;
/** Default of {@link GatewayOptions.sseRetryMs}: 1 second. */
export const DEFAULT_SSE_RETRY_MS = 1_000;
/**
 * Default of {@link GatewayOptions.tokenRecheckMs}: the `TokenCache` lifetime (10 s).
 */
export const SESSION_TOKEN_RECHECK_MS = 10_000;

/** Who a gateway token belongs to and what it may reach, as {@link GatewayOptions.authenticate} finds it. */
export interface GatewayTokenOwner {
  userId: number;
  tokenId: number;
  /** The token's label, recorded with each call. */
  label: string;
  /** The server ids the token is limited to; `null` for all of the user's servers. */
  servers: number[] | null;
}

/**
 * Looks a bearer token up: its owner; `'not_gateway'` for a valid token without the gateway
 * scope; `undefined` for an unknown or revoked token.
 */
export type GatewayAuthenticate = (
  token: string,
) => Promise<GatewayTokenOwner | 'not_gateway' | undefined>;

/** Options of {@link Gateway}. */
export interface GatewayOptions {
  database: DatabaseHandle;
  logger: Logger;
  /** The API process's connection guards, applied to every upstream server. */
  guards: ConnectionGuards;
  /** `PUBLIC_URL` without a trailing slash: the gateway's resource is `<publicUrl>/mcp`. */
  publicUrl: string;
  authenticate: GatewayAuthenticate;
  /**
   * Host names (no port) the endpoint answers to besides the public URL's and loopback's
   * (`GATEWAY_ALLOWED_HOSTS`); default none.
   */
  allowedHosts?: readonly string[];
  /**
   * Browser origins allowed to call the endpoint besides the public URL's (`CORS_ORIGINS`);
   * requests without an `Origin` (every non-browser client) are not affected. Default none.
   */
  allowedOrigins?: readonly string[];
  /**
   * Sessions this process holds at once, all users together (`GATEWAY_MAX_SESSIONS`); an
   * initialize beyond it answers 503. Default 1000.
   */
  maxSessions?: number;
  /** Sessions one user may hold at once (`GATEWAY_MAX_SESSIONS_PER_USER`); default 16. */
  maxSessionsPerUser?: number;
  /** Milliseconds without a request after which a session is closed; default 30 minutes. */
  sessionIdleMs?: number;
  /** Health and reconnect policy of the upstream connections. */
  policy?: Partial<HealthPolicy>;
  /** Longest wait for the servers' first connect before the first list, in ms; default 3000. */
  startDeadlineMs?: number;
  /**
   * What each session keeps to replay to a client that reconnects with `Last-Event-ID`; default
   * 500 events and 1 MiB (`DEFAULT_REPLAY_EVENTS`, `DEFAULT_REPLAY_BYTES`), so the gateway holds
   * at most sessions × that.
   */
  replayBuffer?: Partial<ReplayBufferLimits>;
  /**
   * Milliseconds a client should wait before reconnecting a broken SSE stream (the priming
   * event's `retry:` field); default 1000.
   */
  sseRetryMs?: number;
  /**
   * Longest time the owner of a token with an open session is trusted without asking
   * {@link authenticate} again, in milliseconds; default {@link SESSION_TOKEN_RECHECK_MS}. 0
   * looks every request up.
   */
  tokenRecheckMs?: number;
}

interface GatewaySession {
  id?: string;
  /** The server of the per-server endpoint that opened it; `null` for `/mcp`. */
  serverId: number | null;
  userId: number;
  tokenId: number;
  tokenHash: string;
  transport: StreamableHTTPServerTransport;
  server: Server;
  lease: UpstreamLease;
  lastActive: number;
  closed: boolean;
}

/** A server id as a per-server path carries it (a positive integer, no sign or leading zero). */
function parseServerId(value: unknown): number | undefined {
  return typeof value === 'string' &&
    /^[1-9][0-9]{0,9}$/.test(value) &&
    Number(value) <= 2 ** 31 - 1
    ? Number(value)
    : undefined;
}

/** The answer of a per-server endpoint the token cannot reach (never telling whether it exists). */
function serverNotFound(res: Response, serverId: number | string): void {
  rpcError(
    res,
    404,
    -32001,
    `Not found: ${GATEWAY_PATH}/servers/${serverId} is not one of the MCP servers this token may use through the gateway`,
  );
}

/** A JSON-RPC error answer with no id (MCP Streamable HTTP's form for transport-level refusals). */
function rpcError(res: Response, status: number, code: number, message: string): void {
  res.status(status).json({ jsonrpc: '2.0', error: { code, message }, id: null });
}

/** The MCP gateway: build once per API process, mount {@link router}, {@link close} on shutdown. */
export class Gateway {
  readonly #options: GatewayOptions;
  readonly #logger: Logger;
  readonly #pool: UpstreamPool;
  readonly #audit: ToolCallBatcher;
  /** Session id → session. */
  readonly #sessions = new Map<string, GatewaySession>();
  /** Sessions made and not yet closed, initialized or not. */
  readonly #open = new Set<GatewaySession>();
  /**
   * Token SHA-256 → its owner, when last looked up (epoch ms), and its open sessions: the tokens
   * whose requests skip the look-up for {@link GatewayOptions.tokenRecheckMs}.
   */
  readonly #sessionTokens = new Map<
    string,
    { owner: GatewayTokenOwner; checkedAt: number; sessions: number }
  >();
  readonly #sweeper: NodeJS.Timeout;
  readonly #maxSessionsPerUser: number;
  readonly #maxSessions: number;
  readonly #idleMs: number;
  readonly #tokenRecheckMs: number;
  #closed = false;

  constructor(options: GatewayOptions) {
    this.#options = options;
    this.#logger = options.logger.child({ component: 'gateway' });
    this.#pool = new UpstreamPool({
      database: options.database,
      logger: options.logger,
      guards: options.guards,
      publicUrl: options.publicUrl,
      policy: options.policy,
      startDeadlineMs: options.startDeadlineMs,
    });
    this.#audit = new ToolCallBatcher({
      write: (records) => recordToolCalls(options.database.db, records),
      logger: this.#logger,
    });
    // Refuses bad replay buffer limits now rather than at the first session.
    void new BoundedEventStore(options.replayBuffer);
    this.#maxSessionsPerUser = options.maxSessionsPerUser ?? DEFAULT_MAX_SESSIONS_PER_USER;
    this.#idleMs = options.sessionIdleMs ?? DEFAULT_SESSION_IDLE_MS;
    this.#maxSessions = options.maxSessions ?? DEFAULT_MAX_SESSIONS;
    this.#tokenRecheckMs = options.tokenRecheckMs ?? SESSION_TOKEN_RECHECK_MS;
    this.#sweeper = setInterval(
      () => this.#closeIdle(),
      Math.max(1_000, Math.min(60_000, this.#idleMs / 2)),
    );
    this.#sweeper.unref();
  }

  /** Open sessions, and users whose servers are connected for them (for tests and metrics). */
  get stats(): { sessions: number; users: number } {
    return { sessions: this.#open.size, users: this.#pool.users };
  }

  /** The endpoint's URL (`<publicUrl>/mcp`), the protected resource of RFC 9728. */
  get resourceUrl(): URL {
    return new URL(`${this.#options.publicUrl}${GATEWAY_PATH}`);
  }

  /**
   * A per-server endpoint's URL (`<publicUrl>/mcp/servers/<id>`), its own protected resource
   * (RFC 9728), with its metadata at `/.well-known/oauth-protected-resource/mcp/servers/<id>`.
   *
   * @param serverId the server's id.
   */
  serverResourceUrl(serverId: number): URL {
    return new URL(`${this.#options.publicUrl}${GATEWAY_PATH}/servers/${serverId}`);
  }

  /**
   * The routes: `POST/GET/DELETE /mcp` and `/mcp/servers/<id>`, and their RFC 9728 metadata
   * (`/.well-known/oauth-protected-resource/mcp`, `…/mcp/servers/<id>`). Mount on the app after
   * `express.json()` (it reads `req.body`).
   */
  router(): Router {
    const router = Router();
    const resource = this.resourceUrl;
    const metadataUrl = getOAuthProtectedResourceMetadataUrl(resource);
    const metadataPath = new URL(metadataUrl).pathname;
    const documentation = `${this.#options.publicUrl}/dashboard/#tokens`;
    const metadata = (res: Response, url: URL, name: string) =>
      void res.set('Cache-Control', 'public, max-age=3600').json({
        resource: url.href,
        resource_name: name,
        bearer_methods_supported: ['header'],
        resource_documentation: documentation,
      });
    router.get(metadataPath, (_req, res) => metadata(res, resource, 'Switchboard MCP gateway'));
    // Served for any id, so that it tells nothing of which servers exist.
    router.get(`${metadataPath}/servers/:id`, (req, res) => {
      const serverId = parseServerId(req.params.id);
      if (serverId === undefined) return void res.status(404).json({ error: 'not_found' });
      metadata(
        res,
        this.serverResourceUrl(serverId),
        `Switchboard MCP gateway: server ${serverId}`,
      );
    });

    const hosts = new Set(['localhost', '127.0.0.1', '[::1]', resource.hostname]);
    for (const host of this.#options.allowedHosts ?? []) hosts.add(host);
    const origins = new Set([resource.origin, ...(this.#options.allowedOrigins ?? [])]);
    const checkOrigin: RequestHandler = (req, res, next) => {
      const origin = req.get('origin');
      if (origin !== undefined && !origins.has('*') && !origins.has(origin)) {
        return rpcError(res, 403, -32000, `Invalid Origin: ${origin}`);
      }
      next();
    };
    const authenticate = (token: string) => this.#authenticate(token);
    const verifier: Parameters<typeof requireBearerAuth>[0]['verifier'] = {
      async verifyAccessToken(token) {
        const owner = await authenticate(token);
        if (owner === undefined) {
          throw new InvalidTokenError(
            `The API token is missing, unknown or revoked. Send a Switchboard API token as "Authorization: Bearer <token>"; make one in the dashboard (${documentation}) or with POST /api/tokens {"label":"my MCP client","scopes":["gateway"]}.`,
          );
        }
        if (owner === 'not_gateway') {
          throw new InsufficientScopeError(
            'This API token is not allowed to use the MCP gateway: make one with the gateway scope (POST /api/tokens {"label":"my MCP client","scopes":["gateway"]}).',
          );
        }
        // Switchboard API tokens do not expire (they are revoked); the SDK wants a time.
        return {
          token,
          clientId: `api-token-${owner.tokenId}`,
          scopes: ['gateway'],
          expiresAt: Number.MAX_SAFE_INTEGER,
          extra: { owner },
        };
      },
    };
    const bearer = requireBearerAuth({ resourceMetadataUrl: metadataUrl, verifier });
    const handle: RequestHandler = (req, res) => this.#handle(req, res, null);
    router.all(GATEWAY_PATH, hostHeaderValidation([...hosts]), checkOrigin, bearer, handle);

    // A per-server endpoint: its 401 names its own metadata.
    const serverBearer: RequestHandler = (req, res, next) => {
      const serverId = parseServerId(req.params.id);
      if (serverId === undefined) return serverNotFound(res, String(req.params.id));
      const resourceMetadataUrl = getOAuthProtectedResourceMetadataUrl(
        this.serverResourceUrl(serverId),
      );
      return requireBearerAuth({ resourceMetadataUrl, verifier })(req, res, next);
    };
    const handleServer: RequestHandler = (req, res) =>
      this.#handle(req, res, parseServerId(req.params.id)!);
    router.all(
      SERVER_GATEWAY_PATH,
      hostHeaderValidation([...hosts]),
      checkOrigin,
      serverBearer,
      handleServer,
    );
    return router;
  }

  /**
   * Closes the sessions whose token is the one with this SHA-256 (`api_tokens.token_hash`): a
   * revoked token keeps no session open.
   */
  forgetToken(tokenHash: string): void {
    this.#sessionTokens.delete(tokenHash);
    for (const session of this.#open) {
      if (session.tokenHash === tokenHash) void this.#end(session);
    }
  }

  /** Closes every session and upstream connection and writes the audit rows left. */
  async close(): Promise<void> {
    this.#closed = true;
    clearInterval(this.#sweeper);
    await Promise.all([...this.#open].map((session) => this.#end(session)));
    await this.#pool.close();
    await this.#audit.flush();
  }

  /**
   * The token's owner: remembered while the token has a session open and was looked up within
   * {@link GatewayOptions.tokenRecheckMs}, else {@link GatewayOptions.authenticate}'s answer. A token
   * with sessions that is no longer a gateway token closes them.
   */
  async #authenticate(token: string): Promise<GatewayTokenOwner | 'not_gateway' | undefined> {
    const tokenHash = hashToken(token);
    const known = this.#sessionTokens.get(tokenHash);
    if (known && Date.now() - known.checkedAt < this.#tokenRecheckMs) return known.owner;
    const owner = await this.#options.authenticate(token);
    if (known && this.#sessionTokens.get(tokenHash) === known) {
      if (typeof owner === 'object') {
        known.owner = owner;
        known.checkedAt = Date.now();
      } else {
        this.forgetToken(tokenHash);
      }
    }
    return owner;
  }

  /**
   * Answers one request of `/mcp` (`serverId` null) or of `/mcp/servers/<serverId>`.
   */
  async #handle(req: Request, res: Response, serverId: number | null): Promise<void> {
    const owner = (req as Request & { auth?: { extra?: { owner?: GatewayTokenOwner } } }).auth
      ?.extra?.owner;
    if (!owner) return rpcError(res, 401, -32001, 'Unauthorized');
    if (this.#closed) return rpcError(res, 503, -32000, 'The gateway is shutting down');
    const sessionId = req.get('mcp-session-id');
    if (sessionId !== undefined) {
      const session = this.#sessions.get(sessionId);
      // Another token's session, or one opened on another path, is as unknown as a closed one.
      if (
        !session ||
        session.closed ||
        session.tokenId !== owner.tokenId ||
        session.serverId !== serverId
      ) {
        return rpcError(res, 404, -32001, 'Session not found');
      }
      session.lastActive = Date.now();
      await session.transport.handleRequest(req, res, req.body);
      return;
    }
    if (serverId !== null) {
      const refusal = await this.#serverRefusal(owner, serverId);
      if (refusal === 'not_found') return serverNotFound(res, serverId);
      if (refusal) return rpcError(res, 404, -32001, refusal);
    }
    if (req.method !== 'POST' || !isInitializeRequest(req.body)) {
      return rpcError(
        res,
        400,
        -32000,
        'Bad Request: no Mcp-Session-Id; start a session with an initialize request',
      );
    }
    // Room is made within the user's own sessions first; only then is the process full.
    const mine = [...this.#open].filter((session) => session.userId === owner.userId).length;
    if (mine < this.#maxSessionsPerUser && this.#open.size >= this.#maxSessions) {
      res.set('Retry-After', '60');
      return rpcError(
        res,
        503,
        -32000,
        'The gateway holds as many sessions as it may; try again in a minute',
      );
    }
    await this.#openSession(req, res, owner, serverId);
  }

  /**
   * Why the token's owner cannot open a per-server session of `serverId`: `'not_found'` when
   * the server is outside the token's scopes, does not exist, or is another user's (one answer
   * for all three); a sentence for the owner when the gateway cannot serve it (`user-token`
   * auth); `undefined` when it may. A deactivated server may be opened (its lists are empty
   * until it is active again).
   */
  async #serverRefusal(
    owner: GatewayTokenOwner,
    serverId: number,
  ): Promise<'not_found' | string | undefined> {
    if (owner.servers !== null && !owner.servers.includes(serverId)) return 'not_found';
    const [row] = await this.#options.database.db
      .select({ auth: mcpServers.auth })
      .from(mcpServers)
      .where(and(eq(mcpServers.id, serverId), eq(mcpServers.userId, owner.userId)));
    if (!row) return 'not_found';
    if (row.auth.type === 'user-token') {
      return (
        `The MCP server ${serverId} cannot be used through the gateway: it forwards the voice ` +
        "session's user token (auth user-token), which an MCP client of the gateway does not have"
      );
    }
    return undefined;
  }

  /** Opens a session for an initialize request, on `/mcp` or `/mcp/servers/<serverId>`. */
  async #openSession(
    req: Request,
    res: Response,
    owner: GatewayTokenOwner,
    serverId: number | null,
  ): Promise<void> {
    this.#makeRoomFor(owner.userId);
    const caller: GatewayCallerScope = {
      userId: owner.userId,
      tokenLabel: owner.label,
      servers: owner.servers === null ? null : new Set(owner.servers),
    };
    // Only the servers the session serves are connected: its one server, or those its token
    // may use.
    const lease = this.#pool.acquire(
      owner.userId,
      serverId === null ? caller.servers : new Set([serverId]),
    );
    const holder: { session?: GatewaySession } = {};
    const server = createGatewayServer({
      caller,
      upstreams: lease.upstreams,
      upstreamsReady: lease.ready,
      audit: (record) => this.#audit.add(record),
      logger: this.#logger,
      sessionId: () => holder.session?.id,
      onActivity: () => {
        if (holder.session) holder.session.lastActive = Date.now();
      },
      naming: serverId === null ? AGGREGATE_NAMING : singleServerNaming(serverId),
    });
    const transport = new StreamableHTTPServerTransport({
      sessionIdGenerator: () => randomUUID(),
      eventStore: new BoundedEventStore(this.#options.replayBuffer),
      retryInterval: this.#options.sseRetryMs ?? DEFAULT_SSE_RETRY_MS,
      onsessioninitialized: (id) => {
        const session = holder.session!;
        session.id = id;
        this.#sessions.set(id, session);
      },
    });
    const tokenHash = hashToken((req as Request & { auth?: { token?: string } }).auth?.token ?? '');
    const session: GatewaySession = {
      serverId,
      userId: owner.userId,
      tokenId: owner.tokenId,
      tokenHash,
      transport,
      server,
      lease,
      lastActive: Date.now(),
      closed: false,
    };
    holder.session = session;
    this.#open.add(session);
    const known = this.#sessionTokens.get(tokenHash);
    if (known) known.sessions++;
    // The bearer check of this very request just looked the owner up.
    else this.#sessionTokens.set(tokenHash, { owner, checkedAt: Date.now(), sessions: 1 });
    transport.onclose = () => void this.#end(session);
    await server.connect(transport);
    await transport.handleRequest(req, res, req.body);
    // An initialize the transport refused (a bad request) opened no session.
    if (!transport.sessionId) await this.#end(session);
  }

  /** Closes the least recently used sessions of the user until one more fits. */
  #makeRoomFor(userId: number): void {
    const mine = [...this.#open]
      .filter((session) => session.userId === userId && !session.closed)
      .sort((a, b) => a.lastActive - b.lastActive);
    while (mine.length >= this.#maxSessionsPerUser) {
      const oldest = mine.shift()!;
      this.#logger.info(
        { userId, sessionId: oldest.id },
        'closing the least recently used gateway session: the user holds the most allowed',
      );
      void this.#end(oldest);
    }
  }

  #closeIdle(): void {
    const before = Date.now() - this.#idleMs;
    for (const session of this.#open) {
      if (session.lastActive < before) void this.#end(session);
    }
  }

  async #end(session: GatewaySession): Promise<void> {
    if (session.closed) return;
    session.closed = true;
    this.#open.delete(session);
    const known = this.#sessionTokens.get(session.tokenHash);
    if (known && --known.sessions <= 0) this.#sessionTokens.delete(session.tokenHash);
    if (session.id) this.#sessions.delete(session.id);
    session.lease.release();
    try {
      await session.server.close();
    } catch (error) {
      this.#logger.debug({ err: error }, 'error while closing a gateway session');
    }
  }
}

/**
 * The production {@link GatewayAuthenticate}: `authenticateGatewayToken` (a token with the
 * gateway scope, its use recorded at most once a minute), and for a refused token
 * `gatewayTokenProblem`, which tells an unknown token (401) from one without the scope (403).
 *
 * @param db the database the tokens are in.
 */
export function gatewayAuthenticator(db: Database): GatewayAuthenticate {
  return async (token) => {
    const caller = await authenticateGatewayToken(db, token);
    if (caller) {
      return {
        userId: caller.user.id,
        tokenId: caller.tokenId,
        label: caller.label,
        servers: caller.servers,
      };
    }
    return (await gatewayTokenProblem(db, token)) === 'not_gateway' ? 'not_gateway' : undefined;
  };
}
