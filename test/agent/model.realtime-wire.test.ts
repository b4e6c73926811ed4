import { initializeLogger, type voice } from '@livekit/agents';
import * as openai from '@livekit/agents-plugin-openai';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { runSession } from '../../agent/run-session.js';
import type { DatabaseHandle } from '../../shared/db/open.js';
import { createServer } from '../../shared/db/servers.js';
import { realtimeUrl } from '../../shared/realtime-check.js';
import { loadSettings } from '../../shared/settings.js';
import { createTestUser, openTestDatabase } from '../helpers/database.js';
import { startRealtimeServer, type RealtimeTestServer } from '../helpers/realtime-server.js';
import { everythingServer, fakeJob, silentLogger } from './fixtures.js';
import { fileSandboxDataDir } from '../helpers/sandboxed.js';

initializeLogger({ pretty: false, level: 'silent' });

/** Every key anywhere in a JSON value. */
function allKeys(value: unknown): string[] {
  if (Array.isArray(value)) return value.flatMap(allKeys);
  if (value && typeof value === 'object') {
    return Object.entries(value).flatMap(([key, inner]) => [key, ...allKeys(inner)]);
  }
  return [];
}

interface WireTool {
  type: string;
  name: string;
  description?: string;
  parameters: Record<string, unknown>;
}

describe('the realtime model on the wire', () => {
  let realtime: RealtimeTestServer;
  let handle: DatabaseHandle;
  const sessions: voice.AgentSession[] = [];

  beforeAll(async () => {
    realtime = await startRealtimeServer();
    handle = await openTestDatabase();
  });

  afterEach(async () => {
    await Promise.all(sessions.splice(0).map((session) => session.close()));
  });

  afterAll(async () => {
    await realtime?.close();
    await handle?.close();
  });

  it('connects where the plugin does', () => {
    for (const base of [
      'https://api.openai.com/v1',
      'http://127.0.0.1:9/v1/',
      'https://proxy.test/openai',
    ]) {
      expect(realtimeUrl(base, 'gpt-realtime')).toBe(
        openai.realtime.processBaseURL({ baseURL: base, model: 'gpt-realtime', isAzure: false }),
      );
    }
  });

  it('advertises clean tools in session.update and sends back the output of a real MCP call', async () => {
    const user = await createTestUser(handle);
    await createServer(handle, everythingServer(user.id));
    const settings = loadSettings({
      // The sandbox (on by default) keeps its private folders in this file's temporary DATA_DIR.
      DATA_DIR: fileSandboxDataDir(),
      OPENAI_API_KEY: realtime.apiKey,
      OPENAI_BASE_URL: realtime.baseUrl,
      OPENAI_REALTIME_MODEL: 'gpt-realtime',
      AGENT_GREETING: 'Say hello.',
      AGENT_INSTRUCTIONS: 'Be brief.',
    });
    const { ctx, shutdown } = fakeJob(JSON.stringify({ userId: user.id }), 'job-realtime');

    const running = await runSession(ctx, {
      settings,
      logger: silentLogger(),
      openDatabase: async () => ({ ...handle, close: async () => {} }),
    });
    sessions.push(running.session);
    expect(running.session.llm).toBeInstanceOf(openai.realtime.RealtimeModel);

    await running.greeting.waitForPlayout();
    // One connection for the session check, one for the session itself, both authenticated.
    expect(realtime.connections.map((c) => c.url)).toEqual([
      '/v1/realtime?model=gpt-realtime',
      '/v1/realtime?model=gpt-realtime',
    ]);
    expect(
      realtime.connections.every((c) => c.headers.authorization === `Bearer ${realtime.apiKey}`),
    ).toBe(true);

    const advertised = realtime
      .sessionUpdates()
      .flatMap((event) => (event.session as { tools?: WireTool[] }).tools ?? []);
    expect(advertised.map((tool) => tool.name)).toContain('everything__echo');
    for (const tool of advertised) {
      expect(tool.type).toBe('function');
      expect(tool.name).toMatch(/^[a-zA-Z0-9_-]{1,64}$/);
      expect(tool.parameters.type).toBe('object');
    }
    // The MCP servers' tools (not LiveKit's own, such as lk_agents_cancel_task) carry exactly the
    // JSON Schema the model needs: no $schema, $id or MCP _meta.
    const mcpTools = advertised.filter((tool) => tool.name.startsWith('everything__'));
    expect(mcpTools.length).toBeGreaterThan(5);
    for (const tool of mcpTools) {
      const keys = allKeys(tool.parameters);
      expect(keys).not.toContain('$schema');
      expect(keys).not.toContain('_meta');
      expect(keys).not.toContain('$id');
    }
    const echo = advertised.find((tool) => tool.name === 'everything__echo')!;
    expect(echo.parameters).toMatchObject({
      type: 'object',
      properties: { message: { type: 'string' } },
      required: ['message'],
    });

    realtime.answerNext({
      functionCall: { name: 'everything__echo', arguments: { message: 'hi' } },
    });
    realtime.answerNext({ text: 'It said hi.' });
    const result = await running.session.run({ userInput: 'echo hi' }).wait();

    result.expect.nextEvent().isFunctionCall({ name: 'everything__echo' });
    result.expect.nextEvent().isFunctionCallOutput({ isError: false });
    const userMessage = realtime.events.find(
      (event) =>
        event.type === 'conversation.item.create' && JSON.stringify(event.item).includes('echo hi'),
    );
    expect(userMessage).toBeDefined();
    await vi.waitFor(() => expect(realtime.functionCallOutputs()).toHaveLength(1), {
      timeout: 10_000,
    });
    const [output] = realtime.functionCallOutputs();
    expect(output!.output).toContain('Echo: hi');
    expect(output!.call_id).toMatch(/^call_/);
    // After the output, the agent asks for the spoken answer to it.
    const outputIndex = realtime.events.findIndex(
      (event) =>
        event.type === 'conversation.item.create' &&
        (event.item as { type?: string }).type === 'function_call_output',
    );
    await vi.waitFor(
      () =>
        expect(realtime.events.slice(outputIndex).map((event) => event.type)).toContain(
          'response.create',
        ),
      { timeout: 10_000 },
    );

    await shutdown();
  });
});
