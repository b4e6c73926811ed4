/**
 * The calls in flight on a connection that answers elicitation (shared/mcp/call-deadlines.ts): a
 * call times out `timeoutMs` after it started or last reported progress, not while its deadline
 * is held, and starts over when released; its caller's abort reaches the SDK's listener, polled
 * while the call is young and through a listener once it is old.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  CallDeadlines,
  RELAY_TICK_MS,
  TimedCall,
  WATCH_AFTER_TICKS,
} from '../../../shared/mcp/call-deadlines.js';

afterEach(() => {
  vi.useRealTimers();
});

/** A call listed in `deadlines` whose SDK listener is `heard`. */
function listed(
  deadlines: CallDeadlines,
  timeoutMs: number,
  source?: AbortSignal,
): { call: TimedCall; heard: ReturnType<typeof vi.fn> } {
  const call = new TimedCall(timeoutMs, source);
  const heard = vi.fn();
  call.signal.addEventListener('abort', heard);
  deadlines.add(call);
  return { call, heard };
}

describe('CallDeadlines', () => {
  it('fires once after timeoutMs without progress; progress and done() put it off', async () => {
    vi.useFakeTimers();
    const deadlines = new CallDeadlines(10, (timeoutMs) => new Error(`timed out (${timeoutMs})`));
    const silent = listed(deadlines, 100);
    const busy = listed(deadlines, 100);
    const finished = listed(deadlines, 100);
    finished.call.done();

    await vi.advanceTimersByTimeAsync(80);
    busy.call.touch();
    await vi.advanceTimersByTimeAsync(40);
    expect(silent.heard).toHaveBeenCalledOnce();
    expect(silent.call.aborted).toBe(true);
    expect(silent.call.reason).toEqual(new Error('timed out (100)'));
    expect(busy.heard).not.toHaveBeenCalled();
    await vi.advanceTimersByTimeAsync(80);
    expect(busy.heard).toHaveBeenCalledOnce();
    await vi.advanceTimersByTimeAsync(500);
    expect(silent.heard).toHaveBeenCalledOnce();
    expect(finished.heard).not.toHaveBeenCalled();
    expect(deadlines.size).toBe(0);
  });

  it('holds the calls pending at pauseAll until released, then starts them over', async () => {
    vi.useFakeTimers();
    const deadlines = new CallDeadlines(10);
    const held = listed(deadlines, 100);
    const release = deadlines.pauseAll();
    const later = listed(deadlines, 100);

    await vi.advanceTimersByTimeAsync(500);
    expect(held.heard).not.toHaveBeenCalled();
    expect(later.heard).toHaveBeenCalledOnce();
    release();
    release();
    await vi.advanceTimersByTimeAsync(80);
    expect(held.heard).not.toHaveBeenCalled();
    await vi.advanceTimersByTimeAsync(40);
    expect(held.heard).toHaveBeenCalledOnce();
  });

  it('never times out a call without a deadline, and lists calls oldest first', async () => {
    vi.useFakeTimers();
    const deadlines = new CallDeadlines(10);
    const task = listed(deadlines, Infinity);
    const timed = listed(deadlines, 50);
    expect(deadlines.toArray()).toEqual([task.call, timed.call]);
    expect(deadlines.find((call) => call.timeoutMs === 50)).toBe(timed.call);

    await vi.advanceTimersByTimeAsync(10_000);
    expect(task.heard).not.toHaveBeenCalled();
    expect(deadlines.toArray()).toEqual([task.call]);
    deadlines.close();
    expect(deadlines.size).toBe(0);
  });

  it('relays an abort of a young call at the next tick without a listener on the signal', async () => {
    const deadlines = new CallDeadlines(250);
    const controller = new AbortController();
    const added = vi.spyOn(controller.signal, 'addEventListener');
    const { call, heard } = listed(deadlines, 30_000, controller.signal);
    controller.abort(new Error('user hung up'));
    expect(heard).not.toHaveBeenCalled();

    // Polled every RELAY_TICK_MS (5 ms), though the deadlines alone would tick every 250 ms.
    await vi.waitFor(() => expect(heard).toHaveBeenCalledOnce(), { timeout: 200, interval: 2 });
    expect(call.aborted).toBe(true);
    expect(call.reason).toEqual(new Error('user hung up'));
    expect(added).not.toHaveBeenCalled();
    call.done();
  });

  it('watches the signal of a call that outlived its polled ticks: the abort is relayed at once', async () => {
    const deadlines = new CallDeadlines(250);
    const controller = new AbortController();
    const added = vi.spyOn(controller.signal, 'addEventListener');
    const removed = vi.spyOn(controller.signal, 'removeEventListener');
    const { call, heard } = listed(deadlines, 30_000, controller.signal);
    await vi.waitFor(() => expect(added).toHaveBeenCalledOnce(), {
      timeout: RELAY_TICK_MS * WATCH_AFTER_TICKS * 20,
    });
    expect(call.polling).toBe(false);

    controller.abort(new Error('gone'));
    expect(heard).toHaveBeenCalledOnce();
    expect(call.reason).toEqual(new Error('gone'));

    const second = new AbortController();
    const watched = listed(deadlines, 30_000, second.signal);
    const secondAdded = vi.spyOn(second.signal, 'addEventListener');
    const secondRemoved = vi.spyOn(second.signal, 'removeEventListener');
    await vi.waitFor(() => expect(secondAdded).toHaveBeenCalledOnce(), { timeout: 2_000 });
    watched.call.done();
    expect(secondRemoved).toHaveBeenCalledOnce();
    second.abort();
    expect(watched.heard).not.toHaveBeenCalled();
    call.done();
    expect(removed).not.toHaveBeenCalled();
  });

  it('refuses at once a call whose signal is already aborted, and abort() wins over the caller', () => {
    const controller = new AbortController();
    controller.abort(new Error('too late'));
    const refused = new TimedCall(1_000, controller.signal);
    expect(() => refused.signal.throwIfAborted()).toThrow('too late');

    const call = new TimedCall(1_000, new AbortController().signal);
    const heard = vi.fn();
    call.signal.addEventListener('abort', heard);
    call.abort(new Error('closed'));
    call.abort(new Error('twice'));
    expect(heard).toHaveBeenCalledOnce();
    expect(call.reason).toEqual(new Error('closed'));
  });

  it('follows another signal when told to: the old one no longer aborts it, the new one at once', () => {
    const first = new AbortController();
    const firstRemoved = vi.spyOn(first.signal, 'removeEventListener');
    const deadlines = new CallDeadlines(250);
    const { call, heard } = listed(deadlines, 30_000, first.signal);
    // Past its polled ticks, as a call waiting for the user is: its first signal is watched.
    for (let tick = 0; tick < WATCH_AFTER_TICKS; tick++) call.poll();
    expect(call.polling).toBe(false);

    call.follow(undefined);
    expect(firstRemoved).toHaveBeenCalledOnce();
    first.abort(new Error('interrupted'));
    call.poll();
    expect(heard).not.toHaveBeenCalled();
    expect(call.source).toBeUndefined();

    const next = new AbortController();
    call.follow(next.signal);
    expect(call.source).toBe(next.signal);
    next.abort(new Error('never mind'));
    expect(heard).toHaveBeenCalledOnce();
    expect(call.reason).toEqual(new Error('never mind'));
    call.done();
    deadlines.close();
  });

  it('is aborted at once when told to follow a signal that already is', () => {
    const call = new TimedCall(1_000, new AbortController().signal);
    const heard = vi.fn();
    call.signal.addEventListener('abort', heard);
    const gone = new AbortController();
    gone.abort(new Error('gone'));
    call.follow(gone.signal);
    expect(heard).toHaveBeenCalledOnce();
    expect(call.aborted).toBe(true);
    expect(call.reason).toEqual(new Error('gone'));
  });
});
