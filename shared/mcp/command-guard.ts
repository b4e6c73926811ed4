/**
 * Which commands a stdio MCP server may run (`MCP_STDIO_ALLOWED_COMMANDS`): a stdio server starts
 * a process on the machine of whoever connects it, so only listed commands may start. An entry
 * matches the command's base name (`node` matches `node` and `/usr/bin/node`) or, when the entry
 * is a path, the command's full path exactly.
 */
import path from 'node:path';

/** Default of `MCP_STDIO_ALLOWED_COMMANDS`. */
export const DEFAULT_STDIO_ALLOWED_COMMANDS: readonly string[] = ['node', 'npx', 'uvx', 'python3'];

/** A stdio command that is not on the allow list; `message` names the list. */
export class CommandRefusedError extends Error {
  override readonly name = 'CommandRefusedError';
}

/**
 * True when `command` may run under `allowed`.
 *
 * @param command the stdio server's `command` as configured (a name or a path).
 * @param allowed the allow list: base names (`node`) or full paths (`/opt/bin/server`).
 */
export function commandAllowed(command: string, allowed: readonly string[]): boolean {
  const trimmed = command.trim();
  if (!trimmed) return false;
  // Both separators: a Windows-style path must not pass as a base name on POSIX.
  const base = trimmed.split(/[\\/]/).pop() ?? trimmed;
  return allowed.some((entry) => {
    const wanted = entry.trim();
    if (!wanted) return false;
    if (/[\\/]/.test(wanted)) return path.resolve(wanted) === path.resolve(trimmed);
    return wanted === base;
  });
}

/** Why `command` may not run: a sentence naming the allow list. */
export function commandRefusal(command: string, allowed: readonly string[]): string {
  const list = allowed.length > 0 ? allowed.join(', ') : '(empty)';
  return `command ${JSON.stringify(command)} is not allowed: stdio commands must be on MCP_STDIO_ALLOWED_COMMANDS (${list})`;
}

/**
 * @throws CommandRefusedError when `command` is not on `allowed`.
 */
export function assertCommandAllowed(command: string, allowed: readonly string[]): void {
  if (!commandAllowed(command, allowed)) {
    throw new CommandRefusedError(commandRefusal(command, allowed));
  }
}
