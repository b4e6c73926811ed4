/**
 * The gateway's upstream connections (`server/gateway/upstreams.ts`) open only the servers a
 * session serves: two Streamable HTTP test servers of one user, whose initialized sessions are
 * counted at the servers. A lease for one server connects that one only; a second lease for the
 * other opens it and tells the first lease's listeners nothing about their own servers; releasing
 * it closes what no other lease holds; a lease for all servers opens every one. End to end, a
 * client of `/mcp/servers/<id>` never makes the gateway connect the user's other server. Runs on
 * PGlite, or on Postgres when `DATABASE_URL` is set.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import type { DatabaseHandle } from '../../../shared/db/open.js';
import type { User } from '../../../shared/db/schema.js';
import { createServer } from '../../../shared/db/servers.js';
import { createLogger } from '../../../shared/logger.js';
import {
  UpstreamPool,
  type UpstreamChange,
  type UpstreamLease,
} from '../../../server/gateway/upstreams.js';
import { openTestDatabase } from '../../helpers/database.js';
import { gatewayCaller, startGatewayApi, type GatewayApi } from '../../helpers/gateway.js';
import { startHttpMcpServer, type HttpMcpServer } from '../../helpers/http-mcp-server.js';
import { sandboxedGuards } from '../../helpers/sandboxed.js';

let database: DatabaseHandle;
let first: HttpMcpServer;
let second: HttpMcpServer;
let owner: { user: User; token: string };
const ids = { first: 0, second: 0 };

beforeAll(async () => {
  database = await openTestDatabase();
  [first, second] = await Promise.all([startHttpMcpServer(), startHttpMcpServer()]);
  owner = await gatewayCaller(database);
  for (const [key, server] of [
    ['first', first],
    ['second', second],
  ] as const) {
    const row = await createServer(database, {
      userId: owner.user.id,
      name: key === 'first' ? 'First' : 'Second',
      transport: 'streamable-http',
      url: server.url,
    });
    ids[key] = row.id;
  }
});

afterAll(async () => {
  await Promise.all([first?.close(), second?.close()]);
  await database?.close();
});

describe('UpstreamPool', () => {
  let pool: UpstreamPool;
  const leases: UpstreamLease[] = [];
  const served = (lease: UpstreamLease) => lease.upstreams.servers.map((server) => server.row.id);

  beforeAll(() => {
    pool = new UpstreamPool({
      database,
      logger: createLogger({ level: 'silent' }),
      guards: sandboxedGuards(),
      publicUrl: 'http://127.0.0.1:3000',
    });
  });

  afterEach(() => {
    for (const lease of leases.splice(0)) lease.release();
  });

  afterAll(async () => {
    await pool?.close();
  });

  /** Acquires for the owner, released after the test. */
  const acquire = (scope: ReadonlySet<number> | null) => {
    const lease = pool.acquire(owner.user.id, scope);
    leases.push(lease);
    return lease;
  };

  it('connects the servers a lease names, opens more for a later lease and closes them when it is released', async () => {
    const firstSessions = first.sessions;
    const secondSessions = second.sessions;
    const one = acquire(new Set([ids.first]));
    await one.ready;
    expect(served(one)).toEqual([ids.first]);
    expect(one.upstreams.servers[0]!.connection.status).toBe('connected');
    expect(first.sessions).toBe(firstSessions + 1);
    expect(second.sessions).toBe(secondSessions);

    const changes: { change: UpstreamChange; serverIds?: number[] }[] = [];
    one.upstreams.onChange((change, serverIds) =>
      changes.push({ change, serverIds: serverIds && [...serverIds] }),
    );
    const two = pool.acquire(owner.user.id, new Set([ids.second]));
    await two.ready;
    expect(two.upstreams).toBe(one.upstreams);
    expect(served(two)).toEqual([ids.first, ids.second]);
    expect(second.sessions).toBe(secondSessions + 1);
    // The first server's connection was kept, not made again.
    expect(first.sessions).toBe(firstSessions + 1);
    // Listeners learn which servers were opened (a session serving only the first ignores it).
    expect(changes).toContainEqual({ change: 'servers', serverIds: [ids.second] });

    two.release();
    await vi.waitFor(() => expect(served(one)).toEqual([ids.first]));
    expect(one.upstreams.servers[0]!.connection.status).toBe('connected');
    expect(first.sessions).toBe(firstSessions + 1);
  });

  it('a lease for all servers connects every one; a lease of servers already open connects nothing more', async () => {
    const before = { first: first.sessions, second: second.sessions };
    const all = acquire(null);
    await all.ready;
    expect(served(all)).toEqual([ids.first, ids.second]);
    expect(first.sessions).toBe(before.first + 1);
    expect(second.sessions).toBe(before.second + 1);

    const again = acquire(new Set([ids.second]));
    await again.ready;
    expect(second.sessions).toBe(before.second + 1);
    // Releasing the narrower lease keeps everything the lease for all servers holds.
    again.release();
    await all.upstreams.reload();
    expect(served(all)).toEqual([ids.first, ids.second]);
  });
});

describe('the gateway', () => {
  let gateway: GatewayApi;

  beforeAll(async () => {
    gateway = await startGatewayApi(database);
  });

  afterAll(async () => {
    await gateway?.close();
  });

  it('connects only the server of a per-server session, and every server for /mcp', async () => {
    const before = { first: first.sessions, second: second.sessions };
    const single = await gateway.connect(owner.token, { path: `/mcp/servers/${ids.first}` });
    const { tools } = await single.listTools();
    expect(tools.map((tool) => tool.name)).toContain('echo');
    const result = await single.callTool({ name: 'echo', arguments: { message: 'hi' } });
    expect(result.isError).toBeFalsy();
    expect(first.sessions).toBe(before.first + 1);
    expect(second.sessions).toBe(before.second);

    const aggregate = await gateway.connect(owner.token);
    const listed = (await aggregate.listTools()).tools.map((tool) => tool.name);
    expect(listed).toEqual(expect.arrayContaining(['first__echo', 'second__echo']));
    expect(second.sessions).toBe(before.second + 1);
    expect(first.sessions).toBe(before.first + 1);
  });
});
