import { describe, expect, it } from 'vitest';
import { fillerText, progressPhrase } from '../../agent/slow-calls.js';

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
