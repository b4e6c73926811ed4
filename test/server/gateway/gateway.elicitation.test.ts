/**
 * The gateway relays an upstream server's elicitation (issue 16) and sampling requests (issue 15)
 * to the MCP client whose call they came with, in the modes that client declared, and the
 * client's answer back: the SDK's own client against `/mcp`, server-everything upstream over
 * Streamable HTTP and over stdio (in the sandbox). A client that did not declare a mode gets the
 * server `decline`d; one without sampling gets the server an error. Runs on PGlite, or on
 * Postgres when `DATABASE_URL` is set.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import {
  CreateMessageRequestSchema,
  ErrorCode,
  ElicitRequestSchema,
  McpError,
  type CallToolResult,
  type CreateMessageRequest,
  type ElicitRequest,
} from '@modelcontextprotocol/sdk/types.js';
import type { DatabaseHandle } from '../../../shared/db/open.js';
import { createServer } from '../../../shared/db/servers.js';
import { openTestDatabase } from '../../helpers/database.js';
import {
  gatewayCaller,
  startGatewayApi,
  waitUntilListed as listed,
  type GatewayApi,
} from '../../helpers/gateway.js';
import {
  EVERYTHING_BIN,
  startEverythingHttpServer,
  type EverythingHttpServer,
} from '../../helpers/mcp-processes.js';
import {
  SIGN_IN_URL,
  startHttpMcpServer,
  type HttpMcpServer,
} from '../../helpers/http-mcp-server.js';
import { NO_NETWORK } from '../../helpers/sandboxed.js';

let database: DatabaseHandle;
let everything: EverythingHttpServer;
let signIn: HttpMcpServer;
let gateway: GatewayApi;
let token: string;

/**
 * An SDK client of the gateway with `capabilities`, and the elicitations and sampling requests it
 * was sent (each sampling request answered by a stand-in LLM, `client-model`).
 */
async function connect(capabilities: ConstructorParameters<typeof Client>[1] = {}) {
  const client = await gateway.connect(token, { client: capabilities });
  const asked: ElicitRequest['params'][] = [];
  const sampled: CreateMessageRequest['params'][] = [];
  if (capabilities.capabilities?.elicitation) {
    client.setRequestHandler(ElicitRequestSchema, async (request) => {
      asked.push(request.params);
      return request.params.mode === 'url'
        ? { action: 'accept' }
        : { action: 'accept', content: { name: 'Client User', check: true } };
    });
  }
  if (capabilities.capabilities?.sampling) {
    client.setRequestHandler(CreateMessageRequestSchema, async (request) => {
      sampled.push(request.params);
      return {
        model: 'client-model',
        role: 'assistant' as const,
        content: { type: 'text' as const, text: 'Sampled by the client' },
      };
    });
  }
  return { client, asked, sampled };
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
  signIn = await startHttpMcpServer({ eliciting: true });
  const { user, token: issued } = await gatewayCaller(database);
  token = issued;
  await createServer(database, {
    userId: user.id,
    name: 'Everything HTTP',
    transport: 'streamable-http',
    url: `${everything.origin}/mcp`,
  });
  await createServer(database, {
    userId: user.id,
    name: 'Example',
    transport: 'streamable-http',
    url: signIn.url,
  });
  await createServer(database, {
    userId: user.id,
    name: 'Everything stdio',
    transport: 'stdio',
    command: process.execPath,
    args: [EVERYTHING_BIN, 'stdio'],
    sandbox: NO_NETWORK,
  });
  gateway = await startGatewayApi(database);
}, 60_000);

afterAll(async () => {
  await gateway?.close();
  await everything?.stop();
  await signIn?.close();
  await database?.close();
});

describe("the gateway relays an upstream server's elicitation", () => {
  it.each([
    ['Streamable HTTP', 'everything_http__trigger-elicitation-request'],
    ['stdio', 'everything_stdio__trigger-elicitation-request'],
  ])('to the client that made the call, over %s, and its answer back', async (_over, tool) => {
    const { client, asked } = await connect({ capabilities: { elicitation: { form: {} } } });
    await listed(client, tool);
    const result = (await client.callTool({ name: tool, arguments: {} })) as CallToolResult;
    expect(asked).toHaveLength(1);
    expect(asked[0]).toMatchObject({
      message: 'Please provide inputs for the following fields:',
      requestedSchema: { type: 'object', required: ['name'] },
    });
    expect(text(result)).toContain('- Name: Client User');
    expect(text(result)).toContain('- Agreed to terms: true');
  });

  it('declines for a client that did not declare elicitation, without asking it', async () => {
    const { client } = await connect();
    const tool = 'everything_http__trigger-elicitation-request';
    await listed(client, tool);
    const result = (await client.callTool({ name: tool, arguments: {} })) as CallToolResult;
    expect(text(result)).toContain('User declined to provide the requested information');
  });

  it('relays URL mode only to a client that declared it', async () => {
    const tool = 'everything_http__trigger-url-elicitation';
    const args = { url: 'https://example.com/approve', elicitationId: 'gw-1' };
    const withUrl = await connect({ capabilities: { elicitation: { form: {}, url: {} } } });
    await listed(withUrl.client, tool);
    const accepted = (await withUrl.client.callTool({
      name: tool,
      arguments: args,
    })) as CallToolResult;
    expect(withUrl.asked).toEqual([
      expect.objectContaining({ mode: 'url', url: args.url, elicitationId: 'gw-1' }),
    ]);
    expect(text(accepted)).toContain('User completed the URL elicitation flow');

    const formOnly = await connect({ capabilities: { elicitation: { form: {} } } });
    const declined = (await formOnly.client.callTool({
      name: tool,
      arguments: args,
    })) as CallToolResult;
    expect(formOnly.asked).toEqual([]);
    expect(text(declined)).toContain('User declined to open the URL');
  });

  it('passes a "URL elicitation required" error on to a client with URL mode, a tool error to others', async () => {
    const tool = 'example__sign-in';
    const formOnly = await connect({ capabilities: { elicitation: { form: {} } } });
    await listed(formOnly.client, tool);
    const refused = (await formOnly.client.callTool({
      name: tool,
      arguments: {},
    })) as CallToolResult;
    expect(refused.isError).toBe(true);
    expect(text(refused)).toMatch(/sign-in on Example failed: .*URL elicitation required/);
    expect(text(refused)).not.toContain('login.example.com');

    const withUrl = await connect({ capabilities: { elicitation: { form: {}, url: {} } } });
    await listed(withUrl.client, tool);
    const error = await withUrl.client.callTool({ name: tool, arguments: {} }).then(
      () => undefined,
      (thrown: unknown) => thrown,
    );
    expect(error).toBeInstanceOf(McpError);
    expect((error as McpError).code).toBe(ErrorCode.UrlElicitationRequired);
    expect((error as McpError).data).toEqual({
      elicitations: [
        {
          mode: 'url',
          url: SIGN_IN_URL,
          message: 'Sign in to Example to continue.',
          elicitationId: 'sign-in-1',
        },
      ],
    });
    // Once the user finished on the page, the client's retry goes through.
    signIn.completeSignIn();
    const retried = (await withUrl.client.callTool({
      name: tool,
      arguments: {},
    })) as CallToolResult;
    expect(text(retried)).toBe('Signed in');
    expect(signIn.signInCalls).toBe(3);
  });
});

describe("the gateway relays an upstream server's sampling requests", () => {
  it.each([
    ['Streamable HTTP', 'everything_http__trigger-sampling-request'],
    ['stdio', 'everything_stdio__trigger-sampling-request'],
  ])('to the client that made the call, over %s, and its result back', async (_over, tool) => {
    const { client, sampled } = await connect({ capabilities: { sampling: {} } });
    await listed(client, tool);
    const result = (await client.callTool({
      name: tool,
      arguments: { prompt: 'Name a colour', maxTokens: 20 },
    })) as CallToolResult;
    expect(result.isError).toBeFalsy();
    expect(sampled).toHaveLength(1);
    expect(sampled[0]).toMatchObject({
      maxTokens: 20,
      systemPrompt: 'You are a helpful test server.',
    });
    expect(JSON.stringify(sampled[0]!.messages)).toContain('Name a colour');
    expect(text(result)).toContain('Sampled by the client');
    expect(text(result)).toContain('client-model');
  });

  it('answers the server an error for a client without sampling, which is never asked', async () => {
    const { client, asked, sampled } = await connect({
      capabilities: { elicitation: { form: {} } },
    });
    const tool = 'everything_http__trigger-sampling-request';
    await listed(client, tool);
    const result = (await client.callTool({
      name: tool,
      arguments: { prompt: 'Name a colour' },
    })) as CallToolResult;
    expect(result.isError).toBe(true);
    expect(text(result)).toContain('does not support sampling');
    expect(asked).toHaveLength(0);
    expect(sampled).toHaveLength(0);
  });
});
