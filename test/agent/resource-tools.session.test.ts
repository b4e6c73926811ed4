/**
 * MCP resources by voice (issue 16, agent/resource-tools.ts), in text sessions on real servers:
 * server-everything's static documents, its text and blob templates, its resource links
 * (`get-resource-links`) and embedded resources (`get-resource-reference`), and the fixture's
 * JSON resource. What goes to the user's screen is captured where the room would get it.
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { initializeLogger, voice } from '@livekit/agents';
import { and, eq } from 'drizzle-orm';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { UserToolsets } from '../../agent/load-user-toolsets.js';
import type { ResourceScreenMessage } from '../../agent/resource-tools.js';
import { ToolBudget } from '../../agent/tool-budget.js';
import type { DatabaseHandle } from '../../shared/db/open.js';
import { toolCalls } from '../../shared/db/schema.js';
import { createServer } from '../../shared/db/servers.js';
import { createTestUser, openTestDatabase } from '../helpers/database.js';
import { EVERYTHING_BIN, FIXTURE_SERVER_ARGS } from '../helpers/mcp-processes.js';
import { sandboxedToolsets } from '../helpers/sandboxed.js';
import { everythingServer, silentLogger } from './fixtures.js';
import { ScriptedLLM, type ScriptedResponse } from './scripted-llm.js';

initializeLogger({ pretty: false, level: 'silent' });

/** server-everything's static documents, as its `resources/files.js` serves them. */
const DOCS = join(dirname(EVERYTHING_BIN), 'docs');
const doc = (name: string) => readFileSync(join(DOCS, name), 'utf8');
const DOC_URI = (name: string) => `demo://resource/static/document/${name}`;

describe('resources by voice', () => {
  let handle: DatabaseHandle;
  let tools: UserToolsets | undefined;
  let session: voice.AgentSession | undefined;
  let screen: ResourceScreenMessage[];

  beforeAll(async () => {
    handle = await openTestDatabase();
  });

  afterEach(async () => {
    await session?.close();
    await tools?.close();
    session = undefined;
    tools = undefined;
  });

  afterAll(async () => {
    await handle?.close();
  });

  /** A user with server-everything (and, with `fixture`, the fixture serving a JSON resource). */
  async function startSession(responses: ScriptedResponse[], options: { fixture?: boolean } = {}) {
    const user = await createTestUser(handle);
    const everything = await createServer(handle, everythingServer(user.id));
    if (options.fixture) {
      await createServer(handle, {
        userId: user.id,
        name: 'Fixture',
        transport: 'stdio',
        sandbox: { network: 'none' },
        command: process.execPath,
        args: FIXTURE_SERVER_ARGS,
        env: { FIXTURE_RESOURCES: '1' },
      });
    }
    screen = [];
    tools = await sandboxedToolsets({
      db: handle.db,
      secrets: handle.secrets,
      userId: user.id,
      logger: silentLogger(),
      showOnScreen: async (message) => void screen.push(message),
      // About the resources, not the start deadline: wait however long a busy machine takes.
      startDeadlineMs: 60_000,
    });
    const llm = new ScriptedLLM(responses);
    const agent = new voice.Agent({ instructions: 'You are a test agent.', tools: tools.toolsets });
    session = new voice.AgentSession({ llm });
    await session.start({ agent });
    return { session, agent, llm, user, everything };
  }

  /** The output of the run's one tool call, as the model reads it. */
  async function toolOutput(current: voice.AgentSession, userInput: string, tool: string) {
    const result = await current.run({ userInput }).wait();
    result.expect.nextEvent().isFunctionCall({ name: tool });
    const output = result.expect.nextEvent().isFunctionCallOutput().event().item;
    // A result is handed over as JSON text; a tool error as its sentence.
    const text = output.isError ? output.output : (JSON.parse(output.output) as string);
    return { text, isError: output.isError };
  }

  it('adds list and read tools named like the server’s others, inside the tool budget', async () => {
    const { agent } = await startSession([]);
    const names = Object.keys(agent.toolCtx.functionTools);
    expect(names).toEqual(
      expect.arrayContaining([
        'everything__list_resources',
        'everything__list_resource_templates',
        'everything__read_resource',
        'everything__echo',
      ]),
    );
    // The budget sees them as tools of the server: searchable, and counted.
    const budget = new ToolBudget({ maxTools: 4, logger: silentLogger() });
    budget.entries(tools!.current());
    expect(budget.totalTools).toBe(Object.keys(agent.toolCtx.functionTools).length);
    expect(budget.search('read resource').map((entry) => entry.tool.name)).toContain(
      'everything__read_resource',
    );
    expect(budget.advertisedCount()).toBeLessThanOrEqual(4);
  });

  it('lists the resources and the templates with their addresses, for the next call only', async () => {
    const { session } = await startSession([
      { input: 'what documents', toolCalls: [{ name: 'everything__list_resources', args: {} }] },
      {
        input: 'what templates',
        toolCalls: [{ name: 'everything__list_resource_templates', args: {} }],
      },
      {
        input: 'anything about features',
        toolCalls: [{ name: 'everything__list_resources', args: { query: 'features' } }],
      },
    ]);

    const listed = await toolOutput(session, 'what documents', 'everything__list_resources');
    expect(listed.isError).toBe(false);
    expect(listed.text).toMatch(/^Everything has \d+ resources:/);
    expect(listed.text).toContain(
      `- features.md (text/markdown): Static document file exposed from /docs: features.md. uri: ${DOC_URI('features.md')}`,
    );
    expect(listed.text).toContain(
      'Read one with everything__read_resource and its uri. Never read an address out loud.',
    );

    const templates = await toolOutput(
      session,
      'what templates',
      'everything__list_resource_templates',
    );
    expect(templates.text).toContain('Everything has 2 resource templates:');
    expect(templates.text).toContain(
      '- Dynamic Text Resource (text/plain): Plaintext dynamic resource fabricated from the ' +
        '{resourceId} variable, which must be an integer.. uriTemplate: ' +
        'demo://resource/dynamic/text/{resourceId}',
    );
    expect(templates.text).toContain(
      'To read one, replace each {placeholder} with a value and call everything__read_resource',
    );

    const found = await toolOutput(
      session,
      'anything about features',
      'everything__list_resources',
    );
    expect(found.text).toMatch(/^Everything has 1 resource match "features":\n- features\.md/);
    expect(screen).toEqual([]);
  });

  it('reads a short document whole, and a long one cut, with the whole on the screen', async () => {
    const { session, everything } = await startSession([
      {
        input: 'read the instructions',
        toolCalls: [
          { name: 'everything__read_resource', args: { uri: DOC_URI('instructions.md') } },
        ],
      },
      {
        input: 'read the features',
        toolCalls: [{ name: 'everything__read_resource', args: { uri: DOC_URI('features.md') } }],
      },
    ]);

    const short = await toolOutput(session, 'read the instructions', 'everything__read_resource');
    expect(short.text).toBe(`instructions.md (text/markdown):\n${doc('instructions.md')}`);
    expect(screen).toEqual([]);

    const features = doc('features.md');
    expect(features.length).toBeGreaterThan(2_000);
    const long = await toolOutput(session, 'read the features', 'everything__read_resource');
    const [heading, sections, , ...rest] = long.text.split('\n');
    expect(heading).toBe('features.md (text/markdown):');
    // The structure first: the document's headings, for the ear.
    expect(sections).toMatch(
      /^Sections: Everything Server - Features; Tools; Prompts; .*; and \d+ more$/,
    );
    const cut = /\(cut: (\d+) more characters are on your screen\)/.exec(long.text);
    expect(cut).not.toBeNull();
    expect(rest.join('\n')).toContain(features.slice(0, 200));
    expect(long.text).toContain('I put features.md on your screen.');
    expect(long.text.length).toBeLessThan(2_400);
    expect(screen).toEqual([
      {
        type: 'resource',
        serverId: everything.id,
        server: 'Everything',
        name: 'features.md',
        uri: DOC_URI('features.md'),
        mimeType: 'text/markdown',
        text: features,
        size: Buffer.byteLength(features),
        truncated: false,
      },
    ]);
  });

  it('reads templates by their filled-in address: text spoken, binary to the screen', async () => {
    const { session } = await startSession([
      {
        input: 'what templates',
        toolCalls: [{ name: 'everything__list_resource_templates', args: {} }],
      },
      {
        input: 'read text four',
        toolCalls: [
          { name: 'everything__read_resource', args: { uri: 'demo://resource/dynamic/text/4' } },
        ],
      },
      {
        input: 'show blob seven',
        toolCalls: [
          { name: 'everything__read_resource', args: { uri: 'demo://resource/dynamic/blob/7' } },
        ],
      },
    ]);
    await toolOutput(session, 'what templates', 'everything__list_resource_templates');

    const text = await toolOutput(session, 'read text four', 'everything__read_resource');
    expect(text.text).toMatch(
      /^Dynamic Text Resource 4 \(text\/plain\):\nResource 4: This is a plaintext resource created at /,
    );
    expect(screen).toEqual([]);

    const blob = await toolOutput(session, 'show blob seven', 'everything__read_resource');
    expect(blob.text).toMatch(
      /^I put Dynamic Blob Resource 7 on your screen \(text\/plain, \d+ B\)\.\nTell the user/,
    );
    expect(blob.text).not.toContain('base64');
    expect(screen).toHaveLength(1);
    const [shown] = screen;
    expect(shown).toMatchObject({
      name: 'Dynamic Blob Resource 7',
      uri: 'demo://resource/dynamic/blob/7',
      mimeType: 'text/plain',
      truncated: false,
    });
    expect(Buffer.from(shown!.base64!, 'base64').toString()).toMatch(
      /^Resource 7: This is a base64 blob created at /,
    );
    expect(shown!.size).toBe(Buffer.from(shown!.base64!, 'base64').length);
  });

  it('handles the resource links of a tool result the same way, reading the first three', async () => {
    const { session } = await startSession([
      {
        input: 'give me links',
        toolCalls: [{ name: 'everything__get-resource-links', args: { count: 5 } }],
      },
    ]);

    const result = await toolOutput(session, 'give me links', 'everything__get-resource-links');
    const lines = result.text.split('\n');
    expect(lines[0]).toBe('Here are 5 resource links to resources available in this server:');
    // Links 1 and 3 are blobs: on the screen, by name. Link 2 is text: read.
    expect(result.text).toMatch(/I put Blob Resource 1 on your screen \(text\/plain, \d+ B\)\./);
    expect(result.text).toMatch(
      /Text Resource 2 \(text\/plain\):\nResource 2: This is a plaintext resource created at /,
    );
    expect(result.text).toMatch(/I put Blob Resource 3 on your screen/);
    // Beyond three, the links are named with the tool that reads them.
    expect(result.text).toContain(
      '[resource link: Text Resource 4 (text/plain)] Read it with everything__read_resource and ' +
        'uri "demo://resource/dynamic/text/4" if the user wants it.',
    );
    expect(result.text).toContain('[resource link: Blob Resource 5 (text/plain)]');
    expect(screen.map((message) => message.name)).toEqual(['Blob Resource 1', 'Blob Resource 3']);
    expect(Buffer.from(screen[1]!.base64!, 'base64').toString()).toMatch(/^Resource 3: /);
  });

  it('handles an embedded resource of a tool result: binary to the screen, text read', async () => {
    const { session } = await startSession([
      {
        input: 'reference a blob',
        toolCalls: [
          {
            name: 'everything__get-resource-reference',
            args: { resourceType: 'Blob', resourceId: 2 },
          },
        ],
      },
      {
        input: 'reference a text',
        toolCalls: [
          {
            name: 'everything__get-resource-reference',
            args: { resourceType: 'Text', resourceId: 6 },
          },
        ],
      },
    ]);

    const blob = await toolOutput(
      session,
      'reference a blob',
      'everything__get-resource-reference',
    );
    expect(blob.text).toMatch(
      /^Returning resource reference for Resource 2:\nI put blob 2 on your screen/,
    );
    expect(screen).toHaveLength(1);
    expect(screen[0]).toMatchObject({ name: 'blob 2', uri: 'demo://resource/dynamic/blob/2' });

    const text = await toolOutput(
      session,
      'reference a text',
      'everything__get-resource-reference',
    );
    expect(text.text).toMatch(
      /^Returning resource reference for Resource 6:\ntext 6 \(text\/plain\):\nResource 6: This is a plaintext resource/,
    );
    expect(screen).toHaveLength(1);
  });

  it('summarizes a JSON resource instead of reading it out', async () => {
    const { session } = await startSession(
      [
        {
          input: 'read the status',
          toolCalls: [{ name: 'fixture__read_resource', args: { uri: 'fixture://status.json' } }],
        },
      ],
      { fixture: true },
    );

    const status = await toolOutput(session, 'read the status', 'fixture__read_resource');
    expect(status.text).toBe(
      [
        'status.json (JSON, summarized):',
        'state: degraded',
        'uptimeSeconds: 3600',
        'owner: name Ada, team ops',
        'incidents: 3 items: disk full; slow queries; cert expiring',
      ].join('\n'),
    );
    expect(screen).toEqual([]);
  });

  it('tells the model what failed for an unknown address, and records every request', async () => {
    const { session, user, everything } = await startSession([
      {
        input: 'read nothing',
        toolCalls: [
          { name: 'everything__read_resource', args: { uri: 'demo://resource/dynamic/text/0' } },
        ],
      },
      { input: 'what documents', toolCalls: [{ name: 'everything__list_resources', args: {} }] },
    ]);

    const failed = await toolOutput(session, 'read nothing', 'everything__read_resource');
    expect(failed.isError).toBe(true);
    expect(failed.text).toContain('The Everything server could not run resources/read:');
    expect(failed.text).toContain('demo://resource/dynamic/text/0');
    await toolOutput(session, 'what documents', 'everything__list_resources');

    await Promise.all(tools!.current().map((toolset) => toolset.flushRecords()));
    const rows = await handle.db
      .select()
      .from(toolCalls)
      .where(and(eq(toolCalls.userId, user.id), eq(toolCalls.serverId, everything.id)));
    expect(rows.map((row) => [row.toolName, row.ok])).toEqual([
      ['resources/read', false],
      ['resources/list', true],
    ]);
  });
});
