/**
 * Builds the tools of one agent session (DESIGN §2): the user's active MCP servers, connected
 * in parallel, one {@link McpToolset} each over a {@link SupervisedConnection}. A server that
 * cannot be reached at start never blocks the others or the start of the session (DESIGN §8);
 * it keeps being retried, and its tools reach the session through `updateTools` once it
 * connects. Later tool-list changes and reconnects reach the session the same way.
 *
 * {@link SessionToolsets} holds a session's toolsets by server id for as long as the session
 * runs, so live configuration changes (`live-config.ts`) can add, replace and remove them; and
 * `serverFingerprint` (`shared/db/server-fingerprint.ts`) tells which edits of a server need its toolset replaced.
 *
 * Servers with `pinTools` on get their toolsets' pins from the session's database (issue 16,
 * `shared/db/tool-pins.ts`): tools that changed since they were approved, or are new, are
 * withheld, and a change notification that leaves a server's fingerprint alone (an approval) has
 * its toolset read the pins again ({@link SessionToolsets.refresh}), without reconnecting.
 */
import type { Database } from '../shared/db/open.js';
import type { McpServerRow } from '../shared/db/schema.js';
import { serverFingerprint } from '../shared/db/server-fingerprint.js';
import { listServers, updateServerStatus } from '../shared/db/servers.js';
import type { SecretBox } from '../shared/secrets.js';
import { recordToolCalls } from '../shared/db/tool-calls.js';
import type { Logger } from '../shared/logger.js';
import { describeError } from '../shared/errors.js';
import { configFromColumns } from '../shared/mcp/index.js';
import type { ConnectionGuards } from '../shared/mcp/connection-guards.js';
import { SupervisedConnection, type HealthPolicy } from '../shared/mcp/supervised-connection.js';
import type { OAuthClientProvider } from '@modelcontextprotocol/sdk/client/auth.js';
import { accountProvider, accountStore } from '../shared/db/oauth-accounts.js';
import type { ToolsetRegistry } from './live-config.js';
import { McpToolset, type ToolPinSource } from './mcp-toolset.js';
import { pinToolsOnFirstUse } from '../shared/db/tool-pins.js';
import type { ShowOnScreen } from './resource-tools.js';
import type { ToolBudget } from './tool-budget.js';
import type { ToolCallRecorder, ToolCallScope, ToolCallSink } from './tool-call-log.js';
import { ToolCallBatcher, type ToolCallWriter } from '../shared/db/tool-call-batch.js';
import { DEFAULT_FILLER_AFTER_MS } from './slow-calls.js';
import type { SendLink } from './elicitation.js';
import { declineElicitation } from '../shared/mcp/elicitation.js';

/** Default of {@link LoadUserToolsetsOptions.publicUrl}: the API's default address. */
const DEFAULT_PUBLIC_URL = 'http://127.0.0.1:3000';

/** Default of {@link LoadUserToolsetsOptions.startDeadlineMs}. */
export const DEFAULT_START_DEADLINE_MS = 3_000;

/** Options of {@link loadUserToolsets}. */
export interface LoadUserToolsetsOptions {
  db: Database;
  /** Opens the servers' sealed secrets (`DatabaseHandle.secrets`). */
  secrets: SecretBox;
  userId: number;
  logger: Logger;
  /** The LiveKit room name, recorded with each tool call; default `null`. */
  roomName?: string | null;
  /** An id of the agent session (e.g. the LiveKit job id), recorded with each call. */
  sessionId?: string | null;
  /**
   * Records each tool call by itself, one call per row (tests); default: the session's
   * `ToolCallBatcher`, which writes batches with `recordToolCalls` on `db`.
   */
  recordToolCall?: ToolCallRecorder;
  /**
   * Writes the batcher's batches; default `recordToolCalls` on `db`. A session with a worker hub
   * passes `HubClient.writeToolCalls`, so its audit rows go through the worker's pool.
   */
  writeToolCalls?: ToolCallWriter;
  /**
   * Longest time a finished call's `tool_calls` row waits to be written with others, in
   * milliseconds; default `DEFAULT_BATCH_INTERVAL_MS` (100). Unused with `recordToolCall`.
   */
  recordIntervalMs?: number;
  /** Longest tool result handed to the model, in characters; default 8000. */
  maxResultChars?: number;
  /**
   * Puts a resource on the user's screen (`resource-tools.ts`, topic `switchboard.resource`);
   * default none: binary resources are then only named to the model.
   */
  showOnScreen?: ShowOnScreen;
  /**
   * The session's tool budget (`AGENT_MAX_TOOLS`): every toolset shows only the tools it selects
   * and reports its tool changes to it. Default none: every tool is shown.
   */
  budget?: ToolBudget;
  /**
   * Milliseconds a tool call may run before the agent says a filler (`AGENT_FILLER_AFTER_MS`);
   * default {@link DEFAULT_FILLER_AFTER_MS}.
   */
  fillerAfterMs?: number;
  /**
   * Shortest time between two spoken progress updates of a long-running call, in milliseconds;
   * default `DEFAULT_PROGRESS_INTERVAL_MS` (10 s).
   */
  progressIntervalMs?: number;
  /**
   * How long a server's question (MCP elicitation) waits for the user after they last spoke
   * (`AGENT_ELICITATION_TIMEOUT_MS`), in milliseconds; default 60000.
   */
  elicitationTimeoutMs?: number;
  /**
   * Sends a server's URL-mode elicitation link to the user's screen (topic `switchboard.link`);
   * default none: such requests are declined (a session without a room).
   */
  sendLink?: SendLink;
  /** Health and reconnect policy (from the `MCP_HEALTH_*` and `MCP_BACKOFF_*` settings). */
  policy?: Partial<HealthPolicy>;
  /** Jitter source for reconnect delays; default `Math.random`. */
  random?: () => number;
  /** Clock of the connections' retry times, in epoch milliseconds; default `Date.now`. */
  now?: () => number;
  /**
   * Longest wait for the servers' first connect before the session starts without the ones
   * still connecting (`AGENT_TOOLS_DEADLINE_MS`), in milliseconds; default 3000.
   */
  startDeadlineMs?: number;
  /** The session user's token, sent to servers with `user-token` auth. */
  userToken?: string;
  /**
   * `PUBLIC_URL` (`publicUrlOf(settings)`): `oauth` servers connect with the user's stored
   * tokens, whose client registrations are kept under its redirect URI. Default
   * `http://127.0.0.1:3000`, the API's own default.
   */
  publicUrl?: string;
  /**
   * The job process's connection guards (URL policy, stdio allow list, message limit, sandbox,
   * and its cap on stdio processes, `MCP_MAX_STDIO_PROCESSES`), applied to every server.
   */
  guards: ConnectionGuards;
}

/** A server that was not connected when the session started (it is being retried), and why. */
export interface UnavailableServer {
  serverId: number;
  name: string;
  /** Readable reason, e.g. `Could not connect to X: command not found: y`. */
  error: string;
}

/**
 * The session's toolsets and how to release them. As a {@link ToolsetRegistry} it follows live
 * configuration changes (`agent/live-config.ts`): servers added, replaced or removed mid-session.
 */
export interface UserToolsets extends ToolsetRegistry<McpToolset> {
  /** One per active server, in server id order (oldest first); a server not yet connected has none. */
  toolsets: McpToolset[];
  /** Active servers that could not be connected at start; their toolsets fill in on reconnect. */
  unavailable: UnavailableServer[];
  /** Names of servers still connecting when the start deadline passed; their tools come later. */
  pending: string[];
  /**
   * Closes every current toolset's connection (ending stdio child processes) and writes the tool
   * calls not yet recorded, so call it before closing the database. Never rejects.
   */
  close(): Promise<void>;
}

/** A server whose first connection attempt has started (its toolset is made from it). */
interface StartedServer {
  row: McpServerRow;
  connection: SupervisedConnection;
  /** The first attempt: true when connected. Never rejects. */
  ready: Promise<boolean>;
}

/**
 * The toolsets of one agent session, by server id: made by {@link loadUserToolsets}, then kept in
 * step with the user's server changes through its {@link ToolsetRegistry} methods. All toolsets
 * share one set of advertised names, so names stay unique across servers.
 */
export class SessionToolsets implements UserToolsets {
  readonly toolsets: McpToolset[] = [];
  readonly unavailable: UnavailableServer[] = [];
  readonly pending: string[] = [];
  readonly #options: LoadUserToolsetsOptions;
  readonly #logger: Logger;
  /** Where every toolset's calls go; a batcher is flushed when the session closes. */
  readonly #record: ToolCallRecorder | ToolCallSink;
  readonly #batcher?: ToolCallBatcher;
  readonly #scope: ToolCallScope;
  readonly #taken = new Set<string>();
  /** The pins of every server with `pinTools` on, from the session's database. */
  readonly #pins: ToolPinSource;
  /** The current toolsets by server id, with the fingerprint of the row each was made from. */
  readonly #live = new Map<number, { toolset: McpToolset; fingerprint: string }>();

  /** @param options as {@link loadUserToolsets} takes them; nothing is connected yet. */
  private constructor(options: LoadUserToolsetsOptions) {
    this.#options = options;
    this.#logger = options.logger;
    if (options.recordToolCall) {
      this.#record = options.recordToolCall;
    } else {
      // One batcher for all the session's toolsets: one INSERT per batch, whatever the server.
      this.#batcher = new ToolCallBatcher({
        write: options.writeToolCalls ?? ((records) => recordToolCalls(options.db, records)),
        logger: options.logger,
        intervalMs: options.recordIntervalMs,
      });
      this.#record = this.#batcher;
    }
    this.#scope = {
      userId: options.userId,
      roomName: options.roomName ?? null,
      sessionId: options.sessionId ?? null,
    };
    this.#pins = { pinsFor: (serverId, tools) => pinToolsOnFirstUse(options.db, serverId, tools) };
  }

  /**
   * Connects `rows` at once and resolves when every first attempt is over or the start deadline
   * has passed, with one toolset per usable row (see {@link loadUserToolsets}).
   */
  static async start(
    options: LoadUserToolsetsOptions,
    rows: readonly McpServerRow[],
  ): Promise<SessionToolsets> {
    const session = new SessionToolsets(options);
    const started = rows.map((row) => session.#connect(row, session.unavailable));
    // Every server's first attempt, or the deadline, whichever comes first: a slow or dead server
    // never holds the session back; its tools arrive through updateTools when it connects.
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.all(started.map((entry) => entry?.ready)),
      new Promise<void>((resolve) => {
        timer = setTimeout(resolve, options.startDeadlineMs ?? DEFAULT_START_DEADLINE_MS);
      }),
    ]);
    clearTimeout(timer);

    const attached: McpToolset[] = [];
    for (const entry of started) {
      if (!entry) continue;
      const { row, connection } = entry;
      if (connection.status === 'connecting') {
        session.pending.push(row.name);
      } else if (connection.status !== 'connected') {
        const error = connection.lastError?.message ?? 'not connected';
        session.#logger.warn(
          { serverId: row.id, err: error },
          'mcp server unavailable at session start',
        );
        session.unavailable.push({ serverId: row.id, name: row.name, error });
      }
      attached.push(session.#attach(entry));
    }
    // The pins of the servers that pin their tools, read (and a new server's pinned) before the
    // session starts, within the deadline again: until they are in, their tools are withheld.
    await Promise.race([
      Promise.all(attached.map((toolset) => toolset.pinsReady)),
      new Promise<void>((resolve) => {
        timer = setTimeout(resolve, options.startDeadlineMs ?? DEFAULT_START_DEADLINE_MS);
      }),
    ]);
    clearTimeout(timer);
    for (const toolset of attached) {
      session.#logger.info(
        {
          serverId: toolset.server.id,
          toolCount: toolset.advertisedTools.length,
          withheldCount: toolset.withheldTools.length,
        },
        'mcp server tools ready',
      );
      session.toolsets.push(toolset);
    }
    if (session.pending.length > 0) {
      session.#logger.info(
        { pending: session.pending },
        'session starts before every mcp server is connected',
      );
    }
    return session;
  }

  /** The current toolsets, in server id order. */
  current(): McpToolset[] {
    return [...this.#live.entries()].sort(([a], [b]) => a - b).map(([, entry]) => entry.toolset);
  }

  /** The ids of the servers the session has a toolset for. */
  serverIds(): number[] {
    return [...this.#live.keys()];
  }

  /** The {@link serverFingerprint} of the row the server's toolset was made from. */
  fingerprint(serverId: number): string | undefined {
    return this.#live.get(serverId)?.fingerprint;
  }

  /**
   * Has the server's toolset read its tool pins again (after an approval): tools approved since
   * are offered, without reconnecting.
   *
   * @returns true when the tools offered changed; false without a toolset. Never rejects.
   */
  refresh(serverId: number): Promise<boolean> {
    return this.#live.get(serverId)?.toolset.refreshPins() ?? Promise.resolve(false);
  }

  /**
   * Starts connecting `row` in the background and adds its toolset (empty until it connects).
   *
   * @returns false, adding nothing, when the row's configuration cannot be used.
   */
  add(row: McpServerRow): boolean {
    const entry = this.#connect(row);
    if (!entry) {
      this.#logger.warn(
        { serverId: row.id },
        'mcp server added mid-session has an unusable config',
      );
      return false;
    }
    // Connecting goes on in the background; its tools reach the toolset as they change.
    void entry.ready;
    this.#attach(entry);
    return true;
  }

  /** Removes the server's toolset and closes its connection. Never rejects. */
  async remove(serverId: number): Promise<void> {
    const entry = this.#live.get(serverId);
    this.#live.delete(serverId);
    if (entry) await this.#closeToolset(entry.toolset);
  }

  /**
   * Closes every current toolset's connection (ending stdio child processes), then writes the
   * tool calls still buffered (the database must stay open until this resolves). Never rejects.
   */
  async close(): Promise<void> {
    const all = [...this.#live.values()].map((entry) => entry.toolset);
    this.#live.clear();
    await Promise.all(all.map((toolset) => this.#closeToolset(toolset)));
    await this.#batcher?.flush();
  }

  /**
   * Starts connecting one server; undefined for a row whose config cannot be used (the reason
   * goes to `report`, the session's `unavailable` list at start).
   */
  #connect(row: McpServerRow, report?: UnavailableServer[]): StartedServer | undefined {
    let config;
    try {
      config = configFromColumns(row);
    } catch (error) {
      report?.push({ serverId: row.id, name: row.name, error: describeError(error) });
      return undefined;
    }
    const options = this.#options;
    const connection = new SupervisedConnection(config, {
      logger: this.#logger.child({ serverId: row.id }),
      label: row.name,
      policy: options.policy,
      random: options.random,
      now: options.now,
      connectionOptions: {
        ...options.guards,
        userToken: options.userToken,
        authProvider: this.#accountProvider(row),
        serverId: row.id,
        // Sessions declare elicitation; a question during a tool call is asked by voice (the
        // call's own handler, `elicitation.ts`), and one outside any call is declined.
        onElicitation: declineElicitation,
      },
      // An `oauth` server's status is its owner's (the monitor holds no tokens): when the
      // session finds the account unusable, the dashboard says so, with the reason.
      onStatusChange:
        row.auth.type === 'oauth'
          ? (change) => {
              if (change.status !== 'needs_authorization') return;
              void updateServerStatus(options.db, row.id, {
                connectionStatus: 'needs_authorization',
                lastError: change.error?.message ?? 'the account must be connected again',
              }).catch((error: unknown) =>
                this.#logger.warn({ serverId: row.id, err: error }, 'cannot record the status'),
              );
            }
          : undefined,
    });
    return { row, connection, ready: connection.start() };
  }

  /**
   * The provider of an `oauth` server: the user's stored tokens, refreshed as they expire. With
   * none usable the connection waits in `needs_authorization` (it does not retry) until the user
   * connects the account, which changes the server's fingerprint and so replaces the connection.
   */
  #accountProvider(row: McpServerRow): OAuthClientProvider | undefined {
    if (row.auth.type !== 'oauth') return undefined;
    const deps = {
      db: this.#options.db,
      secrets: this.#options.secrets,
      publicUrl: this.#options.publicUrl ?? DEFAULT_PUBLIC_URL,
    };
    return accountProvider(deps, row, accountStore(deps, row));
  }

  /** Makes the toolset of a started server (it follows the connection's tools from now on). */
  #attach({ row, connection }: StartedServer): McpToolset {
    const toolset = new McpToolset({
      server: row,
      connection,
      tools: connection.tools,
      taken: this.#taken,
      scope: this.#scope,
      recordToolCall: this.#record,
      maxResultChars: this.#options.maxResultChars,
      showOnScreen: this.#options.showOnScreen,
      budget: this.#options.budget,
      fillerAfterMs: this.#options.fillerAfterMs ?? DEFAULT_FILLER_AFTER_MS,
      progressIntervalMs: this.#options.progressIntervalMs,
      pins: row.pinTools ? this.#pins : undefined,
      elicitationTimeoutMs: this.#options.elicitationTimeoutMs,
      sendLink: this.#options.sendLink,
      logger: this.#logger,
    });
    this.#live.set(row.id, { toolset, fingerprint: serverFingerprint(row) });
    return toolset;
  }

  async #closeToolset(toolset: McpToolset): Promise<void> {
    try {
      await toolset.aclose();
    } catch (error) {
      this.#logger.warn(
        { serverId: toolset.server.id, err: error },
        'error while closing mcp server',
      );
    }
  }
}

/**
 * Loads a user's active servers, connects to all of them at once (each bounded by its own
 * `timeoutMs`), and returns when every first attempt is over or `startDeadlineMs` has passed,
 * with one {@link McpToolset} per server (empty for a server not connected yet), each with its
 * row's `toolPolicy` (confirmation, long-running tools) and, with `pinTools` on, only its tools
 * that match their pins (issue 16). Advertised names are
 * assigned in server id order with one shared `taken` set, so they are unique and stable.
 *
 * @throws only when the servers cannot be read from the database or their secrets cannot be
 *   opened (SecretError); connection failures are reported in `unavailable`, never thrown.
 */
export async function loadUserToolsets(options: LoadUserToolsetsOptions): Promise<UserToolsets> {
  const { db, secrets, userId } = options;
  const rows = await listServers({ db, secrets }, userId, { activeOnly: true });
  return SessionToolsets.start(options, rows);
}
