/**
 * Failed authentications per address, over HTTP and on status stream upgrades: guesses are cut
 * off with 429 (on upgrades before any database lookup), valid tokens from the same address are
 * never refused.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import type { DatabaseHandle } from '../../../shared/db/open.js';
import type { User } from '../../../shared/db/schema.js';
import { createLogger } from '../../../shared/logger.js';
import { generateToken, storeToken } from '../../../server/http/auth.js';
import { TokenCache } from '../../../server/http/token-cache.js';
import { FailedAuthLimiter } from '../../../server/http/failed-auth-limiter.js';
import { createTestUser, openTestDatabase } from '../../helpers/database.js';
import { serveStatusApi, type StatusApi } from '../../helpers/status-api.js';

const logger = createLogger({ level: 'silent' });
const LIMIT = 20;

/** A token cache that counts its database lookups. */
class CountingTokenCache extends TokenCache {
  lookups = 0;
  override async user(token: string, now?: number): Promise<User | undefined> {
    if (!this.fresh(token, now)) this.lookups++;
    return super.user(token, now);
  }
}

let database: DatabaseHandle;
let status: StatusApi;
let tokens: CountingTokenCache;
let authFailures: FailedAuthLimiter;
const valid = generateToken();

beforeAll(async () => {
  database = await openTestDatabase();
  const user = await createTestUser(database);
  await storeToken(database.db, user.id, valid);
  tokens = new CountingTokenCache(database.db);
  authFailures = new FailedAuthLimiter({ limit: LIMIT });
  // A generous request limit per token: only the failure limit is under test.
  status = await serveStatusApi({
    database,
    logger,
    tokens,
    authFailures,
    rateLimitPerMinute: 10_000,
    databaseIntervalMs: 3_600_000,
  });
});

afterAll(async () => {
  await status?.close();
  authFailures?.close();
  await database?.close();
});

/** The HTTP status of an upgrade: 101 when accepted (the stream is closed again at once). */
function upgrade(token: string, baseUrl = status.api.baseUrl): Promise<number> {
  const url = `${baseUrl.replace('http', 'ws')}/api/status/stream`;
  const ws = new WebSocket(url, { headers: { authorization: `Bearer ${token}` } });
  return new Promise((resolve, reject) => {
    ws.once('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
    ws.once('open', () => {
      ws.once('close', () => resolve(101));
      ws.close();
    });
    ws.once('error', reject);
  });
}

describe('failed authentications per address', () => {
  it('refuses guessed tokens with 429 once over the limit, but never a valid token', async () => {
    // The valid token is in use from this address before the guessing starts.
    expect((await status.api.request('GET', '/api/mcp/servers', { token: valid })).status).toBe(
      200,
    );
    for (let i = 0; i < LIMIT; i++) {
      const guess = await status.api.request('GET', '/api/mcp/servers', {
        token: generateToken(),
      });
      expect(guess.status).toBe(401);
    }
    const limited = await status.api.request('GET', '/api/mcp/servers', {
      token: generateToken(),
    });
    expect(limited.status).toBe(429);
    expect(limited.body.code).toBe('rate_limited');
    expect(limited.body.detail).toMatch(/failed authentications/);

    for (let i = 0; i < 5; i++) {
      const own = await status.api.request('GET', '/api/mcp/servers', { token: valid });
      expect(own.status).toBe(200);
    }
    const poll = await status.api.request('GET', '/api/status', { token: valid });
    expect(poll.status).toBe(200);
  });

  it('answers unknown-token stream upgrades 429 before any database lookup, valid ones 101', async () => {
    // Over the limit already (the test above): guesses cost no lookup now.
    const lookups = tokens.lookups;
    for (let i = 0; i < 200; i++) expect(await upgrade(generateToken())).toBe(429);
    expect(tokens.lookups).toBe(lookups);
    expect(await upgrade(valid)).toBe(101);
  });

  it('counts failed stream upgrades against the address like failed requests', async () => {
    const fresh = new FailedAuthLimiter({ limit: 3 });
    const other = await serveStatusApi({
      database,
      logger,
      authFailures: fresh,
      rateLimitPerMinute: 10_000,
      databaseIntervalMs: 3_600_000,
    });
    try {
      const attempt = (token: string) => upgrade(token, other.api.baseUrl);
      expect(await attempt(valid)).toBe(101);
      for (let i = 0; i < 3; i++) expect(await attempt(generateToken())).toBe(401);
      expect(await attempt(generateToken())).toBe(429);
      expect(
        (await other.api.request('GET', '/api/mcp/servers', { token: generateToken() })).status,
      ).toBe(429);
      expect(await attempt(valid)).toBe(101);
      expect((await other.api.request('GET', '/api/mcp/servers', { token: valid })).status).toBe(
        200,
      );
    } finally {
      await other.close();
      fresh.close();
    }
  });
});
