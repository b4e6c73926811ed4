/**
 * The floor of the gateway benchmark (`gateway.ts`): an MCP proxy made of the bare SDK and
 * nothing of Switchboard's. `express()` with `express.json()`, one SDK `Server` and
 * `StreamableHTTPServerTransport` per session, and `tools/list` and `tools/call` forwarded as they
 * are to one SDK `Client` on the upstream shared by every session (with the request's abort
 * signal, as the gateway forwards it). No authentication, audit, logging, naming or policy: what
 * any MCP-to-MCP hop built on the SDK's Streamable HTTP transports costs.
 */
import { randomUUID } from 'node:crypto';
import type { Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { Server } from '@modelcontextprotocol/sdk/server/index.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import {
  CallToolRequestSchema,
  ListToolsRequestSchema,
  type CallToolResult,
} from '@modelcontextprotocol/sdk/types.js';

/** A running bare proxy. */
export interface BareProxy {
  /** Its Streamable HTTP endpoint, `http://127.0.0.1:<port>/mcp`. */
  url: string;
  /** Closes its sessions, its upstream client and its listener. Safe to call more than once. */
  close(): Promise<void>;
}

/**
 * Connects to `upstreamUrl` and serves the proxy on a loopback port.
 *
 * @param upstreamUrl the upstream's Streamable HTTP endpoint.
 * @throws Error when the upstream cannot be reached.
 */
export async function startBareProxy(upstreamUrl: string): Promise<BareProxy> {
  const upstream = new Client({ name: 'switchboard-bench-bare-proxy', version: '0.1.0' });
  await upstream.connect(new StreamableHTTPClientTransport(new URL(upstreamUrl)));
  const sessions = new Map<string, StreamableHTTPServerTransport>();
  const app = express();
  app.use(express.json());
  app.all('/mcp', async (req, res) => {
    const id = req.get('mcp-session-id');
    if (id !== undefined) {
      const transport = sessions.get(id);
      if (!transport) return void res.status(404).end();
      return transport.handleRequest(req, res, req.body);
    }
    const server = new Server(
      { name: 'bare-proxy', version: '0.1.0' },
      { capabilities: { tools: {} } },
    );
    server.setRequestHandler(ListToolsRequestSchema, (request) =>
      upstream.listTools(request.params),
    );
    server.setRequestHandler(
      CallToolRequestSchema,
      async (request, extra) =>
        (await upstream.callTool(request.params, undefined, {
          signal: extra.signal,
        })) as CallToolResult,
    );
    const transport = new StreamableHTTPServerTransport({
      sessionIdGenerator: () => randomUUID(),
      onsessioninitialized: (sessionId) => void sessions.set(sessionId, transport),
    });
    transport.onclose = () => {
      if (transport.sessionId) sessions.delete(transport.sessionId);
    };
    await server.connect(transport);
    await transport.handleRequest(req, res, req.body);
  });
  const listener: HttpServer = await new Promise((resolve) => {
    const server = app.listen(0, '127.0.0.1', () => resolve(server));
  });
  let closed = false;
  return {
    url: `http://127.0.0.1:${(listener.address() as AddressInfo).port}/mcp`,
    close: async () => {
      if (closed) return;
      closed = true;
      await Promise.allSettled([...sessions.values()].map((transport) => transport.close()));
      await upstream.close();
      listener.closeAllConnections();
      await new Promise((resolve) => listener.close(resolve));
    },
  };
}
