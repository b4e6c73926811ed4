/**
 * A hostile MCP server for tests, written by hand on `node:http` and `ws` (no SDK, so it can
 * break the rules): it completes `initialize` honestly, then answers `tools/list` either with a
 * given list of tool definitions (NUL characters, control characters, thousands of tools) or with
 * one enormous message, streamed in 64 KiB chunks while the client keeps reading, so the test
 * process never holds it whole. It speaks Streamable HTTP (`/mcp`, answering as JSON or as a
 * server-sent event stream), HTTP+SSE (`/sse` and `/messages`) and WebSocket (`/ws`).
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocketServer } from 'ws';

/** What `tools/list` answers. */
export type HostileToolsList =
  | { tools: unknown[] }
  /** One message of about `bytes` bytes: a tool whose description is that long. */
  | { hugeBytes: number };

/** Options of {@link startHostileMcpServer}. */
export interface HostileMcpServerOptions {
  toolsList: HostileToolsList;
  /** How Streamable HTTP answers a request: `json` (default) or an `sse` stream. */
  streamableAnswer?: 'json' | 'sse';
  /** The request answered with the enormous message of `hugeBytes`; default `tools/list`. */
  hugeMethod?: string;
  /** What `initialize` says the server is; default `{ name: 'hostile', version: '1.0.0' }`. */
  serverInfo?: { name: string; version: string };
}

/** A running hostile server. */
export interface HostileMcpServer {
  /** `http://127.0.0.1:<port>` */
  origin: string;
  /** Bytes of enormous messages written so far (what reached the socket). */
  hugeBytesSent(): number;
  /** Resolves once an enormous message stopped being sent (finished, or the client hung up). */
  hugeMessageEnded(): Promise<void>;
  close(): Promise<void>;
}

const CHUNK = Buffer.alloc(64 * 1024, 'a');

/**
 * Starts the server on a free port of 127.0.0.1.
 */
export async function startHostileMcpServer(
  options: HostileMcpServerOptions,
): Promise<HostileMcpServer> {
  let sent = 0;
  let endHuge: () => void = () => undefined;
  const hugeEnded = new Promise<void>((resolve) => (endHuge = resolve));
  const isHuge = (method: string) =>
    method === (options.hugeMethod ?? 'tools/list') && 'hugeBytes' in options.toolsList;
  /** The open legacy SSE streams, by session id. */
  const sseStreams = new Map<string, ServerResponse>();

  const answer = (id: unknown, method: string, params: { protocolVersion?: string } = {}) => {
    if (method === 'initialize') {
      return {
        protocolVersion: params.protocolVersion,
        capabilities: { tools: {} },
        serverInfo: options.serverInfo ?? { name: 'hostile', version: '1.0.0' },
      };
    }
    if (method === 'tools/list' && 'tools' in options.toolsList) {
      return { tools: options.toolsList.tools };
    }
    void id;
    return {};
  };

  /** Streams `prefix` + `bytes` of 'a' + `suffix` into `res` with back-pressure. */
  const streamHuge = async (res: ServerResponse, prefix: string, bytes: number, suffix: string) => {
    const closed = new Promise<void>((resolve) => res.once('close', () => resolve()));
    let open = true;
    void closed.then(() => (open = false));
    const write = async (data: Buffer | string) => {
      sent += typeof data === 'string' ? Buffer.byteLength(data) : data.length;
      if (!res.write(data)) await Promise.race([new Promise((r) => res.once('drain', r)), closed]);
    };
    await write(prefix);
    for (let left = bytes; left > 0 && open; left -= CHUNK.length) {
      await write(left >= CHUNK.length ? CHUNK : CHUNK.subarray(0, left));
    }
    if (open) await write(suffix);
    endHuge();
  };
  const hugePrefix = (id: unknown) =>
    `{"jsonrpc":"2.0","id":${JSON.stringify(id)},"result":{"tools":[{"name":"huge","inputSchema":{"type":"object"},"description":"`;
  const HUGE_SUFFIX = '"}]}}';

  const readBody = async (req: IncomingMessage) => {
    let text = '';
    for await (const chunk of req) text += String(chunk);
    return JSON.parse(text) as {
      id?: unknown;
      method: string;
      params?: { protocolVersion?: string };
    };
  };

  const server = createServer((req, res) => {
    void (async () => {
      const url = new URL(req.url ?? '/', 'http://x');
      if (url.pathname === '/mcp' && req.method === 'POST') {
        const message = await readBody(req);
        if (message.id === undefined) return void res.writeHead(202).end();
        const huge = isHuge(message.method);
        if (options.streamableAnswer === 'sse') {
          res.writeHead(200, { 'content-type': 'text/event-stream' });
          if (huge) {
            const { hugeBytes } = options.toolsList as { hugeBytes: number };
            await streamHuge(
              res,
              `event: message\ndata: ${hugePrefix(message.id)}`,
              hugeBytes,
              `${HUGE_SUFFIX}\n\n`,
            );
          } else {
            const result = answer(message.id, message.method, message.params);
            res.write(
              `event: message\ndata: ${JSON.stringify({ jsonrpc: '2.0', id: message.id, result })}\n\n`,
            );
          }
          return void res.end();
        }
        res.writeHead(200, { 'content-type': 'application/json' });
        if (huge) {
          const { hugeBytes } = options.toolsList as { hugeBytes: number };
          await streamHuge(res, hugePrefix(message.id), hugeBytes, HUGE_SUFFIX);
          return void res.end();
        }
        const result = answer(message.id, message.method, message.params);
        return void res.end(JSON.stringify({ jsonrpc: '2.0', id: message.id, result }));
      }
      if (url.pathname === '/sse' && req.method === 'GET') {
        const session = String(sseStreams.size + 1);
        sseStreams.set(session, res);
        res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
        res.write(`event: endpoint\ndata: /messages?session=${session}\n\n`);
        return;
      }
      if (url.pathname === '/messages' && req.method === 'POST') {
        const message = await readBody(req);
        res.writeHead(202).end('Accepted');
        const stream = sseStreams.get(url.searchParams.get('session') ?? '');
        if (!stream || message.id === undefined) return;
        if (isHuge(message.method)) {
          const { hugeBytes } = options.toolsList as { hugeBytes: number };
          await streamHuge(
            stream,
            `event: message\ndata: ${hugePrefix(message.id)}`,
            hugeBytes,
            `${HUGE_SUFFIX}\n\n`,
          );
          return;
        }
        const result = answer(message.id, message.method, message.params);
        stream.write(
          `event: message\ndata: ${JSON.stringify({ jsonrpc: '2.0', id: message.id, result })}\n\n`,
        );
        return;
      }
      res.writeHead(405).end();
    })().catch(() => res.destroy());
  });

  const wss = new WebSocketServer({
    server,
    path: '/ws',
    handleProtocols: (protocols) => (protocols.has('mcp') ? 'mcp' : false),
  });
  wss.on('connection', (socket) => {
    socket.on('message', (data) => {
      const message = JSON.parse(String(data)) as { id?: unknown; method: string; params?: object };
      if (message.id === undefined) return;
      if (isHuge(message.method)) {
        // One frame: `ws` writes its length first, so a bounded client refuses it from the header.
        const { hugeBytes } = options.toolsList as { hugeBytes: number };
        const text = `${hugePrefix(message.id)}${'a'.repeat(hugeBytes)}${HUGE_SUFFIX}`;
        sent += text.length;
        socket.send(text, () => endHuge());
        return;
      }
      const result = answer(message.id, message.method, message.params);
      socket.send(JSON.stringify({ jsonrpc: '2.0', id: message.id, result }));
    });
  });

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    origin: `http://127.0.0.1:${port}`,
    hugeBytesSent: () => sent,
    hugeMessageEnded: () => hugeEnded,
    close: async () => {
      for (const client of wss.clients) client.terminate();
      for (const stream of sseStreams.values()) stream.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
