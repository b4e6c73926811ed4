/**
 * Which commands a stdio MCP server may run (`MCP_STDIO_ALLOWED_COMMANDS`): a stdio server starts
 * a process on the machine of whoever connects it, so only listed programs may start. A command
 * is a program name, looked up in Switchboard's fixed search path (`fixedSearchPath`, never the
 * parent's `PATH`), or an absolute path; it is allowed when the file it resolves to (its real
 * path, symlinks followed) is the file a list entry names:
 *
 * - a name entry (`node`) allows the program of that name as found on the fixed search path, so
 *   `/tmp/evil/node` is refused although its base name is `node`;
 * - a path entry (`/opt/mcp/bin/server`) allows exactly that file.
 *
 * The API checks this when a server is saved and the connection again right before it spawns,
 * with the same search path; the connection spawns the path it resolved.
 */
import { accessSync, constants, realpathSync, statSync } from 'node:fs';
import path from 'node:path';
import { fixedSearchPath } from './stdio-environment.js';

/** Default of `MCP_STDIO_ALLOWED_COMMANDS`. */
export const DEFAULT_STDIO_ALLOWED_COMMANDS: readonly string[] = ['node', 'npx', 'uvx', 'python3'];

/** A stdio command that is not on the allow list; `message` names the list. */
export class CommandRefusedError extends Error {
  override readonly name = 'CommandRefusedError';
}

/**
 * A stdio command that resolves to no executable file. `code` is `ENOENT` and `path` the command,
 * as for a spawn error, so `describeError` says `command not found: <command>`.
 */
export class CommandNotFoundError extends Error {
  override readonly name = 'CommandNotFoundError';
  readonly code = 'ENOENT';
  /**
   * @param path the command as configured.
   * @param searchPath the directories it was looked up in, for the message.
   */
  constructor(
    readonly path: string,
    searchPath: readonly string[],
  ) {
    super(
      path.startsWith('/')
        ? `command not found: ${path} is not an executable file`
        : `command not found: ${path} is not on Switchboard's PATH (${searchPath.join(':')})`,
    );
  }
}

/**
 * Why `command` is not a name or an absolute path, or `undefined` when it is one. A whole command
 * line (`npx -y pkg`) is told to move its arguments to `args`. A relative
 * path (`./node`, `bin/server`) would depend on the working directory, and a backslash has no
 * place in either form on POSIX.
 *
 * @param command the configured command, trimmed.
 */
export function commandFormProblem(command: string): string | undefined {
  // A whole command line in `command` ("npx -y pkg"): the program is spawned without a shell.
  const words = command.trim().split(/\s+/);
  if (words.length > 1 && !command.startsWith('/')) {
    return (
      `command is one program, without its arguments: put the rest in args, e.g. ` +
      `"command": ${JSON.stringify(words[0])}, "args": ${JSON.stringify(words.slice(1))}`
    );
  }
  const isName = !/[\\/]/.test(command) && command !== '.' && command !== '..';
  const isAbsolute = command.startsWith('/') && !command.includes('\\');
  if ((isName || isAbsolute) && !command.includes('\0')) return undefined;
  return "command must be a program name found on Switchboard's PATH (e.g. node) or an absolute path (e.g. /usr/bin/node), not a relative path";
}

/** True when `file` is a regular file (symlinks followed) this process may execute. */
function isExecutableFile(file: string): boolean {
  try {
    if (!statSync(file).isFile()) return false;
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * Where `command` is: an absolute path as it is when it names an executable file, a name as the
 * first executable file of that name in `searchPath` (as `execvp` finds it).
 *
 * @param command a name or an absolute path (see {@link commandFormProblem}).
 * @param searchPath the directories to look a name up in; default `fixedSearchPath()`.
 * @returns the absolute path (not resolved through symlinks, so a multi-call program still sees
 *   the name it was called by), or `undefined` when there is no such executable file, or
 *   `command` has neither form.
 */
export function findCommand(
  command: string,
  searchPath: readonly string[] = fixedSearchPath(),
): string | undefined {
  if (commandFormProblem(command)) return undefined;
  if (command.startsWith('/')) return isExecutableFile(command) ? command : undefined;
  for (const directory of searchPath) {
    const candidate = path.join(directory, command);
    if (isExecutableFile(candidate)) return candidate;
  }
  return undefined;
}

/** The real path of `file`, or its normalized path when it does not exist. */
function realPath(file: string): string {
  try {
    return realpathSync(file);
  } catch {
    return path.resolve(file);
  }
}

/**
 * True when the program at `found` is one `allowed` names (see the module comment).
 *
 * @param found an absolute path, as {@link findCommand} returns it.
 * @param allowed the allow list: names (`node`) or absolute paths (`/opt/bin/server`).
 * @param searchPath where name entries are looked up; default `fixedSearchPath()`.
 */
export function commandAllowed(
  found: string,
  allowed: readonly string[],
  searchPath: readonly string[] = fixedSearchPath(),
): boolean {
  const real = realPath(found);
  return allowed.some((entry) => {
    const wanted = entry.trim();
    if (!wanted) return false;
    if (wanted.includes('/')) return realPath(wanted) === real;
    const named = findCommand(wanted, searchPath);
    return named !== undefined && realPath(named) === real;
  });
}

/**
 * Why `command` may not run: a sentence naming the allow list and, for a path, how name entries
 * match.
 */
export function commandRefusal(command: string, allowed: readonly string[]): string {
  const list = allowed.length > 0 ? allowed.join(', ') : '(empty)';
  const how = command.includes('/')
    ? "; a name on the list allows only the program of that name on Switchboard's PATH, a path allows exactly that file"
    : '';
  return `command ${JSON.stringify(command)} is not allowed: stdio commands must be on MCP_STDIO_ALLOWED_COMMANDS (${list})${how}`;
}

/**
 * Resolves a stdio server's command for spawning: finds it (see {@link findCommand}) and, with an
 * allow list, checks it.
 *
 * @param command the configured command: a name or an absolute path.
 * @param allowed the allow list (`MCP_STDIO_ALLOWED_COMMANDS`); `undefined`: any command.
 * @param searchPath default `fixedSearchPath()`; pass the same one the child gets as `PATH`.
 * @returns the absolute path to spawn.
 * @throws CommandRefusedError when `command` is not a name or an absolute path, or is not on the
 *   list (a missing name that is not on the list is refused too, rather than reported missing).
 * @throws CommandNotFoundError when it names no executable file.
 */
export function resolveStdioCommand(
  command: string,
  allowed: readonly string[] | undefined,
  searchPath: readonly string[] = fixedSearchPath(),
): string {
  const formProblem = commandFormProblem(command);
  if (formProblem) throw new CommandRefusedError(`${formProblem}: ${JSON.stringify(command)}`);
  const found = findCommand(command, searchPath);
  if (!found) {
    if (allowed && !command.includes('/') && !allowed.some((entry) => entry.trim() === command)) {
      throw new CommandRefusedError(commandRefusal(command, allowed));
    }
    throw new CommandNotFoundError(command, searchPath);
  }
  if (allowed && !commandAllowed(found, allowed, searchPath)) {
    throw new CommandRefusedError(commandRefusal(command, allowed));
  }
  return found;
}
