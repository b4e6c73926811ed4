import { initializeLogger, llm, voice } from '@livekit/agents';
import type { Tool as McpTool } from '@modelcontextprotocol/sdk/types.js';
import { eq } from 'drizzle-orm';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { type UserToolsets } from '../../agent/load-user-toolsets.js';
import { McpToolset } from '../../agent/mcp-toolset.js';
import type { ToolCallRecorder } from '../../agent/tool-call-log.js';
import type { DatabaseHandle } from '../../shared/db/open.js';
import { toolCalls, type McpServerRow, type User } from '../../shared/db/schema.js';
import { createServer } from '../../shared/db/servers.js';
import type { ToolCallRecord } from '../../shared/db/tool-calls.js';
import type { SupervisedConnection } from '../../shared/mcp/supervised-connection.js';
import type { ConnectionInfo } from '../../shared/mcp/connection.js';
import { createTestUser, openTestDatabase } from '../helpers/database.js';
import { FIXTURE_SERVER_ARGS } from '../helpers/mcp-processes.js';
import { everythingServer, silentLogger } from './fixtures.js';
import { sandboxedToolsets } from '../helpers/sandboxed.js';

initializeLogger({ pretty: false, level: 'silent' });

const SESSION_ID = 'job-under-test';

/** FakeLLM that also answers an input containing one of its keys (tool errors vary in detail). */
class SubstringFakeLLM extends voice.testing.FakeLLM {
  readonly #responses: voice.testing.FakeLLMResponse[];

  constructor(responses: voice.testing.FakeLLMResponse[]) {
    super(responses);
    this.#responses = responses;
  }

  override lookup(input: string): voice.testing.FakeLLMResponse | undefined {
    const exact = super.lookup(input);
    if (exact) return exact;
    const partial = this.#responses.find((response) => input.includes(response.input));
    return partial && { ttft: 0, duration: 0, ...partial };
  }
}

describe('McpToolset in an AgentSession', () => {
  let handle: DatabaseHandle;
  let user: User;
  let server: McpServerRow;
  let tools: UserToolsets | undefined;
  let session: voice.AgentSession | undefined;
  let agent: voice.Agent | undefined;

  async function startSession(
    responses: voice.testing.FakeLLMResponse[],
    recordToolCall?: ToolCallRecorder,
    recordIntervalMs?: number,
  ): Promise<{ session: voice.AgentSession; toolset: McpToolset }> {
    tools = await sandboxedToolsets({
      recordIntervalMs,
      // Every server's first attempt ends the wait, not the deadline, even on a busy machine.
      startDeadlineMs: 60_000,
      db: handle.db,
      secrets: handle.secrets,
      userId: user.id,
      logger: silentLogger(),
      sessionId: SESSION_ID,
      recordToolCall,
      // A dead server stays down for the test (retry in 5 minutes), so the model hears so.
      policy: { backoffBaseMs: 600_000 },
      random: () => 0.5,
    });
    expect(tools.toolsets).toHaveLength(1);
    agent = new voice.Agent({ instructions: 'You are a test agent.', tools: tools.toolsets });
    session = new voice.AgentSession({ llm: new SubstringFakeLLM(responses) });
    await session.start({ agent });
    return { session, toolset: tools.toolsets[0]! };
  }

  async function recordedCalls() {
    return handle.db.select().from(toolCalls).where(eq(toolCalls.serverId, server.id));
  }

  beforeAll(async () => {
    handle = await openTestDatabase();
    user = await createTestUser(handle);
    server = await createServer(handle, everythingServer(user.id));
  });

  beforeEach(async () => {
    await handle.db.delete(toolCalls);
  });

  afterEach(async () => {
    await session?.close();
    await tools?.close();
    session = undefined;
    tools = undefined;
    agent = undefined;
  });

  afterAll(async () => {
    await handle?.close();
  });

  it("runs the model's tool call on the real MCP server and puts the result in the chat context", async () => {
    const { session, toolset } = await startSession([
      {
        input: 'please echo hello',
        toolCalls: [{ name: 'everything__echo', args: { message: 'hello' } }],
      },
      { input: '"Echo: hello"', content: 'The server said hello.' },
    ]);

    const result = await session.run({ userInput: 'please echo hello' }).wait();

    result.expect
      .nextEvent()
      .isFunctionCall({ name: 'everything__echo', args: { message: 'hello' } });
    const output = result.expect.nextEvent().isFunctionCallOutput({ isError: false }).event();
    expect(output.item.output).toContain('Echo: hello');
    const reply = result.expect.nextEvent().isMessage({ role: 'assistant' }).event();
    expect(reply.item.textContent).toBe('The server said hello.');
    result.expect.noMoreEvents();

    const history = agent!.chatCtx.items.filter((item) => item.type === 'function_call_output');
    expect(history).toEqual([expect.objectContaining({ output: '"Echo: hello"', isError: false })]);

    await toolset.flushRecords();
    expect(await recordedCalls()).toEqual([
      expect.objectContaining({
        userId: user.id,
        serverId: server.id,
        toolName: 'echo',
        roomName: null,
        sessionId: SESSION_ID,
        startedAt: expect.any(Date),
        durationMs: expect.any(Number),
        ok: true,
        error: null,
      }),
    ]);
  });

  it('writes the calls still buffered when the session closes its tools', async () => {
    const { session } = await startSession(
      [{ input: 'echo bye', toolCalls: [{ name: 'everything__echo', args: { message: 'bye' } }] }],
      undefined,
      // The batch interval never comes during the test: only closing writes the row.
      3_600_000,
    );

    const result = await session.run({ userInput: 'echo bye' }).wait();
    result.expect.nextEvent().isFunctionCall({ name: 'everything__echo' });
    result.expect.nextEvent().isFunctionCallOutput({ isError: false });
    expect(await recordedCalls()).toEqual([]);

    await tools!.close();
    expect(await recordedCalls()).toEqual([
      expect.objectContaining({ toolName: 'echo', sessionId: SESSION_ID, ok: true }),
    ]);
  });

  it('hands an MCP error result to the model as a tool error it can answer', async () => {
    const { session, toolset } = await startSession([
      { input: 'echo nothing', toolCalls: [{ name: 'everything__echo', args: {} }] },
      { input: 'Input validation error', content: 'The echo tool needs a message.' },
    ]);

    const result = await session.run({ userInput: 'echo nothing' }).wait();

    result.expect.nextEvent().isFunctionCall({ name: 'everything__echo' });
    const output = result.expect.nextEvent().isFunctionCallOutput({ isError: true }).event();
    expect(output.item.output).toMatch(/Input validation error.*message/);
    const reply = result.expect.nextEvent().isMessage({ role: 'assistant' }).event();
    expect(reply.item.textContent).toBe('The echo tool needs a message.');
    result.expect.noMoreEvents();

    await toolset.flushRecords();
    expect(await recordedCalls()).toEqual([
      expect.objectContaining({
        toolName: 'echo',
        ok: false,
        error: expect.stringContaining('Input validation error'),
      }),
    ]);
  });

  it('tells the model the server is unavailable when its process has died', async () => {
    const { session, toolset } = await startSession([
      {
        input: 'echo after crash',
        toolCalls: [{ name: 'everything__echo', args: { message: 'anyone?' } }],
      },
      { input: 'server is unavailable', content: 'That server is down right now.' },
    ]);
    process.kill(toolset.connection.pid!, 'SIGKILL');
    await vi.waitFor(() => expect(toolset.connection.status).toBe('error'), {
      timeout: 30_000,
      interval: 20,
    });

    const result = await session.run({ userInput: 'echo after crash' }).wait();

    result.expect.nextEvent().isFunctionCall({ name: 'everything__echo' });
    const output = result.expect.nextEvent().isFunctionCallOutput({ isError: true }).event();
    expect(output.item.output).toMatch(
      /^The Everything server is unavailable: .*closed.*\. Retrying in \d+ s\.$/,
    );
    result.expect.nextEvent().isMessage({ role: 'assistant' });
    result.expect.noMoreEvents();

    await toolset.flushRecords();
    expect(await recordedCalls()).toEqual([
      expect.objectContaining({ toolName: 'echo', ok: false, error: expect.any(String) }),
    ]);
  });

  it('returns the tool result even when recording the call fails', async () => {
    const recorder = vi.fn<ToolCallRecorder>(async () => {
      throw new Error('database is down');
    });
    const { session, toolset } = await startSession(
      [{ input: 'echo hi', toolCalls: [{ name: 'everything__echo', args: { message: 'hi' } }] }],
      recorder,
    );

    const result = await session.run({ userInput: 'echo hi' }).wait();

    result.expect.nextEvent().isFunctionCall({ name: 'everything__echo' });
    result.expect.nextEvent().isFunctionCallOutput({ output: '"Echo: hi"', isError: false });
    await toolset.flushRecords();
    expect(recorder).toHaveBeenCalledOnce();
    expect(recorder.mock.calls[0]![0]).toMatchObject<Partial<ToolCallRecord>>({
      userId: user.id,
      serverId: server.id,
      toolName: 'echo',
      sessionId: SESSION_ID,
      ok: true,
    });
  });

  it('does not wait for the call to be recorded before returning the result', async () => {
    const recorder = vi.fn<ToolCallRecorder>(() => new Promise<void>(() => {}));
    const { session } = await startSession(
      [{ input: 'echo hi', toolCalls: [{ name: 'everything__echo', args: { message: 'hi' } }] }],
      recorder,
    );

    const result = await session.run({ userInput: 'echo hi' }).wait();

    result.expect.nextEvent().isFunctionCall({ name: 'everything__echo' });
    result.expect.nextEvent().isFunctionCallOutput({ output: '"Echo: hi"', isError: false });
    expect(recorder).toHaveBeenCalledOnce();
  });

  it('keeps the advertised names when the tools are listed again', async () => {
    const { toolset } = await startSession([]);
    const before = toolset.advertisedTools.map((tool) => tool.name);

    await toolset.refreshTools();

    expect(toolset.advertisedTools.map((tool) => tool.name)).toEqual(before);
    // Long-running tools (here server-everything's `simulate-research-query`, which supports MCP
    // tasks) sit in the toolset's nested AsyncToolset.
    const flattened = toolset.tools.flatMap((entry) =>
      entry instanceof llm.Toolset ? entry.tools : [entry],
    );
    // server-everything declares the `resources` capability: its three resource tools come too.
    const all = [
      ...before,
      'everything__list_resources',
      'everything__list_resource_templates',
      'everything__read_resource',
    ].sort();
    expect(flattened.map((tool) => tool.id).sort()).toEqual(all);
    expect(Object.keys(agent!.toolCtx.functionTools).sort()).toEqual(all);
  });
});

describe('McpToolset tools that change during a session', () => {
  let handle: DatabaseHandle;
  let user: User;
  let tools: UserToolsets | undefined;
  let session: voice.AgentSession | undefined;

  beforeAll(async () => {
    handle = await openTestDatabase();
    user = await createTestUser(handle);
    await createServer(handle, {
      userId: user.id,
      name: 'Fixture',
      transport: 'stdio',
      sandbox: { network: 'none' },
      command: process.execPath,
      args: FIXTURE_SERVER_ARGS,
      // Follows the tool list as the server changes it; with pinning on, an added tool would wait
      // for approval (test/agent/run-session.tool-pinning.test.ts).
      pinTools: false,
    });
  });

  afterAll(async () => {
    await session?.close();
    await tools?.close();
    await handle?.close();
  });

  it('advertises a tool the server adds, and brings the tools back after a kill -9', async () => {
    tools = await sandboxedToolsets({
      // Every server's first attempt ends the wait, not the deadline, even on a busy machine.
      startDeadlineMs: 60_000,
      db: handle.db,
      secrets: handle.secrets,
      userId: user.id,
      logger: silentLogger(),
      random: () => 0,
    });
    const agent = new voice.Agent({ instructions: 'Test.', tools: tools.toolsets });
    session = new voice.AgentSession({
      llm: new voice.testing.FakeLLM([
        { input: 'grow', toolCalls: [{ name: 'fixture__add-tool', args: { name: 'late' } }] },
        { input: 'use it', toolCalls: [{ name: 'fixture__late', args: {} }] },
        { input: 'echo back', toolCalls: [{ name: 'fixture__echo', args: { message: 'back' } }] },
      ]),
    });
    await session.start({ agent });
    expect(Object.keys(agent.toolCtx.functionTools)).not.toContain('fixture__late');

    const grow = await session.run({ userInput: 'grow' }).wait();
    grow.expect.nextEvent().isFunctionCall({ name: 'fixture__add-tool' });
    grow.expect.nextEvent().isFunctionCallOutput({ isError: false });
    await vi.waitFor(
      () => expect(Object.keys(agent.toolCtx.functionTools)).toContain('fixture__late'),
      {
        timeout: 30_000,
        interval: 20,
      },
    );
    const late = await session.run({ userInput: 'use it' }).wait();
    late.expect.nextEvent().isFunctionCall({ name: 'fixture__late' });
    // The fixture answers unknown tools with an error result: the call reached the server.
    late.expect.nextEvent().isFunctionCallOutput({ isError: true });

    const toolset = tools.toolsets[0]!;
    const pid = toolset.connection.pid!;
    process.kill(pid, 'SIGKILL');
    await vi.waitFor(
      () => {
        // A new process (not just the old one's pid gone, which reads null before the loss is
        // noticed), connected.
        expect(toolset.connection.pid).toEqual(expect.any(Number));
        expect(toolset.connection.pid).not.toBe(pid);
        expect(toolset.connection.status).toBe('connected');
      },
      { timeout: 30_000, interval: 20 },
    );
    const back = await session.run({ userInput: 'echo back' }).wait();
    back.expect.nextEvent().isFunctionCall({ name: 'fixture__echo' });
    back.expect.nextEvent().isFunctionCallOutput({ output: '"Echo: back"', isError: false });
  });
});

describe('McpToolset following its connection', () => {
  /** A connection with only what a toolset uses outside calls: its tools and their changes. */
  function fakeConnection(initial: McpTool[]) {
    const listeners = new Set<(tools: readonly McpTool[]) => void>();
    const connectedListeners = new Set<(info: ConnectionInfo) => void>();
    const state = {
      tools: initial as readonly McpTool[],
      info: undefined as ConnectionInfo | undefined,
    };
    const connection = {
      get tools() {
        return state.tools;
      },
      get info() {
        return state.info;
      },
      config: { timeoutMs: 1_000 },
      onToolsChanged(listener: (tools: readonly McpTool[]) => void) {
        listeners.add(listener);
        return () => listeners.delete(listener);
      },
      onConnected(listener: (info: ConnectionInfo) => void) {
        connectedListeners.add(listener);
        return () => connectedListeners.delete(listener);
      },
      close: vi.fn(async () => {}),
    };
    const change = (tools: McpTool[]) => {
      state.tools = tools;
      for (const listener of listeners) listener(tools);
    };
    /** A (re)connect: what the server said at `initialize`, with the same tools. */
    const connect = (info: ConnectionInfo) => {
      state.info = info;
      for (const listener of connectedListeners) listener(info);
    };
    return {
      connection: connection as unknown as SupervisedConnection,
      change,
      connect,
      listeners,
      connectedListeners,
    };
  }

  const tool = (name: string): McpTool => ({ name, inputSchema: { type: 'object' } });
  const names = (toolset: McpToolset) =>
    toolset.tools.map((entry) => (entry instanceof llm.Toolset ? entry.id : entry.id));

  function toolsetOver(connection: SupervisedConnection, tools: readonly McpTool[]) {
    return new McpToolset({
      server: { id: 9, name: 'Fake' },
      connection,
      tools,
      scope: { userId: 1 },
      logger: silentLogger(),
    });
  }

  it('keeps its tools current before setup, then pushes changes through updateTools', async () => {
    const { connection, change, listeners } = fakeConnection([]);
    const toolset = toolsetOver(connection, connection.tools);
    expect(names(toolset)).toEqual([]);

    // The server connects before any session has set the toolset up.
    change([tool('echo')]);
    expect(names(toolset)).toEqual(['fake__echo']);

    const updateTools = vi.fn((tools: llm.ToolContextEntry[]) => toolset._setTools(tools));
    await toolset.setup({ updateTools });
    expect(updateTools).not.toHaveBeenCalled();

    change([tool('echo'), tool('late')]);
    expect(updateTools).toHaveBeenCalledOnce();
    expect(names(toolset)).toEqual(['fake__echo', 'fake__late']);

    await toolset.aclose();
    expect(listeners.size).toBe(0);
    expect(connection.close).toHaveBeenCalled();
  });

  it('adds the resource tools when a server connects with the resources capability, even with no tools', async () => {
    const { connection, connect, connectedListeners } = fakeConnection([]);
    const toolset = toolsetOver(connection, []);
    const updateTools = vi.fn((tools: llm.ToolContextEntry[]) => toolset._setTools(tools));
    await toolset.setup({ updateTools });
    expect(names(toolset)).toEqual([]);

    connect({ transport: 'stdio', latencyMs: 1, capabilities: { resources: {} } });
    expect(names(toolset)).toEqual([
      'fake__list_resources',
      'fake__list_resource_templates',
      'fake__read_resource',
    ]);
    // A reconnect with the same capability changes nothing; one without it takes them away.
    connect({ transport: 'stdio', latencyMs: 1, capabilities: { resources: {} } });
    expect(updateTools).toHaveBeenCalledOnce();
    connect({ transport: 'stdio', latencyMs: 1, capabilities: {} });
    expect(names(toolset)).toEqual([]);

    await toolset.aclose();
    expect(connectedListeners.size).toBe(0);
  });

  it('catches up in setup when it was built from an older list', async () => {
    const { connection } = fakeConnection([tool('echo')]);
    const toolset = toolsetOver(connection, []);
    const updateTools = vi.fn((tools: llm.ToolContextEntry[]) => toolset._setTools(tools));

    await toolset.setup({ updateTools });

    expect(updateTools).toHaveBeenCalledOnce();
    expect(names(toolset)).toEqual(['fake__echo']);
    await toolset.aclose();
  });
});
