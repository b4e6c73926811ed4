import { initializeLogger, type voice } from '@livekit/agents';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { runSession } from '../../agent/run-session.js';
import { FIND_TOOLS_NAME } from '../../agent/tool-budget.js';
import type { DatabaseHandle } from '../../shared/db/open.js';
import { createServer } from '../../shared/db/servers.js';
import { loadSettings } from '../../shared/settings.js';
import { createTestUser, openTestDatabase } from '../helpers/database.js';
import {
  startManyToolsMcpServer,
  type ManyToolsMcpServer,
} from '../helpers/many-tools-mcp-server.js';
import { startRealtimeServer, type RealtimeTestServer } from '../helpers/realtime-server.js';
import { fakeJob, silentLogger } from './fixtures.js';
import { fileSandboxDataDir } from '../helpers/sandboxed.js';

initializeLogger({ pretty: false, level: 'silent' });

const WEATHER = 'ledger_11__forecast_weather';

describe('the tool budget on the realtime wire', () => {
  let realtime: RealtimeTestServer;
  let mcp: ManyToolsMcpServer;
  let handle: DatabaseHandle;
  const sessions: voice.AgentSession[] = [];

  beforeAll(async () => {
    realtime = await startRealtimeServer();
    mcp = await startManyToolsMcpServer(12, 40);
    handle = await openTestDatabase();
  });
  afterEach(async () => {
    await Promise.all(sessions.splice(0).map((session) => session.close()));
  });
  afterAll(async () => {
    await realtime?.close();
    await mcp?.close();
    await handle?.close();
  });

  it('never sends more tools than the budget, and calls a found tool in the same turn', async () => {
    const user = await createTestUser(handle);
    for (let n = 0; n < 12; n++) {
      await createServer(handle, {
        userId: user.id,
        name: `Ledger ${String(n).padStart(2, '0')}`,
        transport: 'streamable-http',
        url: mcp.urlOf(n),
        timeoutMs: 20_000,
      });
    }
    const { ctx, shutdown } = fakeJob(JSON.stringify({ userId: user.id }), 'job-budget-rt');
    const running = await runSession(ctx, {
      settings: loadSettings({
        DATA_DIR: fileSandboxDataDir(),
        OPENAI_API_KEY: realtime.apiKey,
        OPENAI_BASE_URL: realtime.baseUrl,
        AGENT_GREETING: 'Say hello.',
        AGENT_TOOLS_DEADLINE_MS: '60000',
        AGENT_MAX_TOOLS: '16',
        MCP_ALLOW_PRIVATE_NETWORKS: 'true',
      }),
      logger: silentLogger(),
      openDatabase: async () => ({ ...handle, close: async () => {} }),
    });
    sessions.push(running.session);
    await running.greeting.waitForPlayout();

    realtime.answerNext({
      functionCall: { name: FIND_TOOLS_NAME, arguments: { query: 'weather forecast' } },
    });
    realtime.answerNext({ functionCall: { name: WEATHER, arguments: { city: 'Paris' } } });
    realtime.answerNext({ text: 'Sunny in Paris.' });
    const result = await running.session.run({ userInput: 'weather in Paris?' }).wait();
    result.expect.nextEvent().isFunctionCall({ name: FIND_TOOLS_NAME });
    result.expect.nextEvent().isFunctionCallOutput({ isError: false });
    // The answer to the tool output is the model's next response, with the new tools.
    await vi.waitFor(() => expect(realtime.functionCallOutputs()).toHaveLength(2), {
      timeout: 10_000,
    });
    expect(realtime.functionCallOutputs()[1]!.output).toContain('11/forecast_weather');
    expect(mcp.calls).toEqual(['11/forecast_weather']);

    const toolLists = realtime
      .sessionUpdates()
      .map((event) => (event.session as { tools?: { name: string }[] }).tools)
      .filter((tools) => tools !== undefined);
    expect(toolLists.length).toBeGreaterThan(1);
    for (const tools of toolLists) expect(tools.length).toBeLessThanOrEqual(16);
    const last = toolLists[toolLists.length - 1]!.map((tool) => tool.name);
    expect(last).toContain(WEATHER);
    expect(last).toContain(FIND_TOOLS_NAME);
    // Before find_tools ran, the weather tool was not advertised; it was once find_tools' output
    // went to the model, so the model's next response could call it.
    expect(toolLists[0]!.map((tool) => tool.name)).not.toContain(WEATHER);
    const advertisedAt = realtime.events.findIndex(
      (event) => event.type === 'session.update' && JSON.stringify(event.session).includes(WEATHER),
    );
    const findOutputAt = realtime.events.findIndex(
      (event) =>
        event.type === 'conversation.item.create' &&
        JSON.stringify(event.item).includes('You can now call'),
    );
    expect(advertisedAt).toBeGreaterThan(-1);
    expect(advertisedAt).toBeLessThan(findOutputAt);

    await shutdown();
  });
});
