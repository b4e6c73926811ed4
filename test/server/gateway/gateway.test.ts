/**
 * Switchboard as an MCP server (issue 15): the SDK's own client against the API's `/mcp`, with
 * real upstream servers (server-everything over Streamable HTTP and over stdio in the sandbox).
 * Lists, calls on both transports, progress, cancellation, list-changed after a server is added
 * mid-session, confirmation through elicitation (and the refusal without it), resources and
 * prompts aggregated and read, the audit rows, the 401 with its RFC 9728 metadata, DNS-rebinding
 * protection, and one user seeing nothing of another's. Runs on PGlite, or on Postgres when
 * `DATABASE_URL` is set.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { and, eq } from 'drizzle-orm';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import type { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import {
  ElicitRequestSchema,
  ToolListChangedNotificationSchema,
  type CallToolResult,
} from '@modelcontextprotocol/sdk/types.js';
import { generateToken, storeToken } from '../../../server/http/auth.js';
import type { DatabaseHandle } from '../../../shared/db/open.js';
import { toolCalls, type User } from '../../../shared/db/schema.js';
import { createServer, updateServer } from '../../../shared/db/servers.js';
import { openTestDatabase } from '../../helpers/database.js';
import { gatewayCaller, startGatewayApi, type GatewayApi } from '../../helpers/gateway.js';
import type { TestServer } from '../../helpers/http.js';
import {
  EVERYTHING_BIN,
  startEverythingHttpServer,
  type EverythingHttpServer,
} from '../../helpers/mcp-processes.js';
import { NO_NETWORK } from '../../helpers/sandboxed.js';

let database: DatabaseHandle;
let everything: EverythingHttpServer;
let gateway: GatewayApi;
let api: TestServer;
let owner: { user: User; token: string };
let stranger: { user: User; token: string };
const ids: Record<string, number> = {};

const caller = () => gatewayCaller(database);

/** An SDK client connected to the gateway with `token`. */
function connect(
  token: string,
  capabilities: ConstructorParameters<typeof Client>[1] = {},
): Promise<Client> {
  return gateway.connect(token, { client: capabilities });
}

/** One server-sent event (WHATWG HTML, "Server-sent events"): its fields as sent. */
interface SseEvent {
  id?: string;
  retry?: number;
  data: string;
}

/** The events of an SSE body, in order (comments such as keep-alives left out). */
async function* sseEvents(body: ReadableStream<Uint8Array>): AsyncGenerator<SseEvent> {
  let buffer = '';
  for await (const chunk of body.pipeThrough(new TextDecoderStream())) {
    buffer += chunk;
    let end;
    while ((end = buffer.search(/\r?\n\r?\n/)) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end).replace(/^\r?\n\r?\n/, '');
      const event: SseEvent = { data: '' };
      const data: string[] = [];
      let fields = 0;
      for (const line of block.split(/\r?\n/)) {
        const match = /^([^:]+):? ?(.*)$/.exec(line);
        if (!match) continue;
        fields++;
        const [, field, value] = match;
        if (field === 'id') event.id = value;
        else if (field === 'retry') event.retry = Number(value);
        else if (field === 'data') data.push(value!);
      }
      event.data = data.join('\n');
      if (fields > 0) yield event;
    }
  }
}

function text(result: CallToolResult): string {
  return result.content
    .filter((item) => item.type === 'text')
    .map((item) => (item as { text: string }).text)
    .join('\n');
}

beforeAll(async () => {
  database = await openTestDatabase();
  everything = await startEverythingHttpServer('streamableHttp');
  owner = await caller();
  stranger = await caller();
  const http = await createServer(database, {
    userId: owner.user.id,
    name: 'Everything HTTP',
    transport: 'streamable-http',
    url: `${everything.origin}/mcp`,
  });
  const stdio = await createServer(database, {
    userId: owner.user.id,
    name: 'Everything stdio',
    transport: 'stdio',
    command: process.execPath,
    args: [EVERYTHING_BIN, 'stdio'],
    sandbox: NO_NETWORK,
  });
  ids.http = http.id;
  ids.stdio = stdio.id;
  gateway = await startGatewayApi(database);
  api = gateway.api;
}, 60_000);

afterAll(async () => {
  await gateway?.close();
  await everything?.stop();
  await database?.close();
});

describe('the MCP gateway at /mcp', () => {
  it("lists the user's tools named as the voice agent names them, definitions passed through", async () => {
    const client = await connect(owner.token);
    const { tools } = await client.listTools();
    const names = tools.map((tool) => tool.name);
    expect(names).toContain('everything_http__echo');
    expect(names).toContain('everything_stdio__echo');
    expect(names).toContain('everything_http__get-sum');
    const echo = tools.find((tool) => tool.name === 'everything_http__echo')!;
    expect(echo.annotations).toMatchObject({ readOnlyHint: true, destructiveHint: false });
    expect(echo.inputSchema).toMatchObject({
      type: 'object',
      properties: { message: { type: 'string' } },
    });
    expect(client.getServerVersion()?.name).toBe('switchboard');
  });

  it('calls tools on a Streamable HTTP and a stdio server, and audits each call', async () => {
    const client = await connect(owner.token);
    const viaHttp = (await client.callTool({
      name: 'everything_http__echo',
      arguments: { message: 'over http' },
    })) as CallToolResult;
    expect(text(viaHttp)).toContain('over http');
    const viaStdio = (await client.callTool({
      name: 'everything_stdio__get-sum',
      arguments: { a: 2, b: 40 },
    })) as CallToolResult;
    expect(text(viaStdio)).toContain('42');
    await vi.waitFor(async () => {
      const rows = await database.db
        .select()
        .from(toolCalls)
        .where(and(eq(toolCalls.userId, owner.user.id), eq(toolCalls.serverId, ids.stdio!)));
      expect(rows.some((row) => row.toolName === 'get-sum' && row.ok)).toBe(true);
    });
  });

  it('passes structured content and images through unchanged', async () => {
    const client = await connect(owner.token);
    const structured = (await client.callTool({
      name: 'everything_http__get-structured-content',
      arguments: { location: 'New York' },
    })) as CallToolResult;
    expect(structured.structuredContent).toMatchObject({ temperature: expect.any(Number) });
    const image = (await client.callTool({
      name: 'everything_http__get-tiny-image',
      arguments: {},
    })) as CallToolResult;
    expect(image.content.some((item) => item.type === 'image')).toBe(true);
  });

  it('puts resource links in results under gateway URIs the client can read back', async () => {
    const client = await connect(owner.token);
    const result = (await client.callTool({
      name: 'everything_http__get-resource-links',
      arguments: { count: 2 },
    })) as CallToolResult;
    const links = result.content.filter((item) => item.type === 'resource_link');
    expect(links).toHaveLength(2);
    for (const link of links) {
      expect(link.uri.startsWith(`switchboard://server/${ids.http}/`)).toBe(true);
    }
    const read = await client.readResource({ uri: links[0]!.uri });
    expect(read.contents[0]!.uri).toBe(links[0]!.uri);
  });

  it('answers an unknown tool with an MCP error', async () => {
    const client = await connect(owner.token);
    await expect(client.callTool({ name: 'nobody__nothing', arguments: {} })).rejects.toThrow(
      /Unknown tool: nobody__nothing/,
    );
  });

  it("relays the server's progress to the client's progress token", async () => {
    const client = await connect(owner.token);
    const progress: number[] = [];
    const result = (await client.callTool(
      {
        name: 'everything_http__trigger-long-running-operation',
        arguments: { duration: 0.3, steps: 3 },
      },
      undefined,
      { onprogress: (report) => progress.push(report.progress) },
    )) as CallToolResult;
    expect(result.isError).toBeFalsy();
    expect(progress.length).toBeGreaterThanOrEqual(2);
  });

  it("relays the client's cancellation to the server's call", async () => {
    const client = await connect(owner.token);
    const controller = new AbortController();
    const call = client.callTool(
      {
        name: 'everything_stdio__trigger-long-running-operation',
        arguments: { duration: 60, steps: 60 },
      },
      undefined,
      {
        signal: controller.signal,
        onprogress: () => controller.abort(new Error('the user stopped it')),
      },
    );
    await expect(call).rejects.toThrow(/stopped it/);
    // The gateway's own call of the server was aborted: its audit row says so.
    await vi.waitFor(async () => {
      const rows = await database.db
        .select()
        .from(toolCalls)
        .where(
          and(
            eq(toolCalls.serverId, ids.stdio!),
            eq(toolCalls.toolName, 'trigger-long-running-operation'),
          ),
        );
      expect(rows.some((row) => !row.ok && /cancel/i.test(row.error ?? ''))).toBe(true);
    });
    // The session is still usable.
    const after = (await client.callTool({
      name: 'everything_stdio__echo',
      arguments: { message: 'still here' },
    })) as CallToolResult;
    expect(text(after)).toContain('still here');
  });

  it('sends tools/list_changed when a server is added mid-session, and lists its tools', async () => {
    const client = await connect(owner.token);
    await client.listTools();
    const changed = vi.fn();
    client.setNotificationHandler(ToolListChangedNotificationSchema, changed);
    const added = await createServer(database, {
      userId: owner.user.id,
      name: 'Added later',
      transport: 'streamable-http',
      url: `${everything.origin}/mcp`,
    });
    ids.added = added.id;
    await vi.waitFor(
      async () => {
        expect(changed).toHaveBeenCalled();
        const { tools } = await client.listTools();
        expect(tools.map((tool) => tool.name)).toContain('added_later__echo');
      },
      { timeout: 15_000 },
    );
  });

  it('asks the client to confirm a tool that needs it, through elicitation', async () => {
    const confirming = await createServer(database, {
      userId: owner.user.id,
      name: 'Confirming',
      transport: 'streamable-http',
      url: `${everything.origin}/mcp`,
      toolPolicy: { confirm: 'always' },
    });
    const asked: string[] = [];
    const client = await connect(owner.token, { capabilities: { elicitation: { form: {} } } });
    let answer: 'yes' | 'no' = 'yes';
    client.setRequestHandler(ElicitRequestSchema, async (request) => {
      asked.push(request.params.message);
      return answer === 'yes'
        ? { action: 'accept', content: { confirm: true } }
        : { action: 'decline' };
    });
    await vi.waitFor(
      async () => {
        const { tools } = await client.listTools();
        expect(tools.map((tool) => tool.name)).toContain('confirming__echo');
      },
      { timeout: 15_000 },
    );
    const accepted = (await client.callTool({
      name: 'confirming__echo',
      arguments: { message: 'confirmed' },
    })) as CallToolResult;
    expect(asked).toHaveLength(1);
    expect(asked[0]).toMatch(/Confirming wants to run/);
    expect(text(accepted)).toContain('confirmed');
    answer = 'no';
    const declined = (await client.callTool({
      name: 'confirming__echo',
      arguments: { message: 'declined' },
    })) as CallToolResult;
    expect(declined.isError).toBe(true);
    expect(text(declined)).toMatch(/not run: the user declined/);

    // A client that cannot be asked is refused, told how to allow it.
    const plain = await connect(owner.token);
    const refused = (await plain.callTool({
      name: 'confirming__echo',
      arguments: { message: 'unasked' },
    })) as CallToolResult;
    expect(refused.isError).toBe(true);
    expect(text(refused)).toMatch(/elicitation capability/);
    expect(text(refused)).toContain(`PUT /api/mcp/servers/${confirming.id}`);
    // Policy "never" lets it run without asking.
    await updateServer(database, owner.user.id, confirming.id, {
      toolPolicy: { confirm: 'never' },
    });
    await vi.waitFor(
      async () => {
        const allowed = (await plain.callTool({
          name: 'confirming__echo',
          arguments: { message: 'allowed' },
        })) as CallToolResult;
        expect(text(allowed)).toContain('allowed');
      },
      { timeout: 15_000 },
    );
  });

  it('aggregates resources and prompts under namespaced URIs and names, and reads them back', async () => {
    const client = await connect(owner.token);
    const { resources } = await client.listResources();
    const mine = resources.filter((resource) =>
      resource.uri.startsWith(`switchboard://server/${ids.http}/`),
    );
    expect(mine.length).toBeGreaterThan(0);
    const read = await client.readResource({ uri: mine[0]!.uri });
    expect(read.contents[0]!.uri).toBe(mine[0]!.uri);
    const { resourceTemplates } = await client.listResourceTemplates();
    expect(
      resourceTemplates.some((template) =>
        template.uriTemplate.startsWith(`switchboard://server/${ids.stdio}/`),
      ),
    ).toBe(true);
    const { prompts } = await client.listPrompts();
    const simple = prompts.find((prompt) => prompt.name.startsWith('everything_http__'));
    expect(simple).toBeDefined();
    const got = await client.getPrompt({
      name: prompts.find((prompt) => prompt.name === 'everything_http__simple-prompt')!.name,
    });
    expect(got.messages.length).toBeGreaterThan(0);
    await expect(
      client.readResource({ uri: 'switchboard://server/999999/demo://x' }),
    ).rejects.toThrow(/Resource not found/);
  });

  it('shows a token scoped to one server only that server, and records its label with each call', async () => {
    const token = generateToken();
    await storeToken(database.db, owner.user.id, token, 'Desk app', [
      'gateway',
      `server:${ids.stdio}`,
    ]);
    const client = await connect(token);
    const names = (await client.listTools()).tools.map((tool) => tool.name);
    expect(names.length).toBeGreaterThan(0);
    expect(names.every((name) => name.startsWith('everything_stdio__'))).toBe(true);
    const resources = (await client.listResources()).resources;
    expect(
      resources.every((resource) => resource.uri.startsWith(`switchboard://server/${ids.stdio}/`)),
    ).toBe(true);
    await expect(
      client.callTool({ name: 'everything_http__echo', arguments: { message: 'x' } }),
    ).rejects.toThrow(/Unknown tool/);
    await expect(
      client.readResource({
        uri: `switchboard://server/${ids.http}/demo://resource/static/document/architecture.md`,
      }),
    ).rejects.toThrow(/Resource not found/);
    await client.callTool({ name: 'everything_stdio__echo', arguments: { message: 'labelled' } });
    await vi.waitFor(async () => {
      const rows = await database.db
        .select()
        .from(toolCalls)
        .where(and(eq(toolCalls.serverId, ids.stdio!), eq(toolCalls.tokenLabel, 'Desk app')));
      expect(rows).toHaveLength(1);
      expect(rows[0]).toMatchObject({ source: 'gateway', toolName: 'echo', ok: true });
      expect(rows[0]!.sessionId).toBe(
        (client.transport as StreamableHTTPClientTransport).sessionId,
      );
    });
  });

  it('answers 403 insufficient_scope to a token limited to the REST API', async () => {
    const token = generateToken();
    await storeToken(database.db, owner.user.id, token, 'REST only', ['api']);
    const res = await fetch(`${api.baseUrl}/mcp`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${token}`,
        'content-type': 'application/json',
        accept: 'application/json, text/event-stream',
      },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'ping' }),
    });
    expect(res.status).toBe(403);
    expect(res.headers.get('www-authenticate')).toMatch(/error="insufficient_scope"/);
    expect(((await res.json()) as { error_description: string }).error_description).toMatch(
      /gateway scope/,
    );
  });

  it('resumes a broken SSE stream from Last-Event-ID: the rest of the progress and the result, none twice', async () => {
    const client = await connect(owner.token);
    const headers = {
      authorization: `Bearer ${owner.token}`,
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
      'mcp-session-id': (client.transport as StreamableHTTPClientTransport).sessionId!,
      'mcp-protocol-version': '2025-11-25',
    };
    const broken = new AbortController();
    const post = await fetch(`${api.baseUrl}/mcp`, {
      method: 'POST',
      headers,
      signal: broken.signal,
      body: JSON.stringify({
        jsonrpc: '2.0',
        id: 'resumed-call',
        method: 'tools/call',
        params: {
          name: 'everything_http__trigger-long-running-operation',
          arguments: { duration: 2, steps: 4 },
          _meta: { progressToken: 'resumed' },
        },
      }),
    });
    expect(post.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const events = sseEvents(post.body!);
    // The priming event: an id to resume from, how long to wait, no data.
    const priming = (await events.next()).value as SseEvent;
    expect(priming).toMatchObject({ data: '', retry: 1000 });
    expect(priming.id).toBeTruthy();
    const first = (await events.next()).value as SseEvent;
    expect(JSON.parse(first.data)).toMatchObject({
      method: 'notifications/progress',
      params: { progressToken: 'resumed', progress: 1 },
    });
    expect(first.id).toBeTruthy();
    // The connection breaks mid-call.
    broken.abort();

    // An id the session never gave is refused, not answered with nothing.
    const unknown = await fetch(`${api.baseUrl}/mcp`, {
      method: 'GET',
      headers: { ...headers, 'last-event-id': 'not-an-event' },
    });
    expect(unknown.status).toBe(400);
    await unknown.body?.cancel();

    // Reconnect as the client would (a 409 while the gateway has not yet seen the break is retried).
    let resumed: Response | undefined;
    await vi.waitFor(async () => {
      resumed = await fetch(`${api.baseUrl}/mcp`, {
        method: 'GET',
        headers: { ...headers, 'last-event-id': first.id! },
      });
      if (resumed.status !== 200) await resumed.body?.cancel();
      expect(resumed.status).toBe(200);
    });
    const rest: {
      id?: unknown;
      method?: string;
      params?: { progress: number };
      result?: unknown;
    }[] = [];
    for await (const event of sseEvents(resumed!.body!)) {
      const message = JSON.parse(event.data) as (typeof rest)[number];
      rest.push(message);
      if (message.id === 'resumed-call') break;
    }
    expect(
      rest
        .filter((message) => message.method === 'notifications/progress')
        .map((m) => m.params!.progress),
    ).toEqual([2, 3, 4]);
    const answer = rest.at(-1) as { result: CallToolResult };
    expect(text(answer.result)).toMatch(/Long running operation completed/);
  });

  it("shows another user none of this user's servers, sessions or calls", async () => {
    const theirs = await connect(stranger.token);
    expect((await theirs.listTools()).tools).toEqual([]);
    expect((await theirs.listResources()).resources).toEqual([]);
    await expect(theirs.callTool({ name: 'everything_http__echo', arguments: {} })).rejects.toThrow(
      /Unknown tool/,
    );
    await expect(
      theirs.readResource({
        uri: `switchboard://server/${ids.http}/demo://resource/static/document/architecture.md`,
      }),
    ).rejects.toThrow(/Resource not found/);
    // A session id of the owner's, presented with the stranger's token, is unknown.
    const mine = await connect(owner.token);
    const sessionId = (mine.transport as StreamableHTTPClientTransport).sessionId!;
    const res = await fetch(`${api.baseUrl}/mcp`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${stranger.token}`,
        'content-type': 'application/json',
        accept: 'application/json, text/event-stream',
        'mcp-session-id': sessionId,
        'mcp-protocol-version': '2025-11-25',
      },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' }),
    });
    expect(res.status).toBe(404);
  });

  it('answers 401 with WWW-Authenticate naming its RFC 9728 metadata, which says where tokens come from', async () => {
    const res = await fetch(`${api.baseUrl}/mcp`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        accept: 'application/json, text/event-stream',
      },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'ping' }),
    });
    expect(res.status).toBe(401);
    const challenge = res.headers.get('www-authenticate') ?? '';
    expect(challenge).toMatch(/^Bearer /);
    const metadataUrl = /resource_metadata="([^"]+)"/.exec(challenge)?.[1];
    expect(metadataUrl).toBe('http://127.0.0.1:3000/.well-known/oauth-protected-resource/mcp');
    const metadata = await fetch(`${api.baseUrl}${new URL(metadataUrl!).pathname}`);
    expect(metadata.status).toBe(200);
    expect(await metadata.json()).toMatchObject({
      resource: 'http://127.0.0.1:3000/mcp',
      bearer_methods_supported: ['header'],
      resource_documentation: expect.stringContaining('/dashboard/'),
    });
    const wrong = await fetch(`${api.baseUrl}/mcp`, {
      method: 'POST',
      headers: { authorization: 'Bearer sb_not_a_token', 'content-type': 'application/json' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'ping' }),
    });
    expect(wrong.status).toBe(401);
    expect(((await wrong.json()) as { error_description: string }).error_description).toMatch(
      /POST \/api\/tokens/,
    );
  });

  it('refuses a foreign Host or Origin (DNS rebinding) before reading the token', async () => {
    const { request } = await import('node:http');
    const status = (headers: Record<string, string>) =>
      new Promise<number>((resolve, reject) => {
        const req = request(
          `${api.baseUrl}/mcp`,
          {
            method: 'POST',
            headers: {
              authorization: `Bearer ${owner.token}`,
              'content-type': 'application/json',
              accept: 'application/json, text/event-stream',
              ...headers,
            },
          },
          (res) => {
            res.resume();
            resolve(res.statusCode ?? 0);
          },
        );
        req.on('error', reject);
        req.end(JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'ping' }));
      });
    expect(await status({ host: 'evil.example:3000' })).toBe(403);
    expect(await status({ origin: 'http://evil.example' })).toBe(403);
  });
});
