import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TokenVerifier } from 'livekit-server-sdk';
import type { DatabaseHandle } from '../../../shared/db/open.js';
import { createServer as createServerRow } from '../../../shared/db/servers.js';
import { createLogger } from '../../../shared/logger.js';
import { generateToken, storeToken } from '../../../server/http/auth.js';
import { summarizeMcp } from '../../../server/status/checks.js';
import { createTestUser, openTestDatabase } from '../../helpers/database.js';
import { serve, type TestServer } from '../../helpers/http.js';
import { sandboxedApp, type TestAppDeps } from '../../helpers/sandboxed.js';

const LIVEKIT_KEY = 'devkey';
const LIVEKIT_SECRET = 'a-secret-that-is-long-enough-for-hs256-signing';
const OPENAI_KEY = 'sk-test-accepted';

/** A local stand-in that speaks LiveKit's Twirp JSON API and OpenAI's `GET /v1/models`. */
let fake: Server;
let fakeUrl: string;
const seen: string[] = [];

async function readBody(req: IncomingMessage): Promise<string> {
  let body = '';
  for await (const chunk of req) body += chunk;
  return body;
}

beforeAll(async () => {
  const verifier = new TokenVerifier(LIVEKIT_KEY, LIVEKIT_SECRET);
  fake = createServer(async (req, res) => {
    seen.push(`${req.method} ${req.url}`);
    if (req.url === '/twirp/livekit.RoomService/ListRooms' && req.method === 'POST') {
      await readBody(req);
      try {
        const grants = await verifier.verify(
          (req.headers.authorization ?? '').replace(/^Bearer /, ''),
        );
        if (!grants.video?.roomList) throw new Error('no roomList grant');
      } catch {
        res.writeHead(401, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ code: 'unauthenticated', msg: 'invalid token' }));
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ rooms: [{ name: 'lobby' }, { name: 'support' }] }));
      return;
    }
    if (req.url === '/v1/models' && req.method === 'GET') {
      const ok = req.headers.authorization === `Bearer ${OPENAI_KEY}`;
      res.writeHead(ok ? 200 : 401, { 'content-type': 'application/json' });
      res.end(JSON.stringify(ok ? { data: [] } : { error: { message: 'bad key' } }));
      return;
    }
    res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => fake.listen(0, '127.0.0.1', resolve));
  fakeUrl = `http://127.0.0.1:${(fake.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise((resolve) => fake.close(resolve));
});

/** A port nothing listens on: bound, then closed. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

describe('GET /api/status', () => {
  let database: DatabaseHandle;
  let token: string;
  let userId: number;
  const apps: TestServer[] = [];

  beforeAll(async () => {
    database = await openTestDatabase();
    const user = await createTestUser(database);
    userId = user.id;
    token = generateToken();
    await storeToken(database.db, user.id, token);
  });

  afterAll(async () => {
    await Promise.all(apps.map((app) => app.close()));
    await database.close();
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
    return app.request('GET', '/api/status', { token });
  }

  it('requires a token', async () => {
    const app = await serve(sandboxedApp({ database, logger: createLogger({ level: 'silent' }) }));
    apps.push(app);
    expect((await app.request('GET', '/api/status')).status).toBe(401);
  });

  it('reports LiveKit and OpenAI unconfigured, MCP ready and the database connected', async () => {
    const res = await status();
    expect(res.status).toBe(200);
    expect(res.body.livekit.status).toBe('unconfigured');
    expect(res.body.livekit.detail).toMatch(/LIVEKIT_URL/);
    expect(res.body.openai.status).toBe('unconfigured');
    expect(res.body.mcp).toMatchObject({ status: 'ready', total: 0 });
    expect(res.body.database.status).toBe('connected');
    expect(res.body.database.kind).toBe(process.env.DATABASE_URL ? 'postgres' : 'pglite');
    expect(typeof res.body.latencyMs).toBe('number');
    expect(Number.isNaN(Date.parse(res.body.timestamp))).toBe(false);
  });

  it('checks LiveKit and OpenAI for real when configured', async () => {
    const res = await status({
      livekit: { url: fakeUrl, apiKey: LIVEKIT_KEY, apiSecret: LIVEKIT_SECRET },
      openai: { apiKey: OPENAI_KEY, baseUrl: `${fakeUrl}/v1` },
    });
    expect(res.body.livekit).toMatchObject({ status: 'connected' });
    expect(res.body.livekit.detail).toMatch(/2 active rooms/);
    expect(res.body.openai).toMatchObject({ status: 'connected' });
    expect(seen).toContain('POST /twirp/livekit.RoomService/ListRooms');
    expect(seen).toContain('GET /v1/models');
  });

  it('reports rejected credentials as errors with the reason', async () => {
    const res = await status({
      livekit: { url: fakeUrl, apiKey: LIVEKIT_KEY, apiSecret: 'the-wrong-secret-entirely-here' },
      openai: { apiKey: 'sk-wrong', baseUrl: `${fakeUrl}/v1` },
    });
    expect(res.body.livekit.status).toBe('error');
    expect(res.body.livekit.detail).toMatch(/LiveKit check failed: .*invalid token/);
    expect(res.body.openai.status).toBe('error');
    expect(res.body.openai.detail).toMatch(/API key was rejected/);
  });

  it('reports unreachable LiveKit and OpenAI as errors', async () => {
    const port = await closedPort();
    const res = await status({
      livekit: { url: `ws://127.0.0.1:${port}`, apiKey: LIVEKIT_KEY, apiSecret: LIVEKIT_SECRET },
      openai: { apiKey: OPENAI_KEY, baseUrl: `http://127.0.0.1:${port}/v1` },
    });
    expect(res.body.livekit.status).toBe('error');
    expect(res.body.openai.status).toBe('error');
    expect(res.body.openai.detail).toMatch(/OpenAI is unreachable/);
  });

  it("aggregates the caller's active servers with counts", async () => {
    const base = { userId, transport: 'stdio' as const, command: 'node' };
    await createServerRow(database, { ...base, name: 'a', connectionStatus: 'connected' });
    await createServerRow(database, { ...base, name: 'b', connectionStatus: 'error' });
    await createServerRow(database, {
      ...base,
      name: 'c',
      connectionStatus: 'error',
      isActive: false,
    });
    const res = await status();
    expect(res.body.mcp).toMatchObject({
      status: 'degraded',
      total: 2,
      counts: { connected: 1, error: 1, degraded: 0 },
    });
  });
});

describe('summarizeMcp', () => {
  it('uses the words of seed 004', () => {
    expect(summarizeMcp([]).status).toBe('ready');
    expect(summarizeMcp(['connected', 'connected']).status).toBe('connected');
    expect(summarizeMcp(['connected', 'error']).status).toBe('degraded');
    expect(summarizeMcp(['degraded']).status).toBe('degraded');
    expect(summarizeMcp(['error', 'disconnected', 'connecting']).status).toBe('disconnected');
  });
});
