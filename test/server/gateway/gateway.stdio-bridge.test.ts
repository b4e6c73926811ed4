/**
 * The whole path a stdio-only desktop client takes (issue 15): the SDK's `StdioClientTransport`
 * launches `cli/gateway/bin.mjs` (the command the README gives), which bridges to the API's real
 * `/mcp` with a gateway-only token, and through it to a real upstream server. Runs on PGlite, or
 * on Postgres when `DATABASE_URL` is set.
 */
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { generateToken, storeToken } from '../../../server/http/auth.js';
import type { DatabaseHandle } from '../../../shared/db/open.js';
import { createServer } from '../../../shared/db/servers.js';
import { createTestUser, openTestDatabase } from '../../helpers/database.js';
import { startGatewayApi, type GatewayApi } from '../../helpers/gateway.js';
import {
  startManyToolsMcpServer,
  type ManyToolsMcpServer,
} from '../../helpers/many-tools-mcp-server.js';
import { REPO_ROOT } from '../../helpers/mcp-processes.js';

let database: DatabaseHandle;
let upstream: ManyToolsMcpServer;
let gateway: GatewayApi;
let client: Client | undefined;

beforeAll(async () => {
  database = await openTestDatabase();
  upstream = await startManyToolsMcpServer(1, 3);
  gateway = await startGatewayApi(database, { guards: {} });
});

afterAll(async () => {
  await client?.close();
  await gateway?.close();
  await upstream?.close();
  await database?.close();
});

describe('a stdio client through cli/gateway to /mcp', () => {
  it('lists and calls the user’s tools with a gateway-only token', async () => {
    const user = await createTestUser(database);
    const token = generateToken();
    await storeToken(database.db, user.id, token, 'Desktop', ['gateway']);
    await createServer(database, {
      userId: user.id,
      name: 'Ledger',
      transport: 'streamable-http',
      url: upstream.urlOf(0),
    });
    client = new Client({ name: 'desktop', version: '1.0.0' });
    await client.connect(
      new StdioClientTransport({
        command: process.execPath,
        args: [path.join(REPO_ROOT, 'cli/gateway/bin.mjs')],
        env: {
          PATH: process.env.PATH ?? '',
          SWITCHBOARD_TOKEN: token,
          SWITCHBOARD_URL: gateway.api.baseUrl,
        },
        stderr: 'pipe',
      }),
    );
    const { tools } = await client.listTools();
    expect(tools.map((tool) => tool.name)).toEqual([
      'ledger__step_0',
      'ledger__step_1',
      'ledger__forecast_weather',
    ]);
    const result = (await client.callTool({
      name: 'ledger__forecast_weather',
      arguments: { city: 'Oslo' },
    })) as CallToolResult;
    expect(result.content[0]).toMatchObject({
      type: 'text',
      text: '0/forecast_weather: {"city":"Oslo"}',
    });
    expect(upstream.calls).toContain('0/forecast_weather');
  });
});
