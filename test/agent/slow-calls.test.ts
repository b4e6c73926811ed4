import { describe, expect, it } from 'vitest';
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

describe('SlowCallWatch', () => {
  it('remembers a tool as slow once a call of it ran past the delay', () => {
    const watch = new SlowCallWatch({ afterMs: 1_000, logger: silentLogger() });
    const ctx = {} as FillerContext;
    const fast = new SlowCall(ctx, 0, 'echo');
    const slow = new SlowCall(ctx, 0, 'export');
    watch.add(fast);
    watch.add(slow);

    watch.finish(fast, 999);
    watch.finish(slow, 1_000);

    expect(watch.wasSlow('echo')).toBe(false);
    expect(watch.wasSlow('export')).toBe(true);
    watch.close();
  });
});
