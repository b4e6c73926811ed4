/**
 * Planted secrets (an env value, a header value, an API key, an OAuth client secret and a private
 * key) go through the API and must never come back out: not in responses, not in the log of the
 * request cycle, not in the database (raw column text; for PGlite, the raw files of its folder).
 * The API still connects with them, since they are opened when a server is read.
 */
import { createHash, generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateToken, storeToken } from '../../../server/http/auth.js';
import type { StatusMonitor } from '../../../server/status/monitor.js';
import { openDatabase, type DatabaseHandle } from '../../../shared/db/open.js';
import { mcpServers } from '../../../shared/db/schema.js';
import { createLogger } from '../../../shared/logger.js';
import { SecretBox } from '../../../shared/secrets.js';
import { createTestUser, openTestDatabase } from '../../helpers/database.js';
import { serve, type TestServer } from '../../helpers/http.js';
import { EVERYTHING_BIN } from '../../helpers/mcp-processes.js';
import {
  startWebSocketMcpServer,
  type WebSocketMcpTestServer,
} from '../../helpers/websocket-mcp-server.js';
import { sandboxedApp, sandboxedMonitor } from '../../helpers/sandboxed.js';

const tag = randomBytes(6).toString('hex');
const PLANTED = {
  env: `planted-env-${tag}-Aq1`,
  header: `planted-header-${tag}-Bw2`,
  apiKey: `planted-apikey-${tag}-Ce3`,
  clientSecret: `planted-client-secret-${tag}-Dr4`,
  newHeader: `planted-new-header-${tag}-Et5`,
};
const privateKey = generateKeyPairSync('ec', { namedCurve: 'prime256v1' })
  .privateKey.export({ type: 'pkcs8', format: 'pem' })
  .toString();
/** A line of the PEM's base64 body: unique to this key. */
const privateKeyLine = privateKey.split('\n')[2]!;
const SECRETS = [...Object.values(PLANTED), privateKeyLine];
/** Not a secret: proves the database files are searched where the rows are. */
const VISIBLE_NAME = `visible-name-${tag}`;

const envHash = createHash('sha256').update(PLANTED.env).digest('hex');
/** A stdio server that starts server-everything only when PLANTED_TOKEN holds the planted env. */
const envCheckedServer = {
  name: VISIBLE_NAME,
  transport: 'stdio',
  sandbox: { network: 'none' },
  command: 'node',
  args: [
    '-e',
    `const h = require('node:crypto').createHash('sha256')` +
      `.update(process.env.PLANTED_TOKEN ?? '').digest('hex');` +
      `if (h !== '${envHash}') { process.stderr.write('PLANTED_TOKEN is wrong\\n'); process.exit(3); }` +
      `import(${JSON.stringify(pathToFileURL(EVERYTHING_BIN).href)});`,
  ],
  env: { PLANTED_TOKEN: PLANTED.env },
};

const usePostgres = Boolean(process.env.DATABASE_URL);
let dataDir: string;
let database: DatabaseHandle;
let api: TestServer;
let ws: WebSocketMcpTestServer;
let monitor: StatusMonitor;
let token: string;
const logLines: string[] = [];
const responses: string[] = [];
const ids: Record<string, number> = {};

async function call(method: string, url: string, body?: unknown) {
  const res = await api.request(method, url, { token, body });
  responses.push(JSON.stringify(res.body ?? null), JSON.stringify([...res.headers]));
  return res;
}

beforeAll(async () => {
  dataDir = mkdtempSync(path.join(tmpdir(), 'switchboard-secrets-api-'));
  const secretBox = new SecretBox(randomBytes(32));
  database = usePostgres
    ? await openTestDatabase(secretBox)
    : await openDatabase({ pgliteDir: path.join(dataDir, 'pglite'), secretBox });
  const logger = createLogger({
    level: 'trace',
    destination: { write: (line: string) => logLines.push(line) },
  });
  monitor = sandboxedMonitor({ db: database.db, secrets: database.secrets, logger });
  api = await serve(sandboxedApp({ database, logger, watcher: monitor }));
  const admin = await createTestUser(database, 'admin');
  token = generateToken();
  await storeToken(database.db, admin.id, token);
  ws = await startWebSocketMcpServer({
    'x-planted': PLANTED.header,
    authorization: `Bearer ${PLANTED.apiKey}`,
  });
});

let closed = false;

afterAll(async () => {
  await monitor?.stop();
  if (!closed) await api?.close();
  await ws?.close();
  await database?.close();
  rmSync(dataDir, { recursive: true, force: true });
});

describe('planted secrets', () => {
  it('are shown only as set with their last 4 characters, through every route', async () => {
    const stdio = await call('POST', '/api/mcp/servers', envCheckedServer);
    const remote = await call('POST', '/api/mcp/servers', {
      name: 'remote',
      transport: 'websocket',
      url: ws.url,
      headers: { 'X-Planted': PLANTED.header },
      apiKey: PLANTED.apiKey,
    });
    const oauth = await call('POST', '/api/mcp/servers', {
      name: 'oauth',
      transport: 'streamable-http',
      url: 'https://mcp.example.test/mcp',
      auth: {
        type: 'oauth2-client-credentials',
        clientId: 'c',
        clientSecret: PLANTED.clientSecret,
      },
    });
    const jwt = await call('POST', '/api/mcp/servers', {
      name: 'jwt',
      transport: 'streamable-http',
      url: 'https://mcp.example.test/mcp',
      auth: { type: 'oauth2-private-key-jwt', clientId: 'c', privateKey, algorithm: 'ES256' },
    });
    expect([stdio, remote, oauth, jwt].map((res) => res.status)).toEqual([201, 201, 201, 201]);
    Object.assign(ids, {
      stdio: stdio.body.id,
      remote: remote.body.id,
      oauth: oauth.body.id,
      jwt: jwt.body.id,
    });
    const last4 = (secret: string) => ({ set: true, last4: secret.slice(-4) });
    expect(stdio.body.env).toEqual({ PLANTED_TOKEN: last4(PLANTED.env) });
    expect(remote.body).toMatchObject({
      headers: { 'X-Planted': last4(PLANTED.header) },
      apiKey: last4(PLANTED.apiKey),
    });
    expect(oauth.body.auth.clientSecret).toEqual(last4(PLANTED.clientSecret));
    expect(jwt.body.auth.privateKey).toEqual({ set: true, last4: expect.any(String) });

    const list = await call('GET', '/api/mcp/servers');
    expect(list.body.items.map((s: { id: number }) => s.id)).toEqual(Object.values(ids));
    for (const id of Object.values(ids)) await call('GET', `/api/mcp/servers/${id}`);
    // An update that omits the secrets keeps them; one that replaces a header shows the new one.
    const kept = await call('PUT', `/api/mcp/servers/${ids.remote}`, { description: 'edited' });
    expect(kept.body.apiKey).toEqual(last4(PLANTED.apiKey));
    const replaced = await call('PUT', `/api/mcp/servers/${ids.oauth}`, {
      headers: { 'X-New': PLANTED.newHeader },
    });
    expect(replaced.body.headers).toEqual({ 'X-New': last4(PLANTED.newHeader) });
    expect(replaced.body.auth.clientSecret).toEqual(last4(PLANTED.clientSecret));

    const text = responses.join('\n');
    expect(text).toContain(PLANTED.env.slice(-4));
    for (const secret of SECRETS) expect(text).not.toContain(secret);
  });

  it('are opened to connect: the stdio server gets its env, the remote one its header and key', async () => {
    const stdio = await call('POST', `/api/mcp/servers/${ids.stdio}/test`, {});
    expect(stdio.body).toMatchObject({ status: 'connected' });
    expect(stdio.body.toolCount).toBeGreaterThan(0);
    const remote = await call('POST', `/api/mcp/servers/${ids.remote}/test`, {});
    expect(remote.body).toMatchObject({ status: 'connected', toolCount: 1 });
    expect(ws.acceptedHeaders.at(-1)).toMatchObject({ 'x-planted': PLANTED.header });
    const tools = await call('GET', `/api/mcp/servers/${ids.remote}/tools`);
    expect(tools.status).toBe(200);

    for (const secret of SECRETS) expect(responses.join('\n')).not.toContain(secret);
  }, 30_000);

  it('never reach the log of the request cycle, the monitor included, nor does the API token', async () => {
    await monitor.stop();
    const text = logLines.join('');
    expect(text).toContain('mcp server connected');
    for (const secret of [...SECRETS, token]) expect(text).not.toContain(secret);
  });

  it('are stored sealed: the raw column text holds only sb:v1: values', async () => {
    const rows = await database.db
      .select({
        name: mcpServers.name,
        text: sql<string>`${mcpServers.env}::text || ${mcpServers.headers}::text || coalesce(${mcpServers.apiKey}, '') || ${mcpServers.auth}::text`,
      })
      .from(mcpServers);
    const text = rows.map((row) => row.text).join('\n');
    expect(rows.map((row) => row.name)).toContain(VISIBLE_NAME);
    for (const secret of SECRETS) expect(text).not.toContain(secret);
    expect(text).not.toContain('BEGIN PRIVATE KEY');
    // env, two headers, API key, client secret, private key.
    expect(text.match(/sb:v1:[0-9a-f]{8}:/g)).toHaveLength(6);
  });

  it.skipIf(usePostgres)('never reach the files of the embedded database', async () => {
    closed = true;
    await api.close();
    await database.close();
    const files = readdirSync(dataDir, { recursive: true, withFileTypes: true })
      .filter((entry) => entry.isFile())
      .map((entry) => readFileSync(path.join(entry.parentPath, entry.name)));
    expect(files.length).toBeGreaterThan(10);
    const holding = (text: string) => files.filter((file) => file.includes(text)).length;
    // The rows are in these files (the control), but none of the secrets are.
    expect(holding(VISIBLE_NAME)).toBeGreaterThan(0);
    for (const secret of SECRETS) expect(holding(secret), secret).toBe(0);
  });
});

describe('secrets stored before sealing', () => {
  it('still open, show masked, and are sealed by the next write of the server', async () => {
    const legacyDb = await openTestDatabase();
    const legacyApi = await serve(
      sandboxedApp({ database: legacyDb, logger: createLogger({ level: 'silent' }) }),
    );
    try {
      const user = await createTestUser(legacyDb);
      const userToken = generateToken();
      await storeToken(legacyDb.db, user.id, userToken);
      const legacy = `legacy-plain-${tag}-Zz9`;
      const [row] = await legacyDb.db
        .insert(mcpServers)
        .values({
          userId: user.id,
          name: 'legacy',
          transport: 'streamable-http',
          url: 'https://mcp.example.test/mcp',
          headers: { 'X-Old': legacy },
          apiKey: legacy,
        })
        .returning({ id: mcpServers.id });
      const raw = async () =>
        (await legacyDb.db.select().from(mcpServers)).map((r) => [r.headers['X-Old'], r.apiKey]);

      const read = await legacyApi.request('GET', `/api/mcp/servers/${row!.id}`, {
        token: userToken,
      });
      expect(read.body.apiKey).toEqual({ set: true, last4: '-Zz9' });
      expect(await raw()).toEqual([[legacy, legacy]]);

      const edited = await legacyApi.request('PUT', `/api/mcp/servers/${row!.id}`, {
        token: userToken,
        body: { description: 'touched' },
      });
      expect(edited.body.headers).toEqual({ 'X-Old': { set: true, last4: '-Zz9' } });
      const [[header, apiKey]] = (await raw()) as [[string, string]];
      expect(header).toMatch(/^sb:v1:/);
      expect(apiKey).toMatch(/^sb:v1:/);
    } finally {
      await legacyApi.close();
      await legacyDb.close();
    }
  });
});
