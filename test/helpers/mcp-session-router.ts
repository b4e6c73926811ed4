/**
 * The request routing of the stateful Streamable HTTP MCP servers the tests start (MCP
 * 2025-11-25, "Transports › Session Management"): a request goes to the SDK transport of its
 * `Mcp-Session-Id`; one without a session id opens a new session (its `initialize`); one with a
 * session id the server does not know answers 404 with JSON-RPC error -32001, which tells a
 * client to start over.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';

/** The JSON body of `req` (`undefined` when empty). @throws SyntaxError on a body not JSON. */
export async function readJson(req: IncomingMessage): Promise<unknown> {
  let body = '';
  for await (const chunk of req) body += chunk;
  return body ? JSON.parse(body) : undefined;
}

/** Options of {@link routeSessionRequest}. */
export interface SessionRouteOptions {
  /** The request's session id; default its `Mcp-Session-Id` header. */
  sessionId?: string;
  /** Answer 404 even for a known session (a server that has "lost" it); default false. */
  notFound?: boolean;
  /** Called with the session's transport just before it handles the request. */
  beforeHandle?: (transport: StreamableHTTPServerTransport) => void;
}

/**
 * Routes one request of a stateful Streamable HTTP MCP server (see the module comment); a failure
 * answers 500 with its text if nothing was sent yet. Never rejects.
 *
 * @param transports the open sessions' transports by session id (the caller's `open` adds each
 *   new one once its session is initialized).
 * @param open makes a new session's transport, connected to a new MCP server.
 */
export async function routeSessionRequest(
  req: IncomingMessage,
  res: ServerResponse,
  transports: ReadonlyMap<string, StreamableHTTPServerTransport>,
  open: () => Promise<StreamableHTTPServerTransport>,
  options: SessionRouteOptions = {},
): Promise<void> {
  try {
    const header = req.headers['mcp-session-id'];
    const sessionId = options.sessionId ?? (typeof header === 'string' ? header : undefined);
    const body = req.method === 'POST' ? await readJson(req) : undefined;
    let transport = sessionId === undefined ? undefined : transports.get(sessionId);
    if (!transport || options.notFound) {
      if (sessionId !== undefined) {
        res.writeHead(404, { 'content-type': 'application/json' });
        res.end(
          JSON.stringify({
            jsonrpc: '2.0',
            error: { code: -32001, message: 'Session not found' },
            id: null,
          }),
        );
        return;
      }
      transport = await open();
    }
    options.beforeHandle?.(transport);
    await transport.handleRequest(req, res, body);
  } catch (error) {
    if (!res.headersSent) res.writeHead(500).end(String(error));
  }
}
