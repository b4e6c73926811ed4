/**
 * The settings the worker runs with: the shared settings (`shared/settings.ts`) plus what only
 * the worker needs, validated once at start-up (DESIGN §7.5), every missing or malformed one
 * named in one error so a first run is fixed in one go rather than one variable per crash.
 *
 * The LiveKit CLI of agents-js (`cli.runApp`) also takes the LiveKit URL, key and secret as flags
 * (`--url`, `--api-key`, `--api-secret`, before or after the command); a flag counts as the
 * setting, and wins over the environment, as it does in agents-js.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { keyFilePath } from '../shared/secrets.js';
import {
  LIVEKIT_URL_RULE,
  SettingsError,
  loadSettings,
  type Settings,
} from '../shared/settings.js';

/** The agents-js CLI flags that stand for a LiveKit setting, and the setting each one sets. */
const LIVEKIT_FLAGS = {
  '--url': 'LIVEKIT_URL',
  '--api-key': 'LIVEKIT_API_KEY',
  '--api-secret': 'LIVEKIT_API_SECRET',
} as const;

/** The global agents-js flags that take a value (so the value is not taken for the command). */
const VALUE_FLAGS = new Set<string>([...Object.keys(LIVEKIT_FLAGS), '--worker-token']);

/** The agents-js commands that connect to a LiveKit server (and so need its settings). */
export const LIVEKIT_COMMANDS: readonly string[] = ['start', 'dev', 'connect'];

/** What each LiveKit setting is, for the error naming it missing. */
const LIVEKIT_REQUIRED: Record<(typeof LIVEKIT_FLAGS)[keyof typeof LIVEKIT_FLAGS], string> = {
  LIVEKIT_URL: `required by the agent worker (or --url); ${LIVEKIT_URL_RULE}`,
  LIVEKIT_API_KEY:
    'required by the agent worker (or --api-key): the API key of the LiveKit project or ' +
    'server (`devkey` for `livekit-server --dev`)',
  LIVEKIT_API_SECRET:
    'required by the agent worker (or --api-secret): the API secret paired with ' +
    'LIVEKIT_API_KEY (`secret` for `livekit-server --dev`)',
};

/**
 * The LiveKit settings given as agents-js flags on the command line, as `--url X` or `--url=X`.
 *
 * @param argv the arguments after the script, e.g. `process.argv.slice(2)`
 *   (`['start', '--url', 'wss://x.livekit.cloud']`).
 * @returns the settings the flags give (`{ LIVEKIT_URL: 'wss://x.livekit.cloud' }`); a flag
 *   given twice keeps its last value, as commander does.
 */
export function livekitFlags(argv: readonly string[]): Partial<Record<string, string>> {
  const found: Partial<Record<string, string>> = {};
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const [flag, inline] = arg.includes('=') ? arg.split(/=(.*)/s, 2) : [arg, undefined];
    const setting = LIVEKIT_FLAGS[flag as keyof typeof LIVEKIT_FLAGS];
    if (!setting) continue;
    const value = inline ?? argv[++i];
    if (value !== undefined) found[setting] = value;
  }
  return found;
}

/**
 * The agents-js command the arguments run: the first argument that is neither a flag nor a
 * global flag's value.
 *
 * @param argv the arguments after the script, e.g. `['--url', 'ws://h:7880', 'start']`.
 * @returns the command (`'start'`), or undefined when there is none (agents-js prints its help).
 */
export function workerCommand(argv: readonly string[]): string | undefined {
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (VALUE_FLAGS.has(arg)) i++;
    else if (!arg.startsWith('-')) return arg;
  }
  return undefined;
}

/**
 * Reads and validates the worker's settings. On top of the shared rules:
 *
 * - `LIVEKIT_URL`, `LIVEKIT_API_KEY` and `LIVEKIT_API_SECRET` are required (there is no silent
 *   default of `ws://localhost:7880`), from the environment or the flags `--url`, `--api-key`,
 *   `--api-secret` in `argv`; the URL must be ws://, wss://, http:// or https:// with a host.
 *   Job processes, which agents-js hands the server and credentials itself, pass
 *   `livekit: false`.
 * - `OPENAI_API_KEY` is required (the realtime model cannot start a session without it);
 *   `OPENAI_BASE_URL`, when set, must be an http(s) URL (the shared rule).
 * - `DATABASE_URL` is required: every job runs in its own process, and embedded PGlite serves one
 *   process only (two processes opening its folder would corrupt it), so the worker shares a
 *   Postgres database with the API.
 * - The worker opens the secrets the API sealed, so it needs the API's key:
 *   `SWITCHBOARD_SECRET_KEY`, or, when it shares the API's disk (as the worker `npm start` runs
 *   does), the key file the API generated at `<DATA_DIR>/secret.key`.
 *
 * @param env the environment; default `process.env`.
 * @param options.argv the command-line arguments after the script (e.g.
 *   `process.argv.slice(2)`), whose LiveKit flags count as settings; default none.
 * @param options.livekit whether the LiveKit settings are required; default true.
 * @returns the settings, with the LiveKit flags of `argv` in place of the environment's values.
 * @throws SettingsError naming every failing field, one per line, and what each must be.
 */
export function loadWorkerSettings(
  env: NodeJS.ProcessEnv = process.env,
  options: { argv?: readonly string[]; livekit?: boolean } = {},
): Settings {
  const requireLivekit = options.livekit ?? true;
  const merged: NodeJS.ProcessEnv = { ...env, ...livekitFlags(options.argv ?? []) };
  let settings: Settings | undefined;
  const problems: string[] = [];
  try {
    settings = loadSettings(merged);
  } catch (error) {
    if (!(error instanceof SettingsError)) throw error;
    problems.push(...error.message.split('\n').slice(1));
  }
  if (requireLivekit) {
    for (const [name, what] of Object.entries(LIVEKIT_REQUIRED)) {
      if (!merged[name]?.trim()) problems.push(`  ${name}: ${what}`);
    }
  }
  if (!merged.OPENAI_API_KEY?.trim()) {
    problems.push('  OPENAI_API_KEY: required by the agent worker (the OpenAI Realtime API key)');
  }
  if (!merged.DATABASE_URL?.trim()) {
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
