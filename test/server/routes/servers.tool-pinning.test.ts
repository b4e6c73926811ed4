/**
 * Tool pinning through the API (issue 16): `GET /api/mcp/servers/:id/tools` pins a new server's
 * tools on first use and then shows each tool's `pinState` (`changed` with what changed, `new`),
 * `POST …/tools/approve` approves them (422 for a name the server does not list, 409 for a hash
 * that is no longer the tool's, 400 for a malformed body), `pinTools: false` pins and withholds
 * nothing, and two first uses at once store one set. Against the changing-tools fixture server
 * over Streamable HTTP. Runs on PGlite, or on Postgres when `DATABASE_URL` is set.
 */
import { and, eq } from 'drizzle-orm';
import type { Tool } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { generateToken, storeToken } from '../../../server/http/auth.js';
import type { DatabaseHandle } from '../../../shared/db/open.js';
import { mcpServers, toolPins } from '../../../shared/db/schema.js';
import { createServer } from '../../../shared/db/servers.js';
import { pinToolsOnFirstUse } from '../../../shared/db/tool-pins.js';
import { createLogger } from '../../../shared/logger.js';
import { toolHash } from '../../../shared/mcp/tool-pinning.js';
import {
  CHANGED_ECHO_DESCRIPTION,
  ECHO_DESCRIPTION,
  startChangingToolsMcpServer,
  type ChangingToolsMcpServer,
} from '../../helpers/changing-tools-mcp-server.js';
import { createTestUser, openTestDatabase } from '../../helpers/database.js';
import { serve, type TestServer } from '../../helpers/http.js';
import { sandboxedApp } from '../../helpers/sandboxed.js';

let database: DatabaseHandle;
let api: TestServer;
const fixtures: ChangingToolsMcpServer[] = [];

async function account(role: 'admin' | 'user' = 'user') {
  const user = await createTestUser(database, role);
  const token = generateToken();
  await storeToken(database.db, user.id, token);
  return { id: user.id, token };
}

/** A fresh fixture server (its change cannot be undone, so each test has its own). */
async function fixture(): Promise<ChangingToolsMcpServer> {
  const started = await startChangingToolsMcpServer();
  fixtures.push(started);
  return started;
}

async function storedPins(serverId: number) {
  return database.db.select().from(toolPins).where(eq(toolPins.serverId, serverId));
}

beforeAll(async () => {
  database = await openTestDatabase();
  api = await serve(sandboxedApp({ database, logger: createLogger({ level: 'silent' }) }));
});

afterEach(async () => {
  await Promise.all(fixtures.splice(0).map((started) => started.close()));
});

afterAll(async () => {
  await api?.close();
  await database?.close();
});

describe('tool pinning through the API', () => {
  it('pins on first use, shows changed and new tools with what changed, and approves them', async () => {
    const owner = await account();
    const mcp = await fixture();
    const created = await api.request('POST', '/api/mcp/servers', {
      token: owner.token,
      body: { name: 'Drifty', transport: 'streamable-http', url: mcp.url },
    });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ pinTools: true, toolsPinnedAt: null });
    const id = created.body.id as number;
    const tools = (path = '') =>
      api.request('GET', `/api/mcp/servers/${id}/tools${path}`, { token: owner.token });

    // The first listing pins every tool the server lists (trust on first use).
    const first = await tools();
    expect(first.status).toBe(200);
    expect(first.body).toEqual([
      expect.objectContaining({
        name: 'drifty__echo',
        originalName: 'echo',
        description: ECHO_DESCRIPTION,
        pinState: 'pinned',
        withheld: false,
        hash: expect.stringMatching(/^[0-9a-f]{64}$/),
      }),
    ]);
    const pins = await storedPins(id);
    expect(pins.map((pin) => [pin.toolName, pin.hash, pin.approvedBy])).toEqual([
      ['echo', first.body[0].hash, null],
    ]);
    const shown = await api.request('GET', `/api/mcp/servers/${id}`, { token: owner.token });
    expect(Date.parse(shown.body.toolsPinnedAt)).not.toBeNaN();

    // The server changes echo (description and an input) and adds shout.
    mcp.change();
    const changed = await tools();
    expect(changed.status).toBe(200);
    expect(changed.headers.get('x-total-count')).toBe('3');
    const [echo, shout, withheld] = changed.body;
    expect(echo).toMatchObject({
      name: 'drifty__echo',
      description: CHANGED_ECHO_DESCRIPTION,
      pinState: 'changed',
      withheld: true,
      changes: {
        description: { before: ECHO_DESCRIPTION, after: CHANGED_ECHO_DESCRIPTION },
        inputSchema: { added: ['loud'], removed: [], requiredAdded: [], requiredRemoved: [] },
      },
    });
    expect(echo.hash).not.toBe(first.body[0].hash);
    // The word diff: words kept, removed ("message" became "message.") and added.
    expect(echo.changes.description.diff).toEqual([
      { op: 'same', text: 'Echoes its ' },
      { op: 'removed', text: 'message' },
      { op: 'added', text: CHANGED_ECHO_DESCRIPTION.slice('Echoes its '.length) },
    ]);
    expect(shout).toMatchObject({ name: 'drifty__shout', pinState: 'new', withheld: true });
    expect(shout.changes).toBeUndefined();
    // The tool a session adds in their place, listed as a session advertises it.
    expect(withheld).toMatchObject({ name: 'drifty__withheld_tools', needsConfirmation: false });
    expect(withheld.pinState).toBeUndefined();
    expect(withheld.description).toContain('drifty__echo, drifty__shout');
    // Listing again pins nothing new: the pins are those of the first use.
    expect((await storedPins(id)).map((pin) => pin.hash)).toEqual([first.body[0].hash]);

    // Approving: echo by name, shout with the hash the owner saw.
    const approved = await api.request('POST', `/api/mcp/servers/${id}/tools/approve`, {
      token: owner.token,
      body: { tools: ['echo', { name: 'shout', hash: shout.hash }] },
    });
    expect(approved.status).toBe(200);
    expect(
      approved.body.map((tool: { name: string; pinState: string; withheld: boolean }) => [
        tool.name,
        tool.pinState,
        tool.withheld,
      ]),
    ).toEqual([
      ['drifty__echo', 'pinned', false],
      ['drifty__shout', 'pinned', false],
    ]);
    const after = await storedPins(id);
    expect(
      after
        .map((pin) => [pin.toolName, pin.hash, pin.approvedBy, pin.definition.description])
        .sort(),
    ).toEqual([
      ['echo', echo.hash, owner.id, CHANGED_ECHO_DESCRIPTION],
      ['shout', shout.hash, owner.id, 'Shouts its text'],
    ]);
    expect(
      (await tools()).body.every((tool: { pinState: string }) => tool.pinState === 'pinned'),
    ).toBe(true);
  });

  it('refuses unknown names with 422, a stale hash with 409 and a bad body with 400, approving nothing', async () => {
    const owner = await account();
    const mcp = await fixture();
    const row = await createServer(database, {
      userId: owner.id,
      name: 'Strict',
      transport: 'streamable-http',
      url: mcp.url,
    });
    const approve = (body: unknown) =>
      api.request('POST', `/api/mcp/servers/${row.id}/tools/approve`, {
        token: owner.token,
        body,
      });
    await api.request('GET', `/api/mcp/servers/${row.id}/tools`, { token: owner.token });
    mcp.change();
    const before = await storedPins(row.id);

    const unknown = await approve({ tools: ['shout', 'no-such-tool', 'drifty__echo'] });
    expect(unknown.status).toBe(422);
    expect(unknown.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(unknown.body.detail).toContain('"no-such-tool", "drifty__echo"');
    expect(unknown.body.errors).toEqual([
      { path: 'body.tools.1', message: 'not a tool the server lists now' },
      { path: 'body.tools.2', message: 'not a tool the server lists now' },
    ]);

    const stale = await approve({ tools: [{ name: 'echo', hash: 'a'.repeat(64) }] });
    expect(stale.status).toBe(409);
    expect(stale.body.detail).toMatch(/"echo" of Strict changed again/);

    for (const body of [
      {},
      { tools: [] },
      { tools: 'echo' },
      { tools: [{ name: 'echo', hash: 'not-a-hash' }] },
      { tools: ['echo'], extra: true },
    ]) {
      const bad = await approve(body);
      expect(bad.status, JSON.stringify(body)).toBe(400);
      expect(bad.body.errors.length).toBeGreaterThan(0);
    }
    expect(await storedPins(row.id)).toEqual(before);

    // Another user's server is a 404, as everywhere.
    const stranger = await account();
    const foreign = await api.request('POST', `/api/mcp/servers/${row.id}/tools/approve`, {
      token: stranger.token,
      body: { tools: ['echo'] },
    });
    expect(foreign.status).toBe(404);
    expect(await storedPins(row.id)).toEqual(before);
  });

  it("lets an admin approve a user's tools, recorded as the admin's approval", async () => {
    const owner = await account();
    const admin = await account('admin');
    const mcp = await fixture();
    mcp.change();
    const row = await createServer(database, {
      userId: owner.id,
      name: 'Managed',
      transport: 'streamable-http',
      url: mcp.url,
    });
    // First seen when it listed no tools: both tools are new.
    await pinToolsOnFirstUse(database.db, row.id, []);
    const listed = await api.request('GET', `/api/mcp/servers/${row.id}/tools?userId=${owner.id}`, {
      token: admin.token,
    });
    expect(listed.body.map((tool: { pinState: string }) => tool.pinState)).toEqual([
      'new',
      'new',
      undefined,
    ]);
    const approved = await api.request(
      'POST',
      `/api/mcp/servers/${row.id}/tools/approve?userId=${owner.id}`,
      { token: admin.token, body: { tools: ['echo', 'shout'] } },
    );
    expect(approved.status).toBe(200);
    expect((await storedPins(row.id)).map((pin) => pin.approvedBy)).toEqual([admin.id, admin.id]);
  });

  it('pins and withholds nothing for a server with pinTools false', async () => {
    const owner = await account();
    const mcp = await fixture();
    const created = await api.request('POST', '/api/mcp/servers', {
      token: owner.token,
      body: { name: 'Loose', transport: 'streamable-http', url: mcp.url, pinTools: false },
    });
    expect(created.body.pinTools).toBe(false);
    const id = created.body.id as number;
    mcp.change();
    const listed = await api.request('GET', `/api/mcp/servers/${id}/tools`, {
      token: owner.token,
    });
    expect(
      listed.body.map((tool: { name: string; pinState: string; withheld: boolean }) => [
        tool.name,
        tool.pinState,
        tool.withheld,
      ]),
    ).toEqual([
      ['loose__echo', 'off', false],
      ['loose__shout', 'off', false],
    ]);
    expect(await storedPins(id)).toEqual([]);
    const [stored] = await database.db
      .select({ toolsPinnedAt: mcpServers.toolsPinnedAt })
      .from(mcpServers)
      .where(eq(mcpServers.id, id));
    expect(stored!.toolsPinnedAt).toBeNull();

    // Turned on later: the next listing pins what the server lists then.
    const on = await api.request('PUT', `/api/mcp/servers/${id}`, {
      token: owner.token,
      body: { pinTools: true },
    });
    expect(on.body.pinTools).toBe(true);
    const pinned = await api.request('GET', `/api/mcp/servers/${id}/tools`, {
      token: owner.token,
    });
    expect(pinned.body.map((tool: { pinState: string }) => tool.pinState)).toEqual([
      'pinned',
      'pinned',
    ]);
  });
});

describe('pinToolsOnFirstUse', () => {
  const tool = (name: string, description: string): Tool => ({
    name,
    description,
    inputSchema: { type: 'object' },
  });

  it('stores one set when two first uses race, and both read that set', async () => {
    const owner = await createTestUser(database);
    for (let round = 0; round < 5; round++) {
      const row = await createServer(database, {
        userId: owner.id,
        name: `Raced ${round}`,
        transport: 'streamable-http',
        url: 'http://127.0.0.1:9/mcp',
      });
      const seenByA = [tool('a', 'first'), tool('b', 'first')];
      const seenByB = [tool('a', 'second'), tool('c', 'second')];
      const [a, b] = await Promise.all([
        pinToolsOnFirstUse(database.db, row.id, seenByA),
        pinToolsOnFirstUse(database.db, row.id, seenByB),
      ]);
      const hashes = (set: typeof a) =>
        [...set.pins.values()].map((pin) => [pin.toolName, pin.hash]).sort();
      expect(hashes(a)).toEqual(hashes(b));
      const stored = (await storedPins(row.id)).map((pin) => [pin.toolName, pin.hash]).sort();
      expect(stored).toEqual(hashes(a));
      const winner = stored.some(([name]) => name === 'b') ? seenByA : seenByB;
      expect(stored).toEqual(winner.map((t) => [t.name, toolHash(t)]).sort());
      expect(a.pinnedAt).toEqual(b.pinnedAt);
    }
  });

  it('marks a server with no tools as pinned, so a tool added later is new', async () => {
    const owner = await createTestUser(database);
    const row = await createServer(database, {
      userId: owner.id,
      name: 'Empty',
      transport: 'streamable-http',
      url: 'http://127.0.0.1:9/mcp',
    });
    // Not listed yet (not connected): nothing is pinned.
    expect((await pinToolsOnFirstUse(database.db, row.id, undefined)).pinnedAt).toBeNull();
    const empty = await pinToolsOnFirstUse(database.db, row.id, []);
    expect(empty.pinnedAt).not.toBeNull();
    const later = await pinToolsOnFirstUse(database.db, row.id, [tool('late', 'added')]);
    expect(later.pins.size).toBe(0);
    expect(
      await database.db
        .select()
        .from(toolPins)
        .where(and(eq(toolPins.serverId, row.id), eq(toolPins.toolName, 'late'))),
    ).toEqual([]);
  });
});
