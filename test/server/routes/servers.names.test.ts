/**
 * A user's server names are unique regardless of case (the exact input: `everything`
 * next to `Everything`, whose tools came out as `everything__echo_d8f1d1`): creating or renaming
 * to a taken name in any case answers 409 problem+json naming the server that holds it; a server
 * may change the case of its own name, and another user may use the name.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DatabaseHandle } from '../../../shared/db/open.js';
import { createLogger } from '../../../shared/logger.js';
import { generateToken, storeToken } from '../../../server/http/auth.js';
import { createTestUser, openTestDatabase } from '../../helpers/database.js';
import { serve, type TestServer } from '../../helpers/http.js';
import { sandboxedApp } from '../../helpers/sandboxed.js';

let database: DatabaseHandle;
let api: TestServer;
let alice: string;
let bob: string;

beforeAll(async () => {
  database = await openTestDatabase();
  api = await serve(sandboxedApp({ database, logger: createLogger({ level: 'silent' }) }));
  const [a, b] = [await createTestUser(database), await createTestUser(database)];
  alice = generateToken();
  bob = generateToken();
  await storeToken(database.db, a.id, alice);
  await storeToken(database.db, b.id, bob);
});

afterAll(async () => {
  await api?.close();
  await database?.close();
});

/** A remote server's body (nothing connects: the app has no monitor). */
function remote(name: string) {
  return { name, transport: 'streamable-http', url: 'https://mcp.example.test/mcp' };
}

async function create(token: string, name: string) {
  return api.request('POST', '/api/mcp/servers', { token, body: remote(name) });
}

async function rename(token: string, id: number, name: string) {
  return api.request('PUT', `/api/mcp/servers/${id}`, { token, body: { name } });
}

async function names(token: string): Promise<string[]> {
  const res = await api.request('GET', '/api/mcp/servers', { token });
  return (res.body.items as { name: string }[]).map((server) => server.name);
}

describe('server names, unique per user regardless of case', () => {
  let everythingId: number;
  let otherId: number;

  it('refuses `Everything` next to `everything` with a 409 that names the existing server', async () => {
    const first = await create(alice, 'everything');
    expect(first.status).toBe(201);
    everythingId = first.body.id;

    const second = await create(alice, 'Everything');

    expect(second.status).toBe(409);
    expect(second.headers.get('content-type')).toContain('application/problem+json');
    expect(second.body.detail).toBe(
      `A server named "everything" (id ${everythingId}) already exists; names are unique ` +
        'regardless of case. Choose another name, or change that server instead.',
    );
    expect(await names(alice)).toEqual(['everything']);
  });

  it('refuses renaming another server to `EVERYTHING` with the same 409', async () => {
    const other = await create(alice, 'memory');
    expect(other.status).toBe(201);
    otherId = other.body.id;

    const renamed = await rename(alice, otherId, 'EVERYTHING');

    expect(renamed.status).toBe(409);
    expect(renamed.body.detail).toMatch(
      new RegExp(`^A server named "everything" \\(id ${everythingId}\\) already exists; `),
    );
    expect((await names(alice)).sort()).toEqual(['everything', 'memory']);
  });

  it('lets a server change the case of its own name', async () => {
    const renamed = await rename(alice, everythingId, 'Everything');

    expect(renamed.status).toBe(200);
    expect(renamed.body.name).toBe('Everything');
    // Saving it again under the same name is no conflict either.
    expect((await rename(alice, everythingId, 'Everything')).status).toBe(200);
  });

  it('lets another user use the name in any case', async () => {
    expect((await create(bob, 'everything')).status).toBe(201);
    expect((await create(bob, 'EVERYTHING')).status).toBe(409);
    expect(await names(bob)).toEqual(['everything']);
  });
});
