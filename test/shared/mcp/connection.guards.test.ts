/**
 * McpConnection refuses forbidden targets at connect time, before anything is sent or spawned:
 * URLs after DNS resolution (`urlPolicy`) and stdio commands off the allow list
 * (`allowedCommands`).
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../../shared/logger.js';
import type { McpConnection } from '../../../shared/mcp/index.js';
import {
  McpConnectionError,
  mcpServerConfigSchema,
  type McpConnectionOptions,
  type McpServerConfigInput,
} from '../../../shared/mcp/index.js';
import { startHttpMcpServer, type HttpMcpServer } from '../../helpers/http-mcp-server.js';
import { TINY_SERVER_PATH } from '../../helpers/mcp-processes.js';
import { sandboxedConnection } from '../../helpers/sandboxed.js';

const logger = createLogger({ level: 'silent' });
const STRICT = { allowPrivateNetworks: false };
let server: HttpMcpServer;
const open: McpConnection[] = [];

function connection(
  input: McpServerConfigInput,
  options: Omit<McpConnectionOptions, 'logger'> = {},
): McpConnection {
  const created = sandboxedConnection(mcpServerConfigSchema.parse(input), { logger, ...options });
  open.push(created);
  return created;
}

async function connectError(conn: McpConnection): Promise<McpConnectionError> {
  const error = await conn.connect().then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(McpConnectionError);
  return error as McpConnectionError;
}

beforeAll(async () => {
  server = await startHttpMcpServer();
});

afterEach(async () => {
  await Promise.all(open.splice(0).map((c) => c.close()));
});

afterAll(async () => {
  await server?.close();
});

describe('urlPolicy', () => {
  it('refuses a loopback host name when private networks are off, sending nothing', async () => {
    const url = server.url.replace('127.0.0.1', 'localhost');
    const conn = connection({ transport: 'streamable-http', url }, { urlPolicy: STRICT });
    const error = await connectError(conn);
    expect(error.code).toBe('connect_failed');
    expect(error.message).toMatch(/localhost is a loopback host name/);
    expect(conn.status).toBe('error');
    expect(server.requests).toHaveLength(0);
  });

  it('refuses a name that resolves to a private address, after resolution', async () => {
    const url = server.url.replace('127.0.0.1', 'mcp.internal.test');
    const resolve = async () => [{ address: '127.0.0.1' }];
    const conn = connection(
      { transport: 'streamable-http', url },
      { urlPolicy: { ...STRICT, resolve } },
    );
    const error = await connectError(conn);
    expect(error.message).toMatch(/mcp\.internal\.test resolves to 127\.0\.0\.1 is a loopback/);
    expect(server.requests).toHaveLength(0);
  });

  it('refuses the metadata address on every remote transport, even with private networks on', async () => {
    for (const [transport, url] of [
      ['streamable-http', 'http://169.254.169.254/mcp'],
      ['sse', 'http://[::ffff:169.254.169.254]/sse'],
      ['websocket', 'ws://169.254.169.254/ws'],
    ] as const) {
      const conn = connection({ transport, url }, { urlPolicy: { allowPrivateNetworks: true } });
      const error = await connectError(conn);
      expect(error.message, transport).toMatch(/is a cloud metadata address/);
    }
  });

  it('refuses the metadata address by default (no policy given)', async () => {
    const error = await connectError(
      connection({ transport: 'streamable-http', url: 'http://metadata.google.internal/' }),
    );
    expect(error.message).toMatch(/cloud metadata host name/);
  });

  it('connects to a private address when private networks are allowed', async () => {
    const conn = connection(
      { transport: 'streamable-http', url: server.url },
      { urlPolicy: { allowPrivateNetworks: true } },
    );
    await expect(conn.connect()).resolves.toMatchObject({ transport: 'streamable-http' });
  });
});

describe('allowedCommands', () => {
  it('refuses a stdio command off the allow list without starting it, naming the list', async () => {
    const conn = connection(
      { transport: 'stdio', command: 'switchboard-not-allowed', args: [] },
      { allowedCommands: ['node', 'npx'] },
    );
    const error = await connectError(conn);
    expect(error.message).toMatch(
      /"switchboard-not-allowed" is not allowed: stdio commands must be on MCP_STDIO_ALLOWED_COMMANDS \(node, npx\)/,
    );
    expect(conn.pid).toBeNull();
  });

  it('runs a command whose base name is on the list', async () => {
    const conn = connection(
      {
        transport: 'stdio',
        sandbox: { network: 'none' },
        command: process.execPath,
        args: [TINY_SERVER_PATH],
      },
      { allowedCommands: ['node'] },
    );
    await expect(conn.connect()).resolves.toMatchObject({ transport: 'stdio' });
  });
});
