/**
 * The MCP servers behind the gateway (issue 15): for each user with at least one gateway session
 * on this API process, one supervised connection per active server that one of the user's
 * sessions serves (a per-server session `/mcp/servers/<id>` opens its server only, an aggregate
 * session those its token may use), shared by all of that user's sessions, closed when no
 * session serves it any more, and kept in step with the user's configuration as a voice session
 * is (DESIGN §6, the live-configuration path): the user's own `NOTIFY` channel
 * (`userServersChannel`) says a server was added, edited or removed; the servers are read again
 * and only those whose {@link serverFingerprint} changed are reconnected. The connections are the
 * agent's own ({@link SupervisedConnection} with the process's connection guards: URL policy,
 * stdio sandbox, message limit), so the gateway never hangs on a dead server and a stdio server's
 * process ends with the last session that needed it.
 *
 * Each upstream carries its server's tool pins (issue 16), read with the rows, so an approval's
 * change notification re-reads them without reconnecting; a server whose tools were never pinned
 * is pinned the first time its connection lists them (trust on first use). Tools that do not
 * match their pins are withheld (`catalog.ts`).
 *
 * Left out, and why (each reported in {@link UserUpstreams.skipped}):
 * - `user-token` servers: they forward the voice session's user token, which a gateway client
 *   does not have (sending it the client's Switchboard token would hand a Switchboard credential
 *   to a third party);
 * - rows whose stored configuration cannot be used (the reason is the config error).
 */
import type { OAuthClientProvider } from '@modelcontextprotocol/sdk/client/auth.js';
import type { DatabaseHandle } from '../../shared/db/open.js';
import { userServersChannel } from '../../shared/db/notify.js';
import { accountProvider, accountStore } from '../../shared/db/oauth-accounts.js';
import type { McpServerRow } from '../../shared/db/schema.js';
import { serverFingerprint } from '../../shared/db/server-fingerprint.js';
import { listServers, updateServerStatus } from '../../shared/db/servers.js';
import { pinToolsOnFirstUse, readToolPins } from '../../shared/db/tool-pins.js';
import { NO_PINS, type ToolPinSet } from '../../shared/mcp/tool-pinning.js';
import { describeError } from '../../shared/errors.js';
import type { Logger } from '../../shared/logger.js';
import type { ConnectionGuards } from '../../shared/mcp/connection-guards.js';
import { configFromColumns } from '../../shared/mcp/server-config.js';
import { SupervisedConnection, type HealthPolicy } from '../../shared/mcp/supervised-connection.js';
import { declineElicitation } from '../../shared/mcp/elicitation.js';

/** Default of {@link UpstreamOptions.startDeadlineMs}: the voice session's start deadline. */
export const DEFAULT_UPSTREAM_START_DEADLINE_MS = 3_000;

/** What every user's upstream connections are made with. */
export interface UpstreamOptions {
  database: DatabaseHandle;
  logger: Logger;
  /** The API process's connection guards (the same the Test button and the monitor use). */
  guards: ConnectionGuards;
  /** `PUBLIC_URL`: `oauth` servers' stored client registrations are kept under its redirect URI. */
  publicUrl: string;
  /** Health and reconnect policy of the connections; default `DEFAULT_HEALTH_POLICY`. */
  policy?: Partial<HealthPolicy>;
  /**
   * Longest wait for the servers' first connect before the first list is answered without the
   * ones still connecting (they join with a `list_changed`), in milliseconds; default 3000.
   */
  startDeadlineMs?: number;
}

/** One of the user's servers as the gateway serves it. */
export interface Upstream {
  /** The stored row, secrets opened (never sent to a client). */
  row: McpServerRow;
  connection: SupervisedConnection;
  fingerprint: string;
  /**
   * The server's tool pins (issue 16), read with the rows and after its tools are first pinned;
   * with `row.pinTools` on, tools that do not match them are withheld (`catalog.ts`).
   */
  pins: ToolPinSet;
  /**
   * The connection's first attempt: true when it connected (its tools then pinned if the server
   * was never pinned), false when it failed. Never rejects.
   */
  firstConnect: Promise<boolean>;
}

/** A server of the user the gateway does not serve, and why. */
export interface SkippedServer {
  serverId: number;
  name: string;
  reason: string;
}

/** What changed, for {@link UserUpstreams.onChange} listeners. */
export type UpstreamChange = 'servers' | 'tools';

/**
 * Told what changed, and of which servers: `serverIds` when only those did (a server's tools,
 * servers a new session opened), `undefined` when any may have (the user's configuration).
 */
export type UpstreamListener = (change: UpstreamChange, serverIds?: ReadonlySet<number>) => void;

/**
 * The servers a session serves, which its lease holds open: `null` for all of the user's active
 * servers, else these server ids.
 */
export type UpstreamScope = ReadonlySet<number> | null;

/** A scope held open, from {@link UserUpstreams.want}. */
export interface UpstreamWant {
  /**
   * Resolves when the scope's servers were read and their connections' first attempts are over,
   * or the start deadline passed (see {@link UpstreamOptions.startDeadlineMs}). Never rejects.
   */
  ready: Promise<void>;
  /** Stops holding the scope (once); servers no other scope holds are then closed. */
  release(): void;
}

/**
 * One user's upstream connections on this process. Made and shared by {@link UpstreamPool};
 * closed when the last session that acquired it releases it.
 */
export class UserUpstreams {
  readonly userId: number;
  readonly #options: UpstreamOptions;
  readonly #logger: Logger;
  /** Server id → upstream, in server id order (the order the agent advertises tools in). */
  #servers = new Map<number, Upstream>();
  #skipped: SkippedServer[] = [];
  readonly #listeners = new Set<UpstreamListener>();
  #unlisten?: () => Promise<void>;
  /** The tail of the queue of loads ({@link #serial}). */
  #chain: Promise<unknown> = Promise.resolve();
  /** A reload queued and not yet started, which later calls share. */
  #queuedReload?: Promise<void>;
  #closed = false;
  /** Scopes held with `null` (all servers). */
  #wantAll = 0;
  /** Server id → how many held scopes name it. */
  readonly #wanted = new Map<number, number>();
  /** True once the first load has read the rows (a scope wanted later needs a load of its own). */
  #loadStarted = false;
  /** Resolves when the first load is in and its connections tried (or the deadline passed). */
  readonly ready: Promise<void>;

  /**
   * Starts listening for the user's configuration changes and reads the servers. Connections
   * are opened only for the servers a held scope names ({@link want}): hold one at once.
   */
  constructor(userId: number, options: UpstreamOptions) {
    this.userId = userId;
    this.#options = options;
    this.#logger = options.logger.child({ component: 'gateway', userId });
    this.ready = this.#start();
  }

  /**
   * Holds `scope`'s servers open (connecting those not open yet) until released: each served
   * server's connection stays open while at least one held scope names it.
   *
   * @param scope `null` for every active server of the user, or the server ids.
   */
  want(scope: UpstreamScope): UpstreamWant {
    const covered =
      this.#wantAll > 0 || (scope !== null && [...scope].every((id) => this.#wanted.has(id)));
    if (scope === null) this.#wantAll++;
    else for (const id of scope) this.#wanted.set(id, (this.#wanted.get(id) ?? 0) + 1);
    const ready =
      covered || !this.#loadStarted || this.#closed ? this.ready : this.#loadAndSettle(true);
    let released = false;
    return {
      ready,
      release: () => {
        if (released) return;
        released = true;
        if (scope === null) this.#wantAll--;
        else {
          for (const id of scope) {
            const left = (this.#wanted.get(id) ?? 1) - 1;
            if (left > 0) this.#wanted.set(id, left);
            else this.#wanted.delete(id);
          }
        }
        // Reloaded even when the server is not open yet: a load under way may be opening it.
        const dropped =
          scope === null ? this.#wantAll === 0 : [...scope].some((id) => !this.#isWanted(id));
        if (dropped && !this.#closed) void this.reload();
      },
    };
  }

  /** True when a held scope names the server `id` (or all servers). */
  #isWanted(id: number): boolean {
    return this.#wantAll > 0 || this.#wanted.has(id);
  }

  /** The served servers, in server id order. */
  get servers(): Upstream[] {
    return [...this.#servers.values()];
  }

  /** Active servers not served through the gateway, and why. */
  get skipped(): readonly SkippedServer[] {
    return this.#skipped;
  }

  /**
   * Calls `listener` when the set of servers changed (`servers`) or one server's tool list did
   * (`tools`, after a reconnect or its `notifications/tools/list_changed`), with the ids of the
   * servers concerned when known.
   *
   * @returns a function that removes the listener.
   */
  onChange(listener: UpstreamListener): () => void {
    this.#listeners.add(listener);
    return () => void this.#listeners.delete(listener);
  }

  /** Stops listening and closes every connection (ending stdio servers' processes). */
  async close(): Promise<void> {
    this.#closed = true;
    this.#listeners.clear();
    const unlisten = this.#unlisten;
    this.#unlisten = undefined;
    await unlisten?.().catch(() => {});
    await this.#chain;
    const servers = [...this.#servers.values()];
    this.#servers.clear();
    await Promise.all(servers.map((server) => this.#closeConnection(server)));
  }

  async #start(): Promise<void> {
    try {
      this.#unlisten = await this.#options.database.listen(
        userServersChannel(this.userId),
        () => void this.reload(),
      );
    } catch (error) {
      this.#logger.warn(
        { err: error },
        'cannot listen for server changes; gateway sessions will not see configuration edits',
      );
    }
    await this.#loadAndSettle(false);
  }

  /**
   * Loads the servers (after any load queued before), then waits for the first attempts of the
   * connections it opened, at most the start deadline. Never rejects: a failed read is logged
   * (sessions see no new tools until the next change notification or session).
   *
   * @param announce true to tell the sessions their servers may have changed once loaded.
   */
  async #loadAndSettle(announce: boolean): Promise<void> {
    let started: Map<number, Promise<boolean>>;
    try {
      started = await this.#serial(() => this.#load());
    } catch (error) {
      this.#logger.warn({ err: error }, 'cannot read the servers');
      return;
    }
    if (announce && started.size > 0) this.#emit('servers', new Set(started.keys()));
    await this.#withinStartDeadline(Promise.all(started.values()));
  }

  /** Waits for `work`, at most the start deadline ({@link UpstreamOptions.startDeadlineMs}). */
  async #withinStartDeadline(work: Promise<unknown>): Promise<void> {
    const deadline = this.#options.startDeadlineMs ?? DEFAULT_UPSTREAM_START_DEADLINE_MS;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      work,
      new Promise<void>((resolve) => (timer = setTimeout(resolve, deadline))),
    ]);
    clearTimeout(timer);
  }

  /**
   * Waits until the server `serverId` is served and its connection's first attempt is over (a
   * per-server session's first list): after {@link ready}, reads the servers again when it is
   * not among them yet (a server added just before a session was opened for it, whose change
   * notification may not have been applied yet), then waits for its first connect; all at most
   * the start deadline ({@link UpstreamOptions.startDeadlineMs}) past {@link ready}. Never
   * rejects; a server that is still not served is simply not there.
   *
   * @param serverId the server's id.
   * @param after what to wait for first: the `ready` of the scope that names the server
   *   ({@link want}); default {@link ready}.
   */
  async settle(serverId: number, after: Promise<void> = this.ready): Promise<void> {
    await after;
    await this.#withinStartDeadline(
      (async () => {
        if (!this.#servers.has(serverId)) await this.reload();
        await this.#servers.get(serverId)?.firstConnect;
      })(),
    );
  }

  /**
   * Reads the user's servers again and reconnects what changed. Loads run one at a time, and
   * calls made while one is waiting to run share it. Never rejects: a failed read is logged and
   * the current connections are kept.
   */
  reload(): Promise<void> {
    if (this.#closed) return Promise.resolve();
    if (this.#queuedReload) return this.#queuedReload;
    const run = this.#serial(async () => {
      this.#queuedReload = undefined;
      await this.#load();
      this.#emit('servers');
    }).catch((error: unknown) => this.#logger.warn({ err: error }, 'cannot read the servers'));
    this.#queuedReload = run;
    return run;
  }

  /** Runs `task` after every task queued before it (loads never overlap). */
  #serial<T>(task: () => Promise<T>): Promise<T> {
    const run = this.#chain.then(task, task);
    this.#chain = run.catch(() => undefined);
    return run;
  }

  /**
   * Applies the stored rows to the servers a held scope names (the others are closed, or never
   * opened); returns the first attempts of the connections it started, by server id.
   */
  async #load(): Promise<Map<number, Promise<boolean>>> {
    this.#loadStarted = true;
    const rows = await listServers(this.#options.database, this.userId, { activeOnly: true });
    // Read again on every change notification: an approval changes the pins, not the rows.
    const pinSets = await readToolPins(
      this.#options.database.db,
      rows.filter((row) => row.pinTools).map((row) => row.id),
    );
    const started = new Map<number, Promise<boolean>>();
    if (this.#closed) return started;
    const next = new Map<number, Upstream>();
    const skipped: SkippedServer[] = [];
    const retired: Upstream[] = [];
    for (const row of rows) {
      if (row.auth.type === 'user-token') {
        skipped.push({
          serverId: row.id,
          name: row.name,
          reason:
            "it forwards the voice session's user token (auth user-token), which an MCP client of the gateway does not have",
        });
        continue;
      }
      if (!this.#isWanted(row.id)) continue;
      const fingerprint = serverFingerprint(row);
      const current = this.#servers.get(row.id);
      const pins = pinSets.get(row.id) ?? NO_PINS;
      if (current && current.fingerprint === fingerprint) {
        // Same connection; the description and other display columns, and the pins, may have
        // changed. A server never pinned whose tools are listed is pinned now.
        const kept = { ...current, row, pins };
        next.set(row.id, kept);
        void this.#pinOnFirstUse(kept);
        continue;
      }
      if (current) retired.push(current);
      const made = this.#connect(row, pins);
      if ('reason' in made) {
        skipped.push(made);
        continue;
      }
      next.set(row.id, made.upstream);
      started.set(row.id, made.ready);
    }
    for (const [id, server] of this.#servers) if (!next.has(id)) retired.push(server);
    this.#servers = next;
    this.#skipped = skipped;
    await Promise.all(retired.map((server) => this.#closeConnection(server)));
    return started;
  }

  #connect(
    row: McpServerRow,
    pins: ToolPinSet,
  ): { upstream: Upstream; ready: Promise<boolean> } | SkippedServer {
    let config;
    try {
      config = configFromColumns(row);
    } catch (error) {
      return { serverId: row.id, name: row.name, reason: describeError(error) };
    }
    const { database, guards, policy } = this.#options;
    const connection = new SupervisedConnection(config, {
      logger: this.#logger.child({ serverId: row.id }),
      label: row.name,
      policy,
      connectionOptions: {
        ...guards,
        authProvider: this.#accountProvider(row),
        serverId: row.id,
        // A question during a gateway call goes to the client that made it (`session.ts`);
        // one outside any call has nobody to ask. So does a sampling request (refused outside
        // a call, or from a client that does not support sampling).
        onElicitation: declineElicitation,
        sampling: true,
      },
      onToolsChanged: () => {
        this.#emit('tools', new Set([row.id]));
        const current = this.#servers.get(row.id);
        if (current?.connection === connection) void this.#pinOnFirstUse(current);
      },
      // As in a voice session: an `oauth` server's status is its owner's account's.
      onStatusChange:
        row.auth.type === 'oauth'
          ? (change) => {
              if (change.status !== 'needs_authorization') return;
              void updateServerStatus(database.db, row.id, {
                connectionStatus: 'needs_authorization',
                lastError: change.error?.message ?? 'the account must be connected again',
              }).catch((error: unknown) =>
                this.#logger.warn({ serverId: row.id, err: error }, 'cannot record the status'),
              );
            }
          : undefined,
    });
    const upstream: Upstream = {
      row,
      connection,
      fingerprint: serverFingerprint(row),
      pins,
      firstConnect: Promise.resolve(false),
    };
    // The first connect's tools are pinned (a server never pinned) before `ready` resolves, so
    // the first list offers them.
    const ready = connection.start().then(
      async (connected) => {
        if (connected) await this.#pinOnFirstUse(upstream);
        return connected;
      },
      () => false,
    );
    upstream.firstConnect = ready;
    return { upstream, ready };
  }

  /**
   * Pins the tools of a server whose tools were never pinned (trust on first use,
   * `pinToolsOnFirstUse`) once its connection has listed them, then tells the sessions (its
   * tools are offered now). Nothing to do for a server pinned already, or not pinning. Never
   * rejects: a failure is logged, and the tools stay withheld until the next listing.
   */
  async #pinOnFirstUse(upstream: Upstream): Promise<void> {
    const { row, connection } = upstream;
    if (!row.pinTools || upstream.pins.pinnedAt !== null) return;
    if (connection.status !== 'connected' && connection.status !== 'degraded') return;
    let pins: ToolPinSet;
    try {
      pins = await pinToolsOnFirstUse(this.#options.database.db, row.id, connection.tools);
    } catch (error) {
      this.#logger.warn({ serverId: row.id, err: error }, 'cannot pin the tools');
      return;
    }
    upstream.pins = pins;
    // A reload meanwhile made another object for the same connection: it gets them too.
    const current = this.#servers.get(row.id);
    if (current && current !== upstream && current.connection === connection) current.pins = pins;
    this.#emit('tools', new Set([row.id]));
  }

  #accountProvider(row: McpServerRow): OAuthClientProvider | undefined {
    if (row.auth.type !== 'oauth') return undefined;
    const deps = {
      db: this.#options.database.db,
      secrets: this.#options.database.secrets,
      publicUrl: this.#options.publicUrl,
    };
    return accountProvider(deps, row, accountStore(deps, row));
  }

  async #closeConnection(server: Upstream): Promise<void> {
    try {
      await server.connection.close();
    } catch (error) {
      this.#logger.warn({ serverId: server.row.id, err: error }, 'error while closing a server');
    }
  }

  #emit(change: UpstreamChange, serverIds?: ReadonlySet<number>): void {
    for (const listener of this.#listeners) {
      try {
        listener(change, serverIds);
      } catch (error) {
        this.#logger.warn({ err: error }, 'a gateway change listener failed');
      }
    }
  }
}

/** A user's upstreams with a scope of them held open, until {@link release} is called (once). */
export interface UpstreamLease {
  upstreams: UserUpstreams;
  /** When the scope's servers were read and first tried ({@link UpstreamWant.ready}). */
  ready: Promise<void>;
  release(): void;
}

/**
 * The {@link UserUpstreams} of every user with a gateway session on this process, counted by
 * the sessions holding them: the first session of a user opens them, the last one's release
 * closes them.
 */
export class UpstreamPool {
  readonly #options: UpstreamOptions;
  readonly #users = new Map<number, { upstreams: UserUpstreams; holders: number }>();

  constructor(options: UpstreamOptions) {
    this.#options = options;
  }

  /** Users whose upstreams are open. */
  get users(): number {
    return this.#users.size;
  }

  /**
   * Takes the user's upstreams (made for the first holder) and holds `scope`'s servers open.
   * They are usable at once; the lease's `ready` says when the scope's connections were tried.
   *
   * @param scope the servers the session serves: `null` (default) for all the user's servers.
   */
  acquire(userId: number, scope: UpstreamScope = null): UpstreamLease {
    let entry = this.#users.get(userId);
    if (!entry) {
      entry = { upstreams: new UserUpstreams(userId, this.#options), holders: 0 };
      this.#users.set(userId, entry);
    }
    entry.holders++;
    const want = entry.upstreams.want(scope);
    let released = false;
    const held = entry;
    return {
      upstreams: held.upstreams,
      ready: want.ready,
      release: () => {
        if (released) return;
        released = true;
        if (--held.holders > 0) {
          want.release();
          return;
        }
        if (this.#users.get(userId) === held) this.#users.delete(userId);
        void held.upstreams.close();
      },
    };
  }

  /** Closes every user's upstreams (shutdown). */
  async close(): Promise<void> {
    const all = [...this.#users.values()];
    this.#users.clear();
    await Promise.all(all.map((entry) => entry.upstreams.close()));
  }
}
