/**
 * The per-server gateway endpoint `/mcp/servers/<id>` (issue 15): the SDK's own client against
 * the API, with server-everything over Streamable HTTP as the user's servers. One server served
 * transparently (its tools after its filter, prompts and resources under their own names and
 * URIs, resource links unrewritten, calls audited), its tool policy and tool pinning applied, the
 * same 404 for a server outside the token's scopes, another user's and none at all, 403 for a
 * token without the gateway scope, a session bound to its path, the per-path RFC 9728 metadata,
 * `user-token` servers refused, a deleted server's session told and answering clearly, and the
 * server's log messages during a call relayed at the client's level. Runs on PGlite, or on
 * Postgres when `DATABASE_URL` is set.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { and, eq } from 'drizzle-orm';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import type { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import {
  LoggingMessageNotificationSchema,
  ToolListChangedNotificationSchema,
  type CallToolResult,
} from '@modelcontextprotocol/sdk/types.js';
import { generateToken, storeToken } from '../../../server/http/auth.js';
import type { DatabaseHandle } from '../../../shared/db/open.js';
import { toolCalls, type User } from '../../../shared/db/schema.js';
import { createServer, deleteServer } from '../../../shared/db/servers.js';
import {
  startChangingToolsMcpServer,
  type ChangingToolsMcpServer,
} from '../../helpers/changing-tools-mcp-server.js';
import { openTestDatabase } from '../../helpers/database.js';
import { gatewayCaller, startGatewayApi, type GatewayApi } from '../../helpers/gateway.js';
import type { TestServer } from '../../helpers/http.js';
import { startHttpMcpServer, type HttpMcpServer } from '../../helpers/http-mcp-server.js';
import {
  startEverythingHttpServer,
  type EverythingHttpServer,
} from '../../helpers/mcp-processes.js';

let database: DatabaseHandle;
let everything: EverythingHttpServer;
let drifty: ChangingToolsMcpServer;
let logging: HttpMcpServer;
let gateway: GatewayApi;
let api: TestServer;
let owner: { user: User; token: string };
let stranger: { user: User; token: string };
const ids: Record<string, number> = {};

const caller = () => gatewayCaller(database);

/** An SDK client connected to `path` of the API with `token`. */
function connect(token: string, path: string): Promise<Client> {
  return gateway.connect(token, { path, name: 'gateway-single-server-test' });
}

const serverPath = (id: number) => `/mcp/servers/${id}`;

/** A raw JSON-RPC POST to `path`: its status, `WWW-Authenticate` and JSON body. */
async function post(
  path: string,
  token: string | undefined,
  body: unknown,
  sessionId?: string,
): Promise<{ status: number; challenge: string | null; json: unknown }> {
  const res = await fetch(`${api.baseUrl}${path}`, {
    method: 'POST',
    headers: {
      ...(token ? { authorization: `Bearer ${token}` } : {}),
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
      ...(sessionId ? { 'mcp-session-id': sessionId, 'mcp-protocol-version': '2025-11-25' } : {}),
    },
    body: JSON.stringify(body),
  });
  const raw = await res.text();
  let json: unknown = raw;
  try {
    json = JSON.parse(raw);
  } catch {
    // An SSE answer stays text.
  }
  return { status: res.status, challenge: res.headers.get('www-authenticate'), json };
}

const INITIALIZE = {
  jsonrpc: '2.0',
  id: 1,
  method: 'initialize',
  params: {
    protocolVersion: '2025-11-25',
    capabilities: {},
    clientInfo: { name: 'raw', version: '1.0.0' },
  },
};

function text(result: CallToolResult): string {
  return result.content
    .filter((item) => item.type === 'text')
    .map((item) => (item as { text: string }).text)
    .join('\n');
}

beforeAll(async () => {
  database = await openTestDatabase();
  everything = await startEverythingHttpServer('streamableHttp');
  drifty = await startChangingToolsMcpServer();
  logging = await startHttpMcpServer({ logging: true });
  owner = await caller();
  stranger = await caller();
  const url = `${everything.origin}/mcp`;
  const make = async (key: string, values: Omit<Parameters<typeof createServer>[1], 'userId'>) => {
    ids[key] = (await createServer(database, { userId: owner.user.id, ...values })).id;
  };
  await make('main', {
    name: 'Everything',
    transport: 'streamable-http',
    url,
    toolFilter: { deny: ['get-tiny-image'] },
  });
  await make('other', { name: 'Other', transport: 'streamable-http', url });
  await make('confirming', {
    name: 'Confirming',
    transport: 'streamable-http',
    url,
    toolPolicy: { confirm: 'always' },
  });
  await make('userToken', {
    name: 'Forwarding',
    transport: 'streamable-http',
    url,
    auth: { type: 'user-token' },
  });
  ids.theirs = (
    await createServer(database, {
      userId: stranger.user.id,
      name: 'Theirs',
      transport: 'streamable-http',
      url,
    })
  ).id;
  gateway = await startGatewayApi(database);
  api = gateway.api;
}, 60_000);

afterAll(async () => {
  await gateway?.close();
  await drifty?.close();
  await logging?.close();
  await everything?.stop();
  await database?.close();
});

describe('the per-server gateway endpoint /mcp/servers/<id>', () => {
  it("lists one server's tools under their own names, after its filter, and calls them by those names", async () => {
    const aggregate = await connect(owner.token, '/mcp');
    const expected = (await aggregate.listTools()).tools
      .map((tool) => tool.name)
      .filter((name) => name.startsWith('everything__'))
      .map((name) => name.slice('everything__'.length))
      .sort();
    expect(expected).toContain('echo');
    expect(expected).not.toContain('get-tiny-image');

    const client = await connect(owner.token, serverPath(ids.main!));
    const { tools } = await client.listTools();
    expect(tools.map((tool) => tool.name).sort()).toEqual(expected);
    const echo = tools.find((tool) => tool.name === 'echo')!;
    expect(echo.inputSchema).toMatchObject({ properties: { message: { type: 'string' } } });
    expect(client.getServerVersion()?.name).toBe('switchboard');

    const result = (await client.callTool({
      name: 'echo',
      arguments: { message: 'bare name' },
    })) as CallToolResult;
    expect(text(result)).toContain('bare name');
    await expect(client.callTool({ name: 'get-tiny-image', arguments: {} })).rejects.toThrow(
      /Unknown tool: get-tiny-image/,
    );
    await expect(client.callTool({ name: 'everything__echo', arguments: {} })).rejects.toThrow(
      /Unknown tool/,
    );
    await vi.waitFor(async () => {
      const rows = await database.db
        .select()
        .from(toolCalls)
        .where(and(eq(toolCalls.serverId, ids.main!), eq(toolCalls.toolName, 'echo')));
      expect(rows).toHaveLength(1);
      expect(rows[0]).toMatchObject({ source: 'gateway', ok: true });
      expect(rows[0]!.sessionId).toBe(
        (client.transport as StreamableHTTPClientTransport).sessionId,
      );
    });
  });

  it('lists and reads resources and templates under their own URIs, and leaves resource links as they are', async () => {
    const client = await connect(owner.token, serverPath(ids.main!));
    const { resources } = await client.listResources();
    expect(resources.length).toBeGreaterThan(0);
    expect(resources.some((resource) => resource.uri.startsWith('switchboard:'))).toBe(false);
    const read = await client.readResource({ uri: resources[0]!.uri });
    expect(read.contents[0]!.uri).toBe(resources[0]!.uri);
    const { resourceTemplates } = await client.listResourceTemplates();
    expect(resourceTemplates.length).toBeGreaterThan(0);
    expect(resourceTemplates.every((t) => !t.uriTemplate.startsWith('switchboard:'))).toBe(true);

    const linked = (await client.callTool({
      name: 'get-resource-links',
      arguments: { count: 2 },
    })) as CallToolResult;
    const links = linked.content.filter((item) => item.type === 'resource_link');
    expect(links).toHaveLength(2);
    expect(links.every((link) => link.uri.startsWith('demo://'))).toBe(true);
    const back = await client.readResource({ uri: links[0]!.uri });
    expect(back.contents[0]!.uri).toBe(links[0]!.uri);
    await expect(
      client.readResource({ uri: `switchboard://server/${ids.main}/${links[0]!.uri}` }),
    ).rejects.toThrow();
  });

  it('lists and gets prompts under their own names', async () => {
    const client = await connect(owner.token, serverPath(ids.main!));
    const { prompts } = await client.listPrompts();
    const names = prompts.map((prompt) => prompt.name);
    expect(names).toContain('simple-prompt');
    expect(names.some((name) => name.includes('__'))).toBe(false);
    const got = await client.getPrompt({ name: 'simple-prompt' });
    expect(got.messages.length).toBeGreaterThan(0);
    await expect(client.getPrompt({ name: 'everything__simple-prompt' })).rejects.toThrow(
      /Unknown prompt/,
    );
  });

  it("applies the server's tool policy: a client that cannot confirm is refused", async () => {
    const client = await connect(owner.token, serverPath(ids.confirming!));
    const refused = (await client.callTool({
      name: 'echo',
      arguments: { message: 'unasked' },
    })) as CallToolResult;
    expect(refused.isError).toBe(true);
    expect(text(refused)).toMatch(/elicitation capability/);
  });

  it("answers the same 404 for a server outside the token's scopes, another user's, and none", async () => {
    const scoped = generateToken();
    await storeToken(database.db, owner.user.id, scoped, 'Only other', [
      'gateway',
      `server:${ids.other}`,
    ]);
    const outside = await post(serverPath(ids.main!), scoped, INITIALIZE);
    const theirs = await post(serverPath(ids.theirs!), owner.token, INITIALIZE);
    const none = await post(serverPath(999_999), owner.token, INITIALIZE);
    expect(outside.status).toBe(404);
    expect(theirs.status).toBe(404);
    expect(none.status).toBe(404);
    // Nothing tells them apart but the id in the path.
    const redact = (json: unknown, id: number) =>
      JSON.stringify(json).replaceAll(`/mcp/servers/${id}`, '/mcp/servers/<id>');
    expect(redact(outside.json, ids.main!)).toBe(redact(none.json, 999_999));
    expect(redact(theirs.json, ids.theirs!)).toBe(redact(none.json, 999_999));
    expect(JSON.stringify(theirs.json)).not.toMatch(/Theirs/);
    // Not a server id at all.
    expect((await post('/mcp/servers/abc', owner.token, INITIALIZE)).status).toBe(404);
    // The scoped token reaches its own server.
    const allowed = await connect(scoped, serverPath(ids.other!));
    expect((await allowed.listTools()).tools.map((tool) => tool.name)).toContain('echo');
  });

  it('answers 403 insufficient_scope to a token without the gateway scope, as /mcp does', async () => {
    const token = generateToken();
    await storeToken(database.db, owner.user.id, token, 'REST only', ['api']);
    const refused = await post(serverPath(ids.main!), token, INITIALIZE);
    expect(refused.status).toBe(403);
    expect(refused.challenge).toMatch(/error="insufficient_scope"/);
  });

  it('refuses a user-token server, saying why', async () => {
    const refused = await post(serverPath(ids.userToken!), owner.token, INITIALIZE);
    expect(refused.status).toBe(404);
    expect(JSON.stringify(refused.json)).toMatch(/user-token/);
  });

  it('binds a session to the path that opened it', async () => {
    const client = await connect(owner.token, serverPath(ids.main!));
    const sessionId = (client.transport as StreamableHTTPClientTransport).sessionId!;
    const list = { jsonrpc: '2.0', id: 2, method: 'tools/list' };
    expect((await post('/mcp', owner.token, list, sessionId)).status).toBe(404);
    expect((await post(serverPath(ids.other!), owner.token, list, sessionId)).status).toBe(404);
    expect((await post(serverPath(ids.main!), owner.token, list, sessionId)).status).toBe(200);
    // And the other way round: an aggregate session is unknown on a per-server path.
    const aggregate = await connect(owner.token, '/mcp');
    const aggregateId = (aggregate.transport as StreamableHTTPClientTransport).sessionId!;
    expect((await post(serverPath(ids.main!), owner.token, list, aggregateId)).status).toBe(404);
  });

  it('answers 401 naming the per-path RFC 9728 metadata, which names the per-server resource', async () => {
    const refused = await post(serverPath(ids.main!), undefined, INITIALIZE);
    expect(refused.status).toBe(401);
    const metadataUrl = /resource_metadata="([^"]+)"/.exec(refused.challenge ?? '')?.[1];
    expect(metadataUrl).toBe(
      `http://127.0.0.1:3000/.well-known/oauth-protected-resource/mcp/servers/${ids.main}`,
    );
    const metadata = await fetch(`${api.baseUrl}${new URL(metadataUrl!).pathname}`);
    expect(metadata.status).toBe(200);
    expect(await metadata.json()).toMatchObject({
      resource: `http://127.0.0.1:3000/mcp/servers/${ids.main}`,
      bearer_methods_supported: ['header'],
      resource_documentation: expect.stringContaining('/dashboard/'),
    });
    // The aggregate endpoint keeps its own.
    const aggregate = await post('/mcp', undefined, INITIALIZE);
    expect(aggregate.challenge).toContain(
      'resource_metadata="http://127.0.0.1:3000/.well-known/oauth-protected-resource/mcp"',
    );
  });

  it('withholds a tool that changed since it was approved (tool pinning)', async () => {
    const server = await createServer(database, {
      userId: owner.user.id,
      name: 'Drifty',
      transport: 'streamable-http',
      url: drifty.url,
    });
    const client = await connect(owner.token, serverPath(server.id));
    const names = async () => (await client.listTools()).tools.map((tool) => tool.name).sort();
    expect(await names()).toEqual(['echo']);
    const changed = vi.fn();
    client.setNotificationHandler(ToolListChangedNotificationSchema, changed);
    drifty.change();
    await vi.waitFor(() => expect(changed).toHaveBeenCalled(), { timeout: 15_000 });
    await vi.waitFor(
      async () => {
        await expect(client.callTool({ name: 'shout', arguments: { text: 'x' } })).rejects.toThrow(
          'shout is withheld: it is new on Drifty',
        );
      },
      { timeout: 15_000 },
    );
    expect(await names()).toEqual([]);
  });

  it('tells the session when its server is deleted, and then answers calls clearly', async () => {
    const doomed = await createServer(database, {
      userId: owner.user.id,
      name: 'Doomed',
      transport: 'streamable-http',
      url: `${everything.origin}/mcp`,
    });
    const client = await connect(owner.token, serverPath(doomed.id));
    expect((await client.listTools()).tools.map((tool) => tool.name)).toContain('echo');
    const changed = vi.fn();
    client.setNotificationHandler(ToolListChangedNotificationSchema, changed);
    await deleteServer(database.db, owner.user.id, doomed.id);
    await vi.waitFor(
      async () => {
        expect(changed).toHaveBeenCalled();
        expect((await client.listTools()).tools).toEqual([]);
      },
      { timeout: 15_000 },
    );
    await expect(client.callTool({ name: 'echo', arguments: { message: 'gone' } })).rejects.toThrow(
      /Unknown tool: echo: the server \d+ is no longer served.*deleted/,
    );
    // A new session on it is a plain 404.
    expect((await post(serverPath(doomed.id), owner.token, INITIALIZE)).status).toBe(404);
  });

  it("relays the server's log messages during a call to the client, at the level it set", async () => {
    const server = await createServer(database, {
      userId: owner.user.id,
      name: 'Chatty',
      transport: 'streamable-http',
      url: logging.url,
    });
    const client = await connect(owner.token, serverPath(server.id));
    expect(client.getServerCapabilities()?.logging).toEqual({});
    const messages: unknown[] = [];
    client.setNotificationHandler(LoggingMessageNotificationSchema, (note) => {
      messages.push(note.params);
    });
    await client.setLoggingLevel('info');
    const result = (await client.callTool({
      name: 'log-and-echo',
      arguments: { message: 'hi' },
    })) as CallToolResult;
    expect(text(result)).toBe('Echo: hi');
    // Related to the call, so on its stream, before its result.
    expect(messages).toEqual([
      { level: 'info', logger: 'fixture', data: 'info: hi' },
      { level: 'warning', logger: 'fixture', data: 'warning: hi' },
    ]);
  });
});
