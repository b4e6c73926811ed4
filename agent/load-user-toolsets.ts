/**
 * Builds the tools of one agent session (DESIGN §2): the user's active MCP servers, connected
 * in parallel, one {@link McpToolset} each over a {@link SupervisedConnection}. A server that
 * cannot be reached at start never blocks the others or the start of the session (DESIGN §8);
 * it keeps being retried, and its tools reach the session through `updateTools` once it
 * connects. Later tool-list changes and reconnects reach the session the same way.
 */
import type { StdioSandbox } from '../shared/mcp/sandbox/stdio-sandbox.js';
import type { Database } from '../shared/db/open.js';
import type { McpServerRow } from '../shared/db/schema.js';
import { listServers } from '../shared/db/servers.js';
import type { SecretBox } from '../shared/secrets.js';
import { recordToolCall } from '../shared/db/tool-calls.js';
import type { Logger } from '../shared/logger.js';
import { describeError } from '../shared/errors.js';
import { configFromColumns } from '../shared/mcp/index.js';
import type { StdioProcessLimiter } from '../shared/mcp/stdio-process-limiter.js';
import type { UrlPolicy } from '../shared/mcp/url-policy.js';
import { SupervisedConnection, type HealthPolicy } from '../shared/mcp/supervised-connection.js';
import type { ToolsetRegistry } from './live-config.js';
import { McpToolset, type ToolCallRecorder } from './mcp-toolset.js';
import { DEFAULT_FILLER_AFTER_MS } from './slow-calls.js';

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
  /** Where tool calls are recorded; default `recordToolCall` on `db`. */
  recordToolCall?: ToolCallRecorder;
  /** Longest tool result handed to the model, in characters; default 8000. */
  maxResultChars?: number;
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
  /** Health and reconnect policy (from the `MCP_HEALTH_*` and `MCP_BACKOFF_*` settings). */
  policy?: Partial<HealthPolicy>;
  /** Jitter source for reconnect delays; default `Math.random`. */
  random?: () => number;
  /** The job process's cap on stdio server processes (`MCP_MAX_STDIO_PROCESSES`); default none. */
  stdioLimiter?: StdioProcessLimiter;
  /**
   * Longest wait for the servers' first connect before the session starts without the ones
   * still connecting (`AGENT_TOOLS_DEADLINE_MS`), in milliseconds; default 3000.
   */
  startDeadlineMs?: number;
  /** The session user's token, sent to servers with `user-token` auth. */
  userToken?: string;
  /**
   * Where remote servers may be (`MCP_ALLOW_PRIVATE_NETWORKS`), checked after DNS at every
   * connect; default `McpConnection`'s (private networks allowed, metadata refused).
   */
  urlPolicy?: UrlPolicy;
  /** Commands stdio servers may run (`MCP_STDIO_ALLOWED_COMMANDS`); default any. */
  allowedCommands?: readonly string[];
  /** Largest message a server may send, in bytes (`MCP_MAX_MESSAGE_BYTES`); default 4 MiB. */
  maxMessageBytes?: number;
  /** The sandbox stdio servers run in (`MCP_STDIO_SANDBOX`); default none (unsandboxed). */
  sandbox?: StdioSandbox;
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
  /** Closes every current toolset's connection (ending stdio child processes). Never rejects. */
  close(): Promise<void>;
}

/**
 * What a session's toolset of `row` depends on: its connection settings, name, tool filter and
 * tool policy (not its description or status columns). Two rows with the same fingerprint give
 * the same toolset, so an edit that keeps it needs no reconnect.
 */
export function serverFingerprint(row: McpServerRow): string {
  return JSON.stringify([
    row.name,
    row.transport,
    row.url,
    row.command,
    row.args,
    row.cwd,
    row.env,
    row.headers,
    row.apiKey,
    row.auth,
    row.timeoutMs,
    row.toolFilter,
    row.toolPolicy,
  ]);
}

/**
 * Loads a user's active servers, connects to all of them at once (each bounded by its own
 * `timeoutMs`), and returns when every first attempt is over or `startDeadlineMs` has passed,
 * with one {@link McpToolset} per server (empty for a server not connected yet), each with its
 * row's `toolPolicy` (confirmation, long-running tools). Advertised names are
 * assigned in server id order with one shared `taken` set, so they are unique and stable.
 *
 * @throws only when the servers cannot be read from the database or their secrets cannot be
 *   opened (SecretError); connection failures are reported in `unavailable`, never thrown.
 */
export async function loadUserToolsets(options: LoadUserToolsetsOptions): Promise<UserToolsets> {
  const { db, secrets, userId, logger } = options;
  const rows = await listServers({ db, secrets }, userId, { activeOnly: true });
  const record: ToolCallRecorder =
    options.recordToolCall ?? ((toolCall) => recordToolCall(db, toolCall));
  const scope = {
    userId,
    roomName: options.roomName ?? null,
    sessionId: options.sessionId ?? null,
  };

  const unavailable: UnavailableServer[] = [];
  const taken = new Set<string>();
  /** The session's toolsets by server id, with the fingerprint of the row each was made from. */
  const live = new Map<number, { toolset: McpToolset; fingerprint: string }>();

  /**
   * Starts connecting one server; undefined for a row whose config cannot be used (the reason
   * goes to `report`, the session's `unavailable` list at start).
   */
  const start = (row: McpServerRow, report?: UnavailableServer[]) => {
    let config;
    try {
      config = configFromColumns(row);
    } catch (error) {
      report?.push({ serverId: row.id, name: row.name, error: describeError(error) });
      return undefined;
    }
    let toolset: McpToolset | undefined;
    const connection = new SupervisedConnection(config, {
      logger: logger.child({ serverId: row.id }),
      label: row.name,
      policy: options.policy,
      random: options.random,
      connectionOptions: {
        stdioLimiter: options.stdioLimiter,
        userToken: options.userToken,
        urlPolicy: options.urlPolicy,
        allowedCommands: options.allowedCommands,
        maxMessageBytes: options.maxMessageBytes,
        sandbox: options.sandbox,
        serverId: row.id,
      },
      onToolsChanged: (tools) => toolset?.setServerTools(tools),
    });
    const ready = connection.start();
    const attach = () => {
      toolset = new McpToolset({
        server: row,
        connection,
        tools: connection.tools,
        taken,
        scope,
        recordToolCall: record,
        maxResultChars: options.maxResultChars,
        fillerAfterMs: options.fillerAfterMs ?? DEFAULT_FILLER_AFTER_MS,
        progressIntervalMs: options.progressIntervalMs,
        logger,
      });
      live.set(row.id, { toolset, fingerprint: serverFingerprint(row) });
      return toolset;
    };
    return { row, connection, ready, attach };
  };

  const started = rows.map((row) => start(row, unavailable));
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

  const toolsets: McpToolset[] = [];
  const pending: string[] = [];
  started.forEach((entry) => {
    if (!entry) return;
    const { row, connection } = entry;
    if (connection.status === 'connecting') {
      pending.push(row.name);
    } else if (connection.status !== 'connected') {
      const error = connection.lastError?.message ?? 'not connected';
      logger.warn({ serverId: row.id, err: error }, 'mcp server unavailable at session start');
      unavailable.push({ serverId: row.id, name: row.name, error });
    }
    const toolset = entry.attach();
    logger.info(
      { serverId: row.id, toolCount: toolset.advertisedTools.length },
      'mcp server tools ready',
    );
    toolsets.push(toolset);
  });

  if (pending.length > 0) {
    logger.info({ pending }, 'session starts before every mcp server is connected');
  }
  const closeToolset = async (toolset: McpToolset) => {
    try {
      await toolset.aclose();
    } catch (error) {
      logger.warn({ serverId: toolset.server.id, err: error }, 'error while closing mcp server');
    }
  };
  return {
    toolsets,
    unavailable,
    pending,
    current: () => [...live.entries()].sort(([a], [b]) => a - b).map(([, entry]) => entry.toolset),
    serverIds: () => [...live.keys()],
    fingerprint: (serverId) => live.get(serverId)?.fingerprint,
    add: (row) => {
      const entry = start(row);
      if (!entry) {
        logger.warn({ serverId: row.id }, 'mcp server added mid-session has an unusable config');
        return false;
      }
      // Connecting goes on in the background; its tools arrive through setServerTools.
      void entry.ready;
      entry.attach();
      return true;
    },
    remove: async (serverId) => {
      const entry = live.get(serverId);
      live.delete(serverId);
      if (entry) await closeToolset(entry.toolset);
    },
    close: async () => {
      const all = [...live.values()].map((entry) => entry.toolset);
      live.clear();
      await Promise.all(all.map(closeToolset));
    },
  };
}
