import { initializeLogger, voice, type llm } from '@livekit/agents';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { runSession, type RunningSession } from '../../agent/run-session.js';
import { FIND_TOOLS_NAME } from '../../agent/tool-budget.js';
import type { DatabaseHandle } from '../../shared/db/open.js';
import type { NewMcpServerRow } from '../../shared/db/schema.js';
import { createServer, updateServer } from '../../shared/db/servers.js';
import { loadSettings, SettingsError } from '../../shared/settings.js';
import { createTestUser, openTestDatabase } from '../helpers/database.js';
import {
  startManyToolsMcpServer,
  type ManyToolsMcpServer,
} from '../helpers/many-tools-mcp-server.js';
import { fakeJob, silentLogger } from './fixtures.js';
import { fileSandboxDataDir } from '../helpers/sandboxed.js';

initializeLogger({ pretty: false, level: 'silent' });

const GREETING = 'instructions: greet the user';
const WEATHER = 'ledger_11__forecast_weather';
// In a pipeline session the found tool is callable from the next turn, and find_tools says so.
const FOUND_WEATHER =
  `Loaded for the user's next message (${WEATHER}); tell the user what you found and ask them ` +
  `to go on, then call it:\n- ${WEATHER}: Gives the weather forecast for a city.`;

describe('AGENT_MAX_TOOLS', () => {
  it('defaults to 64 and accepts 1 to 128', () => {
    expect(loadSettings({}).AGENT_MAX_TOOLS).toBe(64);
    expect(loadSettings({ AGENT_MAX_TOOLS: '1' }).AGENT_MAX_TOOLS).toBe(1);
    expect(loadSettings({ AGENT_MAX_TOOLS: '128' }).AGENT_MAX_TOOLS).toBe(128);
  });

  it.each(['0', '129', 'many', '12.5', '-3'])('refuses %j with a clear error', (value) => {
    expect(() => loadSettings({ AGENT_MAX_TOOLS: value })).toThrow(SettingsError);
    expect(() => loadSettings({ AGENT_MAX_TOOLS: value })).toThrow(
      /AGENT_MAX_TOOLS: must be a whole number from 1 to 128/,
    );
  });
});

describe('a session over its tool budget', () => {
  let handle: DatabaseHandle;
  let mcp: ManyToolsMcpServer;
  const sessions: RunningSession[] = [];

  beforeAll(async () => {
    handle = await openTestDatabase();
    // 13 servers of 40 tools: 12 at start, one added mid-session; the weather tool on server 11.
    mcp = await startManyToolsMcpServer(13, 40, 11);
  });
  afterEach(async () => {
    for (const running of sessions.splice(0)) {
      await running.close();
      await running.session.close();
    }
  });
  afterAll(async () => {
    await mcp?.close();
    await handle?.close();
  });

  /** A remote server row for virtual server `n` of the many-tools server. */
  const ledger = (userId: number, n: number, url = mcp.urlOf(n)): NewMcpServerRow => ({
    userId,
    name: `Ledger ${String(n).padStart(2, '0')}`,
    transport: 'streamable-http',
    url,
    timeoutMs: 20_000,
  });

  /** Starts a text-mode session of `userId` with the budget and model given. */
  async function start(userId: number, maxTools: string, model: llm.LLM) {
    const { ctx, shutdown } = fakeJob(JSON.stringify({ userId }), `job-budget-${userId}`);
    const running = await runSession(ctx, {
      settings: loadSettings({
        DATA_DIR: fileSandboxDataDir(),
        AGENT_GREETING: GREETING,
        AGENT_TOOLS_DEADLINE_MS: '60000',
        AGENT_MAX_TOOLS: maxTools,
        MCP_ALLOW_PRIVATE_NETWORKS: 'true',
      }),
      logger: silentLogger(),
      openDatabase: async () => ({ ...handle, close: async () => {} }),
      createModel: () => model,
    });
    sessions.push(running);
    await running.greeting.waitForPlayout();
    return { running, shutdown };
  }

  const advertised = (running: RunningSession) =>
    Object.keys(running.agent.toolCtx.functionTools).sort();

  it('advertises 16 of 480 tools, finds one with find_tools and calls it, dropping the least recently used', async () => {
    const user = await createTestUser(handle);
    const rows = [];
    for (let n = 0; n < 12; n++) rows.push(await createServer(handle, ledger(user.id, n)));
    const weatherServer = rows[11]!;
    const model = new voice.testing.FakeLLM([
      { input: GREETING, content: 'Hello.' },
      { input: 'run step 14', toolCalls: [{ name: 'ledger_00__step_14', args: {} }] },
      { input: '"0/step_14: {}"', content: 'Done.' },
      {
        input: 'what is the weather in Paris',
        toolCalls: [{ name: FIND_TOOLS_NAME, args: { query: 'weather forecast' } }],
      },
      { input: JSON.stringify(FOUND_WEATHER), content: 'I can look that up.' },
      { input: 'go ahead', toolCalls: [{ name: WEATHER, args: { city: 'Paris' } }] },
      { input: JSON.stringify('11/forecast_weather: {"city":"Paris"}'), content: 'Sunny.' },
    ]);
    const { running } = await start(user.id, '16', model);

    // Every re-advertisement stays within the budget.
    const counts: number[] = [];
    const updateTools = running.agent.updateTools.bind(running.agent);
    vi.spyOn(running.agent, 'updateTools').mockImplementation(async (tools) => {
      await updateTools(tools);
      counts.push(Object.keys(running.agent.toolCtx.functionTools).length);
    });

    expect(running.budget.totalTools).toBe(480);
    const first = advertised(running);
    expect(first).toHaveLength(16);
    expect(first).toContain(FIND_TOOLS_NAME);
    // The stable order: server 0's tools first, in its own order.
    expect(first).toEqual(
      [FIND_TOOLS_NAME, ...Array.from({ length: 15 }, (_, j) => `ledger_00__step_${j}`)].sort(),
    );
    expect(first).not.toContain(WEATHER);

    const used = await running.session.run({ userInput: 'run step 14' }).wait();
    used.expect.nextEvent().isFunctionCall({ name: 'ledger_00__step_14' });
    used.expect.nextEvent().isFunctionCallOutput({ output: '"0/step_14: {}"', isError: false });

    const found = await running.session.run({ userInput: 'what is the weather in Paris' }).wait();
    found.expect.nextEvent().isFunctionCall({ name: FIND_TOOLS_NAME });
    found.expect
      .nextEvent()
      .isFunctionCallOutput({ output: JSON.stringify(FOUND_WEATHER), isError: false });
    const after = advertised(running);
    expect(after).toHaveLength(16);
    expect(after).toContain(WEATHER);
    // Step 14 was just used; step 13, never used and last in order, made room.
    expect(after).toContain('ledger_00__step_14');
    expect(after).not.toContain('ledger_00__step_13');

    const called = await running.session.run({ userInput: 'go ahead' }).wait();
    called.expect.nextEvent().isFunctionCall({ name: WEATHER });
    called.expect.nextEvent().isFunctionCallOutput({
      output: JSON.stringify('11/forecast_weather: {"city":"Paris"}'),
      isError: false,
    });
    expect(mcp.calls).toContain('11/forecast_weather');

    // A server added mid-session: its tools are searchable, the budget still holds.
    const updatesBefore = counts.length;
    await createServer(handle, ledger(user.id, 12));
    await vi.waitFor(() => expect(running.budget.totalTools).toBe(520), {
      timeout: 20_000,
      interval: 50,
    });
    await vi.waitFor(() => expect(counts.length).toBeGreaterThan(updatesBefore));
    expect(advertised(running)).toHaveLength(16);
    expect(running.budget.search('ledger 12 step 3').map((entry) => entry.tool.name)).toContain(
      'ledger_12__step_3',
    );
    expect(Math.max(...counts)).toBeLessThanOrEqual(16);

    // The weather server disabled mid-session: its tool leaves, the next in order takes its place.
    await updateServer(handle, user.id, weatherServer.id, { isActive: false });
    await vi.waitFor(() => expect(advertised(running)).not.toContain(WEATHER), {
      timeout: 20_000,
      interval: 50,
    });
    expect(running.budget.totalTools).toBe(480);
    expect(advertised(running)).toHaveLength(16);
    expect(advertised(running)).toContain('ledger_00__step_13');
    expect(Math.max(...counts)).toBeLessThanOrEqual(16);
  });

  it('replaces the least recently used tools across several finds', async () => {
    const user = await createTestUser(handle);
    for (let n = 0; n < 12; n++) await createServer(handle, ledger(user.id, n));
    const { running } = await start(
      user.id,
      '4',
      new voice.testing.FakeLLM([{ input: GREETING, content: 'Hello.' }]),
    );
    // find_tools and three tools of server 0.
    expect(advertised(running)).toEqual(
      [FIND_TOOLS_NAME, 'ledger_00__step_0', 'ledger_00__step_1', 'ledger_00__step_2'].sort(),
    );
    running.budget.touch(['ledger_00__step_1']);
    running.budget.touch(['ledger_00__step_0']);

    const weather = await running.budget.find('weather', 1);
    expect(weather.added).toEqual([WEATHER]);
    expect(weather.evicted).toEqual(['ledger_00__step_2']);
    const step = await running.budget.find('ledger 07 step 9', 1);
    expect(step.added).toEqual(['ledger_07__step_9']);
    // step 1 was used before step 0; the found weather tool counts as used after both.
    expect(step.evicted).toEqual(['ledger_00__step_1']);
    expect(advertised(running)).toEqual(
      [FIND_TOOLS_NAME, 'ledger_00__step_0', WEATHER, 'ledger_07__step_9'].sort(),
    );
    // Found again: already there, nothing dropped.
    expect(await running.budget.find('weather', 1)).toMatchObject({ added: [], evicted: [] });
  });

  it('gives a session within its budget every tool and no find_tools', async () => {
    const user = await createTestUser(handle);
    await createServer(handle, ledger(user.id, 0));
    const { running } = await start(
      user.id,
      '40',
      new voice.testing.FakeLLM([{ input: GREETING, content: 'Hello.' }]),
    );
    const names = advertised(running);
    expect(names).toHaveLength(40);
    expect(names).not.toContain(FIND_TOOLS_NAME);
    expect(running.budget.advertisedNames()).toEqual(names);
  });
});
