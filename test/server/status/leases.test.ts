/**
 * `MonitorLeases` in one process, on the test database (PGlite or Postgres): replicas are
 * instances with their own ids, monitors are fakes that record which servers they were told to
 * watch. `test/server/main.replicas.test.ts` runs real processes on Postgres.
 */
import { sql } from 'drizzle-orm';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { createServer, updateServer } from '../../../shared/db/servers.js';
import type { Database, DatabaseHandle } from '../../../shared/db/open.js';
import type { User } from '../../../shared/db/schema.js';
import { createLogger } from '../../../shared/logger.js';
import { MonitorLeases } from '../../../server/status/leases.js';
import { createTestUser, openTestDatabase } from '../../helpers/database.js';

const logger = createLogger({ level: 'silent', name: 'leases-test' });
const LEASE_MS = 600;

/** A monitor that watches what its replica holds when told to sync. */
function fakeMonitor(leases: () => MonitorLeases) {
  const watching = new Set<number>();
  return {
    watching,
    sync: async (serverId: number) => {
      if (leases().holds(serverId)) watching.add(serverId);
      else watching.delete(serverId);
    },
    connection: () => undefined,
    stop: async () => watching.clear(),
  };
}

describe('MonitorLeases', () => {
  let database: DatabaseHandle;
  let user: User;
  const running: MonitorLeases[] = [];

  beforeAll(async () => {
    database = await openTestDatabase();
    user = await createTestUser(database);
  });

  afterEach(async () => {
    await Promise.all(running.splice(0).map((leases) => leases.stop()));
    await database.db.execute(sql`delete from mcp_servers`);
    await database.db.execute(sql`delete from monitor_replicas`);
  });

  afterAll(async () => {
    await database.close();
  });

  async function servers(count: number, prefix: string): Promise<number[]> {
    const ids: number[] = [];
    for (let i = 0; i < count; i++) {
      const row = await createServer(database, {
        userId: user.id,
        name: `${prefix}-${i}`,
        transport: 'streamable-http',
        url: `http://127.0.0.1:9/${prefix}/${i}`,
      });
      ids.push(row.id);
    }
    return ids;
  }

  async function replica(db: Database = database.db) {
    const leases = new MonitorLeases({ db, listen: database.listen, logger, leaseMs: LEASE_MS });
    const monitor = fakeMonitor(() => leases);
    running.push(leases);
    await leases.start(monitor);
    return { leases, monitor };
  }

  const sorted = (ids: Iterable<number>) => [...ids].sort((a, b) => a - b);

  it('gives one replica every active server, and its monitor watches exactly those', async () => {
    const ids = await servers(4, 'one');
    await updateServer(database, user.id, ids[3]!, { isActive: false });
    const { leases, monitor } = await replica();
    expect(sorted(leases.held)).toEqual(ids.slice(0, 3));
    await vi.waitFor(() => expect(sorted(monitor.watching)).toEqual(ids.slice(0, 3)));
  });

  it('divides the servers between two replicas, and gives them back on stop', async () => {
    const ids = await servers(6, 'two');
    const a = await replica();
    const b = await replica();
    await vi.waitFor(
      () => {
        expect(a.leases.held).toHaveLength(3);
        expect(b.leases.held).toHaveLength(3);
      },
      { timeout: 20_000, interval: 50 },
    );
    expect(sorted([...a.leases.held, ...b.leases.held])).toEqual(ids);
    await vi.waitFor(() => expect(sorted(a.monitor.watching)).toEqual(sorted(a.leases.held)));
    await vi.waitFor(() => expect(sorted(b.monitor.watching)).toEqual(sorted(b.leases.held)));

    await a.leases.stop();
    expect(a.monitor.watching.size).toBe(0);
    await vi.waitFor(() => expect(sorted(b.leases.held)).toEqual(ids), {
      timeout: 20_000,
      interval: 50,
    });
  });

  it('claims a server created through it; leaves one the other holds to it', async () => {
    const a = await replica();
    const b = await replica();
    const [id] = await servers(1, 'new');
    await a.leases.sync(id!);
    await b.leases.sync(id!);
    expect([a.leases.holds(id!), b.leases.holds(id!)].filter(Boolean)).toHaveLength(1);
    const holder = a.leases.holds(id!) ? a : b;
    expect([...holder.monitor.watching]).toEqual([id]);
  });

  it('takes the servers of a replica that stops renewing once its leases expire', async () => {
    const ids = await servers(4, 'dead');
    let cut = false;
    const cuttable = new Proxy(database.db, {
      get: (target, property, receiver) =>
        property === 'execute'
          ? (query: unknown) =>
              cut ? Promise.reject(new Error('connection lost')) : target.execute(query as never)
          : Reflect.get(target, property, receiver),
    });
    const dying = await replica(cuttable);
    expect(sorted(dying.leases.held)).toEqual(ids);
    const survivor = await replica();
    cut = true;
    await vi.waitFor(() => expect(sorted(survivor.leases.held)).toEqual(ids), {
      timeout: 20_000,
      interval: 50,
    });
    await vi.waitFor(() => expect(sorted(survivor.monitor.watching)).toEqual(ids));
  });
});
