/**
 * The worker's hub: the one place of a worker (its command-line process) that holds database
 * connections on behalf of its job processes, so a voice session holds none while idle
 * (DESIGN §6, `docs/scale.md`).
 *
 * - Live configuration: the hub keeps ONE Postgres `LISTEN` connection for the whole worker and
 *   listens only on the per-user channels (`switchboard_user_<id>`, `notify.ts`) of users with a
 *   session on this worker; each notification goes to the sessions of that user alone. A session
 *   used to hold a dedicated LISTEN connection of its own, which capped a database at about 30
 *   sessions and cannot pass a transaction-mode pooler.
 * - Reads of a changed server: the session reads the row a change notification names through the
 *   hub's pool (its secrets stay sealed on the way; the job opens them), so a configuration
 *   change costs the session no Postgres connection of its own. Opening one per change cost the
 *   database a backend start each time, which on a 2-core machine limited 500 sessions to about
 *   25 changes a second (`scale.sessions`, docs/scale.md).
 * - Audit: the sessions' batched `tool_calls` rows are written through the hub's small pool, so a
 *   session making a call a second does not keep a connection of its own busy; the batches of
 *   all jobs that arrive while one INSERT runs go into the next one (group commit).
 *
 * Jobs reach the hub over a Unix domain socket in a private folder (mode 0700) and must first
 * send the token the worker put in their environment ({@link HUB_ENV}); see
 * `worker-hub-protocol.ts` for the messages.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { openDatabase, type DatabaseHandle } from '../shared/db/open.js';
import { secretBoxFromSettings, type SecretKeySettings } from '../shared/secrets.js';
import type { Settings } from '../shared/settings.js';
import { getSealedServer } from '../shared/db/servers.js';
import { recordToolCalls, type ToolCallRecord } from '../shared/db/tool-calls.js';
import { describeError } from '../shared/errors.js';
import type { Logger } from '../shared/logger.js';
import { BoundedLineReader } from '../shared/mcp/bounded-line-reader.js';
import {
  HUB_ENV,
  MAX_HUB_LINE_BYTES,
  clientMessageSchema,
  type ClientMessage,
  type HubMessage,
} from './worker-hub-protocol.js';

/** Options of {@link WorkerHub.start}. */
export interface WorkerHubOptions {
  /**
   * The worker's database (opened with a small pool, e.g. 4 connections): the hub LISTENs and
   * writes through it, and closes it in {@link WorkerHub.close}. A function is called when the
   * database is first needed, and again at the next need after it failed, so a worker starts
   * while Postgres is down and its hub works once Postgres is back.
   */
  database: DatabaseHandle | (() => Promise<DatabaseHandle>);
  logger: Logger;
  /** Folder the socket's private folder is made in; default `os.tmpdir()`. */
  parentDir?: string;
}

/** One job process's connection. */
interface Job {
  socket: Socket;
  authenticated: boolean;
  /** Channels this job listens to. */
  channels: Set<string>;
}

/** A channel the hub listens to, with its jobs. */
interface Subscription {
  jobs: Set<Job>;
  /** Resolves to the unlistener once listening; rejects when the LISTEN failed. */
  ready: Promise<() => Promise<void>>;
}

/**
 * The hub of one worker. Create with {@link WorkerHub.start}; hand {@link WorkerHub.address} to
 * the job processes (it is also put in `process.env[HUB_ENV]` by {@link WorkerHub.exportToJobs}).
 */
export class WorkerHub {
  /** `<socket path>#<token>`, the value of {@link HUB_ENV}. */
  readonly address: string;
  readonly #openDatabase: () => Promise<DatabaseHandle>;
  #database?: Promise<DatabaseHandle>;
  readonly #logger: Logger;
  readonly #server: Server;
  readonly #dir: string;
  readonly #token: Buffer;
  readonly #jobs = new Set<Job>();
  readonly #subscriptions = new Map<string, Subscription>();
  /** Audit requests waiting for the next INSERT, oldest first. */
  readonly #auditQueue: AuditRequest[] = [];
  /** The loop writing {@link #auditQueue}, while it runs. */
  #auditWriting?: Promise<void>;
  #closing?: Promise<void>;

  private constructor(options: WorkerHubOptions, server: Server, dir: string, token: Buffer) {
    const { database } = options;
    this.#openDatabase = typeof database === 'function' ? database : async () => database;
    this.#logger = options.logger;
    this.#server = server;
    this.#dir = dir;
    this.#token = token;
    this.address = `${path.join(dir, 'hub.sock')}#${token.toString('hex')}`;
  }

  /**
   * Creates the private folder and starts listening on its socket.
   *
   * @throws the filesystem's or the socket's error when either cannot be made.
   */
  static async start(options: WorkerHubOptions): Promise<WorkerHub> {
    // mkdtemp makes the folder with mode 0700: only this user (and root) can reach the socket.
    const dir = mkdtempSync(path.join(options.parentDir ?? os.tmpdir(), 'switchboard-hub-'));
    const server = createServer();
    const hub = new WorkerHub(options, server, dir, randomBytes(32));
    server.on('connection', (socket) => hub.#accept(socket));
    try {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(path.join(dir, 'hub.sock'), () => {
          server.off('error', reject);
          resolve();
        });
      });
    } catch (error) {
      rmSync(dir, { recursive: true, force: true });
      throw error;
    }
    return hub;
  }

  /** Puts {@link address} in this process's environment, which agents-js's job processes inherit. */
  exportToJobs(): void {
    process.env[HUB_ENV] = this.address;
  }

  /** The private folder of the socket. */
  get socketDir(): string {
    return this.#dir;
  }

  /** Audit requests received and not yet being written (for tests and metrics). */
  get queuedAuditRequests(): number {
    return this.#auditQueue.length;
  }

  /** Channels listened to now (for tests and metrics). */
  channels(): string[] {
    return [...this.#subscriptions.keys()];
  }

  /**
   * Stops accepting jobs, ends their connections, stops listening, closes the database and
   * removes the socket's folder. Safe to call twice.
   */
  close(): Promise<void> {
    return (this.#closing ??= (async () => {
      const closed = new Promise<void>((resolve) => this.#server.close(() => resolve()));
      for (const job of this.#jobs) job.socket.destroy();
      await closed;
      // Rows already received are written before the database closes.
      while (this.#auditWriting) await this.#auditWriting;
      await Promise.allSettled(
        [...this.#subscriptions.values()].map(async (s) => (await s.ready)()),
      );
      this.#subscriptions.clear();
      await (await this.#database?.catch(() => undefined))?.close();
      rmSync(this.#dir, { recursive: true, force: true });
    })());
  }

  /** The database, opened on first need; a failed open is tried again at the next need. */
  #db(): Promise<DatabaseHandle> {
    if (this.#closing) return Promise.reject(new Error('the worker is shutting down'));
    this.#database ??= this.#openDatabase().catch((error: unknown) => {
      this.#database = undefined;
      this.#logger.error({ err: describeError(error) }, 'worker hub: database unavailable');
      throw error;
    });
    return this.#database;
  }

  #accept(socket: Socket): void {
    const job: Job = { socket, authenticated: false, channels: new Set() };
    this.#jobs.add(job);
    const reader = new BoundedLineReader(MAX_HUB_LINE_BYTES);
    socket.on('data', (chunk: Buffer) => {
      try {
        reader.append(chunk, (line) => this.#receive(job, line));
      } catch (error) {
        this.#logger.warn({ err: describeError(error) }, 'worker hub: message too large');
        socket.destroy();
      }
    });
    socket.on('error', () => socket.destroy());
    socket.on('close', () => {
      this.#jobs.delete(job);
      for (const channel of job.channels) void this.#leave(job, channel);
    });
  }

  #receive(job: Job, line: string): void {
    let raw: unknown;
    let message: ClientMessage;
    try {
      raw = JSON.parse(line);
      message = clientMessageSchema.parse(raw);
    } catch (error) {
      this.#logger.warn('worker hub: refused a malformed message from a job');
      if (!job.authenticated) {
        job.socket.destroy();
      } else if (typeof (raw as { id?: unknown } | undefined)?.id === 'number') {
        // Answer the request, so the job does not wait for it forever.
        const id = (raw as { id: number }).id;
        send(job, { type: 'failed', id, error: `malformed request: ${describeError(error)}` });
      }
      return;
    }
    if (!job.authenticated) {
      const token = message.type === 'hello' ? Buffer.from(message.token, 'hex') : undefined;
      if (!token || token.length !== this.#token.length || !timingSafeEqual(token, this.#token)) {
        this.#logger.warn('worker hub: refused a connection without the job token');
        job.socket.destroy();
        return;
      }
      job.authenticated = true;
      return;
    }
    switch (message.type) {
      case 'hello':
        return;
      case 'listen':
        void this.#join(job, message.channel).then(
          () => send(job, { type: 'done', id: message.id }),
          (error: unknown) =>
            send(job, { type: 'failed', id: message.id, error: describeError(error) }),
        );
        return;
      case 'unlisten':
        void this.#leave(job, message.channel).then(() =>
          send(job, { type: 'done', id: message.id }),
        );
        return;
      case 'readServer':
        void this.#db()
          .then((database) => getSealedServer(database.db, message.userId, message.serverId))
          .then(
            (row) => send(job, { type: 'server', id: message.id, row: row ?? null }),
            (error: unknown) =>
              send(job, { type: 'failed', id: message.id, error: describeError(error) }),
          );
        return;
      case 'toolCalls':
        this.#auditQueue.push({ job, id: message.id, records: message.records });
        this.#auditWriting ??= this.#writeAudit().finally(() => {
          this.#auditWriting = undefined;
        });
        return;
    }
  }

  /**
   * Writes the queued audit requests of every job, a group at a time: one INSERT for all the
   * requests that arrived while the previous one ran (up to {@link HUB_AUDIT_MAX_ROWS} rows), so
   * 500 sessions making a call a second cost the database a few statements a second, not 500.
   * A group that fails is written again request by request, so one job's bad rows never fail
   * another's; each request is answered with its own outcome.
   */
  async #writeAudit(): Promise<void> {
    while (this.#auditQueue.length > 0) {
      const group: AuditRequest[] = [];
      let rows = 0;
      while (
        this.#auditQueue.length > 0 &&
        (group.length === 0 || rows + this.#auditQueue[0]!.records.length <= HUB_AUDIT_MAX_ROWS)
      ) {
        const request = this.#auditQueue.shift()!;
        group.push(request);
        rows += request.records.length;
      }
      let database: DatabaseHandle;
      try {
        // While the hub closes, rows it already received still go to the open database.
        database = await (this.#closing && this.#database ? this.#database : this.#db());
      } catch (error) {
        for (const request of group) answer(request, error);
        continue;
      }
      try {
        await recordToolCalls(
          database.db,
          group.flatMap((request) => request.records),
        );
        for (const request of group) answer(request);
      } catch (error) {
        if (group.length === 1) {
          answer(group[0]!, error);
          continue;
        }
        await Promise.all(
          group.map((request) =>
            recordToolCalls(database.db, request.records).then(
              () => answer(request),
              (failure: unknown) => answer(request, failure),
            ),
          ),
        );
      }
    }
  }

  async #join(job: Job, channel: string): Promise<void> {
    if (this.#closing) throw new Error('the worker is shutting down');
    job.channels.add(channel);
    let subscription = this.#subscriptions.get(channel);
    if (!subscription) {
      const jobs = new Set<Job>();
      const ready = this.#db().then((database) =>
        database.listen(channel, (payload) => {
          for (const listener of jobs) send(listener, { type: 'notify', channel, payload });
        }),
      );
      subscription = { jobs, ready };
      this.#subscriptions.set(channel, subscription);
      ready.catch(() => {
        if (this.#subscriptions.get(channel) === subscription) this.#subscriptions.delete(channel);
      });
    }
    subscription.jobs.add(job);
    await subscription.ready;
  }

  async #leave(job: Job, channel: string): Promise<void> {
    job.channels.delete(channel);
    const subscription = this.#subscriptions.get(channel);
    if (!subscription) return;
    subscription.jobs.delete(job);
    if (subscription.jobs.size > 0) return;
    // The last session of this user on this worker left: stop receiving the user's changes.
    this.#subscriptions.delete(channel);
    try {
      await (
        await subscription.ready
      )();
    } catch (error) {
      this.#logger.debug({ channel, err: describeError(error) }, 'worker hub: unlisten failed');
    }
  }
}

/** One job's `toolCalls` request waiting in the hub's audit queue. */
interface AuditRequest {
  job: Job;
  id: number;
  records: ToolCallRecord[];
}

/** Most audit rows the hub writes with one INSERT (the rows of several jobs' requests). */
export const HUB_AUDIT_MAX_ROWS = 1000;

/** Answers one audit request: `done`, or `failed` with the error when one is given. */
function answer(request: AuditRequest, error?: unknown): void {
  send(
    request.job,
    error === undefined
      ? { type: 'done', id: request.id }
      : { type: 'failed', id: request.id, error: describeError(error) },
  );
}

function send(job: Job, message: HubMessage): void {
  if (!job.socket.destroyed) job.socket.write(`${JSON.stringify(message)}\n`);
}

/** Postgres connections of the hub's pool (audit writes of every job), plus its one LISTEN. */
export const HUB_POOL_SIZE = 4;

/**
 * Opens the worker's database and starts its hub, for the worker's command-line process
 * (`agent/main.ts`), and puts its address in the environment the job processes inherit. The
 * socket's folder is removed when the process exits.
 *
 * The database is opened when a session first needs it (and again after a failure), so a worker
 * starts while Postgres is down.
 *
 * @param settings `DATABASE_URL` (required) and the secret key settings.
 * @throws Error naming `DATABASE_URL` when it is unset, the secret key's error when there is no
 *   key, or the socket's error when it cannot be made.
 */
export async function startWorkerHub(
  settings: Pick<Settings, 'DATABASE_URL'> & SecretKeySettings,
  logger: Logger,
): Promise<WorkerHub> {
  if (!settings.DATABASE_URL) {
    throw new Error(
      'DATABASE_URL is not set: the worker needs a Postgres database shared with the API',
    );
  }
  const secretBox = secretBoxFromSettings(settings, { generate: false });
  const databaseUrl = settings.DATABASE_URL;
  const hub = await WorkerHub.start({
    database: () =>
      openDatabase({
        databaseUrl,
        maxConnections: HUB_POOL_SIZE,
        idleTimeoutSeconds: 30,
        secretBox,
      }),
    logger,
  });
  hub.exportToJobs();
  process.once('exit', () => rmSync(hub.socketDir, { recursive: true, force: true }));
  return hub;
}
