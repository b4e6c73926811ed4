/**
 * The database of one agent job process: the shared opener (`shared/db/open.ts`) on the
 * Postgres database at `DATABASE_URL`, which the worker shares with the API. (The worker never
 * uses embedded PGlite: each job runs in its own process, and PGlite serves one process only.)
 * Server secrets are opened with the API's key: `SWITCHBOARD_SECRET_KEY`, or the key file the
 * API generated in `DATA_DIR` when the worker shares its disk; the worker never generates one.
 */
import { openDatabase, type DatabaseHandle } from '../shared/db/open.js';
import type { Logger } from '../shared/logger.js';
import { describeError } from '../shared/errors.js';
import { secretBoxFromSettings, type SecretKeySettings } from '../shared/secrets.js';
import type { Settings } from '../shared/settings.js';

/** Postgres connections one job process may hold: it runs one session. */
const SESSION_POOL_SIZE = 2;

/**
 * Seconds an idle connection of a session's pool stays open. A session reads its configuration
 * at start and when it changes, and (without a worker hub) writes its audit batches; between
 * those it holds no connection, so a database serves many more sessions than its
 * `max_connections` (`docs/scale.md`).
 */
export const SESSION_IDLE_TIMEOUT_SECONDS = 1;

/** Raised when the session's database cannot be opened; `message` says what to do. */
export class SessionDatabaseError extends Error {
  override readonly name = 'SessionDatabaseError';
}

/**
 * Opens the database for one session.
 *
 * @param settings `DATABASE_URL`, a postgres:// URL (required; `loadWorkerSettings` checks it),
 *   and the secret key settings (`SWITCHBOARD_SECRET_KEY`, `SWITCHBOARD_PREVIOUS_SECRET_KEYS`,
 *   `DATA_DIR`), see `secretBoxFromSettings`.
 * @param logger where a failure is logged.
 * @param open the opener; default `openDatabase` (tests may pass another).
 * @returns an open handle; the caller closes it when the session ends.
 * @throws SessionDatabaseError when `DATABASE_URL` is unset, no secret key is available, or the
 *   database cannot be opened; its `cause` is the underlying error.
 */
export async function openSessionDatabase(
  settings: Pick<Settings, 'DATABASE_URL'> & SecretKeySettings,
  logger: Logger,
  open: typeof openDatabase = openDatabase,
): Promise<DatabaseHandle> {
  if (!settings.DATABASE_URL) {
    throw new SessionDatabaseError(
      'DATABASE_URL is not set: the worker needs a Postgres database shared with the API',
    );
  }
  let secretBox;
  try {
    secretBox = secretBoxFromSettings(settings, { generate: false });
  } catch (error) {
    throw new SessionDatabaseError(describeError(error), { cause: error });
  }
  try {
    return await open({
      databaseUrl: settings.DATABASE_URL,
      maxConnections: SESSION_POOL_SIZE,
      idleTimeoutSeconds: SESSION_IDLE_TIMEOUT_SECONDS,
      secretBox,
    });
  } catch (error) {
    const failure = new SessionDatabaseError(
      `Could not open the Postgres database at DATABASE_URL: ${describeError(error)}`,
      { cause: error },
    );
    logger.error({ err: failure }, 'session database unavailable');
    throw failure;
  }
}

/**
 * Opens the session's database in the job process's `prewarm` (LiveKit docs, "Worker options ›
 * prewarm"), before any job arrives: the schema is checked (migrations applied) while the process
 * is idle, so a session starts without that work. The pool's connection is let go after
 * {@link SESSION_IDLE_TIMEOUT_SECONDS} idle, so an idle job process holds none.
 * A job process runs one job, which closes the handle when it ends.
 *
 * @param settings as for {@link openSessionDatabase}.
 * @param logger where a prewarm failure is logged (the session retries the open and reports it).
 * @param open the opener; default `openDatabase`.
 * @returns the session's opener: the first call hands over the prewarmed handle; when the
 *   prewarm failed, or on any later call, it opens anew with {@link openSessionDatabase}. Never
 *   rejects itself; the opener rejects as `openSessionDatabase` does.
 */
export async function prewarmSessionDatabase(
  settings: Pick<Settings, 'DATABASE_URL'> & SecretKeySettings,
  logger: Logger,
  open: typeof openDatabase = openDatabase,
): Promise<() => Promise<DatabaseHandle>> {
  let prewarmed: DatabaseHandle | undefined;
  try {
    prewarmed = await openSessionDatabase(settings, logger, open);
  } catch (error) {
    logger.warn({ err: error }, 'database not prewarmed; the session will open it');
  }
  return async () => {
    const handle = prewarmed;
    prewarmed = undefined;
    return handle ?? openSessionDatabase(settings, logger, open);
  };
}
