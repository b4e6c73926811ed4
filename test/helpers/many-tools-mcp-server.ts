/**
 * An in-process MCP server with many tools, for the tool-budget tests: the SDK's `McpServer` over
 * a stateless Streamable HTTP transport, one virtual server per path `/servers/<n>` (n from 0),
 * each with `toolsPerServer` tools in a fixed order.
 *
 * Every tool of server n is `step_<j>` ("Bookkeeping step j of ledger n."), except the last tool
 * of server `weatherOn` (default the last), `forecast_weather` ("Gives the weather forecast for a
 * city."), which only a search can find when the budget is small. Each call answers `<server>/<tool>: <args as JSON>`.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { z } from 'zod';

/** The distinctive tool of the last server. */
export const WEATHER_TOOL = 'forecast_weather';

/** A running many-tools server. */
export interface ManyToolsMcpServer {
  /** `http://127.0.0.1:<port>/servers/<n>` for server n. */
  urlOf(server: number): string;
  /** Every call that ran, as `<server>/<tool>`, in order. */
  readonly calls: readonly string[];
  close(): Promise<void>;
}

/**
 * The original tool names of server `server`, in its `tools/list` order.
 *
 * @param weatherOn the server whose last tool is {@link WEATHER_TOOL}.
 */
export function toolNamesOf(server: number, weatherOn: number, toolsPerServer: number): string[] {
  return Array.from({ length: toolsPerServer }, (_, j) =>
    server === weatherOn && j === toolsPerServer - 1 ? WEATHER_TOOL : `step_${j}`,
  );
}

async function bodyOf(req: IncomingMessage): Promise<unknown> {
  let body = '';
  for await (const chunk of req) body += chunk;
  return body ? JSON.parse(body) : undefined;
}

/**
 * Starts the server on a loopback port the kernel picks.
 *
 * @param servers how many virtual servers (paths) it answers.
 * @param toolsPerServer how many tools each one lists.
 * @param weatherOn the server with {@link WEATHER_TOOL}; default the last.
 */
export async function startManyToolsMcpServer(
  servers: number,
  toolsPerServer: number,
  weatherOn = servers - 1,
): Promise<ManyToolsMcpServer> {
  const calls: string[] = [];
  const serverFor = (n: number): McpServer => {
    const server = new McpServer({ name: `ledger-${n}`, version: '1.0.0' });
    for (const name of toolNamesOf(n, weatherOn, toolsPerServer)) {
      const description =
        name === WEATHER_TOOL
          ? 'Gives the weather forecast for a city.'
          : `Bookkeeping step ${name.slice(5)} of ledger ${n}.`;
      server.registerTool(
        name,
        { description, inputSchema: { city: z.string().optional() } },
        async (args) => {
          calls.push(`${n}/${name}`);
          return { content: [{ type: 'text', text: `${n}/${name}: ${JSON.stringify(args)}` }] };
        },
      );
    }
    return server;
  };
  const http: Server = createServer(async (req, res) => {
    const match = /^\/servers\/(\d+)$/.exec((req.url ?? '').split('?')[0] ?? '');
    const n = match ? Number(match[1]) : -1;
    if (n < 0 || n >= servers) {
      res.writeHead(404).end();
      return;
    }
    const server = serverFor(n);
    const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined });
    res.on('close', () => void transport.close().then(() => server.close()));
    await server.connect(transport);
    await transport.handleRequest(req, res, req.method === 'POST' ? await bodyOf(req) : undefined);
  });
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  const { port } = http.address() as AddressInfo;
  return {
    urlOf: (server) => `http://127.0.0.1:${port}/servers/${server}`,
    get calls() {
      return calls;
    },
    close: async () => {
      http.closeAllConnections();
      await new Promise<void>((resolve) => http.close(() => resolve()));
    },
  };
}
