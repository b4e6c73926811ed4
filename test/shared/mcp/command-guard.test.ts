import {
  chmodSync,
  linkSync,
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CommandNotFoundError,
  CommandRefusedError,
  DEFAULT_STDIO_ALLOWED_COMMANDS,
  commandAllowed,
  commandFormProblem,
  findCommand,
  resolveStdioCommand,
} from '../../../shared/mcp/command-guard.js';
import { describeError } from '../../../shared/errors.js';
import { fixedSearchPath } from '../../../shared/mcp/stdio-environment.js';

let scratch: string;
/** A fixed search path of two directories under `scratch`. */
let searchPath: string[];
/** A real node binary outside the search path. */
let strayNode: string;
let serverPath: string;

/** An executable file at `file`, or a plain one with `mode`. */
function program(file: string, mode = 0o755): string {
  writeFileSync(file, '#!/bin/sh\nexit 0\n');
  chmodSync(file, mode);
  return file;
}

beforeAll(() => {
  scratch = mkdtempSync(path.join(os.tmpdir(), 'switchboard-command-guard-'));
  const [first, second, elsewhere] = ['bin1', 'bin2', 'elsewhere'].map((name) => {
    const directory = path.join(scratch, name);
    mkdirSync(directory);
    return directory;
  }) as [string, string, string];
  searchPath = [first, second];
  program(path.join(first, 'notes.txt'), 0o644);
  program(path.join(second, 'notes.txt'));
  serverPath = program(path.join(second, 'server'));
  symlinkSync(serverPath, path.join(first, 'server-alias'));
  program(path.join(elsewhere, 'server'));
  strayNode = path.join(elsewhere, 'node');
  try {
    linkSync(process.execPath, strayNode);
  } catch {
    copyFileSync(process.execPath, strayNode);
  }
});

afterAll(() => {
  rmSync(scratch, { recursive: true, force: true });
});

describe('commandFormProblem', () => {
  it('tells a whole command line to put its arguments in args', () => {
    expect(commandFormProblem('npx -y @modelcontextprotocol/server-memory')).toBe(
      'command is one program, without its arguments: put the rest in args, e.g. "command": "npx", "args": ["-y","@modelcontextprotocol/server-memory"]',
    );
    expect(commandFormProblem('/opt/My Tools/server')).toBeUndefined();
  });

  it('takes a program name or an absolute path, and refuses relative paths', () => {
    for (const ok of ['node', 'mcp-server-fetch', 'python3.11', '/usr/bin/node']) {
      expect(commandFormProblem(ok), ok).toBeUndefined();
    }
    for (const bad of [
      './node',
      'bin/node',
      '../node',
      '.',
      '..',
      'C:\\evil\\node',
      'node\\..\\bash',
    ]) {
      expect(commandFormProblem(bad), bad).toMatch(/not a relative path/);
    }
  });
});

describe('findCommand', () => {
  it('finds a name as the first executable file of that name on the search path', () => {
    // bin1/notes.txt is not executable, so bin2's is the one.
    expect(findCommand('notes.txt', searchPath)).toBe(path.join(searchPath[1]!, 'notes.txt'));
    expect(findCommand('server-alias', searchPath)).toBe(path.join(searchPath[0]!, 'server-alias'));
    expect(findCommand('missing', searchPath)).toBeUndefined();
  });

  it('takes an absolute path as it is when it is an executable file', () => {
    expect(findCommand(strayNode, searchPath)).toBe(strayNode);
    expect(findCommand(path.join(scratch, 'nope'), searchPath)).toBeUndefined();
    expect(findCommand(scratch, searchPath)).toBeUndefined();
  });

  it('finds node on the default search path as the running node', () => {
    expect(fixedSearchPath()[0]).toBe(path.dirname(process.execPath));
    expect(findCommand('node')).toBe(path.join(path.dirname(process.execPath), 'node'));
  });
});

describe('commandAllowed', () => {
  it('allows a name entry only as found on the search path, whatever other file has its base name', () => {
    expect(commandAllowed(serverPath, ['server'], searchPath)).toBe(true);
    expect(commandAllowed(path.join(scratch, 'elsewhere', 'server'), ['server'], searchPath)).toBe(
      false,
    );
    expect(commandAllowed(strayNode, DEFAULT_STDIO_ALLOWED_COMMANDS)).toBe(false);
    expect(commandAllowed(process.execPath, DEFAULT_STDIO_ALLOWED_COMMANDS)).toBe(true);
  });

  it('compares real paths: a symlink to an allowed program is that program', () => {
    expect(commandAllowed(path.join(searchPath[0]!, 'server-alias'), ['server'], searchPath)).toBe(
      true,
    );
  });

  it('allows a path entry for exactly that file', () => {
    expect(commandAllowed(serverPath, [serverPath], searchPath)).toBe(true);
    expect(commandAllowed(serverPath, [`${path.dirname(serverPath)}/../bin2/server`], [])).toBe(
      true,
    );
    expect(commandAllowed(path.join(scratch, 'elsewhere', 'server'), [serverPath], [])).toBe(false);
  });

  it('allows nothing with an empty list', () => {
    expect(commandAllowed(process.execPath, [])).toBe(false);
  });
});

describe('resolveStdioCommand', () => {
  it('returns the path to spawn of an allowed command', () => {
    expect(resolveStdioCommand('server', ['server'], searchPath)).toBe(serverPath);
    // Without a list any found program runs, still looked up on the search path only.
    expect(resolveStdioCommand('notes.txt', undefined, searchPath)).toBe(
      path.join(searchPath[1]!, 'notes.txt'),
    );
  });

  it('refuses a command off the list, naming the list', () => {
    expect(() => resolveStdioCommand('server', ['node', 'uvx'], searchPath)).toThrow(
      'command "server" is not allowed: stdio commands must be on MCP_STDIO_ALLOWED_COMMANDS (node, uvx)',
    );
    expect(() => resolveStdioCommand(strayNode, ['node'])).toThrow(CommandRefusedError);
    expect(() => resolveStdioCommand('./node', undefined)).toThrow(CommandRefusedError);
    // A name neither found nor listed is refused, not reported missing.
    expect(() => resolveStdioCommand('bash-nowhere', ['node'], searchPath)).toThrow(
      CommandRefusedError,
    );
  });

  it('reports a listed name that is not installed as command not found', () => {
    let error: unknown;
    try {
      resolveStdioCommand('uvx', ['uvx'], searchPath);
    } catch (thrown) {
      error = thrown;
    }
    expect(error).toBeInstanceOf(CommandNotFoundError);
    expect(describeError(error)).toBe('command not found: uvx');
    expect((error as Error).message).toContain(searchPath.join(':'));
  });
});
