import { connect } from 'node:net';
import { eq } from 'drizzle-orm';
import { initializeLogger, voice } from '@livekit/agents';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import {
  HubClient,
  HubError,
  hubAddressFromEnv,
  sessionServerReader,
  type HubAddress,
} from '../../agent/hub-client.js';
import { runSession } from '../../agent/run-session.js';
import { WorkerHub } from '../../agent/worker-hub.js';
import { HUB_ENV } from '../../agent/worker-hub-protocol.js';
import { notifyServerChange, userServersChannel } from '../../shared/db/notify.js';
import type { DatabaseHandle } from '../../shared/db/open.js';
import { createServer, listServers } from '../../shared/db/servers.js';
import { toolCalls } from '../../shared/db/schema.js';
import { listToolCalls } from '../../shared/db/tool-calls.js';
import { loadSettings } from '../../shared/settings.js';
import { createTestUser, openTestDatabase } from '../helpers/database.js';
import { fileSandboxDataDir } from '../helpers/sandboxed.js';
import { everythingServer, fakeJob, silentLogger } from './fixtures.js';

initializeLogger({ pretty: false, level: 'silent' });

let handle: DatabaseHandle;
let hub: WorkerHub;
let address: HubAddress;
const clients: HubClient[] = [];

/** The tool names of a user's audit rows. */
async function listUserToolCalls(userId: number): Promise<string[]> {
  const rows = await handle.db
    .select({ toolName: toolCalls.toolName })
    .from(toolCalls)
    .where(eq(toolCalls.userId, userId));
  return rows.map((row) => row.toolName);
}

/**
 * `target` whose method `name` (when it has one) is called through `around`: it gets `run` (the
 * method with the call's arguments), runs it when it will, and its return value is the call's.
 */
function wrapMethod<T extends object>(
  target: T,
  name: string,
  around: (run: () => unknown) => unknown,
): T {
  return new Proxy(target, {
    get(object, key) {
      const value = Reflect.get(object, key, object) as unknown;
      if (key !== name || typeof value !== 'function') return value;
      return (...args: unknown[]) =>
        around(() => (value as (...a: unknown[]) => unknown).apply(object, args));
    },
  });
}

/**
 * A hub of its own on the test database whose first statement (an audit INSERT, which
 * `recordToolCalls` runs as a prepared query: `db._.session.prepareQuery(…).execute()`) waits
 * for `release()`, and `jobCount` job connections to it; `statements()` counts the statements
 * sent that way or through `db.execute`.
 */
async function gatedHub(jobCount: number) {
  let statements = 0;
  let release!: () => void;
  const gate = new Promise<void>((resolve) => (release = resolve));
  const gateFirst = async (run: () => unknown) => {
    statements += 1;
    if (statements === 1) await gate;
    return run();
  };
  const session = wrapMethod(handle.db._.session, 'prepareQuery', (prepare) =>
    wrapMethod(prepare() as object, 'execute', gateFirst),
  );
  const internals = { ...handle.db._, session };
  const db = wrapMethod(
    new Proxy(handle.db, {
      get: (target, key) => (key === '_' ? internals : Reflect.get(target, key, target)),
    }),
    'execute',
    gateFirst,
  );
  const gated = await WorkerHub.start({
    database: { ...borrowed(handle), db },
    logger: silentLogger(),
  });
  const gatedAddress = hubAddressFromEnv({ [HUB_ENV]: gated.address })!;
  const jobs: HubClient[] = [];
  for (let i = 0; i < jobCount; i++) {
    jobs.push(await HubClient.connect(gatedAddress, silentLogger()));
  }
  return {
    hub: gated,
    jobs,
    release,
    statements: () => statements,
    close: async () => {
      await Promise.all(jobs.map((job) => job.close()));
      await gated.close();
    },
  };
}

/** The hub closes its database when it closes; the test file's handle outlives it. */
function borrowed(database: DatabaseHandle): DatabaseHandle {
  return { ...database, close: async () => {} };
}

async function client(): Promise<HubClient> {
  const created = await HubClient.connect(address, silentLogger());
  clients.push(created);
  return created;
}

beforeAll(async () => {
  handle = await openTestDatabase();
  hub = await WorkerHub.start({ database: borrowed(handle), logger: silentLogger() });
  address = hubAddressFromEnv({ [HUB_ENV]: hub.address })!;
});

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
});

afterAll(async () => {
  await hub?.close();
  await handle?.close();
});

describe('hubAddressFromEnv', () => {
  it('reads the socket path and token, and nothing from an unset or malformed value', () => {
    expect(hubAddressFromEnv({ [HUB_ENV]: '/run/x/hub.sock#abc' })).toEqual({
      socketPath: '/run/x/hub.sock',
      token: 'abc',
    });
    expect(hubAddressFromEnv({})).toBeUndefined();
    expect(hubAddressFromEnv({ [HUB_ENV]: 'no-token' })).toBeUndefined();
  });
});

describe('WorkerHub', () => {
  it('forwards a user’s configuration changes to that user’s listeners only, never status writes', async () => {
    const alice = await createTestUser(handle);
    const bob = await createTestUser(handle);
    const aliceClient = await client();
    const bobClient = await client();
    const aliceGot: string[] = [];
    const bobGot: string[] = [];
    await aliceClient.listen(userServersChannel(alice.id), (p) => aliceGot.push(p));
    await bobClient.listen(userServersChannel(bob.id), (p) => bobGot.push(p));

    await notifyServerChange(handle.db, { userId: alice.id, serverId: 7, op: 'status' });
    await notifyServerChange(handle.db, { userId: alice.id, serverId: 7, op: 'update' });
    await notifyServerChange(handle.db, { userId: bob.id, serverId: 8, op: 'delete' });

    await vi.waitFor(() => expect(aliceGot).toHaveLength(1));
    await vi.waitFor(() => expect(bobGot).toHaveLength(1));
    expect(JSON.parse(aliceGot[0]!)).toEqual({ userId: alice.id, serverId: 7, op: 'update' });
    expect(JSON.parse(bobGot[0]!)).toEqual({ userId: bob.id, serverId: 8, op: 'delete' });
  });

  it('listens on a user’s channel only while a session of that user listens', async () => {
    const user = await createTestUser(handle);
    const channel = userServersChannel(user.id);
    const first = await client();
    const second = await client();
    const stopFirst = await first.listen(channel, () => {});
    const stopSecond = await second.listen(channel, () => {});
    expect(hub.channels()).toContain(channel);

    await stopFirst();
    expect(hub.channels()).toContain(channel);
    await stopSecond();
    expect(hub.channels()).not.toContain(channel);

    // A job that goes away without unlistening is cleaned up too.
    const third = await client();
    await third.listen(channel, () => {});
    expect(hub.channels()).toContain(channel);
    await third.close();
    await vi.waitFor(() => expect(hub.channels()).not.toContain(channel));
  });

  it('refuses a channel that is not a user’s configuration channel', async () => {
    const job = await client();
    await expect(job.listen('mcp_servers_changed', () => {})).rejects.toThrow(/malformed request/);
    await expect(job.listen('switchboard_user_1; drop table users', () => {})).rejects.toThrow(
      /malformed request/,
    );
    expect(hub.channels()).not.toContain('mcp_servers_changed');
  });

  it('writes audit batches with one INSERT and reports a failed one', async () => {
    const user = await createTestUser(handle);
    const server = await createServer(handle, { ...everythingServer(user.id), isActive: false });
    const job = await client();
    const startedAt = new Date('2026-12-01T10:00:00.000Z');

    await job.writeToolCalls([
      {
        userId: user.id,
        serverId: server.id,
        toolName: 'echo',
        startedAt,
        durationMs: 3.4,
        ok: true,
      },
      {
        userId: user.id,
        serverId: server.id,
        toolName: 'add',
        startedAt,
        durationMs: 5,
        ok: false,
        error: 'boom',
        roomName: 'room-1',
        sessionId: 'job-1',
      },
    ]);

    const rows = await listToolCalls(handle.db, server.id, 10);
    expect(rows.map((r) => [r.toolName, r.ok, r.durationMs, r.startedAt.toISOString()])).toEqual(
      expect.arrayContaining([
        ['echo', true, 3, startedAt.toISOString()],
        ['add', false, 5, startedAt.toISOString()],
      ]),
    );
    // A duration that is not a number (null once in JSON) is refused: the batch fails, and the
    // job is told.
    await expect(
      job.writeToolCalls([
        {
          userId: user.id,
          serverId: null,
          toolName: 'x',
          startedAt,
          durationMs: Number.NaN,
          ok: true,
        },
      ]),
    ).rejects.toBeInstanceOf(HubError);
  });

  it('reads a user’s server for a session, its secrets sealed on the way, never another user’s', async () => {
    const alice = await createTestUser(handle);
    const bob = await createTestUser(handle);
    const server = await createServer(handle, {
      ...everythingServer(alice.id),
      env: { API_KEY: 'sk-hub-secret-4321' },
    });
    const job = await client();

    const sealed = await job.readSealedServer(alice.id, server.id);
    expect(sealed?.id).toBe(server.id);
    expect(sealed!.updatedAt).toBeInstanceOf(Date);
    expect(sealed!.updatedAt.getTime()).toBe(server.updatedAt.getTime());
    expect(JSON.stringify(sealed)).not.toContain('sk-hub-secret-4321');
    expect(await job.readSealedServer(bob.id, server.id)).toBeUndefined();

    // The session opens the row with its own key; without the hub it reads it itself.
    const read = sessionServerReader(handle, alice.id, job, silentLogger());
    expect((await read(server.id))?.env).toEqual({ API_KEY: 'sk-hub-secret-4321' });
    await job.close();
    await expect(job.readSealedServer(alice.id, server.id)).rejects.toBeInstanceOf(HubError);
    expect((await read(server.id))?.env).toEqual({ API_KEY: 'sk-hub-secret-4321' });
    expect(await sessionServerReader(handle, bob.id, undefined, silentLogger())(server.id)).toBe(
      undefined,
    );
  });

  it('writes the audit batches of jobs that arrive together with one INSERT; a bad one fails alone', async () => {
    const user = await createTestUser(handle);
    // The first INSERT waits until every other job's batch is queued behind it.
    const { hub: grouping, jobs, release, statements, close } = await gatedHub(5);
    try {
      const startedAt = new Date('2026-12-02T10:00:00.000Z');
      const batch = (toolName: string, durationMs = 1) => [
        { userId: user.id, serverId: null, toolName, startedAt, durationMs, ok: true },
      ];
      const first = jobs[0]!.writeToolCalls(batch('first'));
      await vi.waitFor(() => expect(statements()).toBe(1));
      const rest = jobs.slice(1).map((job, i) => job.writeToolCalls(batch(`later-${i}`)));
      await vi.waitFor(() => expect(grouping.queuedAuditRequests).toBe(4));
      release();
      await Promise.all([first, ...rest]);
      expect(statements()).toBe(2);
      const names = (await listUserToolCalls(user.id)).sort();
      expect(names).toEqual(['first', 'later-0', 'later-1', 'later-2', 'later-3']);

      // A batch Postgres refuses (a duration beyond its integer column) is written alone and
      // fails alone; the others of its group are stored.
      const good = jobs[1]!.writeToolCalls(batch('good'));
      const bad = jobs[2]!.writeToolCalls(batch('bad', 2 ** 40));
      await expect(bad).rejects.toBeInstanceOf(HubError);
      await good;
      expect(await listUserToolCalls(user.id)).toContain('good');
      expect(await listUserToolCalls(user.id)).not.toContain('bad');
    } finally {
      await close();
    }
  });

  it('writes the audit rows it received before it closes', async () => {
    const user = await createTestUser(handle);
    const { hub: closing, jobs, release, close } = await gatedHub(2);
    try {
      const startedAt = new Date('2026-12-02T11:00:00.000Z');
      const rows = (toolName: string) => [
        { userId: user.id, serverId: null, toolName, startedAt, durationMs: 1, ok: true },
      ];
      // Whether answered or cut off by the close, the writes settle.
      const written = jobs.map((job, i) =>
        job.writeToolCalls(rows(`before-close-${i}`)).catch((error: unknown) => error),
      );
      await vi.waitFor(() => expect(closing.queuedAuditRequests).toBe(1));
      const closed = closing.close();
      release();
      await closed;
      // The jobs' connections ended with the hub; the rows did not.
      await Promise.all(written);
      expect((await listUserToolCalls(user.id)).sort()).toEqual([
        'before-close-0',
        'before-close-1',
      ]);
    } finally {
      await close();
    }
  });

  it('drops a connection that does not open with the token', async () => {
    const socket = connect(address.socketPath);
    const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()));
    socket.on('error', () => {});
    socket.write(`${JSON.stringify({ type: 'hello', token: 'ab'.repeat(32) })}\n`);
    await closed;

    const impostor = await HubClient.connect(
      { socketPath: address.socketPath, token: '00' },
      silentLogger(),
    );
    clients.push(impostor);
    await expect(impostor.listen(userServersChannel(1), () => {})).rejects.toBeInstanceOf(HubError);
  });
});

describe('a worker hub started while the database is down', () => {
  it('fails the requests that need it, then opens it at the next need', async () => {
    let attempts = 0;
    const lazy = await WorkerHub.start({
      database: async () => {
        attempts += 1;
        if (attempts === 1) throw new Error('connect ECONNREFUSED 127.0.0.1:5432');
        return borrowed(handle);
      },
      logger: silentLogger(),
    });
    try {
      expect(attempts).toBe(0);
      const job = await HubClient.connect(
        hubAddressFromEnv({ [HUB_ENV]: lazy.address })!,
        silentLogger(),
      );
      clients.push(job);
      const user = await createTestUser(handle);
      await expect(job.listen(userServersChannel(user.id), () => {})).rejects.toThrow(
        /ECONNREFUSED/,
      );
      const got: string[] = [];
      await job.listen(userServersChannel(user.id), (payload) => got.push(payload));
      await notifyServerChange(handle.db, { userId: user.id, serverId: 3, op: 'insert' });
      await vi.waitFor(() => expect(got).toHaveLength(1));
      expect(attempts).toBe(2);
    } finally {
      await lazy.close();
    }
  });
});

describe('a session on a worker hub', () => {
  it('follows live configuration and writes its audit through the hub, not its own connections', async () => {
    const user = await createTestUser(handle);
    const { ctx, shutdown } = fakeJob(JSON.stringify({ userId: user.id }), 'job-hub');
    const llm = new voice.testing.FakeLLM([
      { input: 'echo it', toolCalls: [{ name: 'everything__echo', args: { message: 'it' } }] },
    ]);
    const ownListen = vi.fn(handle.listen);
    const running = await runSession(ctx, {
      settings: loadSettings({ DATA_DIR: fileSandboxDataDir(), AGENT_TOOLS_DEADLINE_MS: '60000' }),
      logger: silentLogger(),
      openDatabase: async () => ({ ...borrowed(handle), listen: ownListen }),
      createModel: () => llm,
      hub: address,
    });
    const toolNames = () => Object.keys(running.agent.toolCtx.functionTools);
    try {
      await vi.waitFor(() => expect(hub.channels()).toContain(userServersChannel(user.id)));
      await createServer(handle, everythingServer(user.id));
      await vi.waitFor(() => expect(toolNames()).toContain('everything__echo'), {
        timeout: 20_000,
        interval: 50,
      });
      const result = await running.session.run({ userInput: 'echo it' }).wait();
      result.expect.nextEvent().isFunctionCall({ name: 'everything__echo' });
    } finally {
      await shutdown();
      await running.session.close();
    }
    // Closing the session flushed its audit batch through the hub and left the user's channel.
    const [server] = await listServers(handle, user.id);
    const calls = await listToolCalls(handle.db, server!.id, 10);
    expect(calls.map((c) => [c.toolName, c.ok, c.sessionId])).toEqual([['echo', true, 'job-hub']]);
    expect(ownListen).not.toHaveBeenCalled();
    await vi.waitFor(() => expect(hub.channels()).not.toContain(userServersChannel(user.id)));
  });
});
