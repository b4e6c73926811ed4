/**
 * The parts of spoken elicitation (agent/elicitation.ts) a text session cannot reach on its own:
 * the same-turn rule of the answer tool (a pipeline turn does not even see the tool yet), the
 * timeout and how the user's words restart it, a question the server withdraws, and the call's
 * signal, which follows the tool call waiting for it and none while the user is asked.
 */
import { EventEmitter } from 'node:events';
import { llm, voice } from '@livekit/agents';
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  QUESTION_MAX_MS,
  ServerElicitations,
  type ElicitationRunContext,
} from '../../agent/elicitation.js';
import { TimedCall } from '../../shared/mcp/call-deadlines.js';
import type { AskingCall, ElicitationParams } from '../../shared/mcp/elicitation.js';
import { silentLogger } from './fixtures.js';

const FORM: ElicitationParams = {
  message: 'Who is asking?',
  requestedSchema: {
    type: 'object',
    properties: { name: { type: 'string', title: 'Your name' } },
    required: ['name'],
  },
};

/** A tool call's context in turn `speechId` of a session that is an event emitter. */
function context(speechId: string, session = new EventEmitter()): ElicitationRunContext {
  return {
    speechHandle: { id: speechId },
    session,
    filler: vi.fn(),
    update: vi.fn(async () => {}),
  } as unknown as ElicitationRunContext;
}

function desk(timeoutMs = 60_000) {
  const changed = vi.fn();
  const elicitations = new ServerElicitations({
    serverId: 1,
    serverName: 'Notes',
    logger: silentLogger(),
    timeoutMs,
    onPendingChanged: changed,
  });
  elicitations.answerTool('notes__answer_question');
  return { elicitations, changed };
}

/** A held foreground call whose MCP result is given by `finish`. */
function heldCall(
  elicitations: ServerElicitations,
  ctx: ElicitationRunContext,
  signal: AbortSignal,
) {
  const held = elicitations.hold({ toolName: 'ask', ctx, signal, background: false });
  return { held, finish: (text: string) => held.settle(text) };
}

function ask(
  handler: ReturnType<ServerElicitations['hold']>['handler'],
  signal?: AbortSignal,
  call?: AskingCall,
) {
  return handler(FORM, {
    signal: signal ?? new AbortController().signal,
    completed: new Promise(() => {}),
    call,
  });
}

afterEach(() => {
  vi.useRealTimers();
});

describe('ServerElicitations', () => {
  it('refuses an answer in the asking turn, sends one from a later turn once, then waits for the result', async () => {
    const { elicitations, changed } = desk();
    const first = context('speech-1');
    const signal = new AbortController().signal;
    const { held, finish } = heldCall(elicitations, first, signal);
    const waiting = held.wait(first, signal);
    const answered = ask(held.handler);

    const question = await waiting;
    expect(question).toContain('question_id "e1"');
    expect(question).toContain('- name (required): Your name; text.');
    expect(elicitations.hasPending).toBe(true);
    expect(changed).toHaveBeenCalledTimes(1);

    const eager = elicitations.answer(
      { question_id: 'e1', action: 'accept', values: { name: 'Me' } },
      first,
      signal,
    );
    await expect(eager).rejects.toBeInstanceOf(llm.ToolError);
    await expect(eager).rejects.toThrow(/has not answered yet/);

    const reply = elicitations.answer(
      { question_id: 'e1', action: 'accept', values: { name: 'Ada' } },
      context('speech-2'),
      signal,
    );
    await expect(answered).resolves.toEqual({ action: 'accept', content: { name: 'Ada' } });
    expect(elicitations.hasPending).toBe(false);
    expect(changed).toHaveBeenCalledTimes(2);
    finish('Worked for Ada');
    await expect(reply).resolves.toBe('Worked for Ada');
    await expect(
      elicitations.answer({ question_id: 'e1', action: 'decline' }, context('speech-3'), signal),
    ).rejects.toThrow('No question is waiting with question_id "e1".');
  });

  it('cancels after the timeout of silence; each thing the user says starts it over', async () => {
    vi.useFakeTimers();
    const { elicitations } = desk(1_000);
    const session = new EventEmitter();
    const ctx = context('speech-1', session);
    const signal = new AbortController().signal;
    const { held } = heldCall(elicitations, ctx, signal);
    const waiting = held.wait(ctx, signal);
    let result: unknown;
    void ask(held.handler).then((answer) => (result = answer));
    await waiting;

    await vi.advanceTimersByTimeAsync(900);
    session.emit(voice.AgentSessionEventTypes.UserStateChanged, { newState: 'speaking' });
    await vi.advanceTimersByTimeAsync(900);
    expect(result).toBeUndefined();
    session.emit(voice.AgentSessionEventTypes.ConversationItemAdded, {
      item: { type: 'message', role: 'user' },
    });
    await vi.advanceTimersByTimeAsync(900);
    expect(result).toBeUndefined();
    await vi.advanceTimersByTimeAsync(100);
    expect(result).toEqual({ action: 'cancel' });
    expect(elicitations.hasPending).toBe(false);
  });

  it('cancels after QUESTION_MAX_MS in all, however often the user speaks meanwhile', async () => {
    vi.useFakeTimers();
    const { elicitations } = desk(60_000);
    const session = new EventEmitter();
    const ctx = context('speech-1', session);
    const signal = new AbortController().signal;
    const { held } = heldCall(elicitations, ctx, signal);
    const waiting = held.wait(ctx, signal);
    let result: unknown;
    void ask(held.handler).then((answer) => (result = answer));
    await waiting;

    for (let spoken = 50_000; spoken < QUESTION_MAX_MS; spoken += 50_000) {
      await vi.advanceTimersByTimeAsync(50_000);
      expect(result).toBeUndefined();
      session.emit(voice.AgentSessionEventTypes.UserStateChanged, { newState: 'speaking' });
    }
    await vi.advanceTimersByTimeAsync(50_000);
    expect(result).toEqual({ action: 'cancel' });
  });

  it('tells the model a withdrawn question is no longer waited for, with what the call then said', async () => {
    const { elicitations } = desk();
    const ctx = context('speech-1');
    const signal = new AbortController().signal;
    const { held, finish } = heldCall(elicitations, ctx, signal);
    const waiting = held.wait(ctx, signal);
    const withdraw = new AbortController();
    const answered = ask(held.handler, withdraw.signal);
    await waiting;

    withdraw.abort();
    await expect(answered).resolves.toEqual({ action: 'cancel' });
    const late = elicitations.answer(
      { question_id: 'e1', action: 'accept', values: { name: 'Ada' } },
      context('speech-2'),
      signal,
    );
    finish('Gave up waiting');
    await expect(late).resolves.toBe(
      'Question e1 is no longer waited for by Notes; ask then answered: Gave up waiting',
    );
  });

  it("keeps the MCP call alive while the user is asked: it follows only the waiting tool call's signal", async () => {
    const { elicitations } = desk();
    const ctx = context('speech-1');
    const firstTurn = new AbortController();
    const { held } = heldCall(elicitations, ctx, firstTurn.signal);
    // The call in flight as the connection makes it: the SDK's signal, following the tool call's.
    const inFlight = new TimedCall(60_000, held.signal);
    const cancelled = vi.fn();
    inFlight.addEventListener('abort', cancelled);
    const waiting = held.wait(ctx, firstTurn.signal);
    void ask(held.handler, undefined, inFlight);
    await waiting;

    // The user interrupts the agent's question: the first turn's signal aborts, the call goes on.
    firstTurn.abort();
    inFlight.poll();
    expect(inFlight.aborted).toBe(false);
    const answerTurn = new AbortController();
    void elicitations.answer(
      { question_id: 'e1', action: 'accept', values: { name: 'Ada' } },
      context('speech-2'),
      answerTurn.signal,
    );
    answerTurn.abort('never mind');
    expect(inFlight.aborted).toBe(true);
    expect(inFlight.reason).toBe('never mind');
    expect(cancelled).toHaveBeenCalledOnce();
  });

  it('aborts a call the server asked something of when it closes, and leaves the others', async () => {
    const { elicitations } = desk();
    const ctx = context('speech-1');
    const signal = new AbortController().signal;
    const asked = heldCall(elicitations, ctx, signal).held;
    const quiet = heldCall(elicitations, ctx, signal).held;
    const askedInFlight = new TimedCall(60_000, signal);
    const waiting = asked.wait(ctx, signal);
    let quietEnded = false;
    const quietWait = quiet.wait(ctx, signal).finally(() => (quietEnded = true));
    const answered = ask(asked.handler, undefined, askedInFlight);
    await waiting;

    elicitations.close();
    await expect(answered).resolves.toEqual({ action: 'cancel' });
    expect(askedInFlight.aborted).toBe(true);
    expect(String(askedInFlight.reason)).toContain('closed');
    // The call never asked anything still follows its tool call, which waits for its result.
    expect(quietEnded).toBe(false);
    quiet.settle('Done anyway');
    await expect(quietWait).resolves.toBe('Done anyway');
  });
});
