import { SUPPORTED_PROTOCOL_VERSIONS } from '@modelcontextprotocol/sdk/types.js';
/**
 * McpConnection against real servers: server-everything over stdio, SSE and Streamable HTTP,
 * and the WebSocket test server.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../../shared/logger.js';
import type { McpConnection } from '../../../shared/mcp/index.js';
import {
  McpConnectionError,
  advertiseTools,
  mcpServerConfigSchema,
  toolResultToText,
  type McpServerConfigInput,
} from '../../../shared/mcp/index.js';
import {
  EVERYTHING_BIN,
  freePort,
  startEverythingHttpServer,
  type EverythingHttpServer,
} from '../../helpers/mcp-processes.js';
import {
  WEBSOCKET_TEST_SERVER_NAME,
  startWebSocketMcpServer,
  type WebSocketMcpTestServer,
} from '../../helpers/websocket-mcp-server.js';
import { sandboxedConnection } from '../../helpers/sandboxed.js';

const logger = createLogger({ level: 'silent' });
const EVERYTHING_NAME = 'mcp-servers/everything';

let sseServer: EverythingHttpServer;
let streamableServer: EverythingHttpServer;
let wsServer: WebSocketMcpTestServer;
/** An origin whose port was just released, so nothing listens there. */
const open: McpConnection[] = [];

function connection(input: McpServerConfigInput): McpConnection {
  const created = sandboxedConnection(mcpServerConfigSchema.parse(input), { logger });
  open.push(created);
  return created;
}

beforeAll(async () => {
  [sseServer, streamableServer, wsServer] = await Promise.all([
    startEverythingHttpServer('sse'),
    startEverythingHttpServer('streamableHttp'),
    startWebSocketMcpServer({ authorization: 'Bearer secret', 'x-tenant': 'blue' }),
  ]);
});

afterEach(async () => {
  await Promise.all(open.splice(0).map((c) => c.close()));
});

afterAll(async () => {
  await Promise.all([sseServer?.stop(), streamableServer?.stop(), wsServer?.close()]);
});

interface TransportCase {
  name: string;
  config: () => McpServerConfigInput;
  serverName: string;
  transport: string;
}

const cases: TransportCase[] = [
  {
    name: 'stdio',
    config: () => ({
      transport: 'stdio',
      sandbox: { network: 'none' },
      command: process.execPath,
      args: [EVERYTHING_BIN, 'stdio'],
    }),
    serverName: EVERYTHING_NAME,
    transport: 'stdio',
  },
  {
    name: 'SSE',
    config: () => ({ transport: 'sse', url: `${sseServer.origin}/sse` }),
    serverName: EVERYTHING_NAME,
    transport: 'sse',
  },
  {
    name: 'Streamable HTTP',
    config: () => ({ transport: 'streamable-http', url: `${streamableServer.origin}/mcp` }),
    serverName: EVERYTHING_NAME,
    transport: 'streamable-http',
  },
  {
    name: 'WebSocket',
    config: () => ({
      transport: 'websocket',
      url: wsServer.url,
      apiKey: 'secret',
      headers: { 'X-Tenant': 'blue' },
    }),
    serverName: WEBSOCKET_TEST_SERVER_NAME,
    transport: 'websocket',
  },
];

describe.each(cases)('McpConnection over $name', ({ config, serverName, transport }) => {
  it('connects, lists and calls tools, pings, and closes', async () => {
    const statuses: string[] = [];
    const conn = sandboxedConnection(mcpServerConfigSchema.parse(config()), {
      logger,
      onStatusChange: (status) => statuses.push(status),
    });
    open.push(conn);

    const info = await conn.connect();
    expect(info.serverInfo?.name).toBe(serverName);
    expect(info.transport).toBe(transport);
    expect(SUPPORTED_PROTOCOL_VERSIONS).toContain(info.protocolVersion);
    expect(conn.info).toEqual(info);
    expect(conn.status).toBe('connected');

    const tools = await conn.listTools();
    expect(tools.map((tool) => tool.name)).toContain('echo');
    expect(conn.tools).toEqual(tools);

    const result = await conn.callTool('echo', { message: 'hello switchboard' });
    expect(toolResultToText(result)).toEqual({ text: 'Echo: hello switchboard', isError: false });

    await expect(conn.ping()).resolves.toBeGreaterThanOrEqual(0);

    await conn.close();
    expect(conn.status).toBe('disconnected');
    expect(statuses).toEqual(['connecting', 'connected', 'disconnected']);
    await expect(conn.callTool('echo', { message: 'again' })).rejects.toMatchObject({
      code: 'not_connected',
    });
  });
});

describe('McpConnection over Streamable HTTP, with an HTTP+SSE-only server', () => {
  it('falls back to the HTTP+SSE transport when the POST is refused with a 4xx', async () => {
    const conn = connection({ transport: 'streamable-http', url: `${sseServer.origin}/sse` });

    const info = await conn.connect();

    expect(info.transport).toBe('sse');
    expect(info.serverInfo?.name).toBe(EVERYTHING_NAME);
    const result = await conn.callTool('echo', { message: 'via sse' });
    expect(toolResultToText(result).text).toBe('Echo: via sse');
  });
});

describe('McpConnection over WebSocket, with a server that requires credentials', () => {
  it('sends the api key as a bearer token and the custom headers with the upgrade', async () => {
    const before = wsServer.acceptedHeaders.length;
    const conn = connection({
      transport: 'websocket',
      url: wsServer.url,
      apiKey: 'secret',
      headers: { 'X-Tenant': 'blue' },
    });

    await conn.connect();

    const accepted = wsServer.acceptedHeaders.slice(before);
    expect(accepted).toHaveLength(1);
    expect(accepted[0]).toMatchObject({ authorization: 'Bearer secret', 'x-tenant': 'blue' });
  });

  it('fails with connect_failed naming the refusal when the api key is missing', async () => {
    const conn = connection({
      transport: 'websocket',
      url: wsServer.url,
      headers: { 'X-Tenant': 'blue' },
    });

    const failure = await conn.connect().catch((error: unknown) => error);

    expect(failure).toBeInstanceOf(McpConnectionError);
    expect(failure).toMatchObject({
      code: 'connect_failed',
      message: expect.stringContaining('401'),
    });
    expect(conn.status).toBe('error');
    expect(conn.lastError).toBe(failure);
  });
});

describe('McpConnection over WebSocket, when the server drops the socket', () => {
  it('reports connection_lost, then refuses calls with not_connected', async () => {
    let lost!: (error?: McpConnectionError) => void;
    const lostError = new Promise<McpConnectionError | undefined>((resolve) => (lost = resolve));
    const conn = sandboxedConnection(
      mcpServerConfigSchema.parse({
        transport: 'websocket',
        url: wsServer.url,
        apiKey: 'secret',
        headers: { 'X-Tenant': 'blue' },
      }),
      { logger, onStatusChange: (status, error) => status === 'error' && lost(error) },
    );
    open.push(conn);
    await conn.connect();

    wsServer.dropConnections();

    expect(await lostError).toMatchObject({ code: 'connection_lost' });
    expect(conn.status).toBe('error');
    await expect(conn.callTool('echo', { message: 'hello?' })).rejects.toMatchObject({
      code: 'not_connected',
    });
  });
});

describe('McpConnection to an address where nothing listens', () => {
  it('fails with connect_failed and the network error', async () => {
    const conn = connection({
      transport: 'streamable-http',
      url: `http://127.0.0.1:${await freePort()}/mcp`,
    });

    const failure = await conn.connect().catch((error: unknown) => error);

    expect(failure).toBeInstanceOf(McpConnectionError);
    expect(failure).toMatchObject({
      code: 'connect_failed',
      message: expect.stringContaining('ECONNREFUSED'),
    });
    expect(conn.status).toBe('error');
  });
});

describe('McpConnection results from server-everything', () => {
  let conn: McpConnection;

  beforeAll(async () => {
    conn = sandboxedConnection(
      mcpServerConfigSchema.parse({
        transport: 'streamable-http',
        url: `${streamableServer.origin}/mcp`,
      }),
      { logger },
    );
    await conn.connect();
  });

  afterAll(async () => {
    await conn?.close();
  });

  it('advertises every tool under a model-valid name without annotations or _meta', async () => {
    const tools = await conn.listTools();
    expect(tools.some((tool) => tool.annotations !== undefined)).toBe(true);

    const advertised = advertiseTools('Everything', tools);

    expect(advertised.map((tool) => tool.originalName)).toEqual(tools.map((tool) => tool.name));
    for (const tool of advertised) expect(tool.name).toMatch(/^[a-zA-Z0-9_-]{1,64}$/);
    expect(new Set(advertised.map((tool) => tool.name)).size).toBe(tools.length);
    for (const tool of advertised) {
      expect(Object.keys(tool).sort()).toEqual([
        'description',
        'name',
        'originalName',
        'parameters',
      ]);
    }
    const json = JSON.stringify(advertised);
    expect(json).not.toContain('"annotations"');
    expect(json).not.toContain('"readOnlyHint"');
    expect(json).not.toContain('"_meta"');
  });

  it('describes the image of get-tiny-image by MIME type and size between its text parts', async () => {
    const result = await conn.callTool('get-tiny-image', {});

    const { text, isError } = toolResultToText(result);

    expect(isError).toBe(false);
    expect(text.split('\n')).toEqual([
      "Here's the image you requested:",
      expect.stringMatching(/^\[image: image\/png, \d+\.\d KB\]$/),
      'The image above is the MCP logo.',
    ]);
  });

  it('gives the URI and text of the embedded resource of get-resource-reference', async () => {
    const result = await conn.callTool('get-resource-reference', {
      resourceType: 'Text',
      resourceId: 2,
    });

    const { text } = toolResultToText(result);

    expect(text).toContain('[resource: demo://resource/dynamic/text/2, text/plain]');
    expect(text).toContain('Resource 2: This is a plaintext resource');
  });

  it('describes a binary embedded resource by URI and size', async () => {
    const result = await conn.callTool('get-resource-reference', { resourceType: 'Blob' });

    expect(toolResultToText(result).text).toMatch(
      /\[resource: demo:\/\/resource\/dynamic\/blob\/1, [^\]]*\d+ B binary\]/,
    );
  });
});
