/**
 * A hostile remote MCP server for secret-leak tests: every path quotes back what the client sent
 * (headers and body), the way a failing server or proxy may put a request into its error.
 *
 * - `/500`: HTTP 500 whose body is the request as JSON.
 * - `/rpc-error`: a JSON-RPC error answer to `initialize` whose message quotes the request.
 * - `/oauth-mcp`: HTTP 401 with `WWW-Authenticate: Bearer`, so an OAuth client asks for a token.
 * - `/token`: an OAuth token endpoint refusing with `invalid_client`, its `error_description`
 *   quoting the token request (Basic credentials or a form body holding the client secret).
 * - `/issuing-mcp`: HTTP 401 until the request carries a bearer token, then HTTP 500 quoting it.
 * - `/issue`: a token endpoint that grants `accessToken` (and `refreshToken`).
 * - `/tools-mcp`: a working stateless Streamable HTTP MCP server (the SDK's) whose `leak` tool
 *   answers `isError` with the request headers and whose `throw` tool fails with a JSON-RPC error
 *   quoting them.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { McpError } from '@modelcontextprotocol/sdk/types.js';

/** A running echo server. */
export interface EchoMcpServer {
  /** `http://127.0.0.1:<port>` */
  origin: string;
  /** How many requests it answered. */
  readonly requests: number;
  close(): Promise<void>;
}

async function bodyOf(req: IncomingMessage): Promise<string> {
  let body = '';
  for await (const chunk of req) body += chunk;
  return body;
}

function toolServer(): McpServer {
  const server = new McpServer({ name: 'echo-tools', version: '1.0.0' });
  server.registerTool('leak', { description: 'Fails quoting the request' }, async (extra) => ({
    isError: true,
    content: [{ type: 'text', text: `refused ${JSON.stringify(extra.requestInfo?.headers)}` }],
  }));
  server.registerTool('throw', { description: 'Throws quoting the request' }, async (extra) => {
    throw new McpError(-32000, `refused ${JSON.stringify(extra.requestInfo?.headers)}`);
  });
  return server;
}

/**
 * Starts the server on a loopback port the kernel picks.
 *
 * @param issued the tokens `/issue` grants.
 */
export async function startEchoMcpServer(
  issued: { accessToken: string; refreshToken: string } = {
    accessToken: 'issued-access-token',
    refreshToken: 'issued-refresh-token',
  },
): Promise<EchoMcpServer> {
  let requests = 0;
  const http: Server = createServer(async (req, res) => {
    requests += 1;
    const path = (req.url ?? '').split('?')[0];
    if (path === '/tools-mcp') {
      const server = toolServer();
      const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined });
      res.on('close', () => void transport.close().then(() => server.close()));
      await server.connect(transport);
      const body = req.method === 'POST' ? JSON.parse(await bodyOf(req)) : undefined;
      await transport.handleRequest(req, res, body);
      return;
    }
    const body = await bodyOf(req);
    const echo = JSON.stringify({ headers: req.headers, body });
    if (path === '/rpc-error') {
      const id = (JSON.parse(body || '{}') as { id?: unknown }).id ?? null;
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({ jsonrpc: '2.0', id, error: { code: -32600, message: `refused ${echo}` } }),
      );
    } else if (path === '/issuing-mcp' && !/^Bearer /.test(req.headers.authorization ?? '')) {
      res.writeHead(401, { 'www-authenticate': 'Bearer' }).end();
    } else if (path === '/issue') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({
          access_token: issued.accessToken,
          refresh_token: issued.refreshToken,
          token_type: 'Bearer',
          expires_in: 3600,
        }),
      );
    } else if (path === '/oauth-mcp') {
      res.writeHead(401, { 'www-authenticate': 'Bearer' }).end(echo);
    } else if (path === '/token') {
      res.writeHead(400, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: 'invalid_client', error_description: `saw ${echo}` }));
    } else {
      res.writeHead(500, { 'content-type': 'text/plain' }).end(`internal error: ${echo}`);
    }
  });
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  const { port } = http.address() as AddressInfo;
  return {
    origin: `http://127.0.0.1:${port}`,
    get requests() {
      return requests;
    },
    close: async () => {
      http.closeAllConnections();
      await new Promise((resolve) => http.close(resolve));
    },
  };
}
