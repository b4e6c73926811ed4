import { describe, expect, it } from 'vitest';
import {
  CommandRefusedError,
  DEFAULT_STDIO_ALLOWED_COMMANDS,
  assertCommandAllowed,
  commandAllowed,
} from '../../../shared/mcp/command-guard.js';

describe('commandAllowed', () => {
  it('matches an entry against the base name of the command', () => {
    expect(commandAllowed('node', DEFAULT_STDIO_ALLOWED_COMMANDS)).toBe(true);
    expect(commandAllowed('/usr/local/bin/node', DEFAULT_STDIO_ALLOWED_COMMANDS)).toBe(true);
    expect(commandAllowed('python3', DEFAULT_STDIO_ALLOWED_COMMANDS)).toBe(true);
    expect(commandAllowed('bash', DEFAULT_STDIO_ALLOWED_COMMANDS)).toBe(false);
    expect(commandAllowed('/bin/sh', DEFAULT_STDIO_ALLOWED_COMMANDS)).toBe(false);
    expect(commandAllowed('nodejs', DEFAULT_STDIO_ALLOWED_COMMANDS)).toBe(false);
    expect(commandAllowed('', DEFAULT_STDIO_ALLOWED_COMMANDS)).toBe(false);
  });

  it('matches a path entry against the full path only', () => {
    const allowed = ['/opt/mcp/bin/server'];
    expect(commandAllowed('/opt/mcp/bin/server', allowed)).toBe(true);
    expect(commandAllowed('/opt/mcp/bin/../bin/server', allowed)).toBe(true);
    expect(commandAllowed('server', allowed)).toBe(false);
    expect(commandAllowed('/tmp/server', allowed)).toBe(false);
  });

  it('does not let a Windows-style path pass as a base name', () => {
    expect(commandAllowed('C:\\evil\\node', ['node'])).toBe(true);
    expect(commandAllowed('node\\..\\bash', ['node'])).toBe(false);
  });

  it('refuses everything with an empty list, and says which list', () => {
    expect(commandAllowed('node', [])).toBe(false);
    expect(() => assertCommandAllowed('bash', ['node', 'uvx'])).toThrow(CommandRefusedError);
    expect(() => assertCommandAllowed('bash', ['node', 'uvx'])).toThrow(
      'command "bash" is not allowed: stdio commands must be on MCP_STDIO_ALLOWED_COMMANDS (node, uvx)',
    );
  });
});
