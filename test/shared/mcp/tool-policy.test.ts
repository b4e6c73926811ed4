import type { Tool } from '@modelcontextprotocol/sdk/types.js';
import { describe, expect, it } from 'vitest';
import { isLongRunning, needsConfirmation } from '../../../shared/mcp/tool-policy.js';

function mcpTool(name: string, extra: Partial<Tool> = {}): Tool {
  return { name, inputSchema: { type: 'object' }, ...extra };
}

const destructive = mcpTool('delete', { annotations: { destructiveHint: true } });
const readOnlyDestructive = mcpTool('peek', {
  annotations: { destructiveHint: true, readOnlyHint: true },
});
const plain = mcpTool('echo');

describe('needsConfirmation', () => {
  it('asks for destructive tools by default, not for read-only or unannotated ones', () => {
    expect(needsConfirmation(destructive)).toBe(true);
    expect(needsConfirmation(readOnlyDestructive)).toBe(false);
    expect(needsConfirmation(plain)).toBe(false);
    expect(needsConfirmation(undefined)).toBe(false);
  });

  it("asks for every tool with 'always' and none with 'never'", () => {
    expect(needsConfirmation(plain, { confirm: 'always' })).toBe(true);
    expect(needsConfirmation(readOnlyDestructive, { confirm: 'always' })).toBe(true);
    expect(needsConfirmation(destructive, { confirm: 'never' })).toBe(false);
  });
});

describe('isLongRunning', () => {
  it('follows the policy list, or all', () => {
    expect(isLongRunning(plain, { longRunning: ['echo'] })).toBe(true);
    expect(isLongRunning(plain, { longRunning: ['other'] })).toBe(false);
    expect(isLongRunning(plain, { longRunning: 'all' })).toBe(true);
    expect(isLongRunning(plain)).toBe(false);
  });

  it('counts tools that support MCP tasks as long-running', () => {
    for (const taskSupport of ['optional', 'required'] as const) {
      expect(isLongRunning(mcpTool('research', { execution: { taskSupport } }))).toBe(true);
    }
    expect(isLongRunning(mcpTool('quick', { execution: { taskSupport: 'forbidden' } }))).toBe(
      false,
    );
  });
});
