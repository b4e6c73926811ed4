/**
 * Tool pinning in the MCP gateway (issue 16): a server's tools are pinned the first time the
 * gateway lists them; when the server changes a tool and adds one mid-session
 * (`notifications/tools/list_changed`), neither is listed nor callable through `/mcp` (a call says
 * why, naming none of the server's new text); once approved through the API, both are listed and
 * callable in the same gateway session, over the same upstream MCP session. Runs on PGlite, or on
 * Postgres when `DATABASE_URL` is set.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import {
  ToolListChangedNotificationSchema,
  type CallToolResult,
} from '@modelcontextprotocol/sdk/types.js';
import { eq } from 'drizzle-orm';
import type { DatabaseHandle } from '../../../shared/db/open.js';
import { toolPins } from '../../../shared/db/schema.js';
import { createServer } from '../../../shared/db/servers.js';
import {
  startChangingToolsMcpServer,
  type ChangingToolsMcpServer,
} from '../../helpers/changing-tools-mcp-server.js';
import { openTestDatabase } from '../../helpers/database.js';
import { gatewayCaller, startGatewayApi, type GatewayApi } from '../../helpers/gateway.js';

let database: DatabaseHandle;
let mcp: ChangingToolsMcpServer;
let gateway: GatewayApi;

beforeAll(async () => {
  database = await openTestDatabase();
  mcp = await startChangingToolsMcpServer();
  gateway = await startGatewayApi(database);
});

afterAll(async () => {
  await gateway?.close();
  await mcp?.close();
  await database?.close();
});

function text(result: CallToolResult): string {
  return result.content
    .filter((item) => item.type === 'text')
    .map((item) => (item as { text: string }).text)
    .join('\n');
}

describe('tool pinning in the MCP gateway', () => {
  it('neither lists nor calls a changed or new tool until it is approved, then does at once', async () => {
    const { user, token } = await gatewayCaller(database);
    const server = await createServer(database, {
      userId: user.id,
      name: 'Drifty',
      transport: 'streamable-http',
      url: mcp.url,
    });
    const client = await gateway.connect(token, { name: 'gateway-pinning-test' });
    const names = async () => (await client.listTools()).tools.map((tool) => tool.name).sort();

    // First sight: the gateway pins the server's tool and lists it.
    expect(await names()).toEqual(['drifty__echo']);
    const pins = await database.db.select().from(toolPins).where(eq(toolPins.serverId, server.id));
    expect(pins.map((pin) => pin.toolName)).toEqual(['echo']);
    expect(
      text(
        (await client.callTool({
          name: 'drifty__echo',
          arguments: { message: 'a' },
        })) as CallToolResult,
      ),
    ).toBe('Echo: a');
    const upstreamSession = mcp.calls.at(-1)!.sessionId;

    // The server rewrites echo and adds shout mid-session.
    const changed = vi.fn();
    client.setNotificationHandler(ToolListChangedNotificationSchema, changed);
    mcp.change();
    await vi.waitFor(() => expect(changed).toHaveBeenCalled(), { timeout: 15_000 });
    // Both withheld: not listed (the calls below say why, so the empty list is not an upstream
    // gone quiet).
    expect(await names()).toEqual([]);
    for (const [name, why] of [
      [
        'drifty__echo',
        'it changed since it was approved (its description and its inputs (1 added) changed)',
      ],
      ['drifty__shout', 'it is new on Drifty since its tools were approved'],
    ] as const) {
      // Each change comes with its own list_changed: wait until the upstream listed both.
      await vi.waitFor(
        async () => {
          const refused = client.callTool({ name, arguments: { message: 'b', text: 'b' } });
          await expect(refused).rejects.toThrow(`${name} is withheld: ${why}`);
          await expect(refused).rejects.toThrow(`/api/mcp/servers/${server.id}/tools/approve`);
          await expect(refused).rejects.not.toThrow(/passwords/);
        },
        { timeout: 15_000 },
      );
    }
    expect(await names()).toEqual([]);
    expect(mcp.calls.map((call) => call.tool)).toEqual(['echo']);

    // Approved through the API: the same gateway session lists and calls both.
    changed.mockClear();
    const approved = await gateway.api.request(
      'POST',
      `/api/mcp/servers/${server.id}/tools/approve`,
      {
        token,
        body: { tools: ['echo', 'shout'] },
      },
    );
    expect(approved.status).toBe(200);
    await vi.waitFor(() => expect(changed).toHaveBeenCalled(), { timeout: 15_000 });
    expect(await names()).toEqual(['drifty__echo', 'drifty__shout']);
    const listedEcho = (await client.listTools()).tools.find(
      (tool) => tool.name === 'drifty__echo',
    );
    expect(listedEcho?.description).toContain('passwords');
    expect(
      text(
        (await client.callTool({
          name: 'drifty__shout',
          arguments: { text: 'hey' },
        })) as CallToolResult,
      ),
    ).toBe('HEY!');
    expect(
      text(
        (await client.callTool({
          name: 'drifty__echo',
          arguments: { message: 'c', loud: true },
        })) as CallToolResult,
      ),
    ).toBe('Echo: C');
    // The upstream connection was not replaced.
    expect(mcp.calls.slice(-2)).toEqual([
      { tool: 'shout', sessionId: upstreamSession },
      { tool: 'echo', sessionId: upstreamSession },
    ]);
  });
});
