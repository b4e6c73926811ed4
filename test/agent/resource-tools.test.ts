/**
 * The resource tools of one server (agent/resource-tools.ts) over a stand-in connection: what
 * they are called and when they exist, what the model hears when there is no screen or the
 * screen fails, and how a screen message is fit into one LiveKit data packet. The same tools on
 * real servers, in sessions: `resource-tools.session.test.ts`.
 */
import { llm } from '@livekit/agents';
import type { ReadResourceResult } from '@modelcontextprotocol/sdk/types.js';
import { describe, expect, it, vi } from 'vitest';
import {
  SCREEN_MESSAGE_MAX_BYTES,
  ServerResources,
  fitScreenMessage,
  type ResourceScreenMessage,
  type ServerResourcesOptions,
} from '../../agent/resource-tools.js';
import { McpConnectionError } from '../../shared/mcp/errors.js';
import { SecretScrubber } from '../../shared/mcp/secret-scrubber.js';
import { silentLogger } from './fixtures.js';

const BLOB = Buffer.from('binary bytes').toString('base64');

function resources(options: Partial<ServerResourcesOptions> = {}) {
  const read = vi.fn(async (uri: string): Promise<ReadResourceResult> => ({
    contents: [{ uri, mimeType: 'image/png', blob: BLOB }],
  }));
  const connection = {
    listResources: vi.fn(async () => [{ uri: 'x://pic.png', name: 'pic.png' }]),
    listResourceTemplates: vi.fn(async () => []),
    readResource: read,
    scrubber: new SecretScrubber(['s3cret']),
  };
  const taken = new Set<string>();
  const server = new ServerResources({
    server: { id: 1, name: 'Files' },
    connection,
    taken,
    logger: silentLogger(),
    ...options,
  });
  return { server, connection, taken, read };
}

/** Runs a built tool as the runtime would. */
async function run(tool: llm.FunctionTool, args: Record<string, string>) {
  return tool.execute(args, {
    ctx: undefined as never,
    toolCallId: 'call-1',
    abortSignal: new AbortController().signal,
  }) as Promise<string>;
}

describe('ServerResources', () => {
  it('builds three tools named like the server’s others, none without the capability', () => {
    const { server, taken } = resources();
    expect(server.build(false)).toEqual([]);
    const tools = server.build(true);
    expect(tools.map((tool) => tool.name)).toEqual([
      'files__list_resources',
      'files__list_resource_templates',
      'files__read_resource',
    ]);
    expect([...taken].sort()).toEqual(tools.map((tool) => tool.name).sort());
    server.release();
    expect(taken.size).toBe(0);
  });

  it("follows the server's tool filter and never takes a name a server tool has", () => {
    const taken = new Set(['files__read_resource']);
    const { server } = resources({
      taken,
      server: { id: 1, name: 'Files', toolFilter: { deny: ['list_resource_templates'] } },
    });
    const names = server.build(true).map((tool) => tool.name);
    expect(names).toHaveLength(2);
    expect(names[0]).toBe('files__list_resources');
    expect(names[1]).toMatch(/^files__read_resource_[0-9a-f]{6}$/);
    // The list tool names the read tool by the name it got.
    expect(server.build(true)[0]!.description).toContain(`Read one with ${names[1]}`);
  });

  it('says binary content cannot be read aloud when no screen is connected', async () => {
    const { server } = resources();
    const read = server.build(true)[2]!;
    expect(await run(read, { uri: 'x://pic.png' })).toBe(
      'pic.png is binary (image/png, 12 B) and cannot be read aloud; no screen is connected to show it.',
    );
  });

  it('says the same when sending to the screen fails, and puts it there when it works', async () => {
    const failing = resources({ showOnScreen: async () => Promise.reject(new Error('gone')) });
    expect(await run(failing.server.build(true)[2]!, { uri: 'x://pic.png' })).toContain(
      'no screen is connected to show it',
    );
    const shown: ResourceScreenMessage[] = [];
    const working = resources({ showOnScreen: async (message) => void shown.push(message) });
    const tools = working.server.build(true);
    await run(tools[0]!, {});
    expect(await run(tools[2]!, { uri: 'x://pic.png' })).toBe(
      'I put pic.png on your screen (image/png, 12 B).\nTell the user, in your own words, that it ' +
        'is on their screen. Never read an address out loud.',
    );
    expect(shown).toEqual([
      {
        type: 'resource',
        serverId: 1,
        server: 'Files',
        name: 'pic.png',
        uri: 'x://pic.png',
        mimeType: 'image/png',
        base64: BLOB,
        size: 12,
        truncated: false,
      },
    ]);
  });

  it('answers a failed read with a sentence, scrubbed of the server’s secrets', async () => {
    const record = vi.fn();
    const { server, read } = resources({ record });
    read.mockRejectedValueOnce(
      new McpConnectionError('request_failed', 'Resource not found: x://s3cret'),
    );
    const error = await run(server.build(true)[2]!, { uri: 'x://s3cret' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(llm.ToolError);
    expect((error as Error).message).toBe(
      'The Files server could not run resources/read: Resource not found: x://[secret]. It was not retried.',
    );
    expect(record).toHaveBeenCalledWith(
      expect.objectContaining({
        method: 'resources/read',
        error: expect.stringContaining('[secret]'),
      }),
    );
  });

  it('names links it does not read with the read tool, and leaves error results alone', async () => {
    const { server, read } = resources();
    server.build(true);
    const links = Array.from({ length: 4 }, (_, i) => ({
      type: 'resource_link' as const,
      uri: `x://pic${i}.png`,
      name: `pic ${i}`,
      mimeType: 'image/png',
    }));
    const described = (await server.describeResultParts({ content: links }))!;
    expect(read).toHaveBeenCalledTimes(3);
    expect(described.get(links[3]!)).toBe(
      '[resource link: pic 3 (image/png)] Read it with files__read_resource and uri "x://pic3.png" if the user wants it.',
    );
    expect(server.describeResultParts({ content: links, isError: true })).toBeUndefined();
    expect(server.describeResultParts({ content: [{ type: 'text', text: 'x' }] })).toBeUndefined();
  });
});

describe('fitScreenMessage', () => {
  const message: ResourceScreenMessage = {
    type: 'resource',
    serverId: 1,
    server: 'Files',
    name: 'a',
    uri: 'x://a',
    size: 0,
    truncated: false,
  };
  const bytes = (value: ResourceScreenMessage) => Buffer.byteLength(JSON.stringify(value));

  it('keeps a message that fits as it is', () => {
    const small = { ...message, text: 'hello', size: 5 };
    expect(fitScreenMessage(small)).toEqual(small);
  });

  it('cuts text (escapes and multi-byte characters included) to fit one data packet', () => {
    const text = '"é😀\n'.repeat(10_000);
    const fitted = fitScreenMessage({ ...message, text, size: Buffer.byteLength(text) });
    expect(fitted.truncated).toBe(true);
    expect(bytes(fitted)).toBeLessThanOrEqual(SCREEN_MESSAGE_MAX_BYTES);
    expect(text.startsWith(fitted.text!)).toBe(true);
    expect(fitted.text!.length).toBeGreaterThan(1_000);
  });

  it('leaves out binary content too large for the packet, keeping its name and size', () => {
    const base64 = Buffer.alloc(20_000).toString('base64');
    const fitted = fitScreenMessage({ ...message, base64, size: 20_000 });
    expect(fitted).toEqual({ ...message, size: 20_000, truncated: true });
  });
});
