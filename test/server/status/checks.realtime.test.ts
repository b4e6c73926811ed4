import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { WebSocketServer } from 'ws';
import { generateToken, storeToken } from '../../../server/http/auth.js';
import { checkRealtime } from '../../../server/status/checks.js';
import type { DatabaseHandle } from '../../../shared/db/open.js';
import { createLogger } from '../../../shared/logger.js';
import { createTestUser, openTestDatabase } from '../../helpers/database.js';
import { serve, type TestServer } from '../../helpers/http.js';
import {
  startOpenAIHttpServer,
  type OpenAIHttpTestServer,
} from '../../helpers/openai-http-server.js';
import { startRealtimeServer, type RealtimeTestServer } from '../../helpers/realtime-server.js';
import { sandboxedApp, type TestAppDeps } from '../../helpers/sandboxed.js';

/** A port nothing listens on: bound, then closed. */
async function closedPort(): Promise<number> {
  const server: Server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

describe('GET /api/status: the realtime endpoint', () => {
  let realtime: RealtimeTestServer;
  let database: DatabaseHandle;
  let token: string;
  const apps: TestServer[] = [];

  beforeAll(async () => {
    realtime = await startRealtimeServer();
    database = await openTestDatabase();
    const user = await createTestUser(database);
    token = generateToken();
    await storeToken(database.db, user.id, token);
  });

  afterEach(() => {
    realtime.refuse = false;
  });

  afterAll(async () => {
    await Promise.all(apps.map((app) => app.close()));
    await realtime?.close();
    await database?.close();
  });

  async function status(deps: Partial<TestAppDeps> = {}) {
    const app = await serve(
      sandboxedApp({
        database,
        logger: createLogger({ level: 'silent' }),
        statusCacheMs: 0,
        ...deps,
      }),
    );
    apps.push(app);
    const res = await app.request('GET', '/api/status', { token });
    expect(res.status).toBe(200);
    return res.body;
  }

  it('reports the realtime model in use when the endpoint accepts a session', async () => {
    const before = realtime.connections.length;
    const body = await status({ openai: { apiKey: realtime.apiKey, baseUrl: realtime.baseUrl } });
    expect(body.openai).toMatchObject({ status: 'connected' });
    expect(body.openai.realtime).toMatchObject({ status: 'connected', sessionModel: 'realtime' });
    expect(body.openai.realtime.detail).toMatch(/accepted a gpt-realtime session/);
    expect(typeof body.openai.realtime.latencyMs).toBe('number');
    expect(realtime.connections.slice(before).map((c) => c.url)).toContain(
      '/v1/realtime?model=gpt-realtime',
    );
  });

  it('says sessions fall back to the pipeline when the endpoint is down', async () => {
    realtime.refuse = true;
    const body = await status({ openai: { apiKey: realtime.apiKey, baseUrl: realtime.baseUrl } });
    expect(body.openai.status).toBe('connected');
    expect(body.openai.realtime).toMatchObject({ status: 'error', sessionModel: 'pipeline' });
    expect(body.openai.realtime.detail).toMatch(
      /did not accept a gpt-realtime session: the server answered HTTP 503\. Agent sessions fall back to the STT-LLM-TTS pipeline\./,
    );
    expect(body.openai.realtime.latencyMs).toBeUndefined();
  });

  it('says so for a proxy that speaks the HTTP API but has no realtime endpoint', async () => {
    const proxy: OpenAIHttpTestServer = await startOpenAIHttpServer();
    try {
      const body = await status({ openai: { apiKey: 'sk-any', baseUrl: proxy.baseUrl } });
      expect(body.openai.status).toBe('connected');
      expect(body.openai.realtime).toMatchObject({ status: 'error', sessionModel: 'pipeline' });
      expect(body.openai.realtime.detail).toMatch(/HTTP 404/);
    } finally {
      await Promise.all(apps.splice(0).map((app) => app.close()));
      await proxy.close();
    }
  });

  it('reports an unreachable endpoint and a missing key', async () => {
    const port = await closedPort();
    const down = await status({
      openai: { apiKey: realtime.apiKey, baseUrl: `http://127.0.0.1:${port}/v1` },
    });
    expect(down.openai.status).toBe('error');
    expect(down.openai.realtime).toMatchObject({ status: 'error', sessionModel: 'pipeline' });
    expect(down.openai.realtime.detail).toMatch(/connection failed: .*ECONNREFUSED/);

    const unset = await status();
    expect(unset.openai.status).toBe('unconfigured');
    expect(unset.openai.realtime).toMatchObject({ status: 'unconfigured', sessionModel: 'none' });
    expect(unset.openai.realtime.detail).toMatch(/OPENAI_API_KEY/);
  });

  it('gives up on an endpoint that accepts but never creates a session', async () => {
    const silent = new WebSocketServer({ host: '127.0.0.1', port: 0 });
    await new Promise((resolve) => silent.once('listening', resolve));
    const { port } = silent.address() as AddressInfo;
    try {
      const result = await checkRealtime(
        { apiKey: 'sk-any', baseUrl: `http://127.0.0.1:${port}/v1`, realtimeModel: 'gpt-test' },
        200,
      );
      expect(result).toMatchObject({ status: 'error', sessionModel: 'pipeline' });
      expect(result.detail).toMatch(/gpt-test session: no session.created within 200 ms\./);
    } finally {
      for (const client of silent.clients) client.terminate();
      await new Promise((resolve) => silent.close(resolve));
    }
  });
});
