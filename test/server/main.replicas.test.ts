/**
 * API replicas, for real: three `tsx server/main.ts` processes on one Postgres database and 60
 * active servers at counting Streamable HTTP MCP servers. Each server is watched by exactly one
 * replica (its lease's holder, and one connected client at the MCP server); a server created
 * through one replica is watched at once; after a SIGKILL the dead replica's servers are watched
 * again by the survivors; every replica answers `/api/status` for all servers; and the rate
 * limits count across replicas.
 *
 * Postgres only: the embedded PGlite serves one process (`server/main.ts` locks its DATA_DIR).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import path from 'node:path';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase, type DatabaseHandle } from '../../shared/db/open.js';
import { createServer } from '../../shared/db/servers.js';
import { storeToken } from '../../shared/db/api-tokens.js';
import { SecretBox } from '../../shared/secrets.js';
import { bootstrap } from '../../server/accounts/bootstrap.js';
import { REPO_ROOT, freePort } from '../helpers/mcp-processes.js';
import { createTestUser } from '../helpers/database.js';
import {
  startCountingMcpServers,
  type CountingMcpServers,
} from '../helpers/counting-mcp-server.js';

const DATABASE_URL = process.env.DATABASE_URL;
const SERVERS = 60;
const LEASE_MS = 1500;
const RATE_LIMIT = 100;
const ADMIN_TOKEN = 'admin-token-for-the-replicas-test-0123';

interface Replica {
  child: ChildProcess;
  base: string;
  /** The prefix of its lease holder id (`<host>:<pid>:`). */
  holderPrefix: string;
  stderr: () => string;
  exited: Promise<number | null>;
}

/** Polls `check` every 100 ms until it returns a value other than `undefined`. */
async function until<T>(
  what: string,
  check: () => Promise<T | undefined>,
  timeoutMs = 90_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what} (${String(last)})`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** Whether a replica still runs (neither exited nor killed). */
function running(replica: Replica): boolean {
  return replica.child.exitCode === null && replica.child.signalCode === null;
}

describe.skipIf(!DATABASE_URL)('API replicas on one Postgres database (needs DATABASE_URL)', () => {
  const key = randomBytes(32);
  const dbName = `switchboard_test_${randomBytes(6).toString('hex')}`;
  const dataDirs: string[] = [];
  const replicas: Replica[] = [];
  let admin: postgres.Sql;
  let databaseUrl: string;
  let database: DatabaseHandle;
  let mcp: CountingMcpServers;
  let adminId: number;
  const names = Array.from({ length: SERVERS }, (_, i) => `s${i + 1}`);
  const nameOf = new Map<number, string>();

  async function startReplica(): Promise<Replica> {
    const port = await freePort();
    const dataDir = mkdtempSync(path.join(tmpdir(), 'switchboard-replica-'));
    dataDirs.push(dataDir);
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', path.join(REPO_ROOT, 'server/main.ts')],
      {
        cwd: REPO_ROOT,
        env: {
          PATH: process.env.PATH,
          HOME: process.env.HOME,
          DATABASE_URL: databaseUrl,
          DATA_DIR: dataDir,
          PORT: String(port),
          HOST: '127.0.0.1',
          ADMIN_TOKEN,
          SWITCHBOARD_SECRET_KEY: key.toString('base64'),
          SEED_DEMO_SERVERS: 'false',
          LOG_LEVEL: 'warn',
          MCP_ALLOW_PRIVATE_NETWORKS: 'true',
          MCP_HEALTH_INTERVAL_MS: '60000',
          MONITOR_LEASE_MS: String(LEASE_MS),
          API_RATE_LIMIT_PER_MINUTE: String(RATE_LIMIT),
        },
        stdio: ['ignore', 'ignore', 'pipe'],
      },
    );
    let stderr = '';
    child.stderr!.on('data', (chunk) => (stderr += String(chunk)));
    const replica: Replica = {
      child,
      base: `http://127.0.0.1:${port}`,
      holderPrefix: `${hostname()}:${child.pid}:`,
      stderr: () => stderr,
      exited: new Promise((resolve) => child.once('exit', resolve)),
    };
    replicas.push(replica);
    return replica;
  }

  /** Live leases: server id → holder. */
  async function leases(): Promise<Map<number, string>> {
    const rows = await admin.unsafe<{ server_id: number; holder: string }[]>(
      `select server_id, holder from monitor_leases where expires_at > now()`,
    );
    return new Map(rows.map((row) => [row.server_id, row.holder]));
  }

  beforeAll(async () => {
    admin = postgres(DATABASE_URL!, { max: 1, onnotice: () => {} });
    await admin.unsafe(`create database ${dbName}`);
    const url = new URL(DATABASE_URL!);
    url.pathname = `/${dbName}`;
    databaseUrl = url.toString();
    database = await openDatabase({
      databaseUrl,
      maxConnections: 2,
      secretBox: new SecretBox(key),
    });
    // A second client on the test database itself, for lease queries.
    await admin.end();
    admin = postgres(databaseUrl, { max: 1, onnotice: () => {} });
    mcp = await startCountingMcpServers();
    const boot = await bootstrap(database, {
      adminEmail: 'admin@replicas.test',
      adminToken: ADMIN_TOKEN,
      seedDemoServers: false,
      dataDir: tmpdir(),
    });
    adminId = boot.admin.id;
    for (const name of names) {
      const row = await createServer(database, {
        userId: adminId,
        name,
        transport: 'streamable-http',
        url: mcp.urlOf(name),
      });
      nameOf.set(row.id, name);
    }
  }, 60_000);

  afterAll(async () => {
    for (const replica of replicas) {
      if (running(replica)) replica.child.kill('SIGKILL');
    }
    await Promise.all(replicas.map((replica) => replica.exited));
    await admin?.end();
    await database?.close();
    await mcp?.close();
    if (DATABASE_URL) {
      const root = postgres(DATABASE_URL, { max: 1, onnotice: () => {} });
      await root.unsafe(`drop database if exists ${dbName} with (force)`);
      await root.end();
    }
    for (const dir of dataDirs) rmSync(dir, { recursive: true, force: true });
  });

  /**
   * Resolves with the holder of each server once every server has one live lease held by one of
   * `live`, each of them holds its fair share, and every server has exactly one client connected.
   */
  async function dividedAmong(live: Replica[]): Promise<Map<number, Replica>> {
    return until(`the ${SERVERS} servers divided among ${live.length} replicas`, async () => {
      for (const replica of replicas) {
        if (live.includes(replica) && replica.child.exitCode !== null) {
          throw new Error(`a replica exited: ${replica.stderr().slice(-2000)}`);
        }
      }
      const held = await leases();
      if (held.size !== nameOf.size) return undefined;
      const holders = new Map<number, Replica>();
      const perReplica = new Map<Replica, number>();
      for (const [serverId, holder] of held) {
        const replica = live.find((r) => holder.startsWith(r.holderPrefix));
        if (!replica) return undefined;
        holders.set(serverId, replica);
        perReplica.set(replica, (perReplica.get(replica) ?? 0) + 1);
      }
      const share = Math.ceil(nameOf.size / live.length);
      if (live.some((replica) => (perReplica.get(replica) ?? 0) > share)) return undefined;
      for (const name of nameOf.values()) if (mcp.watchers(name) !== 1) return undefined;
      return holders;
    });
  }

  it('divides the servers among three replicas, each watched by exactly one', async () => {
    const started = [await startReplica(), await startReplica(), await startReplica()];
    const holders = await dividedAmong(started);
    expect(new Set(holders.values()).size).toBe(3);
    // One client per server, and it is the holder's: no server is connected twice.
    expect(names.map((name) => mcp.watchers(name))).toEqual(names.map(() => 1));
  }, 180_000);

  it('answers for every server from each replica, whoever watches it; its gauge counts its own', async () => {
    for (const replica of replicas) {
      const body = await until(`all connected at ${replica.base}`, async () => {
        const res = await fetch(`${replica.base}/api/status`, {
          headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
        });
        const answer = (await res.json()) as { mcp: { status: string; total: number } };
        return answer.mcp.status === 'connected' ? answer : undefined;
      });
      expect(body.mcp.total).toBe(SERVERS);
    }
    // Each replica's gauge counts the servers it watches: every server once in all. Read until
    // the sum holds: a replica slowed past its lease (both cores busy) hands its servers over,
    // and until another claims them the sum is short; a gauge that never adds up times out.
    await until('the gauges to count every server once', async () => {
      let watched = 0;
      for (const replica of replicas) {
        const res = await fetch(`${replica.base}/metrics`, {
          headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
        });
        const text = await res.text();
        const match = /^switchboard_monitor_watched_servers (\d+)$/m.exec(text);
        if (!match) throw new Error(`no watched-servers gauge in ${text.slice(0, 2000)}`);
        watched += Number(match[1]);
      }
      return watched === SERVERS ? watched : undefined;
    });
  }, 120_000);

  it('watches a server created through a replica at once', async () => {
    const [writer] = replicas;
    const res = await fetch(`${writer!.base}/api/mcp/servers`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        name: 'created',
        transport: 'streamable-http',
        url: mcp.urlOf('created'),
      }),
    });
    expect(res.status).toBe(201);
    const { id } = (await res.json()) as { id: number };
    nameOf.set(id, 'created');
    // Claimed by the writer, or by another replica's pass the insert's NOTIFY started.
    const holder = await until('the new server leased', async () => (await leases()).get(id));
    expect(replicas.filter((r) => holder.startsWith(r.holderPrefix))).toHaveLength(1);
    await until('the new server connected once', async () =>
      mcp.watchers('created') === 1 ? true : undefined,
    );
  }, 60_000);

  it('watches a SIGKILLed replica’s servers again from the survivors', async () => {
    const before = await dividedAmong(replicas);
    const [dead, ...survivors] = replicas as [Replica, ...Replica[]];
    const orphans = [...before].filter(([, r]) => r === dead).map(([id]) => nameOf.get(id)!);
    expect(orphans.length).toBeGreaterThan(0);
    const initializedBefore = new Map(orphans.map((name) => [name, mcp.initialized(name)]));
    const killedAt = Date.now();
    dead.child.kill('SIGKILL');
    await dead.exited;
    const orphanIds = [...before].filter(([, r]) => r === dead).map(([id]) => id);
    await until('the dead replica’s leases taken', async () => {
      const held = await leases();
      const taken = orphanIds.every((id) =>
        survivors.some((r) => held.get(id)?.startsWith(r.holderPrefix)),
      );
      return taken ? true : undefined;
    });
    const claimMs = Date.now() - killedAt;
    const after = await dividedAmong(survivors);
    const rewatchMs = Date.now() - killedAt;
    for (const name of orphans) {
      expect(mcp.initialized(name)).toBeGreaterThan(initializedBefore.get(name)!);
    }
    expect([...after.values()].every((r) => survivors.includes(r))).toBe(true);
    // Reported, not asserted (the machine is shared): the bound is 2 × MONITOR_LEASE_MS.
    process.stdout.write(
      `replicas: ${orphans.length} servers leased again ${claimMs} ms and connected again ` +
        `${rewatchMs} ms after the SIGKILL (lease ${LEASE_MS} ms)\n`,
    );
  }, 180_000);

  it('counts the request rate limit across replicas', async () => {
    const [a, b] = replicas.filter(running) as [Replica, Replica];
    const user = await createTestUser(database);
    const token = `sb_${randomBytes(24).toString('hex')}`;
    await storeToken(database.db, user.id, token);
    // Not across a window's end (the window is fixed and shared by every key).
    await until('a window with 20 s left', async () => {
      const [session] = await admin.unsafe<{ left: number }[]>(
        `select extract(epoch from expires_at - now()) as left from rate_limit.sessions
         where name_ = 'api-requests'`,
      );
      return !session || Number(session.left) > 20 ? true : undefined;
    });
    // Alternating replicas until one refuses. Counted apart, each would allow RATE_LIMIT (2 ×
    // in all); shared, RATE_LIMIT in all, plus the few hits a replica has not seen yet from the
    // other (the request limit sends its counts every 100 ms).
    const statuses: number[] = [];
    for (let i = 0; i < 2 * RATE_LIMIT + 2 && !statuses.includes(429); i++) {
      const replica = i % 2 === 0 ? a : b;
      const res = await fetch(`${replica.base}/api/mcp/servers`, {
        headers: { authorization: `Bearer ${token}` },
      });
      await res.arrayBuffer();
      statuses.push(res.status);
    }
    const allowed = statuses.filter((status) => status === 200).length;
    expect(statuses.at(-1)).toBe(429);
    expect(allowed).toBeGreaterThanOrEqual(RATE_LIMIT);
    expect(allowed).toBeLessThan(2 * RATE_LIMIT - 10);
    process.stdout.write(`replicas: rate limit ${RATE_LIMIT}, ${allowed} allowed in all\n`);
  }, 60_000);

  it('counts failed authentications across replicas', async () => {
    const [a, b] = replicas.filter(running) as [Replica, Replica];
    const statuses: number[] = [];
    // Failures are counted once each answer is sent, so a request may pass before the previous
    // failure is stored: at most one more than the limit gets through.
    for (let i = 0; i < RATE_LIMIT + 2 && !statuses.includes(429); i++) {
      const replica = i % 2 === 0 ? a : b;
      const res = await fetch(`${replica.base}/api/mcp/servers`, {
        headers: { authorization: `Bearer sb_wrong_${i}` },
      });
      await res.arrayBuffer();
      statuses.push(res.status);
    }
    expect(statuses).toContain(429);
    expect(statuses.filter((s) => s === 401).length).toBeGreaterThanOrEqual(RATE_LIMIT);
  }, 60_000);

  it('lets go of its leases on SIGTERM, and the last replica takes them', async () => {
    const [leaving, staying] = replicas.filter(running) as [Replica, Replica];
    leaving.child.kill('SIGTERM');
    expect(await leaving.exited).toBe(0);
    const rows = await admin.unsafe<{ n: number }[]>(
      `select count(*)::int as n from monitor_leases where holder like '${leaving.holderPrefix}%'`,
    );
    expect(rows[0]!.n).toBe(0);
    await dividedAmong([staying]);
    expect(staying.stderr()).not.toMatch(/"level":(50|60)/);
  }, 120_000);
});
