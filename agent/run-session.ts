/**
 * What one job does (DESIGN §2): connect to the room, resolve the user, open the database, build
 * the user's toolsets, start a `voice.AgentSession` on the OpenAI realtime model (or the
 * STT-LLM-TTS pipeline when realtime is down, see `agent/model.ts`) and greet. The tools reach
 * the agent through the session's tool budget (`AGENT_MAX_TOOLS`, `agent/tool-budget.ts`).
 * Everything it opens is closed by a job shutdown callback (LiveKit docs, "Job lifecycle ›
 * Shutdown hooks"), so no MCP child process outlives its session (DESIGN §6, §8).
 */
import { llm, voice } from '@livekit/agents';
import type { Room } from '@livekit/rtc-node';
import { eq } from 'drizzle-orm';
import type { DatabaseHandle } from '../shared/db/open.js';
import { users } from '../shared/db/schema.js';
import { listServers } from '../shared/db/servers.js';
import type { Logger } from '../shared/logger.js';
import { StdioProcessLimiter } from '../shared/mcp/stdio-process-limiter.js';
import { participantIdentity } from '../shared/livekit-identity.js';
import type { ConnectionGuards } from '../shared/mcp/connection-guards.js';
import {
  connectionGuards,
  healthPolicy,
  publicUrlOf,
  stdioSandbox,
  type Settings,
} from '../shared/settings.js';
import { watchServerChanges } from './live-config.js';
import { loadUserToolsets, type UserToolsets } from './load-user-toolsets.js';
import { serverFingerprint } from '../shared/db/server-fingerprint.js';
import { accountLinksToolset, LINK_TOPIC } from './account-links.js';
import { RESOURCE_TOPIC, type ShowOnScreen } from './resource-tools.js';
import { chooseSessionModels } from './model.js';
import { ToolBudget } from './tool-budget.js';
import { admitOnlyParticipant, boundInputOptions } from './participant-binding.js';
import { openSessionDatabase } from './session-database.js';
import {
  HubClient,
  hubAddressFromEnv,
  sessionServerReader,
  type HubAddress,
} from './hub-client.js';
import { UserResolutionError, resolveUser, type UserSource } from './user-resolution.js';

/** The parts of LiveKit's `JobContext` a session uses; a `JobContext` fits. */
export interface SessionJobContext extends UserSource {
  /** Joins the room; called first, as LiveKit recommends. */
  connect(): Promise<void>;
  job: { id: string; metadata: string };
  /** The job's room; absent only in tests, where the session runs in text mode. */
  room?: Room;
  addShutdownCallback(callback: () => Promise<void>): void;
}

/** Dependencies of {@link runSession}. */
export interface RunSessionDeps {
  settings: Settings;
  logger: Logger;
  /** Opens the session's database; default {@link openSessionDatabase} with `settings`. */
  openDatabase?: () => Promise<DatabaseHandle>;
  /**
   * Builds the model; default the realtime model, or the STT-LLM-TTS pipeline when the realtime
   * endpoint does not accept a session (`chooseSessionModels` in `agent/model.ts`).
   */
  createModel?: () => llm.LLM | llm.RealtimeModel;
  /**
   * The job process's connection guards, built once per process (`prewarm`) with its sandbox
   * and its cap on stdio processes; default built for this session from the settings
   * (`connectionGuards`, with `stdioSandbox(settings)` and a new `StdioProcessLimiter` of
   * `MCP_MAX_STDIO_PROCESSES`).
   */
  guards?: ConnectionGuards;
  /**
   * The worker's hub (`worker-hub.ts`): live configuration and audit batches go through it, so
   * the session holds no database connection while idle. Default: from `SWITCHBOARD_WORKER_HUB`
   * in the environment (`hubAddressFromEnv`), which `agent/main.ts` sets for its job
   * processes; without it the session listens and writes on its own pool.
   */
  hub?: HubAddress;
  /**
   * Puts a resource on the user's screen; default a reliable data message on
   * `switchboard.resource` to the user's participant in the job's room; none without a room.
   * Tests pass one that captures the messages.
   */
  showOnScreen?: ShowOnScreen;
}

/** A started session and what it holds. */
export interface RunningSession {
  userId: number;
  /**
   * The one participant the session listens to: the user's LiveKit identity, `user-<id>`.
   * Audio, chat text and session requests from anyone else in the room are dropped.
   */
  participantIdentity: string;
  session: voice.AgentSession;
  agent: voice.Agent;
  tools: UserToolsets;
  /** The session's tool budget (`AGENT_MAX_TOOLS`): what is advertised, and `find_tools`. */
  budget: ToolBudget;
  /** The greeting asked for at start (`AGENT_GREETING`); it plays in the background. */
  greeting: voice.SpeechHandle;
  /** Closes every MCP connection, then the database. Also registered as a shutdown callback. */
  close(): Promise<void>;
}

/**
 * Runs the start of one session: connect, resolve the user, open the database, connect the
 * user's MCP servers in parallel (one that cannot be reached is retried, never awaited), start
 * the agent with one toolset per server, bound to the participant the job was dispatched for
 * (identity `user-<id>`, `participant-binding.ts`), and ask for the greeting (`AGENT_GREETING`)
 * without waiting for it.
 *
 * @returns the running session; it ends when LiveKit shuts the job down.
 * @throws UserResolutionError when the session names no user or an unknown one;
 *   SessionDatabaseError when the database cannot be opened; whatever `session.start` throws.
 *   Anything opened before the failure is closed first.
 */
export async function runSession(
  ctx: SessionJobContext,
  deps: RunSessionDeps,
): Promise<RunningSession> {
  const { settings } = deps;
  await ctx.connect();
  const roomName = ctx.room?.name ?? null;
  const logger = deps.logger.child({ room: roomName, jobId: ctx.job.id });

  const { userId, source, userToken } = await resolveUser(ctx);
  logger.info({ userId, source }, 'session user resolved');

  const hubAddress = 'hub' in deps ? deps.hub : hubAddressFromEnv();
  const hub = hubAddress
    ? await HubClient.connect(hubAddress, logger).catch((error: unknown) => {
        // Better a session on its own connections than no session.
        logger.warn({ err: error }, 'worker hub unreachable; the session uses its own connections');
        return undefined;
      })
    : undefined;
  let database: DatabaseHandle;
  try {
    database = await (deps.openDatabase ?? (() => openSessionDatabase(settings, logger)))();
  } catch (error) {
    await hub?.close();
    throw error;
  }
  let tools: UserToolsets | undefined;
  let stopWatching: (() => Promise<void>) | undefined;
  let closing: Promise<void> | undefined;
  const close = () =>
    (closing ??= (async () => {
      // Stop following server changes first, so none adds a connection while we close.
      await stopWatching?.().catch((error: unknown) =>
        logger.warn({ err: error }, 'could not stop listening for server changes'),
      );
      // Closing the tools also writes their buffered tool calls, so the database closes after.
      await tools?.close();
      await hub?.close();
      await database.close();
      logger.info({ userId }, 'session resources closed');
    })());
  ctx.addShutdownCallback(close);

  const identity = participantIdentity(userId);
  /** A reliable data message on `switchboard.link` to the user's participant only. */
  const sendToUser = async (message: object) => {
    await ctx.room?.localParticipant?.publishData(
      new TextEncoder().encode(JSON.stringify(message)),
      { reliable: true, topic: LINK_TOPIC, destination_identities: [identity] },
    );
  };
  try {
    await assertUserExists(database, userId);
    // Started now so the realtime check runs while the MCP servers connect.
    const models = chooseSessionModels({ settings, logger, createModel: deps.createModel });
    const budget = new ToolBudget({ maxTools: settings.AGENT_MAX_TOOLS, logger });
    const identity = participantIdentity(userId);
    const room = ctx.room;
    tools = await loadUserToolsets({
      db: database.db,
      secrets: database.secrets,
      writeToolCalls: hub?.writeToolCalls,
      userId,
      logger,
      roomName,
      sessionId: ctx.job.id,
      policy: healthPolicy(settings),
      maxResultChars: settings.MCP_MAX_RESULT_CHARS,
      // Binary and long resources go to the user's screen only (never to anyone else's).
      showOnScreen:
        deps.showOnScreen ??
        (room
          ? async (message) => {
              const participant = room.localParticipant;
              if (!participant) throw new Error('the agent is not in the room');
              await participant.publishData(new TextEncoder().encode(JSON.stringify(message)), {
                reliable: true,
                topic: RESOURCE_TOPIC,
                destination_identities: [identity],
              });
            }
          : undefined),
      budget,
      fillerAfterMs: settings.AGENT_FILLER_AFTER_MS,
      elicitationTimeoutMs: settings.AGENT_ELICITATION_TIMEOUT_MS,
      sendLink: (message) => sendToUser(message),
      startDeadlineMs: settings.AGENT_TOOLS_DEADLINE_MS,
      guards:
        deps.guards ??
        connectionGuards(settings, {
          sandbox: stdioSandbox(settings),
          stdioLimiter: new StdioProcessLimiter({
            maxProcesses: settings.MCP_MAX_STDIO_PROCESSES,
            freeing: 'End a voice session on this worker',
          }),
        }),
      userToken,
      publicUrl: publicUrlOf(settings),
    });
    logger.info(
      {
        userId,
        serverCount: tools.toolsets.length,
        unavailableCount: tools.unavailable.length,
        pendingCount: tools.pending.length,
        toolCount: tools.toolsets.reduce((sum, t) => sum + t.advertisedTools.length, 0),
      },
      'session tools ready',
    );

    // A user with `oauth` servers gets the tool that sends a sign-in link to their screen.
    const oauthNames = (await listServers(database, userId, { activeOnly: true }))
      .filter((row) => row.auth.type === 'oauth')
      .map((row) => row.name);
    const accountLinks =
      oauthNames.length > 0
        ? accountLinksToolset(
            {
              db: database.db,
              secrets: database.secrets,
              publicUrl: publicUrlOf(settings),
              urlPolicy: connectionGuards(settings).urlPolicy,
              servers: () => listServers(database, userId, { activeOnly: true }),
              send: sendToUser,
              logger,
            },
            oauthNames,
          )
        : undefined;
    const sessionTools = tools;
    // Every list handed to the agent goes through the session's tool budget (AGENT_MAX_TOOLS).
    const agentTools = () =>
      budget.entries(sessionTools.current(), accountLinks ? [accountLinks] : []);
    const agent = new voice.Agent({
      instructions: settings.AGENT_INSTRUCTIONS,
      tools: agentTools(),
    });
    budget.attach(() => agent.updateTools(agentTools()));
    logger.info(
      {
        totalTools: budget.totalTools,
        advertisedTools: budget.advertisedCount(),
        maxTools: budget.maxTools,
      },
      'session tool budget',
    );
    stopWatching = await watchServerChanges({
      userId,
      listen: hub?.listen ?? database.listen,
      readServer: sessionServerReader(database, userId, hub, logger),
      readAllServers: () => listServers(database, userId),
      fingerprintOf: serverFingerprint,
      toolsets: sessionTools,
      // `agentTools()` reads the registry's toolsets again, in turn with the budget's own changes.
      apply: () => budget.readvertise(),
      logger,
    });
    const { llm: model, stt, tts } = await models.build();
    // A pipeline turn keeps the tools it started with: found tools wait for the next turn.
    budget.foundToolsWaitForNextTurn = !(model instanceof llm.RealtimeModel);
    const session = new voice.AgentSession({ llm: model, stt, tts });
    // Tools the model calls are the last the budget drops.
    session.on(voice.AgentSessionEventTypes.FunctionToolsExecuted, (event) =>
      budget.touch(event.functionCalls.map((call) => call.name)),
    );
    if (ctx.room) {
      // Before start: the session registers its stream handlers there.
      admitOnlyParticipant(ctx.room, identity, (refused) =>
        logger.warn(refused, 'ignored a data stream from a participant the session is not for'),
      );
    }
    await session.start({ agent, room: ctx.room, inputOptions: boundInputOptions(identity) });
    const greeting = session.generateReply({ instructions: settings.AGENT_GREETING });
    return {
      userId,
      participantIdentity: identity,
      session,
      agent,
      tools,
      budget,
      greeting,
      close,
    };
  } catch (error) {
    await close();
    throw error;
  }
}

async function assertUserExists(database: DatabaseHandle, userId: number): Promise<void> {
  const [user] = await database.db
    .select({ id: users.id })
    .from(users)
    .where(eq(users.id, userId))
    .limit(1);
  if (!user) throw new UserResolutionError('no_user', `User ${userId} does not exist`);
}
