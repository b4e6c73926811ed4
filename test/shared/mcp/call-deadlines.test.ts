/**
 * The deadlines of calls on a connection that answers elicitation (shared/mcp/call-deadlines.ts):
 * a call times out `timeoutMs` after it started or last reported progress, not while its
 * deadline is held, and starts over when released.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { CallDeadlines } from '../../../shared/mcp/call-deadlines.js';

afterEach(() => {
  vi.useRealTimers();
});

describe('CallDeadlines', () => {
  it('fires once after timeoutMs without progress; progress and done() put it off', async () => {
    vi.useFakeTimers();
    const deadlines = new CallDeadlines(10);
    const silent = vi.fn();
    const reporting = vi.fn();
    const finished = vi.fn();
    deadlines.add(100, silent);
    const busy = deadlines.add(100, reporting);
    deadlines.add(100, finished).done();

    await vi.advanceTimersByTimeAsync(80);
    busy.touch();
    await vi.advanceTimersByTimeAsync(40);
    expect(silent).toHaveBeenCalledOnce();
    expect(reporting).not.toHaveBeenCalled();
    await vi.advanceTimersByTimeAsync(80);
    expect(reporting).toHaveBeenCalledOnce();
    await vi.advanceTimersByTimeAsync(500);
    expect(silent).toHaveBeenCalledOnce();
    expect(finished).not.toHaveBeenCalled();
    expect(deadlines.size).toBe(0);
  });

  it('holds the calls pending at pauseAll until released, then starts them over', async () => {
    vi.useFakeTimers();
    const deadlines = new CallDeadlines(10);
    const held = vi.fn();
    const later = vi.fn();
    deadlines.add(100, held);
    const release = deadlines.pauseAll();
    deadlines.add(100, later);

    await vi.advanceTimersByTimeAsync(500);
    expect(held).not.toHaveBeenCalled();
    expect(later).toHaveBeenCalledOnce();
    release();
    release();
    await vi.advanceTimersByTimeAsync(80);
    expect(held).not.toHaveBeenCalled();
    await vi.advanceTimersByTimeAsync(40);
    expect(held).toHaveBeenCalledOnce();
  });
});
