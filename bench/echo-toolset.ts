/**
 * Switchboard's side of the tool-call benchmark: one MCP server's tool exactly as an agent session
 * gets it. The server is stored as a user's `mcp_servers` row in a real database and the session's
 * tools are made by `loadUserToolsets` (as `agent/run-session.ts` makes them), so every call goes
 * through what a session's call goes through: the `execute` of the `FunctionTool` that
 * `McpToolset` exposes (with a `RunContext` and a filler delay, as in a session), the
 * `SupervisedConnection` and `McpConnection`, the result conversion, and the session's
 * `ToolCallBatcher` writing the `tool_calls` rows through `recordToolCalls`; and the production
 * logger (`createLogger`, JSON lines at `info`) writes to a real file descriptor. Construction
 * lives here only, so a change of how a session makes its tools is adapted in one place.
 */
import { randomBytes } from 'node:crypto';
import { llm } from '@livekit/agents';
import { count } from 'drizzle-orm';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { pino } from 'pino';
import postgres from 'postgres';
import { loadUserToolsets, type UserToolsets } from '../agent/load-user-toolsets.js';
import { DEFAULT_FILLER_AFTER_MS, type FillerContext } from '../agent/slow-calls.js';
import { openDatabase, type DatabaseHandle } from '../shared/db/open.js';
import { toolCalls, users, type NewMcpServerRow } from '../shared/db/schema.js';
import { createServer } from '../shared/db/servers.js';
import { createLogger, type Logger } from '../shared/logger.js';
import { SecretBox } from '../shared/secrets.js';
import type { BareTarget } from './bare-client.js';

/** The JSON object a function tool is called with. */
export type ToolArguments = Parameters<llm.FunctionTool['execute']>[0];

/** One tool of a Switchboard session, callable as the agent runtime calls it. */
export interface BenchTool {
  /** The name advertised to the model, e.g. `bench__echo`. */
  name: string;
  /**
   * Calls the tool through `FunctionTool.execute` as the runtime does inside a session: with a
   * `RunContext` (a stand-in whose `filler` and `session` are never reached by a call that ends
   * before the filler delay) and the call's abort signal.
   *
   * @param abortSignal the call's signal; the agents runtime gives each tool task its own
   *   AbortController, so pass a fresh one per call (the SDK never removes the abort listener it
   *   adds, so a shared signal would pile listeners up).
   */
  call(args: ToolArguments, abortSignal: AbortSignal): Promise<unknown>;
  /**
   * Calls the same tool through the bare SDK `Client.callTool` of the very connection the tool
   * uses (same transport, same server process), with the SDK's default options, and returns the
   * first text block. Throws when the connection is down.
   */
  bareCall(args: Record<string, unknown>): Promise<string | undefined>;
  /** Writes the session's buffered `tool_calls` rows now; resolves when they are written. */
  flushRecords(): Promise<void>;
  /** How many `tool_calls` rows the database holds for the bench user. */
  recordedCalls(): Promise<number>;
  /** Closes the session's tools (ending a stdio server's process), then the database. */
  close(): Promise<void>;
}

/** Options of {@link createBenchTool}. */
export interface BenchToolOptions {
  /** The server, as the bare client reaches it. */
  target: BareTarget;
  /** The tool's original MCP name, e.g. `echo`. */
  toolName: string;
  /**
   * A `postgres://` URL: the bench creates a database of its own there and drops it at the end.
   * Default: the embedded PGlite database, in memory (in this process, as a single-process
   * install runs it).
   */
  databaseUrl?: string;
  /**
   * The session's logger; default {@link productionLogger} writing to `/dev/null` (never a
   * silent one: a silent logger hides what the lines cost).
   */
  logger?: Logger;
}

/**
 * The agent's logger as `agent/main.ts` makes it (`createLogger`, JSON lines with its redaction,
 * level `info`), writing synchronously to `dest` (default `/dev/null`), as pino writes to
 * standard output. `name` is the lines' `name` field: `agent` (default), or `switchboard` for
 * the API's logger as `server/main.ts` makes it.
 */
export function productionLogger(dest = '/dev/null', name = 'agent'): Logger {
  return createLogger({
    name,
    level: 'info',
    pretty: false,
    destination: pino.destination({ dest, sync: true }),
  });
}

/**
 * A database of the bench's own: the embedded PGlite in memory when `databaseUrl` is absent,
 * else a new database made on that Postgres server, dropped by the handle's `close` (see
 * {@link BenchToolOptions.databaseUrl}). Migrations applied, secrets sealed with a random key.
 *
 * @throws Error when Postgres cannot be reached or the database cannot be made.
 */
export async function openBenchDatabase(databaseUrl: string | undefined): Promise<DatabaseHandle> {
  const secretBox = new SecretBox(randomBytes(32));
  if (!databaseUrl) return openDatabase({ secretBox });
  const name = `switchboard_bench_${randomBytes(6).toString('hex')}`;
  const admin = postgres(databaseUrl, { max: 1, onnotice: () => {} });
  try {
    await admin.unsafe(`create database ${name}`);
    const url = new URL(databaseUrl);
    url.pathname = `/${name}`;
    const handle = await openDatabase({ databaseUrl: url.toString(), secretBox });
    return {
      ...handle,
      close: async () => {
        await handle.close();
        await admin.unsafe(`drop database if exists ${name} with (force)`);
        await admin.end();
      },
    };
  } catch (error) {
    await admin.unsafe(`drop database if exists ${name} with (force)`).catch(() => {});
    await admin.end();
    throw error;
  }
}

/** The `mcp_servers` row of the bench server. */
function serverRow(userId: number, target: BareTarget): NewMcpServerRow {
  return target.transport === 'stdio'
    ? {
        userId,
        name: 'bench',
        transport: 'stdio',
        command: target.command,
        args: target.args,
        timeoutMs: 30_000,
      }
    : { userId, name: 'bench', transport: 'streamable-http', url: target.url, timeoutMs: 30_000 };
}

/**
 * A `RunContext` stand-in with what the toolset reads of it (`filler`, `session`); a call that
 * ran past the filler delay would reach them, and a bench call never should.
 */
const RUN_CONTEXT: FillerContext = {
  filler: () => Promise.reject(new Error('a bench call ran past the filler delay')),
  get session(): never {
    throw new Error('a bench call ran past the filler delay');
  },
};

/**
 * Stores the server for a new user in a fresh database, loads that user's session tools with
 * `loadUserToolsets` (the permissive guards `{}`: no sandbox, any command and address, as the
 * bare client has) and returns the tool `toolName`.
 *
 * @throws Error when the server cannot be reached or has no such tool (everything opened is
 *   closed first).
 */
export async function createBenchTool(options: BenchToolOptions): Promise<BenchTool> {
  const logger = options.logger ?? productionLogger();
  const database = await openBenchDatabase(options.databaseUrl);
  let tools: UserToolsets | undefined;
  try {
    const [user] = await database.db
      .insert(users)
      .values({ name: 'Bench', email: `bench-${randomBytes(4).toString('hex')}@bench.local` })
      .returning();
    const userId = user!.id;
    await createServer(database, serverRow(userId, options.target));
    tools = await loadUserToolsets({
      db: database.db,
      secrets: database.secrets,
      userId,
      logger,
      roomName: 'bench-room',
      sessionId: 'bench-session',
      fillerAfterMs: DEFAULT_FILLER_AFTER_MS,
      startDeadlineMs: 30_000,
      guards: {},
    });
    const [toolset] = tools.toolsets;
    if (!toolset || toolset.connection.status !== 'connected') {
      const reason = tools.unavailable[0]?.error ?? 'not connected';
      throw new Error(`bench server unreachable: ${reason}`);
    }
    const name = toolset.advertisedTools.find(
      (tool) => tool.originalName === options.toolName,
    )?.name;
    const tool = toolset.tools.find(
      (entry): entry is llm.FunctionTool => llm.isFunctionTool(entry) && entry.name === name,
    );
    if (!name || !tool) throw new Error(`the bench server has no ${options.toolName} tool`);
    const { connection } = toolset;
    const session = tools;
    let callId = 0;
    return {
      name,
      call: (args, abortSignal) =>
        tool.execute(args, {
          ctx: RUN_CONTEXT as never,
          toolCallId: `bench-${++callId}`,
          abortSignal,
        }),
      bareCall: async (args) => {
        const client = connection.sdkClient;
        if (!client) throw new Error('the bench connection is down');
        const result = await client.callTool({ name: options.toolName, arguments: args });
        const first = (result as CallToolResult).content[0];
        return first?.type === 'text' ? first.text : undefined;
      },
      flushRecords: () => toolset.flushRecords(),
      recordedCalls: async () => {
        const [row] = await database.db.select({ rows: count() }).from(toolCalls);
        return row?.rows ?? 0;
      },
      close: async () => {
        await session.close();
        await database.close();
      },
    };
  } catch (error) {
    await tools?.close();
    await database.close();
    throw error;
  }
}
