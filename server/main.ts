/**
 * `npm start`: validates the settings, opens the database (Postgres when `DATABASE_URL` is set,
 * otherwise embedded PGlite under `DATA_DIR`), creates the admin and demo servers on first
 * start, starts the status monitor, listens, and, when LiveKit is configured, runs the agent
 * worker as a child process.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { Gauge, Registry } from 'prom-client';
import { fileURLToPath } from 'node:url';
import { DATA_DIR_LOCK_FILE, DataDirLockedError } from '../shared/db/data-dir-lock.js';
import { openDatabase, type DatabaseHandle } from '../shared/db/open.js';
import { createLogger } from '../shared/logger.js';
import { SecretError, secretBoxFromSettings, type SecretBox } from '../shared/secrets.js';
import { StdioProcessLimiter } from '../shared/mcp/stdio-process-limiter.js';
import {
  SettingsError,
  connectionGuards,
  SANDBOX_OFF_WARNING,
  stdioSandbox,
  healthPolicy,
  livekitConfigured,
  loadSettings,
  publicUrlOf,
  type Settings,
} from '../shared/settings.js';
import { createApp } from './app.js';
import { dashboardBundle } from './dashboard/build.js';
import { bootstrap } from './accounts/bootstrap.js';
import { TokenCache } from './http/token-cache.js';
import { FailedAuthLimiter } from './http/failed-auth-limiter.js';
import { TokenRevocationWatcher } from './http/token-revocation-watcher.js';
import { ApiMetrics, ToolCallMetrics } from './status/metrics.js';
import { StatusMonitor } from './status/monitor.js';
import { MonitorLeases } from './status/leases.js';
import { migrateRateLimitSchema, PostgresRateLimitStore } from './http/shared-rate-limit.js';
import { attachStatusStream } from './status/stream.js';
import { statusSnapshotFor } from './status/snapshot.js';
import { ServerPageCache } from './servers/page-cache.js';
import { Gateway, gatewayAuthenticator } from './gateway/gateway.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

function readSettings(): Settings {
  try {
    return loadSettings();
  } catch (error) {
    if (error instanceof SettingsError) {
      process.stderr.write(`${error.message}\nSee .env.example for every setting.\n`);
      process.exit(1);
    }
    throw error;
  }
}

const settings = readSettings();
const logger = createLogger({ level: settings.LOG_LEVEL, name: 'switchboard' });

function readSecretBox(): SecretBox {
  try {
    return secretBoxFromSettings(settings, {
      onGenerated: (file) =>
        logger.warn(
          { file },
          'SWITCHBOARD_SECRET_KEY is not set: generated a key to seal server secrets with; back ' +
            'it up, and give a worker on another machine the same key as SWITCHBOARD_SECRET_KEY',
        ),
    });
  } catch (error) {
    if (error instanceof SecretError) {
      process.stderr.write(`${error.message}\n`);
      process.exit(1);
    }
    throw error;
  }
}

async function openOrExit(): Promise<DatabaseHandle> {
  try {
    return await openDatabase({
      databaseUrl: settings.DATABASE_URL,
      pgliteDir: path.join(settings.dataDir, 'pglite'),
      lockFile: path.join(settings.dataDir, DATA_DIR_LOCK_FILE),
      secretBox: readSecretBox(),
    });
  } catch (error) {
    if (error instanceof DataDirLockedError) {
      process.stderr.write(`${error.message}\n`);
      process.exit(1);
    }
    throw error;
  }
}

const database = await openOrExit();
logger.info(
  { database: database.kind, dataDir: database.kind === 'pglite' ? settings.dataDir : undefined },
  'database ready, migrations applied',
);

const boot = await bootstrap(database, {
  adminEmail: settings.ADMIN_EMAIL,
  adminToken: settings.ADMIN_TOKEN,
  seedDemoServers: settings.SEED_DEMO_SERVERS,
  dataDir: settings.dataDir,
});
if (boot.created) {
  logger.info(
    { adminId: boot.admin.id, email: boot.admin.email, demoServers: boot.demoServers },
    'first start: admin created',
  );
}
if (boot.generatedToken) {
  // Printed once, straight to the terminal and not through the logger, which never logs secrets.
  process.stdout.write(
    `\n  Admin API token (shown once, store it now):\n\n    ${boot.generatedToken}\n\n` +
      `  Set ADMIN_TOKEN to choose your own instead.\n\n`,
  );
}

// The one cap on this process's stdio MCP servers (monitor and "test" probes), in all and per
// user, whose process groups are killed if the process exits without closing them.
const stdioLimiter = new StdioProcessLimiter({
  maxProcesses: settings.MCP_MAX_STDIO_PROCESSES,
  maxProcessesPerUser: settings.MCP_MAX_STDIO_PROCESSES_PER_USER,
});
stdioLimiter.killOnExit(process);

// The sandbox every stdio server of this process runs in; bwrap is checked when the first starts,
// so the API starts on a machine without it and those servers report how to install it.
const sandbox = stdioSandbox(settings);
if (!sandbox) logger.warn(SANDBOX_OFF_WARNING);
// The guards of every MCP connection this process makes: the monitor's and the Test button's.
const guards = connectionGuards(settings, { sandbox, stdioLimiter });

// API replicas on one database divide the servers to watch through leases (status/leases.ts);
// the monitor watches the servers this process holds. It is the watcher the routes tell.
const leases = new MonitorLeases({
  db: database.db,
  listen: database.listen,
  logger,
  leaseMs: settings.MONITOR_LEASE_MS,
});
const monitor = new StatusMonitor({
  db: database.db,
  secrets: database.secrets,
  logger,
  policy: healthPolicy(settings),
  guards,
  watches: leases.holds,
});

/**
 * On Postgres, the rate limits count in the database, shared by every API replica; on PGlite (one
 * process), or when the `rate_limit` schema cannot be created, in this process's memory.
 */
async function sharedRateLimitStores(): Promise<
  { requests: PostgresRateLimitStore; authFailures: PostgresRateLimitStore } | undefined
> {
  if (database.kind !== 'postgres' || !settings.DATABASE_URL) return undefined;
  if (settings.API_RATE_LIMIT_PER_MINUTE === 0) return undefined;
  try {
    await migrateRateLimitSchema(settings.DATABASE_URL);
  } catch (error) {
    logger.error(
      { err: error },
      'the rate_limit schema cannot be created: rate limits count per process, not across replicas',
    );
    return undefined;
  }
  const store = (prefix: string, batchMs: number) =>
    new PostgresRateLimitStore({ databaseUrl: settings.DATABASE_URL!, prefix, logger, batchMs });
  // Every request counts, status polls included: counted in memory and sent every 100 ms (one
  // round trip per key, not per request). Failures are rare and exact.
  return { requests: store('api-requests', 100), authFailures: store('auth-failures', 0) };
}
const rateLimitStores = await sharedRateLimitStores();

// The services the app and the status stream share, each built once here (`createApp` builds
// none of them): the status snapshot, the token cache and the failed-authentication limiter.

/** What `/api/status` checks besides the database and MCP servers. */
const externalChecks = {
  livekit: {
    url: settings.LIVEKIT_URL,
    apiKey: settings.LIVEKIT_API_KEY,
    apiSecret: settings.LIVEKIT_API_SECRET,
  },
  openai: {
    apiKey: settings.OPENAI_API_KEY,
    baseUrl: settings.OPENAI_BASE_URL,
    realtimeModel: settings.OPENAI_REALTIME_MODEL,
  },
  statusCheckTimeoutMs: settings.STATUS_CHECK_TIMEOUT_MS,
  statusCacheMs: settings.STATUS_CACHE_MS,
};

const statusSnapshot = statusSnapshotFor({
  database,
  logger,
  watcher: monitor,
  watches: leases.holds,
  ...externalChecks,
});
const tokenCache = new TokenCache(database.db);
// Revocations made by other API processes: forgotten here (and their streams closed) within 1 s.
const revocations = new TokenRevocationWatcher({ db: database.db, tokens: tokenCache, logger });
revocations.start();
const authFailures =
  settings.API_RATE_LIMIT_PER_MINUTE > 0
    ? new FailedAuthLimiter({
        limit: settings.API_RATE_LIMIT_PER_MINUTE,
        store: rateLimitStores?.authFailures,
      })
    : undefined;
const metrics = new ApiMetrics({
  registry: new Registry(),
  connectionStates: () => statusSnapshot.countsByStatus(),
});
metrics.watch(monitor);
new Gauge({
  name: 'switchboard_monitor_watched_servers',
  help:
    'Active servers whose lease this API replica holds and whose status it watches; summed over ' +
    'the replicas, every active server once.',
  registers: [metrics.registry],
  collect() {
    this.set(leases.held.length);
  },
});
// Server lists kept until a server changes (this process's writes at once, others' via LISTEN).
const serverPages = new ServerPageCache({ database, logger });
await serverPages.start();
// Switchboard as an MCP server at /mcp (issue 15).
const gateway = new Gateway({
  database,
  logger,
  guards,
  publicUrl: publicUrlOf(settings),
  authenticate: gatewayAuthenticator(database.db),
  allowedHosts: settings.GATEWAY_ALLOWED_HOSTS,
  allowedOrigins: settings.CORS_ORIGINS,
  maxSessions: settings.GATEWAY_MAX_SESSIONS,
  maxSessionsPerUser: settings.GATEWAY_MAX_SESSIONS_PER_USER,
  sessionIdleMs: settings.GATEWAY_SESSION_IDLE_MS,
  policy: healthPolicy(settings),
});
const toolCallMetrics = new ToolCallMetrics({ db: database.db, metrics, logger });

const app = createApp({
  database,
  logger,
  watcher: leases,
  statusSnapshot,
  rateLimitStore: rateLimitStores?.requests,
  tokenCache,
  authFailures,
  serverPages,
  gateway,
  metrics,
  livekit: externalChecks.livekit,
  guards,
  bodyLimit: settings.API_BODY_LIMIT,
  rateLimitPerMinute: settings.API_RATE_LIMIT_PER_MINUTE,
  corsOrigins: settings.CORS_ORIGINS,
  publicUrl: publicUrlOf(settings),
  widgetFrameAncestors: settings.WIDGET_FRAME_ANCESTORS,
  agentName: settings.AGENT_NAME,
});

const server = app.listen(settings.PORT, settings.HOST, () => {
  const url = `http://${settings.HOST}:${settings.PORT}`;
  logger.info({ url, dashboard: `${url}/dashboard/` }, 'switchboard API listening');
});
server.on('error', (error) => {
  logger.fatal({ err: error }, 'the API cannot listen');
  process.exit(1);
});
const statusStream = attachStatusStream(server, {
  snapshot: statusSnapshot,
  tokens: tokenCache,
  logger,
  authFailures,
});
void statusSnapshot.start();
// The dashboard's scripts are built in memory (server/dashboard/build.ts); building now means the
// first page load does not wait, and a source that does not build is said at once.
void dashboardBundle().catch((error: unknown) => {
  logger.error({ err: error }, 'the dashboard does not build; the API works without it');
});
void toolCallMetrics.start().catch((error: unknown) => {
  logger.warn({ err: error }, 'tool call metrics cannot read tool_calls yet');
});

void leases.start(monitor).catch((error: unknown) => {
  logger.error({ err: error }, 'status monitor failed to start');
});

let worker: ChildProcess | undefined;
if (!livekitConfigured(settings)) {
  logger.info(
    'voice agent worker is off: set LIVEKIT_URL, LIVEKIT_API_KEY and LIVEKIT_API_SECRET ' +
      '(and OPENAI_API_KEY) to run it',
  );
} else if (!settings.OPENAI_API_KEY) {
  logger.warn('voice agent worker is off: set OPENAI_API_KEY for its realtime model');
} else if (database.kind === 'pglite') {
  logger.warn(
    'voice agent worker is off: its job processes need a database they can share with the API. ' +
      'Set DATABASE_URL to a Postgres database (the embedded PGlite serves one process only)',
  );
} else {
  worker = spawn(
    process.execPath,
    ['--import', 'tsx', path.join(ROOT, 'agent', 'main.ts'), 'start'],
    {
      cwd: ROOT,
      stdio: 'inherit',
      // An absolute DATA_DIR, so the worker finds the API's generated secret key file.
      env: { ...process.env, DATA_DIR: settings.dataDir },
    },
  );
  logger.info({ pid: worker.pid, agentName: settings.AGENT_NAME }, 'voice agent worker started');
  worker.on('exit', (code, signal) => {
    if (!shuttingDown) logger.error({ code, signal }, 'voice agent worker exited');
  });
}

let shuttingDown = false;
async function shutdown(signal: string): Promise<void> {
  if (shuttingDown) return;
  shuttingDown = true;
  logger.info({ signal }, 'shutting down');
  const workerExited =
    worker && worker.exitCode === null && worker.signalCode === null
      ? new Promise((resolve) => worker!.once('exit', resolve))
      : Promise.resolve();
  worker?.kill('SIGTERM');
  // Stop accepting; in-flight requests finish (server.close waits for them), idle keep-alive
  // connections are closed, and status stream clients are told the server is going away.
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  server.closeIdleConnections();
  // A connection still busy after 10 s (a stuck client) must not hold the exit.
  const force = setTimeout(() => server.closeAllConnections(), 10_000);
  await statusStream.close();
  // Gateway sessions' event streams would hold the server open: closed with their sessions.
  await gateway.close();
  await closed;
  clearTimeout(force);
  statusSnapshot.stop();
  await serverPages.stop();
  revocations.stop();
  await authFailures?.close();
  await rateLimitStores?.requests.shutdown();
  await toolCallMetrics.stop();
  // Closes the watched servers and lets go of their leases, for the other replicas to take.
  await leases.stop();
  await workerExited;
  await database.close();
  logger.info('shut down cleanly');
  process.exit(0);
}
process.on('SIGTERM', () => void shutdown('SIGTERM'));
process.on('SIGINT', () => void shutdown('SIGINT'));
