/**
 * The settings the worker runs with: the shared settings (`shared/settings.ts`) plus what only
 * the worker needs, validated once at start-up (DESIGN §7.5).
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { keyFilePath } from '../shared/secrets.js';
import { SettingsError, loadSettings, type Settings } from '../shared/settings.js';

/**
 * Reads and validates the worker's settings. On top of the shared rules, `OPENAI_API_KEY` is
 * required (the realtime model cannot start a session without it) and so is `DATABASE_URL`:
 * every job runs in its own process, and embedded PGlite serves one process only (two processes
 * opening its folder would corrupt it), so the worker shares a Postgres database with the API.
 * The worker opens the secrets the API sealed, so it needs the API's key: `SWITCHBOARD_SECRET_KEY`,
 * or, when it shares the API's disk (as the worker `npm start` runs does), the key file the API
 * generated at `<DATA_DIR>/secret.key`. The LiveKit URL, key and
 * secret are not checked here because the LiveKit CLI also accepts them as flags
 * (`--url`, `--api-key`, `--api-secret`) and reports them itself.
 *
 * @param env the environment; default `process.env`.
 * @throws SettingsError naming every failing field.
 */
export function loadWorkerSettings(env: NodeJS.ProcessEnv = process.env): Settings {
  let settings: Settings | undefined;
  const problems: string[] = [];
  try {
    settings = loadSettings(env);
  } catch (error) {
    if (!(error instanceof SettingsError)) throw error;
    problems.push(...error.message.split('\n').slice(1));
  }
  if (!env.OPENAI_API_KEY?.trim()) {
    problems.push('  OPENAI_API_KEY: required by the agent worker (the OpenAI Realtime API key)');
  }
  if (!env.DATABASE_URL?.trim()) {
    problems.push(
      '  DATABASE_URL: required by the agent worker (a Postgres database shared with the API; ' +
        'embedded PGlite serves one process only)',
    );
  }
  if (
    settings &&
    !settings.SWITCHBOARD_SECRET_KEY &&
    !existsSync(keyFilePath(path.resolve(settings.dataDir)))
  ) {
    problems.push(
      '  SWITCHBOARD_SECRET_KEY: required by the agent worker (the key the API seals server ' +
        `secrets with), unless the API's generated key file ${keyFilePath(settings.dataDir)} is here`,
    );
  }
  if (problems.length > 0 || !settings) {
    throw new SettingsError(`Invalid settings:\n${problems.join('\n')}`);
  }
  return settings;
}
