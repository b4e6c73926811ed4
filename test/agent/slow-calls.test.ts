import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  SlowCall,
  SlowCallWatch,
  fillerText,
  progressPhrase,
  type FillerContext,
} from '../../agent/slow-calls.js';
import { silentLogger } from './fixtures.js';

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

describe('progressPhrase', () => {
  it('uses the message, else the count with or without a total', () => {
    expect(progressPhrase({ progress: 1, message: 'half way' })).toBe('half way');
    expect(progressPhrase({ progress: 3, total: 10 })).toBe('3 of 10');
    expect(progressPhrase({ progress: 3 })).toBe('3 done');
  });
});

/**
 * A watch with a 1 s delay (200 ms ticks, a fifth of it) on fake timers, and `start`, which adds
 * a call of `toolName` that never ends by itself.
 */
function fakeWatch() {
  vi.useFakeTimers();
  const watch = new SlowCallWatch({ afterMs: 1_000, logger: silentLogger() });
  const filler = vi.fn(async () => {});
  const ctx = { filler } as unknown as FillerContext;
  const start = (toolName: string) => {
    const call = new SlowCall(ctx, toolName);
    call.promise = new Promise(() => {});
    watch.add(call);
    return call;
  };
  return { watch, filler, start };
}

describe('SlowCallWatch', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('arms the filler of a call still running past the delay, at most a tick late, and remembers its tool as slow', async () => {
    const { watch, filler, start } = fakeWatch();
    const fast = start('echo');
    const slow = start('export');

    await vi.advanceTimersByTimeAsync(999);
    expect(filler).not.toHaveBeenCalled();
    watch.finish(fast);
    await vi.advanceTimersByTimeAsync(201);
    expect(filler).toHaveBeenCalledOnce();
    expect(slow.armed).toBe(true);
    watch.finish(slow);

    expect(watch.wasSlow('echo')).toBe(false);
    expect(watch.wasSlow('export')).toBe(true);
    watch.close();
  });

  it('counts from when a call is added, whatever the ticker did before', async () => {
    const { watch, start } = fakeWatch();
    const first = start('first');
    await vi.advanceTimersByTimeAsync(900);
    const late = start('late');
    await vi.advanceTimersByTimeAsync(300);
    expect(first.armed).toBe(true);
    expect(late.armed).toBe(false);
    await vi.advanceTimersByTimeAsync(900);
    expect(late.armed).toBe(true);
    watch.close();
  });
});
