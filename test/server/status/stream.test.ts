import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import type { DatabaseHandle } from '../../../shared/db/open.js';
import {
  createServer,
  deleteServer,
  listServers,
  updateServer,
} from '../../../shared/db/servers.js';
import { createLogger } from '../../../shared/logger.js';
import { generateToken, storeToken } from '../../../server/http/auth.js';
import type { StatusMonitor } from '../../../server/status/monitor.js';
import { createTestUser, openTestDatabase } from '../../helpers/database.js';
import type { TestServer } from '../../helpers/http.js';
import { EVERYTHING_BIN } from '../../helpers/mcp-processes.js';
import { serveStatusApi, type StatusApi } from '../../helpers/status-api.js';
import { sandboxedMonitor } from '../../helpers/sandboxed.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Message = any;

const logger = createLogger({ level: 'silent' });
let database: DatabaseHandle;
/**
 * The app's own view of `database` (same connection, its own object): the last test counts the
 * queries made through it, not the background work on the same database that a slow run can
 * place inside the count (the monitor's status batch on its tick or a first-use pin, and the
 * snapshot's re-read of a server whose write was notified, which reads through `database`).
 */
let apiDatabase: DatabaseHandle;
let monitor: StatusMonitor;
let api: TestServer;
let status: StatusApi;
let alice: { id: number; token: string };
let bob: { id: number; token: string };

async function user() {
  const row = await createTestUser(database);
  const token = generateToken();
  await storeToken(database.db, row.id, token);
  return { id: row.id, token };
}

beforeAll(async () => {
  database = await openTestDatabase();
  alice = await user();
  bob = await user();
  monitor = sandboxedMonitor({
    db: database.db,
    secrets: database.secrets,
    logger,
    policy: { intervalMs: 3_600_000, backoffBaseMs: 200 },
    random: () => 0.5,
  });
  await monitor.start();
  apiDatabase = { ...database, db: Object.create(database.db) as DatabaseHandle['db'] };
  // Database rounds only when a test asks: a status request must not cause one.
  status = await serveStatusApi({
    database: apiDatabase,
    snapshotDatabase: database,
    logger,
    watcher: monitor,
    databaseIntervalMs: 3_600_000,
  });
  api = status.api;
});

afterAll(async () => {
  await status?.close();
  await monitor?.stop();
  await database?.close();
});

/** A connected client and the JSON messages it has received, in order. */
async function connect(options: { token?: string; protocols?: string[] }) {
  const url = `${api.baseUrl.replace('http', 'ws')}/api/status/stream`;
  const headers: Record<string, string> = options.token
    ? { authorization: `Bearer ${options.token}` }
    : {};
  const ws = new WebSocket(url, options.protocols ?? [], { headers });
  const messages: Message[] = [];
  ws.on('message', (data) => messages.push(JSON.parse(String(data))));
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  return {
    ws,
    messages,
    /** Waits (bounded, 5 s) for a message matching `predicate`. */
    async until(predicate: (message: Message) => boolean) {
      for (let i = 0; i < 100; i++) {
        const found = messages.find(predicate);
        if (found) return found;
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      throw new Error(`no such message among ${JSON.stringify(messages)}`);
    },
  };
}

/** The HTTP status an upgrade attempt was refused with. */
async function refusal(options: { headers?: Record<string, string>; protocols?: string[] }) {
  const url = `${api.baseUrl.replace('http', 'ws')}/api/status/stream`;
  const ws = new WebSocket(url, options.protocols ?? [], { headers: options.headers });
  return new Promise<number>((resolve, reject) => {
    ws.once('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
    ws.once('open', () => reject(new Error('the upgrade was accepted')));
    ws.once('error', () => undefined);
  });
}

describe('GET /api/status/stream', () => {
  it('tells an upgrade with its token in the query string that it is not read there, and how to send it', async () => {
    const url = `${api.baseUrl.replace('http', 'ws')}/api/status/stream?token=${alice.token}`;
    const ws = new WebSocket(url);
    const { status, body } = await new Promise<{ status: number; body: string }>(
      (resolve, reject) => {
        ws.once('unexpected-response', (_req, res) => {
          let text = '';
          res.on('data', (chunk: Buffer) => (text += chunk.toString('utf8')));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
        });
        ws.once('open', () => reject(new Error('the upgrade was accepted')));
        ws.once('error', () => undefined);
      },
    );
    expect(status).toBe(401);
    expect(JSON.parse(body).detail).toBe(
      "A token in the query string is not read (proxies and access logs keep URLs). Send the API token as \"Authorization: Bearer <token>\", or from a browser as a WebSocket subprotocol: new WebSocket(url, ['switchboard.v1', 'bearer.' + token]).",
    );
  });

  it('refuses an upgrade without a token, or with an unknown one, with 401', async () => {
    expect(await refusal({})).toBe(401);
    expect(await refusal({ headers: { authorization: 'Bearer sb_nope' } })).toBe(401);
    expect(await refusal({ protocols: ['switchboard.v1', 'bearer.sb_nope'] })).toBe(401);
  });

  it('sends a first full snapshot, then each status change of the caller’s servers', async () => {
    const client = await connect({ token: alice.token });
    const first = await client.until((m) => m.type === 'snapshot');
    expect(first.status.mcp).toMatchObject({ status: 'ready', total: 0 });
    expect(first.status.database.status).toBe('connected');
    expect(first).toEqual(client.messages[0]);

    const row = await createServer(database, {
      userId: alice.id,
      name: 'Everything',
      transport: 'stdio',
      sandbox: { network: 'none' },
      command: 'node',
      args: [EVERYTHING_BIN, 'stdio'],
    });
    await monitor.sync(row.id);
    const connected = await client.until(
      (m) => m.type === 'server' && m.serverId === row.id && m.status === 'connected',
    );
    expect(connected.mcp).toMatchObject({ status: 'connected', total: 1 });

    await updateServer(database, alice.id, row.id, { isActive: false });
    await monitor.sync(row.id);
    await client.until(
      (m) => m.type === 'server' && m.serverId === row.id && m.status === 'removed',
    );
    client.ws.close();
  });

  it('accepts the token as a subprotocol and never shows another user’s servers', async () => {
    const client = await connect({ protocols: ['switchboard.v1', `bearer.${bob.token}`] });
    expect(client.ws.protocol).toBe('switchboard.v1');
    await client.until((m) => m.type === 'snapshot');
    const row = await createServer(database, {
      userId: alice.id,
      name: 'Missing',
      transport: 'stdio',
      sandbox: { network: 'none' },
      command: 'switchboard-stream-missing',
    });
    const watcher = await connect({ token: alice.token });
    await monitor.sync(row.id);
    await watcher.until(
      (m) => m.type === 'server' && m.serverId === row.id && m.status === 'error',
    );
    expect(client.messages.filter((m) => m.type === 'server')).toEqual([]);
    client.ws.close();
    watcher.ws.close();
  });
});

describe('GET /api/status from the snapshot', () => {
  it('reflects a monitor change at once, before any database round', async () => {
    const row = await createServer(database, {
      userId: bob.id,
      name: 'Everything',
      transport: 'stdio',
      sandbox: { network: 'none' },
      command: 'node',
      args: [EVERYTHING_BIN, 'stdio'],
      // No first-use pin reads in the background while the next test counts queries.
      pinTools: false,
    });
    await monitor.sync(row.id);
    const res = await api.request('GET', '/api/status', { token: bob.token });
    expect(res.status).toBe(200);
    expect(res.body.mcp).toMatchObject({ status: 'connected', total: 1 });
    // Assembled from memory: well under a millisecond, reported with 3 decimals.
    expect(res.body.latencyMs).toBeLessThan(5);
    expect(Number.isNaN(Date.parse(res.body.database.checkedAt))).toBe(false);
  });

  it('answers without touching the database', async () => {
    // The earlier tests' servers go first: one that cannot start is retried in the background,
    // and a retry's status write would be counted here among the requests' own queries.
    for (const row of await listServers(database, alice.id)) {
      await deleteServer(database.db, alice.id, row.id);
      await monitor.sync(row.id);
    }
    await api.request('GET', '/api/status', { token: bob.token });
    let queries = 0;
    const { db } = apiDatabase;
    const execute = db.execute.bind(db);
    const select = db.select.bind(db);
    db.execute = ((...args: Parameters<typeof execute>) => {
      queries += 1;
      return execute(...args);
    }) as typeof db.execute;
    db.select = ((...args: Parameters<typeof select>) => {
      queries += 1;
      return select(...args);
    }) as typeof db.select;
    try {
      for (let i = 0; i < 20; i++) {
        expect((await api.request('GET', '/api/status', { token: bob.token })).status).toBe(200);
      }
    } finally {
      db.execute = execute;
      db.select = select;
    }
    expect(queries).toBe(0);
  });
});
