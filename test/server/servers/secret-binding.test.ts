/**
 * A secret stays with its destination: an update that moves a server (url origin, token URL,
 * command) must give its secrets again, and the owner of a server an admin set up cannot move it
 * at all. A capture server stands where the secrets would be sent and records every request.
 * Also: header, apiKey and env values a request cannot carry are refused at save, and so is a
 * token URL the URL policy refuses.
 */
import { randomBytes } from 'node:crypto';
import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateToken, storeToken } from '../../../server/http/auth.js';
import type { DatabaseHandle } from '../../../shared/db/open.js';
import { mcpServers } from '../../../shared/db/schema.js';
import { openServerSecrets } from '../../../shared/db/server-secrets.js';
import { createLogger } from '../../../shared/logger.js';
import { SecretScrubber } from '../../../shared/mcp/secret-scrubber.js';
import { startCaptureServer, type CaptureServer } from '../../helpers/capture-server.js';
import { createTestUser, openTestDatabase } from '../../helpers/database.js';
import { serve, type TestServer } from '../../helpers/http.js';
import { sandboxedApp } from '../../helpers/sandboxed.js';

const tag = randomBytes(6).toString('hex');
const SECRETS = {
  apiKey: `bound-apikey-${tag}-A1`,
  header: `bound-header-${tag}-B2`,
  clientSecret: `bound-client-secret-${tag}-C3`,
};
/** Finds any form of the planted secrets (raw, encoded, inside Basic credentials). */
const planted = new SecretScrubber(Object.values(SECRETS));
const holdsSecret = (text: string) => planted.scrub(text) !== text;

let database: DatabaseHandle;
let api: TestServer;
/** Where the admin pointed the servers. */
let legit: CaptureServer;
/** Where a user tries to move them. */
let capture: CaptureServer;
let adminToken: string;
let ownerToken: string;
let ownerId: number;

beforeAll(async () => {
  database = await openTestDatabase();
  api = await serve(sandboxedApp({ database, logger: createLogger({ level: 'silent' }) }));
  legit = await startCaptureServer();
  capture = await startCaptureServer();
  const admin = await createTestUser(database, 'admin');
  const owner = await createTestUser(database);
  ownerId = owner.id;
  adminToken = generateToken();
  ownerToken = generateToken();
  await storeToken(database.db, admin.id, adminToken);
  await storeToken(database.db, owner.id, ownerToken);
});

afterAll(async () => {
  await api?.close();
  await legit?.close();
  await capture?.close();
  await database?.close();
});

let counter = 0;

/** A server with an API key and a header, and one with a header and an OAuth client secret. */
function bodies() {
  counter += 1;
  return {
    keyed: {
      name: `Keyed ${counter}`,
      transport: 'streamable-http',
      url: `${legit.origin}/mcp`,
      apiKey: SECRETS.apiKey,
      headers: { 'X-Tenant': SECRETS.header },
      timeoutMs: 2000,
    },
    oauth: {
      name: `OAuth ${counter}`,
      transport: 'streamable-http',
      url: `${legit.origin}/mcp`,
      headers: { 'X-Tenant': SECRETS.header },
      auth: {
        type: 'oauth2-client-credentials',
        clientId: 'switchboard-client',
        clientSecret: SECRETS.clientSecret,
        tokenUrl: `${legit.origin}/token`,
      },
      timeoutMs: 2000,
    },
  };
}

async function rawRow(id: number) {
  const [row] = await database.db.select().from(mcpServers).where(eq(mcpServers.id, id));
  return openServerSecrets(row!, database.secrets);
}

describe('moving a server without its secrets', () => {
  it('is refused with 422 naming the secrets to give again, for any user, and nothing is written', async () => {
    const { keyed, oauth } = bodies();
    const k = await api.request('POST', '/api/mcp/servers', { token: ownerToken, body: keyed });
    const o = await api.request('POST', '/api/mcp/servers', { token: ownerToken, body: oauth });
    expect([k.status, o.status]).toEqual([201, 201]);
    expect(k.body.adminManaged).toBe(false);
    const before = [await rawRow(k.body.id), await rawRow(o.body.id)];

    const moved = await api.request('PUT', `/api/mcp/servers/${k.body.id}`, {
      token: ownerToken,
      body: { url: `${capture.origin}/mcp` },
    });
    expect(moved.status).toBe(422);
    expect(moved.headers.get('content-type')).toMatch(/application\/problem\+json/);
    expect(moved.body.code).toBe('secrets_required');
    expect(moved.body.errors.map((e: { path: string }) => e.path).sort()).toEqual([
      'body.apiKey',
      'body.headers',
    ]);
    expect(moved.body.detail).toMatch(/url origin/);

    const tokenMoved = await api.request('PUT', `/api/mcp/servers/${o.body.id}`, {
      token: ownerToken,
      body: { auth: { ...oauth.auth, clientSecret: undefined, tokenUrl: `${capture.origin}/t` } },
    });
    expect(tokenMoved.status).toBe(422);
    expect(tokenMoved.body.errors.map((e: { path: string }) => e.path).sort()).toEqual([
      'body.auth.clientSecret',
      'body.headers',
    ]);
    const urlMoved = await api.request('PUT', `/api/mcp/servers/${o.body.id}`, {
      token: adminToken,
      body: { url: `${capture.origin}/mcp` },
    });
    expect(urlMoved.status).toBe(404); // the admin acts for themself without ?userId=
    const urlMovedForOwner = await api.request(
      'PUT',
      `/api/mcp/servers/${o.body.id}?userId=${ownerId}`,
      { token: adminToken, body: { url: `${capture.origin}/mcp` } },
    );
    expect(urlMovedForOwner.status).toBe(422);

    expect([await rawRow(k.body.id), await rawRow(o.body.id)]).toEqual(before);
    // Testing the servers reaches only where they were (the legit server), never the capture one.
    for (const id of [k.body.id, o.body.id]) {
      await api.request('POST', `/api/mcp/servers/${id}/test`, { token: ownerToken, body: {} });
    }
    expect(legit.requests.length).toBeGreaterThan(0);
    expect(holdsSecret(legit.text())).toBe(true);
    expect(capture.requests).toEqual([]);
  });

  it('is allowed when the secrets are given again, or cleared, and only the new ones travel', async () => {
    const { keyed, oauth } = bodies();
    const k = await api.request('POST', '/api/mcp/servers', { token: ownerToken, body: keyed });
    const o = await api.request('POST', '/api/mcp/servers', { token: ownerToken, body: oauth });
    const fresh = `fresh-header-${tag}`;
    const resent = await api.request('PUT', `/api/mcp/servers/${k.body.id}`, {
      token: ownerToken,
      body: { url: `${capture.origin}/mcp`, apiKey: null, headers: { 'X-Tenant': fresh } },
    });
    expect(resent.status).toBe(200);
    expect(resent.body.apiKey).toBeNull();
    const cleared = await api.request('PUT', `/api/mcp/servers/${o.body.id}`, {
      token: ownerToken,
      body: { url: `${capture.origin}/mcp`, headers: {}, auth: null },
    });
    expect(cleared.status).toBe(200);
    expect(cleared.body.auth).toEqual({ type: 'none' });
    // Another path on the same origin is the same destination.
    const samePlace = await api.request('PUT', `/api/mcp/servers/${k.body.id}`, {
      token: ownerToken,
      body: { url: `${capture.origin}/other` },
    });
    expect(samePlace.status).toBe(200);

    const seen = capture.requests.length;
    await api.request('POST', `/api/mcp/servers/${k.body.id}/test`, {
      token: ownerToken,
      body: {},
    });
    expect(capture.requests.length).toBeGreaterThan(seen);
    expect(capture.text()).toContain(fresh);
    expect(holdsSecret(capture.text())).toBe(false);
  });
});

describe('a server an admin set up for a user', () => {
  it('is marked adminManaged, and its owner cannot move it or change its secrets: the capture server receives nothing', async () => {
    const { keyed, oauth } = bodies();
    const k = await api.request('POST', `/api/mcp/servers?userId=${ownerId}`, {
      token: adminToken,
      body: keyed,
    });
    const o = await api.request('POST', `/api/mcp/servers?userId=${ownerId}`, {
      token: adminToken,
      body: oauth,
    });
    expect([k.status, o.status]).toEqual([201, 201]);
    expect([k.body.adminManaged, o.body.adminManaged]).toEqual([true, true]);
    const seen = capture.requests.length;
    const before = [await rawRow(k.body.id), await rawRow(o.body.id)];

    const attempts: [number, Record<string, unknown>, string[]][] = [
      [k.body.id, { url: `${capture.origin}/mcp` }, ['body.url']],
      [
        k.body.id,
        { url: `${capture.origin}/mcp`, apiKey: 'mine-now-1234', headers: {} },
        ['body.url', 'body.headers', 'body.apiKey'],
      ],
      [
        o.body.id,
        { auth: { ...oauth.auth, clientSecret: undefined, tokenUrl: `${capture.origin}/t` } },
        ['body.auth'],
      ],
      [o.body.id, { toolFilter: { deny: ['x'] } }, ['body.toolFilter']],
    ];
    for (const [id, body, fields] of attempts) {
      const res = await api.request('PUT', `/api/mcp/servers/${id}`, { token: ownerToken, body });
      expect(res.status, JSON.stringify(body)).toBe(403);
      expect(res.headers.get('content-type')).toMatch(/application\/problem\+json/);
      expect(res.body.code).toBe('admin_managed');
      expect(res.body.detail).toMatch(/An admin manages this server/);
      expect(res.body.errors.map((e: { path: string }) => e.path).sort()).toEqual(fields.sort());
    }
    expect([await rawRow(k.body.id), await rawRow(o.body.id)]).toEqual(before);

    for (const id of [k.body.id, o.body.id]) {
      await api.request('POST', `/api/mcp/servers/${id}/test`, { token: ownerToken, body: {} });
    }
    expect(capture.requests.slice(seen)).toEqual([]);
    expect(holdsSecret(capture.text())).toBe(false);
  });

  it('can still be renamed, described, disabled, given a timeout and deleted by its owner; admins change the rest', async () => {
    const { keyed } = bodies();
    const created = await api.request('POST', `/api/mcp/servers?userId=${ownerId}`, {
      token: adminToken,
      body: keyed,
    });
    const id = created.body.id as number;
    const own = await api.request('PUT', `/api/mcp/servers/${id}`, {
      token: ownerToken,
      // A form that sends the connection back unchanged changes nothing the admin manages.
      body: {
        name: 'Renamed',
        description: 'mine',
        isActive: false,
        timeoutMs: 3000,
        url: keyed.url,
        transport: keyed.transport,
      },
    });
    expect(own.status).toBe(200);
    expect(own.body).toMatchObject({
      name: 'Renamed',
      description: 'mine',
      isActive: false,
      timeoutMs: 3000,
      adminManaged: true,
    });
    const byAdmin = await api.request('PUT', `/api/mcp/servers/${id}?userId=${ownerId}`, {
      token: adminToken,
      body: { toolFilter: { deny: ['x'] } },
    });
    expect(byAdmin.status).toBe(200);
    const list = await api.request('GET', '/api/mcp/servers', { token: ownerToken });
    expect(list.body.items.find((s: { id: number }) => s.id === id).adminManaged).toBe(true);
    const deleted = await api.request('DELETE', `/api/mcp/servers/${id}`, { token: ownerToken });
    expect(deleted.status).toBe(204);
  });

  it('becomes adminManaged when an admin changes the connection of a server the user made', async () => {
    const { keyed } = bodies();
    const created = await api.request('POST', '/api/mcp/servers', {
      token: ownerToken,
      body: keyed,
    });
    const renamed = await api.request(
      'PUT',
      `/api/mcp/servers/${created.body.id}?userId=${ownerId}`,
      {
        token: adminToken,
        body: { description: 'looked at by an admin' },
      },
    );
    expect(renamed.body.adminManaged).toBe(false);
    const rekeyed = await api.request(
      'PUT',
      `/api/mcp/servers/${created.body.id}?userId=${ownerId}`,
      {
        token: adminToken,
        body: { apiKey: 'admin-issued-key-5678' },
      },
    );
    expect(rekeyed.body.adminManaged).toBe(true);
    const own = await api.request('POST', '/api/mcp/servers', {
      token: adminToken,
      body: bodies().keyed,
    });
    expect(own.body.adminManaged).toBe(false);
  });
});

describe('values a request cannot carry', () => {
  const remote = () => ({
    name: `Values ${++counter}`,
    transport: 'streamable-http',
    url: `${legit.origin}/mcp`,
  });

  it('are refused at create and update with 400 naming the field', async () => {
    const cases: [Record<string, unknown>, string][] = [
      [{ apiKey: 'sk-line\r\nX-Injected: 1' }, 'body.apiKey'],
      [{ apiKey: 'sk-line\nbreak' }, 'body.apiKey'],
      [{ headers: { 'X-A': 'a\r\nX-Injected: 1' } }, 'body.headers.X-A'],
      [{ headers: { 'X-A': 'bell\u0007' } }, 'body.headers.X-A'],
      [{ headers: { 'X A': 'v' } }, 'body.headers.X A'],
      [{ headers: { 'X-Ü': 'v' } }, 'body.headers.X-Ü'],
    ];
    for (const [extra, path] of cases) {
      const res = await api.request('POST', '/api/mcp/servers', {
        token: ownerToken,
        body: { ...remote(), ...extra },
      });
      expect(res.status, JSON.stringify(extra)).toBe(400);
      expect(res.body.errors.map((e: { path: string }) => e.path)).toContain(path);
    }
    const created = await api.request('POST', '/api/mcp/servers', {
      token: ownerToken,
      body: { ...remote(), headers: { 'X-Tab': 'tab\tis fine' } },
    });
    expect(created.status).toBe(201);
    for (const [extra, path] of cases) {
      const res = await api.request('PUT', `/api/mcp/servers/${created.body.id}`, {
        token: ownerToken,
        body: extra,
      });
      expect(res.status, JSON.stringify(extra)).toBe(400);
      expect(res.body.errors.map((e: { path: string }) => e.path)).toContain(path);
    }
    const env = await api.request('POST', '/api/mcp/servers', {
      token: adminToken,
      body: { name: `Env ${tag}`, transport: 'stdio', command: 'node', env: { A: 'x\u0000y' } },
    });
    expect(env.status).toBe(400);
    expect(env.body.errors.map((e: { path: string }) => e.path)).toEqual(['body.env.A']);
  });

  it('a token URL the URL policy refuses is a 422 naming body.auth.tokenUrl, at create and update', async () => {
    const strict = await serve(
      sandboxedApp({
        database,
        logger: createLogger({ level: 'silent' }),
        guards: { urlPolicy: { allowPrivateNetworks: false, resolve: async () => [] } },
      }),
    );
    try {
      const auth = {
        type: 'oauth2-client-credentials',
        clientId: 'c',
        clientSecret: 's3cret-value',
        tokenUrl: 'http://169.254.169.254/token',
      };
      const body = {
        name: `Token ${tag}`,
        transport: 'streamable-http',
        url: 'https://mcp.example.com/mcp',
      };
      const created = await strict.request('POST', '/api/mcp/servers', {
        token: ownerToken,
        body: { ...body, auth },
      });
      expect(created.status).toBe(422);
      expect(created.body.errors).toEqual([
        { path: 'body.auth.tokenUrl', message: expect.stringMatching(/metadata/) },
      ]);
      const plain = await strict.request('POST', '/api/mcp/servers', { token: ownerToken, body });
      expect(plain.status).toBe(201);
      const updated = await strict.request('PUT', `/api/mcp/servers/${plain.body.id}`, {
        token: ownerToken,
        body: { auth: { ...auth, tokenUrl: 'http://127.0.0.1:9/token' } },
      });
      expect(updated.status).toBe(422);
      expect(updated.body.errors[0].path).toBe('body.auth.tokenUrl');
      expect((await rawRow(plain.body.id)).auth).toEqual({ type: 'none' });
    } finally {
      await strict.close();
    }
  });
});
