import { createServer as createHttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { initializeLogger, type voice } from '@livekit/agents';
import * as openai from '@livekit/agents-plugin-openai';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { WebSocketServer } from 'ws';
import { chooseSessionModels } from '../../agent/model.js';
import { runSession } from '../../agent/run-session.js';
import type { DatabaseHandle } from '../../shared/db/open.js';
import { createServer } from '../../shared/db/servers.js';
import { createLogger } from '../../shared/logger.js';
import { loadSettings } from '../../shared/settings.js';
import { createTestUser, openTestDatabase } from '../helpers/database.js';
import { startOpenAIHttpServer, type OpenAIHttpTestServer } from '../helpers/openai-http-server.js';
import { startRealtimeServer, type RealtimeTestServer } from '../helpers/realtime-server.js';
import { everythingServer, fakeJob } from './fixtures.js';
import { fileSandboxDataDir } from '../helpers/sandboxed.js';

initializeLogger({ pretty: false, level: 'silent' });

const API_KEY = 'sk-realtime-test';

/** A pino logger whose lines are kept, parsed. */
function capturingLogger() {
  const lines: { level: number; msg: string; [key: string]: unknown }[] = [];
  const logger = createLogger({
    level: 'info',
    destination: { write: (line: string) => void lines.push(JSON.parse(line)) },
  });
  return { logger, lines };
}

/** A port nothing listens on: bound, then closed. */
async function closedPort(): Promise<number> {
  const server = createHttpServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

const FALLBACK_LINE = 'realtime model unavailable, using the STT-LLM-TTS pipeline';

describe('runSession without a realtime endpoint', () => {
  let http: OpenAIHttpTestServer;
  let handle: DatabaseHandle;
  const sessions: voice.AgentSession[] = [];

  beforeAll(async () => {
    http = await startOpenAIHttpServer();
    handle = await openTestDatabase();
  });

  afterEach(async () => {
    await Promise.all(sessions.splice(0).map((session) => session.close()));
  });

  afterAll(async () => {
    await http?.close();
    await handle?.close();
  });

  it('starts on the STT-LLM-TTS pipeline, logs why, and its turns reach the MCP server', async () => {
    const user = await createTestUser(handle);
    await createServer(handle, everythingServer(user.id));
    const settings = loadSettings({
      // The sandbox (on by default) keeps its private folders in this file's temporary DATA_DIR.
      DATA_DIR: fileSandboxDataDir(),
      OPENAI_API_KEY: API_KEY,
      OPENAI_BASE_URL: http.baseUrl,
      OPENAI_LLM_MODEL: 'gpt-test-mini',
      AGENT_GREETING: 'Say hello.',
      AGENT_INSTRUCTIONS: 'Be brief.',
    });
    const { logger, lines } = capturingLogger();
    const { ctx, shutdown } = fakeJob(JSON.stringify({ userId: user.id }), 'job-fallback');

    const running = await runSession(ctx, {
      settings,
      logger,
      openDatabase: async () => ({ ...handle, close: async () => {} }),
    });
    sessions.push(running.session);

    expect(running.session.llm).toBeInstanceOf(openai.LLM);
    expect(running.session.stt).toBeInstanceOf(openai.STT);
    expect(running.session.tts).toBeInstanceOf(openai.TTS);
    const warning = lines.find((line) => line.msg === FALLBACK_LINE);
    expect(warning).toMatchObject({ level: 40, jobId: 'job-fallback', llm: 'gpt-test-mini' });
    expect(warning?.reason).toMatch(/HTTP 404/);
    expect(http.requests.some((request) => request.url === '/v1/realtime?model=gpt-realtime')).toBe(
      true,
    );

    await running.greeting.waitForPlayout();
    http.answerNext({ toolCall: { name: 'everything__echo', arguments: { message: 'hi' } } });
    http.answerNext({ text: 'It said hi.' });
    const result = await running.session.run({ userInput: 'echo hi' }).wait();

    result.expect.nextEvent().isFunctionCall({ name: 'everything__echo' });
    result.expect.nextEvent().isFunctionCallOutput({ isError: false });
    const requests = http.chatRequests();
    const toolRequest = requests.find((request) =>
      request.messages.some((message) => message.role === 'user'),
    )!;
    expect(toolRequest.model).toBe('gpt-test-mini');
    const names = toolRequest.tools!.map((tool) => tool.function.name);
    expect(names).toContain('everything__echo');
    for (const tool of toolRequest.tools!) {
      expect(tool.function.name).toMatch(/^[a-zA-Z0-9_-]{1,64}$/);
      expect(JSON.stringify(tool.function.parameters)).not.toContain('$schema');
    }
    await vi.waitFor(
      () => {
        const outputs = http
          .chatRequests()
          .flatMap((request) => request.messages.filter((message) => message.role === 'tool'));
        expect(outputs.map((message) => String(message.content))).toEqual([
          expect.stringContaining('Echo: hi'),
        ]);
      },
      { timeout: 10_000 },
    );

    await shutdown();
  });
});

describe('chooseSessionModels', () => {
  let realtime: RealtimeTestServer;

  beforeAll(async () => {
    realtime = await startRealtimeServer({ apiKey: API_KEY });
  });

  afterAll(async () => {
    await realtime?.close();
  });

  afterEach(() => {
    realtime.refuse = false;
  });

  const settingsFor = (baseUrl: string, extra: Record<string, string> = {}) =>
    loadSettings({
      // The sandbox (on by default) keeps its private folders in this file's temporary DATA_DIR.
      DATA_DIR: fileSandboxDataDir(),
      OPENAI_API_KEY: API_KEY,
      OPENAI_BASE_URL: baseUrl,
      ...extra,
    });

  it('uses the realtime model when the endpoint accepts a session', async () => {
    const { logger, lines } = capturingLogger();
    const models = await chooseSessionModels({
      settings: settingsFor(realtime.baseUrl),
      logger,
    }).build();
    expect(models.mode).toBe('realtime');
    expect(models.llm).toBeInstanceOf(openai.realtime.RealtimeModel);
    expect(models.stt).toBeUndefined();
    expect(lines.some((line) => line.msg === FALLBACK_LINE)).toBe(false);
  });

  it('falls back when the realtime endpoint refuses the connection', async () => {
    realtime.refuse = true;
    const { logger, lines } = capturingLogger();
    const models = await chooseSessionModels({
      settings: settingsFor(realtime.baseUrl),
      logger,
    }).build();
    expect(models.mode).toBe('pipeline');
    expect(models.llm).toBeInstanceOf(openai.LLM);
    expect(models.fallbackReason).toMatch(/HTTP 503/);
    expect(lines.find((line) => line.msg === FALLBACK_LINE)).toMatchObject({ level: 40 });
  });

  it('falls back when the key is rejected', async () => {
    const { logger } = capturingLogger();
    const settings = loadSettings({
      // The sandbox (on by default) keeps its private folders in this file's temporary DATA_DIR.
      DATA_DIR: fileSandboxDataDir(),
      OPENAI_API_KEY: 'sk-wrong',
      OPENAI_BASE_URL: realtime.baseUrl,
    });
    const models = await chooseSessionModels({ settings, logger }).build();
    expect(models.fallbackReason).toMatch(/HTTP 401 \(the API key was rejected\)/);
  });

  it('falls back when nothing listens', async () => {
    const { logger } = capturingLogger();
    const port = await closedPort();
    const models = await chooseSessionModels({
      settings: settingsFor(`http://127.0.0.1:${port}/v1`),
      logger,
    }).build();
    expect(models.mode).toBe('pipeline');
    expect(models.fallbackReason).toMatch(/connection failed: .*ECONNREFUSED/);
  });

  it('falls back when the endpoint accepts but never creates a session', async () => {
    const silent = new WebSocketServer({ host: '127.0.0.1', port: 0 });
    await new Promise((resolve) => silent.once('listening', resolve));
    const { port } = silent.address() as AddressInfo;
    try {
      const { logger } = capturingLogger();
      const models = await chooseSessionModels({
        settings: settingsFor(`http://127.0.0.1:${port}/v1`, {
          AGENT_REALTIME_CHECK_TIMEOUT_MS: '200',
        }),
        logger,
      }).build();
      expect(models.mode).toBe('pipeline');
      expect(models.fallbackReason).toBe('no session.created within 200 ms.');
    } finally {
      for (const client of silent.clients) client.terminate();
      await new Promise((resolve) => silent.close(resolve));
    }
  });

  it('uses an injected model as is, without checking', async () => {
    const checkRealtime = vi.fn();
    const injected = new openai.LLM({ apiKey: API_KEY, baseURL: realtime.baseUrl });
    const models = await chooseSessionModels({
      settings: settingsFor(realtime.baseUrl),
      logger: capturingLogger().logger,
      createModel: () => injected,
      checkRealtime,
    }).build();
    expect(models).toEqual({ mode: 'custom', llm: injected });
    expect(checkRealtime).not.toHaveBeenCalled();
  });
});
