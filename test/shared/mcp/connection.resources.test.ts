/**
 * Resources over a connection (MCP spec 2025-11-25, "Resources"): listing, templates and reads on
 * the real server-everything, through the same error mapping, timeout and message-size guard as
 * tool calls, on `McpConnection` and on the `SupervisedConnection` a session uses.
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createLogger } from '../../../shared/logger.js';
import type { ConnectionInfo, McpConnection } from '../../../shared/mcp/connection.js';
import { McpConnectionError } from '../../../shared/mcp/errors.js';
import type { McpServerConfig } from '../../../shared/mcp/server-config.js';
import type { SupervisedConnection } from '../../../shared/mcp/supervised-connection.js';
import { EVERYTHING_BIN, FIXTURE_SERVER_ARGS } from '../../helpers/mcp-processes.js';
import { sandboxedConnection, sandboxedSupervisedConnection } from '../../helpers/sandboxed.js';

const logger = createLogger({ level: 'silent' });
const stdio = (command: string, args: string[]): McpServerConfig => ({
  transport: 'stdio',
  sandbox: { network: 'none' },
  command,
  args,
  env: {},
  timeoutMs: 20_000,
});
const everything = stdio(process.execPath, [EVERYTHING_BIN, 'stdio']);
const fixture = stdio(process.execPath, FIXTURE_SERVER_ARGS);
const DOCS = join(dirname(EVERYTHING_BIN), 'docs');
const FEATURES_URI = 'demo://resource/static/document/features.md';

const supervised: SupervisedConnection[] = [];
const plain: McpConnection[] = [];

afterEach(async () => {
  await Promise.all(supervised.splice(0).map((connection) => connection.close()));
  await Promise.all(plain.splice(0).map((connection) => connection.close()));
});

async function supervise(config: McpServerConfig) {
  const connected: ConnectionInfo[] = [];
  const connection = sandboxedSupervisedConnection(config, {
    logger,
    label: 'Everything',
    policy: { intervalMs: 3_600_000 },
  });
  connection.onConnected((info) => connected.push(info));
  supervised.push(connection);
  expect(await connection.start()).toBe(true);
  return { connection, connected };
}

async function failure(promise: Promise<unknown>): Promise<McpConnectionError> {
  const error = await promise.then(
    () => undefined,
    (thrown: unknown) => thrown,
  );
  expect(error).toBeInstanceOf(McpConnectionError);
  return error as McpConnectionError;
}

describe('resources on a supervised connection', () => {
  it("lists server-everything's documents and templates, and reads both kinds", async () => {
    const { connection, connected } = await supervise(everything);
    expect(connected).toHaveLength(1);
    expect(connected[0]!.capabilities?.resources).toBeDefined();

    const resources = await connection.listResources();
    expect(resources).toContainEqual(
      expect.objectContaining({
        uri: FEATURES_URI,
        name: 'features.md',
        mimeType: 'text/markdown',
      }),
    );
    expect(await connection.listResources(2)).toHaveLength(2);

    const templates = await connection.listResourceTemplates();
    expect(templates.map((template) => template.uriTemplate).sort()).toEqual([
      'demo://resource/dynamic/blob/{resourceId}',
      'demo://resource/dynamic/text/{resourceId}',
    ]);

    const read = await connection.readResource(FEATURES_URI);
    expect(read.contents).toEqual([
      {
        uri: FEATURES_URI,
        mimeType: 'text/markdown',
        text: readFileSync(join(DOCS, 'features.md'), 'utf8'),
      },
    ]);
    const blob = await connection.readResource('demo://resource/dynamic/blob/3');
    const [item] = blob.contents as Array<{ blob: string }>;
    expect(Buffer.from(item!.blob, 'base64').toString()).toMatch(/^Resource 3: /);
  });

  it('maps an unknown address to request_failed and a cancelled read to cancelled', async () => {
    const { connection } = await supervise(everything);

    const unknown = await failure(connection.readResource('demo://resource/dynamic/text/0'));
    expect(unknown.code).toBe('request_failed');
    expect(unknown.message).toContain('demo://resource/dynamic/text/0');

    const controller = new AbortController();
    controller.abort();
    const cancelled = await failure(connection.readResource(FEATURES_URI, controller));
    expect(cancelled.code).toBe('cancelled');
    // The connection is still good for the next read.
    expect((await connection.readResource(FEATURES_URI)).contents).toHaveLength(1);
  });

  it('fails with request_failed on a server without the resources capability', async () => {
    const { connection, connected } = await supervise(fixture);
    expect(connected[0]!.capabilities?.resources).toBeUndefined();
    expect((await failure(connection.listResources())).code).toBe('request_failed');
  });

  it('fails fast while the server is down, as a tool call does', async () => {
    const connection = sandboxedSupervisedConnection(
      stdio('switchboard-test-command-that-does-not-exist', []),
      { logger, label: 'Gone', random: () => 0.5, policy: { backoffBaseMs: 600_000 } },
    );
    supervised.push(connection);
    expect(await connection.start()).toBe(false);
    expect((await failure(connection.readResource(FEATURES_URI))).code).toBe('unavailable');
  });
});

describe('resources on a bare connection', () => {
  it('refuses a resource larger than MCP_MAX_MESSAGE_BYTES, naming the limit', async () => {
    const connection = sandboxedConnection(everything, { logger, maxMessageBytes: 8_192 });
    plain.push(connection);
    await connection.connect();
    expect(readFileSync(join(DOCS, 'features.md')).length).toBeGreaterThan(8_192);

    const error = await failure(connection.readResource(FEATURES_URI));
    expect(error.message).toMatch(/larger than 8192 bytes, the limit \(MCP_MAX_MESSAGE_BYTES\)/);
  });
});
