/**
 * Revoking a token ends what it opened: its status streams close, in the process that revoked it
 * at once and in another API process (its own token cache and streams, the same database) through
 * that process's revocation watcher; neither keeps honouring the token from its cache.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import type { DatabaseHandle } from '../../../shared/db/open.js';
import { createLogger } from '../../../shared/logger.js';
import { generateToken, storeToken } from '../../../server/http/auth.js';
import { TokenCache } from '../../../server/http/token-cache.js';
import { TOKEN_REVOKED_CLOSE_CODE } from '../../../server/status/stream.js';
import { TokenRevocationWatcher } from '../../../server/http/token-revocation-watcher.js';
import { createTestUser, openTestDatabase } from '../../helpers/database.js';
import { serveStatusApi, type StatusApi } from '../../helpers/status-api.js';

const logger = createLogger({ level: 'silent' });
let database: DatabaseHandle;
let here: StatusApi;
let elsewhere: StatusApi;
let watcher: TokenRevocationWatcher;
let main: string;
let userId: number;

beforeAll(async () => {
  database = await openTestDatabase();
  userId = (await createTestUser(database)).id;
  main = generateToken();
  await storeToken(database.db, userId, main, 'main');
  here = await serveStatusApi({ database, logger, databaseIntervalMs: 3_600_000 });
  // Another API process: its own token cache, watching for revocations every second.
  const tokens = new TokenCache(database.db);
  watcher = new TokenRevocationWatcher({ db: database.db, tokens, logger });
  watcher.start();
  elsewhere = await serveStatusApi({ database, logger, tokens, databaseIntervalMs: 3_600_000 });
});

afterAll(async () => {
  watcher?.stop();
  await here?.close();
  await elsewhere?.close();
  await database?.close();
});

/** A second token of the user and its id. */
async function anotherToken(): Promise<{ token: string; id: number }> {
  const token = generateToken();
  return { token, id: await storeToken(database.db, userId, token, 'revoked by the test') };
}

/** An open stream (its snapshot received) and a promise of its close code and reason. */
async function openStream(api: StatusApi, token: string) {
  const url = `${api.api.baseUrl.replace('http', 'ws')}/api/status/stream`;
  const ws = new WebSocket(url, { headers: { authorization: `Bearer ${token}` } });
  const closed = new Promise<{ code: number; reason: string }>((resolve) =>
    ws.once('close', (code, reason) => resolve({ code, reason: String(reason) })),
  );
  await new Promise((resolve, reject) => {
    ws.once('message', resolve);
    ws.once('error', reject);
  });
  return { ws, closed };
}

describe('revoking an API token', () => {
  it('closes the status streams it opened in this process, and its status polls answer 401', async () => {
    const { token, id } = await anotherToken();
    // Cached by the status path and the server list, as a dashboard's polls leave it.
    expect((await here.api.request('GET', '/api/status', { token })).status).toBe(200);
    expect((await here.api.request('GET', '/api/mcp/servers', { token })).status).toBe(200);
    const stream = await openStream(here, token);
    const survivor = await openStream(here, main);

    expect((await here.api.request('DELETE', `/api/tokens/${id}`, { token: main })).status).toBe(
      204,
    );
    expect(await stream.closed).toEqual({
      code: TOKEN_REVOKED_CLOSE_CODE,
      reason: 'The API token was revoked.',
    });
    expect((await here.api.request('GET', '/api/status', { token })).status).toBe(401);
    // The server list, whose reads go through the same cache, refuses it at once too.
    expect((await here.api.request('GET', '/api/mcp/servers', { token })).status).toBe(401);
    expect(survivor.ws.readyState).toBe(WebSocket.OPEN);
    survivor.ws.close();
  });

  it('closes its streams in another API process too, which stops honouring its cached token', async () => {
    const { token, id } = await anotherToken();
    expect((await elsewhere.api.request('GET', '/api/status', { token })).status).toBe(200);
    expect((await elsewhere.api.request('GET', '/api/mcp/servers', { token })).status).toBe(200);
    const stream = await openStream(elsewhere, token);

    // Revoked through the first process: the second learns it from the database.
    expect((await here.api.request('DELETE', `/api/tokens/${id}`, { token: main })).status).toBe(
      204,
    );
    expect((await stream.closed).code).toBe(TOKEN_REVOKED_CLOSE_CODE);
    expect((await elsewhere.api.request('GET', '/api/status', { token })).status).toBe(401);
    expect((await elsewhere.api.request('GET', '/api/mcp/servers', { token })).status).toBe(401);
  });
});
