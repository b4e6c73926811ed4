import { describe, expect, it } from 'vitest';
import { storable } from '../../../shared/db/storable-text.js';

describe('storable', () => {
  it('replaces NUL in strings and keys at any depth with U+FFFD, leaving the input as it was', () => {
    const input = {
      a: 'x\u0000y',
      list: ['ok', { ['k\u0000']: '\u0000' }],
      n: 1,
      when: new Date(0),
    };
    const output = storable(input);
    expect(output).toEqual({
      a: 'x\uFFFDy',
      list: ['ok', { 'k\uFFFD': '\uFFFD' }],
      n: 1,
      when: new Date(0),
    });
    expect(input.a).toBe('x\u0000y');
  });

  it('returns a value without NUL as it is', () => {
    const clean = { a: 'b', c: [1, null, true] };
    expect(storable(clean)).toBe(clean);
    expect(storable('plain')).toBe('plain');
    expect(storable(null)).toBeNull();
  });

  it('cuts what is nested deeper than 32 levels', () => {
    let deep: unknown = 'bottom';
    for (let i = 0; i < 1_000; i++) deep = { d: deep };
    let level = storable(deep) as { d: unknown };
    for (let i = 0; i < 32; i++) level = level.d as { d: unknown };
    expect(level).toBe('[nested too deeply]');
  });
});
