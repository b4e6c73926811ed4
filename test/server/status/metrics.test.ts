import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DatabaseHandle } from '../../../shared/db/open.js';
import { createServer } from '../../../shared/db/servers.js';
import { recordToolCall } from '../../../shared/db/tool-calls.js';
import { createLogger } from '../../../shared/logger.js';
import { generateToken, storeToken } from '../../../server/http/auth.js';
import { ApiMetrics, ToolCallMetrics } from '../../../server/status/metrics.js';
import type { ServerStatusListener } from '../../../server/status/monitor.js';
import { StatusSnapshot } from '../../../server/status/snapshot.js';
import { createTestUser, openTestDatabase } from '../../helpers/database.js';
import { serve, type TestServer } from '../../helpers/http.js';
import { sandboxedApp } from '../../helpers/sandboxed.js';

const logger = createLogger({ level: 'silent' });
let database: DatabaseHandle;
let api: TestServer;
let metrics: ApiMetrics;
let toolCallMetrics: ToolCallMetrics;
let snapshot: StatusSnapshot;
let adminToken: string;
let userToken: string;
let userId: number;
const listeners = new Set<ServerStatusListener>();
/** Stands in for the monitor's event hook, so the test decides the sequence of statuses. */
const watcher = {
  onChange(listener: ServerStatusListener) {
    listeners.add(listener);
    return () => listeners.delete(listener);
  },
};

beforeAll(async () => {
  database = await openTestDatabase();
  const admin = await createTestUser(database, 'admin');
  const user = await createTestUser(database);
  userId = user.id;
  adminToken = generateToken();
  userToken = generateToken();
  await storeToken(database.db, admin.id, adminToken);
  await storeToken(database.db, user.id, userToken);
  snapshot = new StatusSnapshot({ database, logger, watcher, databaseIntervalMs: 3_600_000 });
  metrics = new ApiMetrics({
    registry: new Registry(),
    connectionStates: () => snapshot.countsByStatus(),
  });
  metrics.watch(watcher);
  toolCallMetrics = new ToolCallMetrics({
    db: database.db,
    metrics,
    logger,
    intervalMs: 3_600_000,
  });
  await Promise.all([snapshot.start(), toolCallMetrics.start()]);
  api = await serve(sandboxedApp({ database, logger, statusSnapshot: snapshot, metrics }));
});

afterAll(async () => {
  await api?.close();
  snapshot?.stop();
  await toolCallMetrics?.stop();
  await database?.close();
});

async function scrape(): Promise<string> {
  const res = await api.request('GET', '/metrics', { token: adminToken });
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
  return res.body as string;
}

describe('GET /metrics', () => {
  it('is for admins only', async () => {
    expect((await api.request('GET', '/metrics')).status).toBe(401);
    expect((await api.request('GET', '/metrics', { token: userToken })).status).toBe(403);
  });

  it('times HTTP requests by route pattern, method and status', async () => {
    await api.request('GET', '/api/status', { token: userToken });
    await api.request('GET', '/api/mcp/servers/12345', { token: userToken });
    const text = await scrape();
    expect(text).toMatch(
      /switchboard_http_request_duration_seconds_count\{method="GET",route="\/api\/status",status="200"\} [1-9]/,
    );
    expect(text).toMatch(/route="\/api\/mcp\/servers\/:id",status="404"/);
    expect(text).not.toMatch(/12345/);
  });

  it('counts connections by state, and reconnects only after a lost connection', async () => {
    const row = await createServer(database, {
      userId,
      name: 'flaky',
      transport: 'stdio',
      command: 'node',
    });
    const emit = (status: 'connected' | 'error' | 'connecting') => {
      for (const listener of listeners)
        listener({ serverId: row.id, userId, name: 'flaky', status });
    };
    emit('connecting');
    emit('connected');
    let text = await scrape();
    expect(text).toMatch(/switchboard_mcp_connections\{state="connected"\} 1/);
    expect(text).not.toMatch(/switchboard_mcp_reconnects_total\{/);
    // A config edit: the monitor starts the server again; nothing was lost.
    emit('connecting');
    emit('connected');
    expect(await scrape()).not.toMatch(/switchboard_mcp_reconnects_total\{/);
    // A lost connection, then back.
    emit('error');
    emit('connecting');
    emit('connected');
    text = await scrape();
    expect(text).toContain(
      `switchboard_mcp_reconnects_total{server="flaky",server_id="${row.id}"} 1`,
    );
  });

  it('counts tool calls, errors and durations per server and tool from tool_calls', async () => {
    const row = await createServer(database, {
      userId,
      name: 'tools',
      transport: 'stdio',
      command: 'node',
    });
    const call = { userId, serverId: row.id, startedAt: new Date() };
    await recordToolCall(database.db, { ...call, toolName: 'echo', durationMs: 12, ok: true });
    await recordToolCall(database.db, { ...call, toolName: 'echo', durationMs: 40, ok: false });
    await recordToolCall(database.db, { ...call, toolName: 'add', durationMs: 3, ok: true });
    await toolCallMetrics.poll();
    const text = await scrape();
    const labels = (tool: string) => `{server="tools",server_id="${row.id}",tool="${tool}"}`;
    expect(text).toContain(`switchboard_tool_calls_total${labels('echo')} 2`);
    expect(text).toContain(`switchboard_tool_calls_total${labels('add')} 1`);
    expect(text).toContain(`switchboard_tool_call_errors_total${labels('echo')} 1`);
    expect(text).toContain(`switchboard_tool_call_duration_seconds_sum${labels('echo')} 0.052`);
    // A second round reads only new rows.
    await toolCallMetrics.poll();
    expect(await scrape()).toContain(`switchboard_tool_calls_total${labels('echo')} 2`);
  });
});
