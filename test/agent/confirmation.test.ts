import { llm } from '@livekit/agents';
import { describe, expect, it, vi } from 'vitest';
import {
  CONFIRMATION_TTL_MS,
  ConfirmationDesk,
  ServerConfirmations,
  describeAction,
} from '../../agent/confirmation.js';
import type { AdvertisedTool } from '../../shared/mcp/index.js';
import { silentLogger } from './fixtures.js';

const tool: AdvertisedTool = {
  name: 'notes__delete',
  originalName: 'delete',
  description: '',
  parameters: { type: 'object', properties: {} },
};

describe('ConfirmationDesk', () => {
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

describe('ServerConfirmations', () => {
  function confirmations(now: () => number = () => 0) {
    return new ServerConfirmations({ serverName: 'Notes', logger: silentLogger(), now });
  }

  /** The confirmation id an `ask` sentence names. */
  function idIn(sentence: string): string {
    return /confirmation_id "([^"]+)"/.exec(sentence)![1]!;
  }

  it('asks with the action, the server and the confirm tool the model must call', () => {
    const desk = confirmations();
    desk.confirmTool('notes__confirm_action', false, async () => 'ran');

    const sentence = desk.ask(tool, { name: 'groceries' }, 'speech-1');

    expect(sentence).toContain('"delete (name: groceries) on Notes: are you sure?"');
    expect(sentence).toContain('call notes__confirm_action with confirmation_id "c1"');
  });

  it('runs the held call with its own arguments on a yes, once', async () => {
    const desk = confirmations();
    const id = idIn(desk.ask(tool, { name: 'groceries' }, 'speech-1'));
    const run = vi.fn(async () => 'deleted');

    await expect(
      desk.answer({ confirmation_id: id, approved: true, name: 'other' }, 'speech-2', run),
    ).resolves.toBe('deleted');
    expect(run).toHaveBeenCalledWith(tool, { name: 'groceries' });
    await expect(
      desk.answer({ confirmation_id: id, approved: true }, 'speech-3', run),
    ).rejects.toThrow(/No action is waiting for confirmation "c1"/);
    expect(run).toHaveBeenCalledOnce();
  });

  it('drops the call on anything but approved true, and says nothing was changed', async () => {
    const desk = confirmations();
    const id = idIn(desk.ask(tool, { name: 'groceries' }, 'speech-1'));
    const run = vi.fn(async () => 'deleted');

    const answer = await desk.answer({ confirmation_id: id, approved: 'yes' }, 'speech-2', run);

    expect(answer).toBe(
      'Not done: the user declined, so delete (name: groceries) was not run on Notes. ' +
        'Tell the user nothing was changed.',
    );
    expect(run).not.toHaveBeenCalled();
  });

  it('refuses, as a tool error, an answer in the asking turn and one after expiry', async () => {
    let now = 0;
    const desk = confirmations(() => now);
    const id = idIn(desk.ask(tool, {}, 'speech-1'));
    const run = vi.fn(async () => 'deleted');

    const sameTurn = desk.answer({ confirmation_id: id, approved: true }, 'speech-1', run);
    await expect(sameTurn).rejects.toBeInstanceOf(llm.ToolError);
    await expect(sameTurn).rejects.toThrow(/has not answered yet/);
    now = CONFIRMATION_TTL_MS + 1;
    await expect(
      desk.answer({ confirmation_id: id, approved: true }, 'speech-2', run),
    ).rejects.toThrow('Confirmation c1 expired. Call the action again if the user still wants it.');
    expect(run).not.toHaveBeenCalled();
  });

  it("remembers a yes with remember true for that tool only, for the session's confirmations", async () => {
    const desk = confirmations();
    desk.confirmTool('notes__confirm_action', false, async () => 'ran');
    const other: AdvertisedTool = { ...tool, name: 'notes__archive', originalName: 'archive' };
    const run = vi.fn(async () => 'deleted');

    // A plain yes runs the call and remembers nothing.
    const plain = idIn(desk.ask(tool, {}, 'speech-1'));
    await expect(
      desk.answer({ confirmation_id: plain, approved: true }, 'speech-2', run),
    ).resolves.toBe('deleted');
    expect(desk.remembered(tool)).toBe(false);

    // remember without a yes remembers nothing either.
    const no = idIn(desk.ask(tool, {}, 'speech-3'));
    await desk.answer({ confirmation_id: no, approved: false, remember: true }, 'speech-4', run);
    expect(desk.remembered(tool)).toBe(false);

    const yes = idIn(desk.ask(tool, {}, 'speech-5'));
    await expect(
      desk.answer({ confirmation_id: yes, approved: true, remember: true }, 'speech-6', run),
    ).resolves.toBe(
      'deleted\n(delete on Notes now runs without asking, for the rest of this session.)',
    );
    expect(desk.remembered(tool)).toBe(true);
    expect(desk.remembered(other)).toBe(false);
    expect(run).toHaveBeenCalledTimes(2);
    // A new session's confirmations (a new toolset) start with nothing remembered.
    expect(confirmations().remembered(tool)).toBe(false);
  });

  it('refuses a remembered yes in the asking turn, and then remembers nothing', async () => {
    const desk = confirmations();
    const id = idIn(desk.ask(tool, {}, 'speech-1'));
    const run = vi.fn(async () => 'deleted');

    await expect(
      desk.answer({ confirmation_id: id, approved: true, remember: true }, 'speech-1', run),
    ).rejects.toThrow(/has not answered yet/);
    expect(desk.remembered(tool)).toBe(false);
    expect(run).not.toHaveBeenCalled();
  });

  it('asks the model to set remember only when the user said not to ask again', () => {
    const desk = confirmations();
    desk.confirmTool('notes__confirm_action', false, async () => 'ran');
    expect(desk.ask(tool, {}, 'speech-1')).toContain(
      'Add remember true only if they also said not to ask again (for example "yes, and don\'t ask again").',
    );
    const confirm = desk.confirmTool('notes__confirm_action', false, async () => 'ran');
    expect(confirm.parameters).toMatchObject({
      properties: { remember: { type: 'boolean' } },
      required: ['confirmation_id', 'approved'],
    });
  });

  it('makes a confirm tool that takes an id and a yes or no, cancellable on request', () => {
    const desk = confirmations();
    const plain = desk.confirmTool('notes__confirm_action', false, async () => 'ran');
    const cancellable = desk.confirmTool('notes__confirm_action', true, async () => 'ran');

    expect(plain.parameters).toMatchObject({ required: ['confirmation_id', 'approved'] });
    expect(plain.flags).toBe(llm.ToolFlag.NONE);
    expect(cancellable.flags).toBe(llm.ToolFlag.CANCELLABLE);
  });
});
