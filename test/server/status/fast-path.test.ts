import { readFileSync } from 'node:fs';
import path from 'node:path';
import express from 'express';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DatabaseHandle } from '../../../shared/db/open.js';
import { createLogger } from '../../../shared/logger.js';
import { generateToken, storeToken } from '../../../server/http/auth.js';
import { ApiMetrics } from '../../../server/status/metrics.js';
import { StatusSnapshot } from '../../../server/status/snapshot.js';
import { createTestUser, openTestDatabase } from '../../helpers/database.js';
import { serve, type TestServer } from '../../helpers/http.js';
import { REPOSITORY } from '../../helpers/sandbox.js';
import { sandboxedApp } from '../../helpers/sandboxed.js';

const logger = createLogger({ level: 'silent' });
let database: DatabaseHandle;
let snapshot: StatusSnapshot;
const servers: TestServer[] = [];

/** Headers that differ between any two responses, or only the Express path sets (ETag). */
const VOLATILE = new Set(['date', 'etag', 'ratelimit', 'content-length', 'keep-alive']);

function stableHeaders(headers: Headers): Record<string, string> {
  return Object.fromEntries([...headers].filter(([name]) => !VOLATILE.has(name)));
}

async function start(options: { rateLimitPerMinute?: number; corsOrigins?: string[] } = {}) {
  const metrics = new ApiMetrics({
    registry: new Registry(),
    connectionStates: () => snapshot.countsByStatus(),
  });
  const api = await serve(
    sandboxedApp({ database, logger, statusSnapshot: snapshot, metrics, ...options }),
  );
  servers.push(api);
  return { api, metrics };
}

async function newToken(role: 'admin' | 'user' = 'user'): Promise<string> {
  const user = await createTestUser(database, role);
  const token = generateToken();
  await storeToken(database.db, user.id, token);
  return token;
}

beforeAll(async () => {
  database = await openTestDatabase();
  snapshot = new StatusSnapshot({ database, logger, databaseIntervalMs: 3_600_000 });
  await snapshot.start();
});

afterAll(async () => {
  await Promise.all(servers.map((api) => api.close()));
  snapshot?.stop();
  await database?.close();
});

describe('GET /api/status fast path', () => {
  it('answers a cached token exactly as the Express route does, and counts it the same', async () => {
    const { api, metrics } = await start({ rateLimitPerMinute: 600 });
    const token = await newToken();

    // First poll: the token is not cached yet, so Express answers (res.json sets an ETag).
    const first = await api.request('GET', '/api/status', { token });
    expect(first.status).toBe(200);
    expect(first.headers.get('etag')).not.toBeNull();
    // Second poll: the fast path (no ETag).
    const second = await api.request('GET', '/api/status', { token });
    expect(second.status).toBe(200);
    expect(second.headers.get('etag')).toBeNull();

    expect(stableHeaders(second.headers)).toEqual(stableHeaders(first.headers));
    expect(second.headers.get('content-security-policy')).toMatch(/default-src 'self'/);
    expect(first.headers.get('ratelimit')).toMatch(/^"600-in-1min"; r=599; t=\d+$/);
    expect(second.headers.get('ratelimit')).toMatch(/^"600-in-1min"; r=598; t=\d+$/);
    const withoutVolatile = (body: Record<string, unknown>) =>
      Object.fromEntries(
        Object.entries(body).filter(([key]) => key !== 'timestamp' && key !== 'latencyMs'),
      );
    expect(withoutVolatile(second.body)).toEqual(withoutVolatile(first.body));
    expect(Number(second.headers.get('content-length'))).toBe(JSON.stringify(second.body).length);

    const histogram = await metrics.registry.getSingleMetricAsString(
      'switchboard_http_request_duration_seconds',
    );
    expect(histogram).toMatch(
      /switchboard_http_request_duration_seconds_count\{method="GET",route="\/api\/status",status="200"\} 2/,
    );
  });

  it('leaves over-limit polls to Express, which answers 429', async () => {
    const { api } = await start({ rateLimitPerMinute: 3 });
    const token = await newToken();
    const statuses: number[] = [];
    for (let i = 0; i < 5; i++)
      statuses.push((await api.request('GET', '/api/status', { token })).status);
    expect(statuses).toEqual([200, 200, 200, 429, 429]);
    const limited = await api.request('GET', '/api/status', { token });
    expect(limited.headers.get('content-type')).toMatch(/application\/problem\+json/);
    expect(limited.body.detail).toMatch(/Too many requests/);
  });

  it('leaves CORS requests to Express, and refuses unknown and revoked tokens', async () => {
    const { api } = await start({ corsOrigins: ['https://admin.example.com'] });
    const token = await newToken();
    await api.request('GET', '/api/status', { token });
    const cors = await fetch(`${api.baseUrl}/api/status`, {
      headers: { authorization: `Bearer ${token}`, origin: 'https://admin.example.com' },
    });
    expect(cors.status).toBe(200);
    expect(cors.headers.get('access-control-allow-origin')).toBe('https://admin.example.com');

    expect((await api.request('GET', '/api/status', { token: generateToken() })).status).toBe(401);
    expect((await api.request('GET', '/api/status')).status).toBe(401);

    const tokens = await api.request('GET', '/api/tokens', { token });
    const id = tokens.body.find((entry: { revokedAt: string | null }) => !entry.revokedAt).id;
    expect((await api.request('DELETE', `/api/tokens/${id}`, { token })).status).toBe(204);
    expect((await api.request('GET', '/api/status', { token })).status).toBe(401);
  });

  it('leaves other methods and paths alone', async () => {
    const { api } = await start();
    const token = await newToken();
    await api.request('GET', '/api/status', { token });
    expect((await api.request('POST', '/api/status', { token })).status).toBe(405);
    const withQuery = await api.request('GET', '/api/status?x=1', { token });
    expect(withQuery.status).toBe(200);
    expect(withQuery.headers.get('etag')).not.toBeNull();
  });
});

/**
 * The fast path copies what three dependencies do (Express 5's `app.handle` entry point,
 * express-rate-limit's draft-8 `RateLimit`/`RateLimit-Policy` headers, helmet's headers); the
 * tests above compare the two paths' answers. These pin the releases that comparison was made
 * with, so an upgrade re-checks the copy on purpose.
 */
describe('GET /api/status fast path contract', () => {
  const CHECKED_WITH: Record<string, string> = {
    express: '5.3.0',
    'express-rate-limit': '8.7.4',
    helmet: '8.3.0',
  };

  it.each(Object.entries(CHECKED_WITH))('is checked against %s %s', (name, checked) => {
    const installed = JSON.parse(
      readFileSync(path.join(REPOSITORY, 'node_modules', name, 'package.json'), 'utf8'),
    ) as { version: string };
    expect(
      installed.version,
      `${name} changed: re-run this file (both paths must still answer alike), re-read what ` +
        'server/status/fast-path.ts copies from it, and update CHECKED_WITH (or drop the fast ' +
        'path if `npm run bench` shows it no longer pays for itself)',
    ).toBe(checked);
  });

  it('Express serves every request through app.handle, which the fast path wraps', async () => {
    const app = express();
    app.get('/x', (_req, res) => void res.send('express'));
    const seen: string[] = [];
    const handle = (app as unknown as { handle: (...args: unknown[]) => void }).handle.bind(app);
    (app as unknown as { handle: (...args: unknown[]) => void }).handle = (...args) => {
      seen.push((args[0] as { url: string }).url);
      handle(...args);
    };
    const api = await serve(app);
    servers.push(api);
    const res = await api.request('GET', '/x');
    expect(res.status).toBe(200);
    expect(seen).toEqual(['/x']);
  });
});
