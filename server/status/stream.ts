/**
 * `GET /api/status/stream`: a WebSocket (`ws`, `noServer` upgrade on the API's HTTP server) that
 * pushes status changes as JSON text messages.
 *
 * Authentication, checked before the upgrade is accepted (401 otherwise): the API token either
 * in `Authorization: Bearer <token>` (servers, CLIs) or, for browsers, which cannot set headers
 * on a WebSocket, as a subprotocol: `new WebSocket(url, ['switchboard.v1', 'bearer.' + token])`
 * (the server selects `switchboard.v1`). Tokens are never read from the query string, which
 * proxies and access logs record. A token whose scopes lack `api` (a gateway-only token, issue
 * 15) is refused with 403 (not counted as a failure). Failed upgrades count against the client's address like failed
 * requests (`FailedAuthLimiter`): over the limit, an upgrade with a token this process has not
 * seen authenticate answers 429 before any database lookup. A stream ends (close code
 * {@link TOKEN_REVOKED_CLOSE_CODE}) as soon as the process learns its token was revoked
 * (`TokenCache.forget`).
 *
 * Messages:
 * - first `{ "type": "snapshot", "status": <GET /api/status body>, "servers": {id: status} }`;
 * - then `{ "type": "server", "serverId", "status", "lastError"?, "mcp": <aggregate>, "timestamp" }`
 *   for each status change of the caller's servers (`status: "removed"` when deleted or
 *   deactivated), and `{ "type": "system", "part": "database"|"livekit"|"openai", "status",
 *   "timestamp" }` when a system part changes.
 */
import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import type { Logger } from '../../shared/logger.js';
import { hashToken } from '../http/auth.js';
import { ForbiddenError } from '../http/errors.js';
import { bearerToken, type TokenCache } from '../http/token-cache.js';
import type { FailedAuthLimiter } from '../http/failed-auth-limiter.js';
import { summarizeMcp } from './checks.js';
import type { StatusSnapshot } from './snapshot.js';

/** The path the stream answers on. */
export const STATUS_STREAM_PATH = '/api/status/stream';
/** The subprotocol the server selects. */
export const STATUS_STREAM_PROTOCOL = 'switchboard.v1';
const BEARER_PROTOCOL = /^bearer\.(\S+)$/;
/** The close code of a stream whose token was revoked (4000–4999: application codes, RFC 6455). */
export const TOKEN_REVOKED_CLOSE_CODE = 4401;

/** Dependencies of {@link attachStatusStream}. */
export interface StatusStreamDeps {
  snapshot: StatusSnapshot;
  tokens: TokenCache;
  logger: Logger;
  /** Failed authentications per address, shared with the app (`AppDeps.authFailures`); default none. */
  authFailures?: FailedAuthLimiter;
}

/** A running stream endpoint. */
export interface StatusStream {
  /** Connected clients. */
  readonly clients: number;
  /** Closes every client (code 1001, going away) and stops accepting upgrades. */
  close(): Promise<void>;
}

function tokenOf(req: IncomingMessage): string | undefined {
  const fromHeader = bearerToken(req.headers.authorization);
  if (fromHeader) return fromHeader;
  const protocols = (req.headers['sec-websocket-protocol'] ?? '').split(',').map((p) => p.trim());
  for (const protocol of protocols) {
    const match = BEARER_PROTOCOL.exec(protocol);
    if (match) return match[1];
  }
  return undefined;
}

/**
 * What a stream upgrade without a token is told: how to send one, and, when the URL carries one
 * in its query string (which proxies and access logs record), that it is not read there.
 */
function missingTokenDetail(url: string): string {
  const query = new URLSearchParams(url.split('?')[1] ?? '');
  const inQuery = [...query.keys()].some((key) => /token|auth|bearer|key/i.test(key));
  return (
    (inQuery
      ? 'A token in the query string is not read (proxies and access logs keep URLs). '
      : '') +
    `Send the API token as "Authorization: Bearer <token>", or from a browser as a WebSocket ` +
    `subprotocol: new WebSocket(url, ['${STATUS_STREAM_PROTOCOL}', 'bearer.' + token]).`
  );
}

function refuse(socket: Duplex, status: number, reason: string, detail: string): void {
  const body = JSON.stringify({ type: 'about:blank', title: reason, status, detail });
  socket.end(
    `HTTP/1.1 ${status} ${reason}\r\nContent-Type: application/problem+json\r\n` +
      `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
  );
}

/**
 * Serves the status stream on `server`'s `upgrade` event for {@link STATUS_STREAM_PATH}; other
 * upgrade paths are left to other listeners (or refused with 404 when there are none).
 */
export function attachStatusStream(server: Server, deps: StatusStreamDeps): StatusStream {
  const logger = deps.logger.child({ component: 'status-stream' });
  const wss = new WebSocketServer({
    noServer: true,
    maxPayload: 1024,
    handleProtocols: (protocols) =>
      protocols.has(STATUS_STREAM_PROTOCOL) ? STATUS_STREAM_PROTOCOL : false,
  });

  const onUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    const path = (req.url ?? '').split('?')[0];
    if (path !== STATUS_STREAM_PATH) {
      if (server.listenerCount('upgrade') === 1) refuse(socket, 404, 'Not Found', 'No such path.');
      return;
    }
    socket.on('error', () => socket.destroy());
    void (async () => {
      const token = tokenOf(req);
      const tokenHash = token === undefined ? undefined : hashToken(token);
      const address = req.socket.remoteAddress;
      const failures = deps.authFailures;
      if (failures && (await failures.refuses(address, tokenHash))) {
        refuse(
          socket,
          429,
          'Too Many Requests',
          `Too many failed authentications from this address: at most ${failures.limit} per ` +
            'minute. Check the API token you send, and retry in a minute.',
        );
        return;
      }
      if (!token || !tokenHash) {
        void failures?.recordFailure(address);
        refuse(socket, 401, 'Unauthorized', missingTokenDetail(req.url ?? ''));
        return;
      }
      let user;
      try {
        user = await deps.tokens.user(token);
        await deps.snapshot.ready();
      } catch (error) {
        if (error instanceof ForbiddenError) {
          refuse(socket, 403, 'Forbidden', error.message);
          return;
        }
        logger.warn({ err: error }, 'status stream authentication failed');
        refuse(socket, 503, 'Service Unavailable', 'The database is unreachable.');
        return;
      }
      if (!user) {
        void failures?.recordFailure(address, tokenHash);
        refuse(socket, 401, 'Unauthorized', 'The API token is unknown or revoked.');
        return;
      }
      failures?.trust(tokenHash);
      const userId = user.id;
      wss.handleUpgrade(req, socket, head, (ws) => serve(ws, userId, tokenHash));
    })();
  };

  /** Open streams by the SHA-256 of the token that opened them. */
  const byToken = new Map<string, Set<WebSocket>>();
  const stopForgetting = deps.tokens.onForget((tokenHash) => {
    for (const ws of byToken.get(tokenHash) ?? []) {
      ws.close(TOKEN_REVOKED_CLOSE_CODE, 'The API token was revoked.');
    }
  });

  const serve = (ws: WebSocket, userId: number, tokenHash: string) => {
    const streams = byToken.get(tokenHash) ?? new Set<WebSocket>();
    byToken.set(tokenHash, streams.add(ws));
    ws.on('close', () => {
      streams.delete(ws);
      if (streams.size === 0 && byToken.get(tokenHash) === streams) byToken.delete(tokenHash);
    });
    const send = (message: unknown) => {
      if (ws.readyState === ws.OPEN) ws.send(JSON.stringify(message));
    };
    const unsubscribe = deps.snapshot.subscribe((event) => {
      const timestamp = new Date().toISOString();
      if (event.type === 'system') {
        send({ type: 'system', part: event.part, status: event.status, timestamp });
      } else if (event.userId === userId) {
        const mcp = summarizeMcp(Object.values(deps.snapshot.serversOf(userId)));
        send({
          type: 'server',
          serverId: event.serverId,
          status: event.status,
          lastError: event.lastError,
          mcp,
          timestamp,
        });
      }
    });
    ws.on('close', unsubscribe);
    ws.on('error', () => ws.terminate());
    send({
      type: 'snapshot',
      status: deps.snapshot.forUser(userId),
      servers: deps.snapshot.serversOf(userId),
    });
  };

  server.on('upgrade', onUpgrade);
  return {
    get clients() {
      return wss.clients.size;
    },
    close: async () => {
      server.off('upgrade', onUpgrade);
      stopForgetting();
      const closed = [...wss.clients].map(
        (ws) => new Promise((resolve) => ws.once('close', resolve)),
      );
      for (const ws of wss.clients) ws.close(1001, 'server shutting down');
      // A client that does not answer the close handshake within a second is cut off.
      const grace = new Promise((resolve) => setTimeout(resolve, 1000).unref());
      await Promise.race([Promise.all(closed), grace]);
      for (const ws of wss.clients) ws.terminate();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
    },
  };
}
