import type { Tool } from '@modelcontextprotocol/sdk/types.js';
import { describe, expect, it } from 'vitest';
import { CONFIRMATION_TTL_MS, ConfirmationDesk, describeAction } from '../../agent/confirmation.js';
import { fillerText } from '../../agent/slow-calls.js';
import { isLongRunning, needsConfirmation } from '../../agent/tool-policy.js';
import type { AdvertisedTool } from '../../shared/mcp/index.js';

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

describe('ConfirmationDesk', () => {
  const tool: AdvertisedTool = {
    name: 'notes__delete',
    originalName: 'delete',
    description: '',
    parameters: { type: 'object', properties: {} },
  };

  it('hands a held call over once, and only in a later turn than the question', () => {
    const desk = new ConfirmationDesk(() => 1_000);
    const pending = desk.ask(tool, { name: 'x' }, 'speech-1');

    expect(desk.take(pending.id, 'speech-1')).toEqual({ refused: 'same_turn' });
    expect(desk.take(pending.id, 'speech-2')).toEqual({ pending });
    expect(desk.take(pending.id, 'speech-3')).toEqual({ refused: 'unknown' });
  });

  it('refuses an answer after the question expired', () => {
    let now = 0;
    const desk = new ConfirmationDesk(() => now);
    const pending = desk.ask(tool, {}, 'speech-1');
    now = CONFIRMATION_TTL_MS + 1;

    expect(desk.take(pending.id, 'speech-2')).toEqual({ refused: 'expired' });
  });

  it('describes the action with its arguments, long values cut', () => {
    expect(describeAction(tool, {})).toBe('delete');
    expect(describeAction(tool, { name: 'groceries', force: true })).toBe(
      'delete (name: groceries, force: true)',
    );
    expect(describeAction(tool, { text: 'y'.repeat(100) })).toBe(
      `delete (text: ${'y'.repeat(57)}...)`,
    );
  });
});

describe('fillerText', () => {
  it('says a short filler, with the latest progress when there is one', () => {
    expect(fillerText(0)).toBe("One moment, I'm still working on that.");
    expect(fillerText(1)).toBe('Still working on it, thanks for waiting.');
    expect(fillerText(0, { progress: 3, total: 10 })).toBe(
      "One moment, I'm still working on that: 3 of 10.",
    );
    expect(fillerText(2, { progress: 1, message: 'copying files' })).toBe(
      'Still working on it: copying files.',
    );
  });
});
