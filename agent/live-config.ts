/**
 * Live configuration of a running session (DESIGN §6): the session listens on its user's channel
 * `switchboard_user_<id>` (Postgres `LISTEN`/`NOTIFY`, sent by every configuration write of
 * `shared/db/servers.ts`; through the worker's hub, `worker-hub.ts`, so the session holds no
 * connection of its own for it), and a server added, enabled, edited or disabled for the session's user
 * is connected, reconnected or closed, its tools added to or removed from the agent through
 * `Agent.updateTools`, without restarting the session. A change that leaves the server's
 * fingerprint alone (tools approved, issue 16) has its toolset read its tool pins again
 * (`ToolsetRegistry.refresh`), which offers the approved tools on the same connection.
 */
import type { DatabaseHandle } from '../shared/db/open.js';
import { parseServerChange, userServersChannel, type ServerChange } from '../shared/db/notify.js';
import type { McpServerRow } from '../shared/db/schema.js';
import type { Logger } from '../shared/logger.js';
import { describeError } from '../shared/errors.js';

/** The session's toolsets, one per connected-or-connecting server, keyed by server id. */
export interface ToolsetRegistry<T> {
  /** The toolsets to hand to the agent, in server id order. */
  current(): T[];
  /** The ids of the servers the session has a toolset for. */
  serverIds(): number[];
  /**
   * A string that changes whenever the server's connection or tools would change (every
   * column the toolset depends on, see `serverFingerprint`); `undefined` when the session has no
   * toolset for it.
   */
  fingerprint(serverId: number): string | undefined;
  /**
   * Starts connecting `row` (in the background) and adds its toolset.
   *
   * @returns false, adding nothing, when the row's configuration cannot be used.
   */
  add(row: McpServerRow): boolean;
  /** Removes the server's toolset and closes its connection (ending a stdio process). */
  remove(serverId: number): Promise<void>;
  /**
   * Brings the server's toolset up to date with what is stored besides its row (its tool pins,
   * issue 16) when a change leaves its fingerprint alone; optional.
   *
   * @returns true when its tools changed. Must not reject.
   */
  refresh?(serverId: number): Promise<boolean>;
}

/** Options of {@link watchServerChanges}. */
export interface WatchServerChangesOptions<T> {
  /** The session's user: changes of other users' servers are ignored. */
  userId: number;
  /**
   * Subscribes to a channel: `HubClient.listen` (through the worker's hub) or
   * `DatabaseHandle.listen` (a connection of the session's own, when there is no hub).
   */
  listen: DatabaseHandle['listen'];
  /** Reads one of the user's servers with its secrets opened; `undefined` when it is gone. */
  readServer(serverId: number): Promise<McpServerRow | undefined>;
  /**
   * Reads all of the user's servers. Once listening, the session is reconciled with them once,
   * so a change made between the session's first read and the subscription is not missed.
   * Default: no reconciliation.
   */
  readAllServers?(): Promise<McpServerRow[]>;
  /** The fingerprint {@link ToolsetRegistry.fingerprint} would give `row` once added. */
  fingerprintOf(row: McpServerRow): string;
  toolsets: ToolsetRegistry<T>;
  /** Hands the new list to the agent (`Agent.updateTools`). */
  apply(toolsets: T[]): Promise<void>;
  logger: Logger;
  /** Called after each change has been applied (or failed); for tests and metrics. */
  onApplied?(change: ServerChange, outcome: Outcome): void;
}

/**
 * What one change did to the session's toolsets; `refreshed`: the same connection, its tools
 * changed by what it read again (an approval of tools, issue 16).
 */
export type Outcome = 'added' | 'replaced' | 'removed' | 'refreshed' | 'unchanged';

/** Runs `task` over `items` one after another (server changes must not interleave). */
async function sequentially<T, R>(
  items: readonly T[],
  task: (item: T) => Promise<R>,
): Promise<R[]> {
  const results: R[] = [];
  for (const item of items) results.push(await task(item));
  return results;
}

/**
 * Starts following the user's server changes.
 *
 * Changes are applied one at a time in arrival order, so a quick edit-then-disable ends
 * disabled. A change that cannot be applied (database down, a secret that cannot be opened) is
 * logged and leaves the session's tools as they were.
 *
 * @returns a function that stops listening (await it before closing the toolsets).
 * @throws whatever `listen` throws when the subscription cannot be made.
 */
export async function watchServerChanges<T>(
  options: WatchServerChangesOptions<T>,
): Promise<() => Promise<void>> {
  const { userId, toolsets, logger } = options;
  let queue: Promise<void> = Promise.resolve();
  let stopped = false;

  /** Brings one server's toolset in line with its row (`undefined`: the server is gone). */
  const syncOne = async (serverId: number, row: McpServerRow | undefined): Promise<Outcome> => {
    const present = toolsets.fingerprint(serverId);
    if (!row || !row.isActive) {
      if (present === undefined) return 'unchanged';
      await toolsets.remove(serverId);
      return 'removed';
    }
    if (present === options.fingerprintOf(row)) {
      // Same connection; what is stored elsewhere (tool pins) may have changed.
      return (await toolsets.refresh?.(serverId)) ? 'refreshed' : 'unchanged';
    }
    if (present !== undefined) await toolsets.remove(serverId);
    if (!toolsets.add(row)) return present === undefined ? 'unchanged' : 'removed';
    return present === undefined ? 'added' : 'replaced';
  };

  const applyChange = async (change: ServerChange): Promise<void> => {
    const row = change.op === 'delete' ? undefined : await options.readServer(change.serverId);
    if (stopped) return;
    const outcome = await syncOne(change.serverId, row);
    if (outcome !== 'unchanged') {
      await options.apply(toolsets.current());
      logger.info({ serverId: change.serverId, op: change.op, outcome }, 'session tools changed');
    }
    options.onApplied?.(change, outcome);
  };

  const reconcile = async (): Promise<void> => {
    const rows = await options.readAllServers!();
    if (stopped) return;
    const stored = new Set(rows.map((row) => row.id));
    const outcomes = [
      ...(await sequentially(rows, (row) => syncOne(row.id, row))),
      ...(await sequentially(
        toolsets.serverIds().filter((id) => !stored.has(id)),
        (id) => syncOne(id, undefined),
      )),
    ];
    if (outcomes.some((outcome) => outcome !== 'unchanged')) {
      await options.apply(toolsets.current());
      logger.info({ userId }, 'session tools reconciled with the stored servers');
    }
  };

  const unlisten = await options.listen(userServersChannel(userId), (payload) => {
    const change = parseServerChange(payload);
    // Status writes (op `status`) change nothing a session uses: its own connections report.
    if (!change || change.userId !== userId || change.op === 'status' || stopped) return;
    queue = queue
      .then(() => applyChange(change))
      .catch((error: unknown) => {
        logger.warn(
          { serverId: change.serverId, err: describeError(error) },
          'could not apply a server change to the session',
        );
      });
  });

  if (options.readAllServers) {
    queue = queue.then(reconcile).catch((error: unknown) => {
      logger.warn({ err: describeError(error) }, 'could not reconcile the session tools');
    });
  }

  return async () => {
    stopped = true;
    await unlisten();
    await queue;
  };
}
