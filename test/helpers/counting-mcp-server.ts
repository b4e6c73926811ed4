/**
 * Many MCP servers on one loopback port, one per path (`/mcp/<name>`), over stateful Streamable
 * HTTP (the SDK's `McpServer` and `StreamableHTTPServerTransport`, one per session), counting per
 * path the sessions initialized and the clients watching now: a client that finished initializing
 * holds the standalone SSE stream (`GET`, MCP spec "Listening for Messages from the Server") open
 * until it closes the connection or its process dies, so the open GET streams of a path are the
 * clients connected to it.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { routeSessionRequest } from './mcp-session-router.js';

/** A running set of counting MCP servers. */
export interface CountingMcpServers {
  /** The URL of the server at `name`: `http://127.0.0.1:<port>/mcp/<name>`. */
  urlOf(name: string): string;
  /** Sessions initialized at `name` so far. */
  initialized(name: string): number;
  /** Clients holding an SSE stream of `name` open now. */
  watchers(name: string): number;
  close(): Promise<void>;
}

/** Starts the servers on a loopback port the kernel picks; any path `/mcp/<name>` answers. */
export async function startCountingMcpServers(): Promise<CountingMcpServers> {
  const transports = new Map<string, StreamableHTTPServerTransport>();
  const initialized = new Map<string, number>();
  const watchers = new Map<string, number>();
  const add = (counts: Map<string, number>, name: string, n: number) =>
    counts.set(name, (counts.get(name) ?? 0) + n);

  const newSession = async (name: string): Promise<StreamableHTTPServerTransport> => {
    const server = new McpServer({ name: `counting-${name}`, version: '1.0.0' });
    server.registerTool('noop', { description: 'Does nothing' }, async () => ({ content: [] }));
    const transport: StreamableHTTPServerTransport = new StreamableHTTPServerTransport({
      sessionIdGenerator: randomUUID,
      onsessioninitialized: (id) => {
        add(initialized, name, 1);
        transports.set(id, transport);
      },
    });
    await server.connect(transport);
    return transport;
  };

  const http: Server = createServer(async (req, res) => {
    const match = /^\/mcp\/([^/?]+)/.exec(req.url ?? '');
    if (!match) {
      res.writeHead(404).end();
      return;
    }
    const name = match[1]!;
    await routeSessionRequest(req, res, transports, () => newSession(name), {
      beforeHandle: () => {
        if (req.method !== 'GET') return;
        add(watchers, name, 1);
        res.once('close', () => add(watchers, name, -1));
      },
    });
  });
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  const { port } = http.address() as AddressInfo;

  return {
    urlOf: (name) => `http://127.0.0.1:${port}/mcp/${name}`,
    initialized: (name) => initialized.get(name) ?? 0,
    watchers: (name) => watchers.get(name) ?? 0,
    close: async () => {
      await Promise.all([...transports.values()].map((transport) => transport.close()));
      http.closeAllConnections();
      await new Promise<void>((resolve) => http.close(() => resolve()));
    },
  };
}
