/**
 * A stand-in for Switchboard's MCP endpoint, for the stdio gateway's tests: the SDK's `McpServer`
 * over stateful Streamable HTTP (`StreamableHTTPServerTransport`, one per session, MCP 2025-11-25)
 * at `/mcp`, behind a bearer check (401 for an unknown token, 403 for {@link NO_SCOPE_TOKEN}). Its
 * tools exercise every direction a relay must carry: `echo`, `count` (progress notifications),
 * `ask` (an elicitation request to the client, on the call's own stream) and `wait` (runs until
 * the client cancels it). It records each HTTP request, can add a tool to every live session
 * (`notifications/tools/list_changed` on the standalone GET stream) and can forget its sessions
 * as a restarted replica would (404 for their ids).
 */
import { randomUUID } from 'node:crypto';
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { z } from 'zod';
import { routeSessionRequest } from './mcp-session-router.js';

/** A token the endpoint knows but that lacks the gateway scope: answered with 403. */
export const NO_SCOPE_TOKEN = 'sb_no_gateway_scope';

/** One HTTP request the endpoint received. */
export interface GatewayEndpointRequest {
  method: string;
  /** Its `Mcp-Session-Id` header. */
  sessionId?: string;
  /** The status it was answered with (set when the head is written; 0 before). */
  status: number;
  /** Its `MCP-Protocol-Version` header. */
  protocolVersion?: string;
}

/** A running endpoint. */
export interface GatewayEndpoint {
  /** `http://127.0.0.1:<port>`: what the gateway's `--url` takes. */
  origin: string;
  /** Every HTTP request received, in order. */
  readonly requests: readonly GatewayEndpointRequest[];
  /** How many sessions were initialized. */
  readonly sessions: number;
  /** Ids of the sessions alive now. */
  liveSessions(): string[];
  /** How many standalone GET streams are open now (a head written, not closed). */
  openGetStreams(): number;
  /** How many `wait` calls started. */
  readonly waiting: number;
  /** Request ids of `wait` calls the client cancelled (`notifications/cancelled` arrived). */
  readonly cancelled: readonly (string | number)[];
  /** Registers tool `name` in every live session; each sends `notifications/tools/list_changed`. */
  addTool(name: string): void;
  /** Closes every session's transport and forgets its id, as a restarted replica would. */
  forgetSessions(): Promise<void>;
  close(): Promise<void>;
}

function problem(res: ServerResponse, status: number, detail: string): void {
  res.writeHead(status, { 'content-type': 'application/problem+json' });
  res.end(JSON.stringify({ type: 'about:blank', status, detail }));
}

/** Options of {@link startGatewayEndpoint}. */
export interface GatewayEndpointOptions {
  /**
   * Answer every GET with 404, as a replica that does not know the session would when requests
   * are not routed to one replica per session.
   */
  getNotFound?: boolean;
}

/**
 * Starts the endpoint on a loopback port the kernel picks.
 *
 * @param token the one bearer token with the gateway scope.
 */
export async function startGatewayEndpoint(
  token: string,
  options: GatewayEndpointOptions = {},
): Promise<GatewayEndpoint> {
  const transports = new Map<string, StreamableHTTPServerTransport>();
  const servers = new Map<string, McpServer>();
  const requests: GatewayEndpointRequest[] = [];
  const getStreams = new Set<ServerResponse>();
  const cancelled: (string | number)[] = [];
  let sessions = 0;
  let waiting = 0;

  const newSession = async (): Promise<StreamableHTTPServerTransport> => {
    const server = new McpServer({ name: 'gateway-endpoint-fixture', version: '1.0.0' });
    server.registerTool(
      'echo',
      { description: 'Echoes its message', inputSchema: { message: z.string() } },
      async ({ message }) => ({ content: [{ type: 'text', text: `Echo: ${message}` }] }),
    );
    server.registerTool(
      'count',
      { description: 'Counts to `to`, reporting progress', inputSchema: { to: z.number().int() } },
      async ({ to }, extra) => {
        const progressToken = extra._meta?.progressToken;
        for (let progress = 1; progress <= to; progress += 1) {
          if (progressToken === undefined) break;
          await extra.sendNotification({
            method: 'notifications/progress',
            params: { progressToken, progress, total: to },
          });
        }
        return { content: [{ type: 'text', text: `counted to ${to}` }] };
      },
    );
    server.registerTool(
      'ask',
      { description: "Asks the user's name", inputSchema: {} },
      async (_args, extra) => {
        const answer = await server.server.elicitInput(
          {
            message: 'What is your name?',
            requestedSchema: {
              type: 'object',
              properties: { name: { type: 'string' } },
              required: ['name'],
            },
          },
          { relatedRequestId: extra.requestId },
        );
        const name = answer.action === 'accept' ? String(answer.content?.name) : answer.action;
        return { content: [{ type: 'text', text: `Hello ${name}` }] };
      },
    );
    server.registerTool(
      'wait',
      { description: 'Runs until cancelled', inputSchema: {} },
      (_args, extra) =>
        new Promise((_resolve, reject) => {
          waiting += 1;
          extra.signal.addEventListener('abort', () => {
            cancelled.push(extra.requestId);
            reject(new Error('cancelled'));
          });
        }),
    );
    const transport: StreamableHTTPServerTransport = new StreamableHTTPServerTransport({
      sessionIdGenerator: randomUUID,
      onsessioninitialized: (id) => {
        sessions += 1;
        transports.set(id, transport);
        servers.set(id, server);
      },
      onsessionclosed: (id) => {
        transports.delete(id);
        servers.delete(id);
      },
    });
    await server.connect(transport);
    return transport;
  };

  const http: Server = createServer(async (req, res) => {
    const sessionId = req.headers['mcp-session-id'];
    const record: GatewayEndpointRequest = {
      method: req.method ?? '',
      sessionId: typeof sessionId === 'string' ? sessionId : undefined,
      protocolVersion: req.headers['mcp-protocol-version'] as string | undefined,
      status: 0,
    };
    requests.push(record);
    const writeHead = res.writeHead.bind(res) as (...args: unknown[]) => ServerResponse;
    res.writeHead = ((status: number, ...rest: unknown[]) => {
      record.status = status;
      return writeHead(status, ...rest);
    }) as typeof res.writeHead;
    try {
      const authorization = req.headers.authorization;
      if (authorization === `Bearer ${NO_SCOPE_TOKEN}`) {
        problem(res, 403, 'this token lacks the gateway scope');
        return;
      }
      if (authorization !== `Bearer ${token}`) {
        problem(res, 401, 'unknown or revoked token');
        return;
      }
      if (new URL(req.url ?? '/', 'http://x').pathname !== '/mcp') {
        problem(res, 404, 'no such endpoint');
        return;
      }
      await routeSessionRequest(req, res, transports, newSession, {
        sessionId: record.sessionId,
        notFound: req.method === 'GET' && options.getNotFound,
        beforeHandle: () => {
          if (req.method !== 'GET') return;
          getStreams.add(res);
          res.once('close', () => getStreams.delete(res));
        },
      });
    } catch (error) {
      if (!res.headersSent) res.writeHead(500).end(String(error));
    }
  });
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  const { port } = http.address() as AddressInfo;

  const forgetSessions = async () => {
    const open = [...transports.values()];
    transports.clear();
    servers.clear();
    await Promise.all(open.map((transport) => transport.close()));
  };

  return {
    origin: `http://127.0.0.1:${port}`,
    requests,
    get sessions() {
      return sessions;
    },
    get waiting() {
      return waiting;
    },
    liveSessions: () => [...transports.keys()],
    openGetStreams: () =>
      [...getStreams].filter((res) => res.headersSent && res.statusCode === 200).length,
    cancelled,
    addTool: (name) => {
      for (const server of servers.values()) {
        server.registerTool(name, { description: `Added at run time`, inputSchema: {} }, () => ({
          content: [{ type: 'text', text: name }],
        }));
      }
    },
    forgetSessions,
    close: async () => {
      await forgetSessions();
      http.closeAllConnections();
      await new Promise((resolve) => http.close(resolve));
    },
  };
}
