/**
 * Nothing that comes back from a server is trusted to be free of secrets (DESIGN §9.2). Servers
 * that quote the request they got (headers, Basic credentials, form bodies) in an HTTP 500, a
 * JSON-RPC error, an OAuth refusal, a tool's error result or their stderr are connected by the
 * status monitor, the test and tools routes and an agent session; the planted secrets (API key,
 * header value, client secret, env value, user token, and the OAuth tokens a server issued) must
 * then appear in no API response, no log line, no status stream message, no recorded tool call,
 * and nowhere in the database: every file of PGlite's data directory, or the `pg_dump` of the
 * Postgres database.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { initializeLogger, type llm } from '@livekit/agents';
import { eq, isNotNull } from 'drizzle-orm';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import WebSocket from 'ws';
import { generateToken, storeToken } from '../../server/http/auth.js';
import type { StatusMonitor } from '../../server/status/monitor.js';
import { STATUS_STREAM_PATH, STATUS_STREAM_PROTOCOL } from '../../server/status/stream.js';
import { openDatabase, type DatabaseHandle } from '../../shared/db/open.js';
import { mcpServers, toolCalls } from '../../shared/db/schema.js';
import { createLogger } from '../../shared/logger.js';
import { SecretScrubber } from '../../shared/mcp/secret-scrubber.js';
import { SecretBox } from '../../shared/secrets.js';
import { createTestUser } from '../helpers/database.js';
import { startEchoMcpServer, type EchoMcpServer } from '../helpers/echo-mcp-server.js';
import { serveStatusApi, type StatusApi } from '../helpers/status-api.js';
import { sandboxedMonitor, sandboxedToolsets } from '../helpers/sandboxed.js';

initializeLogger({ pretty: false, level: 'silent' });

const tag = randomBytes(6).toString('hex');
const MARKERS = {
  apiKey: `leak-apikey-${tag}-K1`,
  header: `leak-header-${tag}-H2`,
  clientSecret: `leak-client-secret-${tag}-S3`,
  env: `leak-env-${tag}-E4`,
  userToken: `leak-user-token-${tag}-U5`,
  accessToken: `leak-access-token-${tag}-T6`,
  refreshToken: `leak-refresh-token-${tag}-R7`,
};
/**
 * The markers found in a text in any form the scrubber knows: as is, JSON-escaped, percent- or
 * form-encoded, base64 at any alignment (Basic credentials).
 */
const leaked = (text: string) =>
  Object.entries(MARKERS)
    .filter(([, marker]) => new SecretScrubber([marker]).scrub(text) !== text)
    .map(([name]) => name);
/** Not a secret: proves the database is searched where the rows are. */
const VISIBLE = `visible-${tag}`;

const usePostgres = Boolean(process.env.DATABASE_URL);
let dataDir: string;
let pgName: string | undefined;
let pgUrl: string | undefined;
let database: DatabaseHandle;
let echo: EchoMcpServer;
let monitor: StatusMonitor;
let status: StatusApi;
let token: string;
let agentUserId: number;
const logLines: string[] = [];
const responses: string[] = [];
const streamed: string[] = [];
const ids: Record<string, number> = {};

async function call(method: string, url: string, body?: unknown) {
  const res = await status.api.request(method, url, { token, body });
  responses.push(JSON.stringify(res.body ?? null), JSON.stringify([...res.headers]));
  return res;
}

async function openFileDatabase(): Promise<DatabaseHandle> {
  const secretBox = new SecretBox(randomBytes(32));
  if (!usePostgres) {
    return openDatabase({ pgliteDir: path.join(dataDir, 'pglite'), secretBox });
  }
  pgName = `switchboard_test_${randomBytes(6).toString('hex')}`;
  const admin = postgres(process.env.DATABASE_URL!, { max: 1, onnotice: () => {} });
  await admin.unsafe(`create database ${pgName}`);
  await admin.end();
  const url = new URL(process.env.DATABASE_URL!);
  url.pathname = `/${pgName}`;
  pgUrl = url.toString();
  return openDatabase({ databaseUrl: pgUrl, maxConnections: 5, secretBox });
}

beforeAll(async () => {
  dataDir = mkdtempSync(path.join(tmpdir(), 'switchboard-leaks-'));
  database = await openFileDatabase();
  const logger = createLogger({
    level: 'trace',
    destination: { write: (line: string) => logLines.push(line) },
  });
  echo = await startEchoMcpServer({
    accessToken: MARKERS.accessToken,
    refreshToken: MARKERS.refreshToken,
  });
  // Retries far apart: each server fails once, and the test reads what that failure left.
  monitor = sandboxedMonitor({
    db: database.db,
    secrets: database.secrets,
    logger,
    policy: { backoffBaseMs: 600_000, backoffCapMs: 600_000 },
    random: () => 0.99,
  });
  await monitor.start();
  status = await serveStatusApi({ database, logger, watcher: monitor });
  const admin = await createTestUser(database, 'admin');
  const agentUser = await createTestUser(database);
  agentUserId = agentUser.id;
  token = generateToken();
  await storeToken(database.db, admin.id, token);
});

let closed = false;

afterAll(async () => {
  if (!closed) await status?.close();
  await monitor?.stop();
  await echo?.close();
  if (!closed) await database?.close();
  if (pgName) {
    const admin = postgres(process.env.DATABASE_URL!, { max: 1, onnotice: () => {} });
    await admin.unsafe(`drop database if exists ${pgName} with (force)`);
    await admin.end();
  }
  rmSync(dataDir, { recursive: true, force: true });
});

describe('secrets quoted back by a failing server', () => {
  it('reach no API response, status stream message or stored status', async () => {
    const ws = new WebSocket(status.api.baseUrl.replace('http', 'ws') + STATUS_STREAM_PATH, [
      STATUS_STREAM_PROTOCOL,
      `bearer.${token}`,
    ]);
    ws.on('message', (data) => streamed.push(String(data)));
    await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));

    const remote = { transport: 'streamable-http', timeoutMs: 5000 };
    const oauth = (method: string) => ({
      ...remote,
      url: `${echo.origin}/oauth-mcp`,
      headers: { 'X-Planted': MARKERS.header },
      auth: {
        type: 'oauth2-client-credentials',
        clientId: 'switchboard-client',
        clientSecret: MARKERS.clientSecret,
        tokenUrl: `${echo.origin}/token`,
        tokenEndpointAuthMethod: method,
      },
    });
    const bodies: Record<string, Record<string, unknown>> = {
      http500: {
        ...remote,
        url: `${echo.origin}/500`,
        apiKey: MARKERS.apiKey,
        headers: { 'X-Planted': MARKERS.header },
      },
      rpcError: {
        ...remote,
        url: `${echo.origin}/rpc-error`,
        apiKey: MARKERS.apiKey,
        headers: { 'X-Planted': MARKERS.header },
      },
      oauthBasic: oauth('client_secret_basic'),
      oauthPost: oauth('client_secret_post'),
      // Gets a token, then a 500 quoting it: the token obtained is scrubbed too.
      oauthIssued: {
        ...oauth('client_secret_basic'),
        url: `${echo.origin}/issuing-mcp`,
        auth: { ...oauth('client_secret_basic').auth, tokenUrl: `${echo.origin}/issue` },
      },
      stderr: {
        transport: 'stdio',
        sandbox: { network: 'none' },
        command: process.execPath,
        args: ['-e', 'console.error("my env: " + process.env.PLANTED); process.exit(3)'],
        env: { PLANTED: MARKERS.env },
        timeoutMs: 5000,
      },
    };
    for (const [name, body] of Object.entries(bodies)) {
      const res = await call('POST', '/api/mcp/servers', { name: `${VISIBLE} ${name}`, ...body });
      expect(res.status, name).toBe(201);
      ids[name] = res.body.id;
    }
    const userTokenServer = await call('POST', '/api/mcp/servers', {
      name: `${VISIBLE} userToken`,
      ...remote,
      url: `${echo.origin}/500`,
      auth: { type: 'user-token' },
    });
    ids.userToken = userTokenServer.body.id;

    // The monitor connects each (but the user-token one) once and stores the scrubbed error.
    await vi.waitFor(
      async () => {
        const rows = await database.db
          .select({ id: mcpServers.id })
          .from(mcpServers)
          .where(isNotNull(mcpServers.lastError));
        expect(rows.length).toBeGreaterThanOrEqual(Object.keys(bodies).length);
      },
      { timeout: 30_000, interval: 50 },
    );
    for (const [name, id] of Object.entries(ids)) {
      const userToken = name === 'userToken' ? { userToken: MARKERS.userToken } : {};
      const tested = await call('POST', `/api/mcp/servers/${id}/test`, userToken);
      expect(tested.body.status, name).toBe('error');
      if (name !== 'userToken') {
        const tools = await call('GET', `/api/mcp/servers/${id}/tools`);
        expect(tools.status, name).toBe(503);
      }
      await call('GET', `/api/mcp/servers/${id}`);
    }
    const list = await call('GET', '/api/mcp/servers');
    expect(list.body.items).toHaveLength(Object.keys(ids).length);

    // The errors are there, saying what went wrong, with the secrets replaced.
    const byName = (name: string) =>
      list.body.items.find((s: { id: number }) => s.id === ids[name]);
    expect(byName('http500').lastError).toMatch(/500/);
    expect(byName('http500').lastError).toContain('[secret]');
    expect(byName('rpcError').lastError).toContain('[secret]');
    expect(byName('oauthBasic').lastError).toMatch(/invalid_client/);
    expect(byName('oauthIssued').lastError).toMatch(/authorization.*Bearer \[secret\]/);
    expect(byName('stderr').lastError).toMatch(/my env: \[secret\]/);
    const text = responses.join('\n');
    expect(text).toContain('[secret]');
    expect(leaked(text)).toEqual([]);

    await vi.waitFor(() => expect(streamed.join('\n')).toContain('[secret]'), { timeout: 10_000 });
    ws.close();
    expect(leaked(streamed.join('\n'))).toEqual([]);
  }, 60_000);

  it('reach no recorded tool call of an agent session, whether the tool answers isError or a JSON-RPC error', async () => {
    const res = await call('POST', `/api/mcp/servers?userId=${agentUserId}`, {
      name: 'tools',
      transport: 'streamable-http',
      url: `${echo.origin}/tools-mcp`,
      headers: { 'X-Planted': MARKERS.header },
      apiKey: MARKERS.apiKey,
    });
    expect(res.status).toBe(201);
    const session = await sandboxedToolsets({
      // Every server's first attempt ends the wait, not the deadline, even on a busy machine.
      startDeadlineMs: 60_000,
      db: database.db,
      secrets: database.secrets,
      userId: agentUserId,
      logger: createLogger({
        level: 'trace',
        destination: { write: (line: string) => logLines.push(line) },
      }),
      sessionId: 'leak-session',
    });
    try {
      const [toolset] = session.toolsets;
      const tools = toolset!.tools as llm.FunctionTool[];
      expect(tools.map((tool) => tool.name).sort()).toEqual(['tools__leak', 'tools__throw']);
      const answers: string[] = [];
      for (const tool of tools) {
        const outcome = await tool
          .execute({}, {
            ctx: undefined,
            toolCallId: tool.name,
            abortSignal: new AbortController().signal,
          } as never)
          .catch((error: unknown) => (error as Error).message);
        answers.push(String(outcome));
      }
      expect(answers.join('\n')).toContain('[secret]');
      expect(leaked(answers.join('\n'))).toEqual([]);
      await vi.waitFor(
        async () => {
          const rows = await database.db
            .select()
            .from(toolCalls)
            .where(eq(toolCalls.userId, agentUserId));
          expect(rows).toHaveLength(2);
          expect(rows.every((row) => row.ok === false && row.error?.includes('[secret]'))).toBe(
            true,
          );
          expect(leaked(JSON.stringify(rows))).toEqual([]);
        },
        { timeout: 10_000, interval: 50 },
      );
    } finally {
      await session.close();
    }
  }, 30_000);

  it('reach no log line', async () => {
    await monitor.stop();
    const text = logLines.join('');
    expect(text).toContain('[secret]');
    expect(leaked(text)).toEqual([]);
  });

  it.skipIf(usePostgres)('reach no file of the embedded database, its WAL included', async () => {
    closed = true;
    await status.close();
    await database.close();
    const files = readdirSync(dataDir, { recursive: true, withFileTypes: true })
      .filter((entry) => entry.isFile())
      .map((entry) => readFileSync(path.join(entry.parentPath, entry.name)));
    expect(files.length).toBeGreaterThan(10);
    const holding = (needle: string) => files.filter((file) => file.includes(needle)).length;
    expect(holding(VISIBLE)).toBeGreaterThan(0);
    expect(holding('[secret]')).toBeGreaterThan(0);
    for (const [name, marker] of Object.entries(MARKERS)) expect(holding(marker), name).toBe(0);
    // Encoded forms too (binary files: searched as latin1 text).
    const all = files.map((file) => file.toString('latin1')).join('\n');
    expect(leaked(all)).toEqual([]);
  });

  it.runIf(usePostgres)('reach nowhere in the pg_dump of the database', async () => {
    const dump = execFileSync('/usr/bin/pg_dump', ['--no-owner', pgUrl!], {
      encoding: 'utf8',
      maxBuffer: 64 * 1024 * 1024,
    });
    expect(dump).toContain(VISIBLE);
    expect(dump).toContain('[secret]');
    expect(leaked(dump)).toEqual([]);
  });
});
