/**
 * The environment a stdio MCP server process starts with. The worker's own environment holds the
 * LiveKit and OpenAI secrets, the database URL and the sealing key, and a stdio server is a
 * program a user configured: it gets only what a program needs to run (in the spirit of sudo's
 * `env_reset`, as the MCP SDK's `getDefaultEnvironment` does) plus the `env` its configuration
 * sets. Nothing else of the parent's environment reaches it.
 */
import { DEFAULT_INHERITED_ENV_VARS } from '@modelcontextprotocol/sdk/client/stdio.js';

/**
 * Names always copied from the parent when set: the SDK's default list (on POSIX `HOME`, `LOGNAME`,
 * `PATH`, `SHELL`, `TERM`, `USER`; on Windows its system folders) plus the locale and time zone,
 * so a server formats text and dates as the host does.
 */
export const INHERITED_ENV_NAMES: readonly string[] = [
  ...new Set([...DEFAULT_INHERITED_ENV_VARS, 'PATH', 'HOME', 'LANG', 'LANGUAGE', 'LC_ALL', 'TZ']),
];

/** Locale categories (`LC_CTYPE`, `LC_TIME`, ...) are copied too, whatever their name. */
const LOCALE_CATEGORY = /^LC_[A-Z]+$/;

/**
 * Builds a stdio server's environment: the safe variables of `parentEnv` (see
 * {@link INHERITED_ENV_NAMES} and `LC_*`), then `configEnv` on top (a configured value wins, and
 * may set any name, `PATH` included).
 *
 * A parent value that starts with `()` is skipped: it is an exported shell function, which a
 * shell in the child would define (the "Shellshock" class of problems; the SDK skips them too).
 *
 * @param configEnv the server's configured `env`; default none.
 * @param parentEnv the environment to copy the safe variables from; default `process.env`.
 * @returns a new object; neither argument is changed.
 */
export function stdioServerEnvironment(
  configEnv: Readonly<Record<string, string>> = {},
  parentEnv: NodeJS.ProcessEnv = process.env,
): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(parentEnv)) {
    if (value === undefined || value.startsWith('()')) continue;
    if (INHERITED_ENV_NAMES.includes(name) || LOCALE_CATEGORY.test(name)) env[name] = value;
  }
  return { ...env, ...configEnv };
}
