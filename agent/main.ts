/**
 * The LiveKit worker entry (`npm run agent` / `npm run agent:dev`), in the agents-js style:
 * default-exports `defineAgent({ prewarm, entry })` and hands this file to `cli.runApp`, which
 * starts the worker and re-imports this file in each job process (LiveKit docs, "Worker
 * options"). The worker registers as `AGENT_NAME` (default `switchboard`), so it only receives
 * explicit dispatches. What a session does lives in `run-session.ts`.
 *
 * Before agents-js runs, the command-line process validates every setting at once (LiveKit
 * included, from the environment or `--url`/`--api-key`/`--api-secret`) and checks within 15 s
 * that `LIVEKIT_URL` answers, is a LiveKit server and accepts the key and secret
 * (`livekit-server-check.ts`), so a wrong setting fails at once and by name rather than after
 * agents-js's 85 s of retries. Job processes skip both: agents-js hands them the server and
 * credentials. The command-line process then starts the worker's hub (`worker-hub.ts`), through
 * which every job's session listens for server changes and writes its audit rows.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ServerOptions, cli, defineAgent, type JobContext, type JobProcess } from '@livekit/agents';
import { createLogger, type Logger } from '../shared/logger.js';
import { StdioProcessLimiter } from '../shared/mcp/stdio-process-limiter.js';
import type { ConnectionGuards } from '../shared/mcp/connection-guards.js';
import {
  SANDBOX_OFF_WARNING,
  SettingsError,
  connectionGuards,
  stdioSandbox,
  type Settings,
} from '../shared/settings.js';
import type { DatabaseHandle } from '../shared/db/open.js';
import { describeError } from '../shared/errors.js';
import { runSession } from './run-session.js';
import { startWorkerHub } from './worker-hub.js';
import { prewarmSessionDatabase } from './session-database.js';
import { LivekitUnreachableError } from './livekit-reachability.js';
import { LivekitApiCheckError, checkLivekitServer } from './livekit-server-check.js';
import { LIVEKIT_COMMANDS, loadWorkerSettings, workerCommand } from './worker-settings.js';

/** What `prewarm` prepares once per job process for every job it runs. */
interface ProcessData {
  settings: Settings;
  logger: Logger;
  /**
   * The guards of this job process's MCP connections, with its sandbox (none when
   * `MCP_STDIO_SANDBOX=off`) and its cap on stdio servers (killed if the process exits unclosed).
   */
  guards: ConnectionGuards;
  /** The session's database, opened (schema checked) while the process idles. */
  openDatabase: () => Promise<DatabaseHandle>;
}

const thisFile = fileURLToPath(import.meta.url);
/** The arguments after the script in the command-line process; undefined in a job process. */
const cliArgs =
  process.argv[1] && path.resolve(process.argv[1]) === thisFile ? process.argv.slice(2) : undefined;
/** True in the command-line process of a command that connects to LiveKit (`start`, …). */
const connectsToLivekit =
  cliArgs !== undefined && LIVEKIT_COMMANDS.includes(workerCommand(cliArgs) ?? '');

function loadSettingsOrExit(): Settings {
  try {
    return loadWorkerSettings(process.env, { argv: cliArgs, livekit: connectsToLivekit });
  } catch (error) {
    if (!(error instanceof SettingsError)) throw error;
    console.error(error.message);
    process.exit(1);
  }
}

// Validated once per process (the CLI process and each job process import this file).
const settings = loadSettingsOrExit();

if (connectsToLivekit) {
  try {
    await checkLivekitServer({
      url: settings.LIVEKIT_URL!,
      apiKey: settings.LIVEKIT_API_KEY!,
      apiSecret: settings.LIVEKIT_API_SECRET!,
    });
  } catch (error) {
    if (!(error instanceof LivekitUnreachableError || error instanceof LivekitApiCheckError)) {
      throw error;
    }
    console.error(error.message);
    process.exit(1);
  }
  // One LISTEN connection and one small pool for all of this worker's sessions (worker-hub.ts).
  try {
    await startWorkerHub(settings, createLogger({ name: 'agent', level: settings.LOG_LEVEL }));
  } catch (error) {
    console.error(`Could not start the worker's database hub: ${describeError(error)}`);
    process.exit(1);
  }
}

export default defineAgent<ProcessData>({
  prewarm: async (proc: JobProcess<ProcessData>) => {
    const logger = createLogger({ name: 'agent', level: settings.LOG_LEVEL });
    proc.userData.settings = settings;
    proc.userData.logger = logger;
    const stdioLimiter = new StdioProcessLimiter({
      maxProcesses: settings.MCP_MAX_STDIO_PROCESSES,
      freeing: 'End a voice session on this worker',
    });
    stdioLimiter.killOnExit(process);
    const sandbox = stdioSandbox(settings);
    if (!sandbox) logger.warn(SANDBOX_OFF_WARNING);
    proc.userData.guards = connectionGuards(settings, { sandbox, stdioLimiter });
    proc.userData.openDatabase = await prewarmSessionDatabase(settings, logger);
  },
  entry: async (ctx: JobContext<ProcessData>) => {
    const { logger, guards, openDatabase } = ctx.proc.userData;
    try {
      await runSession(ctx, {
        settings: ctx.proc.userData.settings,
        logger,
        guards,
        openDatabase,
      });
    } catch (error) {
      logger.error({ err: error, jobId: ctx.job.id }, 'session could not start');
      ctx.shutdown(error instanceof Error ? error.message : String(error));
    }
  },
});

cli.runApp(new ServerOptions({ agent: thisFile, agentName: settings.AGENT_NAME }));
