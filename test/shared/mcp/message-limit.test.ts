/**
 * One message from a hostile server larger than `maxMessageBytes` (`MCP_MAX_MESSAGE_BYTES`) is
 * refused on every transport while it arrives: the request fails with an error naming the limit
 * and the setting, and the 64 MiB `tools/list` is never read whole.
 */
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { createLogger } from '../../../shared/logger.js';
import type { McpConnection } from '../../../shared/mcp/index.js';
import {
  McpConnectionError,
  mcpServerConfigSchema,
  type McpServerConfigInput,
} from '../../../shared/mcp/index.js';
import { BoundedLineReader } from '../../../shared/mcp/bounded-line-reader.js';
import {
  DEFAULT_MAX_MESSAGE_BYTES,
  McpMessageTooLargeError,
  boundedFetch,
} from '../../../shared/mcp/message-limit.js';
import { loadSettings } from '../../../shared/settings.js';
import { startHostileMcpServer, type HostileMcpServer } from '../../helpers/hostile-mcp-server.js';
import { sandboxedConnection } from '../../helpers/sandboxed.js';

const logger = createLogger({ level: 'silent' });
const MiB = 1024 * 1024;
const LIMIT = 1 * MiB;
const HUGE = 64 * MiB;
const HOSTILE_STDIO = fileURLToPath(
  new URL('../../fixtures/hostile-stdio-server.mjs', import.meta.url),
);
const TOO_LARGE = /larger than 1048576 bytes, the limit \(MCP_MAX_MESSAGE_BYTES\)/;

const open: McpConnection[] = [];
const servers: HostileMcpServer[] = [];

function connection(input: McpServerConfigInput): McpConnection {
  const created = sandboxedConnection(mcpServerConfigSchema.parse(input), {
    logger,
    maxMessageBytes: LIMIT,
    killGraceMs: 200,
  });
  open.push(created);
  return created;
}

async function hostile(
  hugeBytes: number,
  streamableAnswer?: 'json' | 'sse',
): Promise<HostileMcpServer> {
  const server = await startHostileMcpServer({ toolsList: { hugeBytes }, streamableAnswer });
  servers.push(server);
  return server;
}

async function listError(conn: McpConnection): Promise<McpConnectionError> {
  const error = await conn.listTools().then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(McpConnectionError);
  return error as McpConnectionError;
}

afterEach(async () => {
  await Promise.all(open.splice(0).map((c) => c.close()));
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

describe('MCP_MAX_MESSAGE_BYTES', () => {
  it('defaults to 4 MiB and can be set', () => {
    expect(DEFAULT_MAX_MESSAGE_BYTES).toBe(4_194_304);
    expect(loadSettings({}).MCP_MAX_MESSAGE_BYTES).toBe(4_194_304);
    expect(loadSettings({ MCP_MAX_MESSAGE_BYTES: '1048576' }).MCP_MAX_MESSAGE_BYTES).toBe(LIMIT);
  });
});

describe('a 64 MiB tools/list with a 1 MiB limit', () => {
  it('fails over stdio, naming the limit and the setting, and the connection is lost', async () => {
    const conn = connection({
      transport: 'stdio',
      sandbox: { network: 'none' },
      command: process.execPath,
      args: [HOSTILE_STDIO],
      env: { HOSTILE_TOOLS_LIST_BYTES: String(HUGE) },
    });
    await conn.connect();
    const error = await listError(conn);
    expect(error.message).toMatch(TOO_LARGE);
    expect(error.code).toBe('connection_lost');
    expect(conn.status).toBe('error');
  });

  it.each([
    ['streamable-http', 'json'],
    ['streamable-http', 'sse'],
  ] as const)(
    'fails over %s answered as %s, without reading the rest of the body',
    async (_transport, answer) => {
      const server = await hostile(HUGE, answer);
      const conn = connection({ transport: 'streamable-http', url: `${server.origin}/mcp` });
      await conn.connect();
      const error = await listError(conn);
      expect(error.message).toMatch(TOO_LARGE);
      await server.hugeMessageEnded();
      expect(server.hugeBytesSent()).toBeLessThan(HUGE);
    },
  );

  it('fails over HTTP+SSE (the legacy transport), without reading the rest of the stream', async () => {
    const server = await hostile(HUGE);
    const conn = connection({ transport: 'sse', url: `${server.origin}/sse` });
    await conn.connect();
    const error = await listError(conn);
    expect(error.message).toMatch(TOO_LARGE);
    await server.hugeMessageEnded();
    expect(server.hugeBytesSent()).toBeLessThan(HUGE);
  });

  it('fails over WebSocket, refused from the frame header', async () => {
    const server = await hostile(4 * MiB);
    const conn = connection({
      transport: 'websocket',
      url: `${server.origin.replace('http', 'ws')}/ws`,
    });
    await conn.connect();
    const error = await listError(conn);
    expect(error.message).toMatch(TOO_LARGE);
  });
});

describe('a 64 MiB answer to initialize with a 1 MiB limit', () => {
  it.each([
    ['stdio', undefined],
    ['streamable-http', 'json'],
    ['streamable-http', 'sse'],
    ['sse', undefined],
    ['websocket', undefined],
  ] as const)(
    'fails the connection attempt over %s (%s), naming the limit',
    async (transport, answer) => {
      let input: McpServerConfigInput;
      if (transport === 'stdio') {
        input = {
          transport,
          sandbox: { network: 'none' },
          command: process.execPath,
          args: [HOSTILE_STDIO],
          env: { HOSTILE_TOOLS_LIST_BYTES: String(HUGE), HOSTILE_HUGE_METHOD: 'initialize' },
        };
      } else {
        const server = await startHostileMcpServer({
          toolsList: { hugeBytes: transport === 'websocket' ? 4 * MiB : HUGE },
          streamableAnswer: answer,
          hugeMethod: 'initialize',
        });
        servers.push(server);
        const path = { 'streamable-http': '/mcp', sse: '/sse', websocket: '/ws' }[transport];
        const origin =
          transport === 'websocket' ? server.origin.replace('http', 'ws') : server.origin;
        input = { transport, url: `${origin}${path}` };
      }
      const conn = connection(input);
      const error = await conn.connect().then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(McpConnectionError);
      expect((error as McpConnectionError).code).toBe('connect_failed');
      expect((error as McpConnectionError).message).toMatch(TOO_LARGE);
      expect(conn.status).toBe('error');
    },
  );
});

describe('a 512 KiB tools/list with a 1 MiB limit', () => {
  it.each([
    ['stdio', undefined],
    ['streamable-http', 'json'],
    ['streamable-http', 'sse'],
    ['sse', undefined],
    ['websocket', undefined],
  ] as const)('is listed over %s (%s)', async (transport, answer) => {
    const bytes = 512 * 1024;
    let input: McpServerConfigInput;
    if (transport === 'stdio') {
      input = {
        transport,
        sandbox: { network: 'none' },
        command: process.execPath,
        args: [HOSTILE_STDIO],
        env: { HOSTILE_TOOLS_LIST_BYTES: String(bytes) },
      };
    } else {
      const server = await hostile(bytes, answer);
      const path = { 'streamable-http': '/mcp', sse: '/sse', websocket: '/ws' }[transport];
      const origin =
        transport === 'websocket' ? server.origin.replace('http', 'ws') : server.origin;
      input = { transport, url: `${origin}${path}` };
    }
    const conn = connection(input);
    await conn.connect();
    const tools = await conn.listTools();
    expect(tools.map((tool) => [tool.name, tool.description?.length])).toEqual([['huge', bytes]]);
  });
});

describe('boundedFetch', () => {
  /** A fetch answering `parts` (strings) as the body, with `contentType`. */
  const fetchOf =
    (contentType: string, parts: string[]): typeof fetch =>
    async () =>
      new Response(
        new ReadableStream({
          start(controller) {
            for (const part of parts) controller.enqueue(new TextEncoder().encode(part));
            controller.close();
          },
        }),
        { headers: { 'content-type': contentType } },
      );

  it('counts an event stream per event: many events below the limit pass', async () => {
    const event = `data: ${'x'.repeat(600)}\r\n\r\n`;
    const bounded = boundedFetch(fetchOf('text/event-stream', Array(10).fill(event)), {
      maxBytes: 1000,
    });
    expect(await (await bounded('http://x/')).text()).toBe(event.repeat(10));
  });

  it('refuses one event over the limit, whatever its line ends, and reports it once', async () => {
    for (const end of ['\n', '\r\n', '\r']) {
      const reported: McpMessageTooLargeError[] = [];
      const lines = Array.from({ length: 5 }, () => `data: ${'x'.repeat(300)}${end}`);
      const bounded = boundedFetch(fetchOf('text/event-stream', lines), {
        maxBytes: 1000,
        onTooLarge: (error) => reported.push(error),
      });
      await expect((await bounded('http://x/')).text()).rejects.toThrow(
        /larger than 1000 bytes.*MCP_MAX_MESSAGE_BYTES/,
      );
      expect(reported).toHaveLength(1);
    }
  });

  it('counts any other body whole', async () => {
    const ok = boundedFetch(fetchOf('application/json', ['{"a":', '"b"}']), { maxBytes: 9 });
    expect(await (await ok('http://x/')).json()).toEqual({ a: 'b' });
    const tooLarge = boundedFetch(fetchOf('application/json', ['{"a":', '"bc"}']), {
      maxBytes: 9,
    });
    await expect((await tooLarge('http://x/')).json()).rejects.toBeInstanceOf(
      McpMessageTooLargeError,
    );
  });
});

describe('BoundedLineReader', () => {
  it('splits lines across chunks and line ends, up to exactly the limit', () => {
    const lines: string[] = [];
    const reader = new BoundedLineReader(5);
    for (const chunk of ['ab', 'cde\r', '\nf\n', '12345\n', '67890\r', '\n']) {
      reader.append(Buffer.from(chunk), (line) => lines.push(line));
    }
    expect(lines).toEqual(['abcde', 'f', '12345', '67890']);
  });

  it('refuses a line over the limit before its end arrives, after the lines before it', () => {
    const lines: string[] = [];
    const reader = new BoundedLineReader(5);
    expect(() => reader.append(Buffer.from('ok\n123'), (line) => lines.push(line))).not.toThrow();
    expect(() => reader.append(Buffer.from('456'), (line) => lines.push(line))).toThrow(
      McpMessageTooLargeError,
    );
    expect(lines).toEqual(['ok']);
  });
});
