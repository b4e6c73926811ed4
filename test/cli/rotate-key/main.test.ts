import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { asc } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resealServerSecrets, runRotateKey } from '../../../cli/rotate-key/run.js';
import {
  createOAuthFlow,
  findClientRegistration,
  findOAuthConnection,
  saveClientRegistration,
  saveOAuthTokens,
  takeOAuthFlow,
} from '../../../shared/db/oauth.js';
import { openDatabase, type DatabaseHandle } from '../../../shared/db/open.js';
import { mcpServers, type NewMcpServerRow } from '../../../shared/db/schema.js';
import { createServer, getServer, listServers } from '../../../shared/db/servers.js';
import { secretHint } from '../../../shared/db/server-secrets.js';
import {
  SecretBox,
  SecretError,
  keyFilePath,
  keyId,
  loadSecretKey,
} from '../../../shared/secrets.js';
import { loadSettings } from '../../../shared/settings.js';
import { createTestUser, openTestDatabase } from '../../helpers/database.js';

const privateKey = generateKeyPairSync('ec', { namedCurve: 'prime256v1' })
  .privateKey.export({ type: 'pkcs8', format: 'pem' })
  .toString();

const PLAIN = {
  env: 'rotate-env-value-aaaa',
  header: 'rotate-header-value-bbbb',
  apiKey: 'rotate-api-key-cccc',
  clientSecret: 'rotate-client-secret-dddd',
  legacy: 'legacy-unsealed-value-eeee',
};

function servers(userId: number): NewMcpServerRow[] {
  return [
    {
      userId,
      name: 'stdio',
      transport: 'stdio',
      command: 'node',
      env: { TOKEN: PLAIN.env },
    },
    {
      userId,
      name: 'remote',
      transport: 'streamable-http',
      url: 'https://mcp.example.test/mcp',
      headers: { 'X-Tenant': PLAIN.header },
      apiKey: PLAIN.apiKey,
    },
    {
      userId,
      name: 'oauth',
      transport: 'streamable-http',
      url: 'https://mcp.example.test/mcp',
      auth: {
        type: 'oauth2-client-credentials',
        clientId: 'c',
        clientSecret: PLAIN.clientSecret,
        tokenEndpointAuthMethod: 'client_secret_basic',
      },
    },
    {
      userId,
      name: 'jwt',
      transport: 'streamable-http',
      url: 'https://mcp.example.test/mcp',
      auth: { type: 'oauth2-private-key-jwt', clientId: 'c', privateKey, algorithm: 'ES256' },
    },
  ];
}

async function rawRows(database: DatabaseHandle) {
  return database.db
    .select({
      env: mcpServers.env,
      headers: mcpServers.headers,
      apiKey: mcpServers.apiKey,
      auth: mcpServers.auth,
    })
    .from(mcpServers)
    .orderBy(asc(mcpServers.id));
}

describe('resealServerSecrets', () => {
  const oldKey = randomBytes(32);
  const newKey = randomBytes(32);
  let database: DatabaseHandle;
  let userId: number;

  beforeAll(async () => {
    database = await openTestDatabase(new SecretBox(oldKey));
    userId = (await createTestUser(database)).id;
  });
  afterAll(async () => {
    await database?.close();
  });

  it('re-seals every secret under the new key, plain rows from before sealing included', async () => {
    for (const row of servers(userId)) await createServer(database, row);
    // A row written before secrets were sealed.
    await database.db.insert(mcpServers).values({
      userId,
      name: 'legacy',
      transport: 'stdio',
      command: 'node',
      env: { OLD: PLAIN.legacy },
    });
    const before = await listServers(database, userId);

    const result = await resealServerSecrets(database.db, new SecretBox(newKey, [oldKey]));

    expect(result).toEqual({ servers: 5, secrets: 6 });
    const raw = JSON.stringify(await rawRows(database));
    for (const secret of [...Object.values(PLAIN), 'BEGIN PRIVATE KEY']) {
      expect(raw).not.toContain(secret);
    }
    const sealedValues = raw.match(/sb:v1:[0-9a-f]{8}:/g) ?? [];
    expect(sealedValues).toHaveLength(6);
    expect(new Set(sealedValues)).toEqual(new Set([`sb:v1:${keyId(newKey)}:`]));

    const withNewKeyOnly = { db: database.db, secrets: new SecretBox(newKey) };
    const after = await listServers(withNewKeyOnly, userId);
    // Same plain values, and the same updated_at: the configurations did not change. The row
    // stored before the hints existed has them now (the others keep theirs).
    expect(before.find((row) => row.name === 'legacy')!.secretHints).toBeNull();
    expect(after).toEqual(
      before.map((row) =>
        row.name === 'legacy'
          ? {
              ...row,
              secretHints: {
                env: { OLD: secretHint(PLAIN.legacy) },
                headers: {},
                apiKey: null,
                auth: null,
              },
            }
          : row,
      ),
    );
    await expect(
      listServers({ db: database.db, secrets: new SecretBox(oldKey) }, userId),
    ).rejects.toThrow(SecretError);
  });

  it('re-seals the OAuth registrations, tokens and PKCE verifiers too', async () => {
    const box = new SecretBox(oldKey);
    const [server] = await database.db
      .insert(mcpServers)
      .values({ userId, name: 'tracker', transport: 'streamable-http', url: 'https://t.test/mcp' })
      .returning();
    const redirect = 'https://sb.test/api/oauth/callback';
    await saveClientRegistration(database.db, box, 'https://as.test', redirect, {
      client_id: 'dcr',
      client_secret: 'rotate-dcr-secret',
    });
    await saveOAuthTokens(database.db, box, {
      serverId: server!.id,
      userId,
      tokens: { access_token: 'rotate-access-token', token_type: 'Bearer' },
    });
    await createOAuthFlow(database.db, box, {
      state: 'rotate-state',
      userId,
      serverId: server!.id,
      issuer: 'https://as.test',
      codeVerifier: 'rotate-verifier',
      redirectUri: redirect,
      browserNonce: 'rotate-nonce',
    });

    const result = await resealServerSecrets(database.db, new SecretBox(newKey, [oldKey]));
    // The six server secrets of the first case, and the three OAuth values.
    expect(result.secrets).toBe(9);

    const fresh = new SecretBox(newKey);
    expect(await findClientRegistration(database.db, fresh, 'https://as.test', redirect)).toEqual({
      client_id: 'dcr',
      client_secret: 'rotate-dcr-secret',
    });
    expect((await findOAuthConnection(database.db, fresh, server!.id))?.tokens).toEqual({
      access_token: 'rotate-access-token',
      token_type: 'Bearer',
    });
    expect((await takeOAuthFlow(database.db, fresh, 'rotate-state'))?.codeVerifier).toBe(
      'rotate-verifier',
    );
    await expect(findOAuthConnection(database.db, box, server!.id)).rejects.toThrow(SecretError);
  });

  it('changes nothing when one value does not open with the known keys', async () => {
    const stranger = { db: database.db, secrets: new SecretBox(randomBytes(32)) };
    const other = await createTestUser(database);
    await createServer(stranger, { ...servers(other.id)[0]!, name: 'unknown key' });
    const before = await rawRows(database);

    await expect(
      resealServerSecrets(database.db, new SecretBox(randomBytes(32), [newKey])),
    ).rejects.toThrow(/cannot open the secret env.TOKEN of MCP server/);

    expect(await rawRows(database)).toEqual(before);
  });
});

describe('runRotateKey (npm run rotate-key)', () => {
  const dirs: string[] = [];
  afterAll(() => dirs.forEach((dir) => rmSync(dir, { recursive: true, force: true })));

  async function seeded(env: Record<string, string>) {
    const dataDir = mkdtempSync(path.join(tmpdir(), 'switchboard-rotate-'));
    dirs.push(dataDir);
    const settings = loadSettings({ DATA_DIR: dataDir, ...env });
    const key = loadSecretKey({ base64Key: settings.SWITCHBOARD_SECRET_KEY, dataDir });
    const database = await openDatabase({
      pgliteDir: path.join(dataDir, 'pglite'),
      secretBox: new SecretBox(key),
    });
    const user = await createTestUser(database);
    const row = await createServer(database, servers(user.id)[1]!);
    await database.close();
    return { settings, dataDir, key, userId: user.id, serverId: row.id };
  }

  async function readBack(dataDir: string, key: Buffer, userId: number, serverId: number) {
    const database = await openDatabase({
      pgliteDir: path.join(dataDir, 'pglite'),
      secretBox: new SecretBox(key),
    });
    try {
      return await getServer(database, userId, serverId);
    } finally {
      await database.close();
    }
  }

  it('replaces the generated key file, keeps the old key beside it, and the API opens with it', async () => {
    const { settings, dataDir, key, userId, serverId } = await seeded({});
    const newKey = randomBytes(32);
    let report = '';

    const result = await runRotateKey({ settings, newKey, write: (text) => (report += text) });

    const file = keyFilePath(dataDir);
    expect(result).toMatchObject({ servers: 1, secrets: 2, keyFile: file });
    expect(readFileSync(file, 'utf8').trim()).toBe(newKey.toString('base64'));
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(readFileSync(`${file}.${keyId(key)}`, 'utf8').trim()).toBe(key.toString('base64'));
    expect(existsSync(`${file}.new`)).toBe(false);
    expect(report).toContain(`now holds the new key`);
    const row = await readBack(dataDir, loadSecretKey({ dataDir }), userId, serverId);
    expect(row).toMatchObject({ apiKey: PLAIN.apiKey, headers: { 'X-Tenant': PLAIN.header } });
  });

  it('prints the new SWITCHBOARD_SECRET_KEY to set when the key came from the environment', async () => {
    const oldKey = randomBytes(32).toString('base64');
    const { settings, dataDir, userId, serverId } = await seeded({
      SWITCHBOARD_SECRET_KEY: oldKey,
    });
    let report = '';

    const result = await runRotateKey({ settings, write: (text) => (report += text) });

    const printed = /SWITCHBOARD_SECRET_KEY=(\S+)/.exec(report)?.[1];
    expect(printed).toBeDefined();
    expect(keyId(Buffer.from(printed!, 'base64'))).toBe(result.newKeyId);
    expect(result.keyFile).toBeUndefined();
    expect(existsSync(keyFilePath(dataDir))).toBe(false);
    const row = await readBack(dataDir, Buffer.from(printed!, 'base64'), userId, serverId);
    expect(row?.apiKey).toBe(PLAIN.apiKey);
  });

  it('refuses to run without a current key rather than inventing one', async () => {
    const dataDir = mkdtempSync(path.join(tmpdir(), 'switchboard-rotate-'));
    dirs.push(dataDir);
    await expect(runRotateKey({ settings: loadSettings({ DATA_DIR: dataDir }) })).rejects.toThrow(
      /SWITCHBOARD_SECRET_KEY is not set/,
    );
    expect(existsSync(keyFilePath(dataDir))).toBe(false);
  });
});
