/**
 * A small MCP server over WebSocket for tests: the SDK's `McpServer` with an `echo` tool behind a
 * `ws` `WebSocketServer` that speaks the `mcp` subprotocol, one JSON-RPC message per text frame
 * (the wire format of the SDK's `WebSocketClientTransport`). The upgrade is refused with 401
 * unless the request carries every header in `requiredHeaders`, so a test can prove that a
 * connection's `apiKey` and `headers` reach the server.
 */
import type { AddressInfo } from 'node:net';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import { JSONRPCMessageSchema, type JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js';
import { WebSocketServer, type WebSocket } from 'ws';
import { z } from 'zod';

/** Server side of one WebSocket connection, as a `Transport` for the SDK's `McpServer`. */
export class WebSocketServerTransport implements Transport {
  onclose?: () => void;
  onerror?: (error: Error) => void;
  onmessage?: (message: JSONRPCMessage) => void;
  readonly #socket: WebSocket;

  /** @param socket an accepted, open socket. */
  constructor(socket: WebSocket) {
    this.#socket = socket;
  }

  /** Starts delivering the socket's frames to `onmessage`. */
  async start(): Promise<void> {
    this.#socket.on('message', (data, isBinary) => {
      if (isBinary) {
        this.onerror?.(new Error('MCP over WebSocket expects text frames'));
        return;
      }
      try {
        this.onmessage?.(JSONRPCMessageSchema.parse(JSON.parse(data.toString())));
      } catch (error) {
        this.onerror?.(error instanceof Error ? error : new Error(String(error)));
      }
    });
    this.#socket.on('error', (error) => this.onerror?.(error));
    this.#socket.on('close', () => this.onclose?.());
  }

  /** Sends one JSON-RPC message as one text frame. */
  send(message: JSONRPCMessage): Promise<void> {
    return new Promise((resolve, reject) => {
      this.#socket.send(JSON.stringify(message), (error) => (error ? reject(error) : resolve()));
    });
  }

  /** Closes the socket; `onclose` fires from its `close` event. */
  async close(): Promise<void> {
    this.#socket.close();
  }
}

/** A running WebSocket MCP test server. */
export interface WebSocketMcpTestServer {
  /** `ws://127.0.0.1:<port>/mcp` */
  url: string;
  /** Request headers (lower-case names) of every upgrade the server accepted, in order. */
  acceptedHeaders: Record<string, string | string[] | undefined>[];
  /** Drops every open socket without a closing handshake, as a crashing server would. */
  dropConnections(): void;
  /** Ends every open socket and stops listening. */
  close(): Promise<void>;
}

/** Name the test server reports in `initialize`. */
export const WEBSOCKET_TEST_SERVER_NAME = 'switchboard-websocket-test-server';

/**
 * Starts the server on a free port of 127.0.0.1.
 *
 * @param requiredHeaders header name (lower case) → exact value the upgrade request must carry;
 *   an upgrade without them is refused with HTTP 401.
 */
export async function startWebSocketMcpServer(
  requiredHeaders: Record<string, string> = {},
): Promise<WebSocketMcpTestServer> {
  const acceptedHeaders: WebSocketMcpTestServer['acceptedHeaders'] = [];
  const wss = new WebSocketServer({
    host: '127.0.0.1',
    port: 0,
    path: '/mcp',
    handleProtocols: (protocols) => (protocols.has('mcp') ? 'mcp' : false),
    verifyClient: ({ req }, accept) => {
      const ok = Object.entries(requiredHeaders).every(
        ([name, value]) => req.headers[name] === value,
      );
      if (ok) acceptedHeaders.push({ ...req.headers });
      accept(ok, ok ? undefined : 401, ok ? undefined : 'Unauthorized');
    },
  });
  wss.on('connection', (socket) => {
    const server = new McpServer({ name: WEBSOCKET_TEST_SERVER_NAME, version: '1.0.0' });
    server.registerTool(
      'echo',
      { description: 'Echoes back the input string', inputSchema: { message: z.string() } },
      async ({ message }) => ({ content: [{ type: 'text', text: `Echo: ${message}` }] }),
    );
    void server.connect(new WebSocketServerTransport(socket));
  });
  await new Promise<void>((resolve, reject) => {
    wss.once('listening', resolve);
    wss.once('error', reject);
  });
  const { port } = wss.address() as AddressInfo;
  return {
    url: `ws://127.0.0.1:${port}/mcp`,
    acceptedHeaders,
    dropConnections: () => {
      for (const client of wss.clients) client.terminate();
    },
    close: async () => {
      for (const client of wss.clients) client.terminate();
      await new Promise<void>((resolve, reject) =>
        wss.close((error) => (error ? reject(error) : resolve())),
      );
    },
  };
}
