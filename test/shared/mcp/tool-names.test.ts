import { describe, expect, it } from 'vitest';
import { MAX_TOOL_NAME_LENGTH, advertisedToolNames, slugify } from '../../../shared/mcp/index.js';

/** The function-name rule of OpenAI's realtime API and most other models (DESIGN §4). */
const MODEL_NAME_RULE = /^[a-zA-Z0-9_-]{1,64}$/;

describe('advertisedToolNames', () => {
  it('prefixes each tool with the server slug and two underscores', () => {
    expect(advertisedToolNames('Everything', ['echo', 'get-sum', 'get_tiny_image'])).toEqual([
      'everything__echo',
      'everything__get-sum',
      'everything__get_tiny_image',
    ]);
  });

  it('slugs the server name to lower-case letters, digits, _ and -', () => {
    expect(advertisedToolNames('My Files (work)!', ['read'])).toEqual(['my_files_work__read']);
  });

  it('gives names that follow the model rule whatever the server and tool names are', () => {
    const names = advertisedToolNames('Ünïcödé Sérver ☎', [
      'weather.get forecast',
      'ツール',
      '',
      'x'.repeat(200),
      'UPPER_and-lower.9',
    ]);

    expect(names).toHaveLength(5);
    for (const name of names) expect(name).toMatch(MODEL_NAME_RULE);
    expect(new Set(names).size).toBe(5);
  });

  it('shortens a name that is too long to 64 characters ending in a hash suffix', () => {
    const [name] = advertisedToolNames('Long Server', ['a'.repeat(100)]);

    expect(name).toHaveLength(MAX_TOOL_NAME_LENGTH);
    expect(name).toMatch(/^long_server__a+_[0-9a-f]{6}$/);
  });

  it('gives the same name to the same server and tool every time', () => {
    const tools = ['b'.repeat(90), 'weather.get', 'echo'];

    expect(advertisedToolNames('Server', tools)).toEqual(advertisedToolNames('Server', tools));
  });

  it('keeps long names apart when they differ only after the cut', () => {
    const prefix = 'c'.repeat(70);

    const [first, second] = advertisedToolNames('S', [`${prefix}_one`, `${prefix}_two`]);

    expect(first).not.toBe(second);
    expect(first).toMatch(MODEL_NAME_RULE);
    expect(second).toMatch(MODEL_NAME_RULE);
  });

  it('keeps apart tools whose names sanitize to the same text', () => {
    const names = advertisedToolNames('S', ['a_b', 'a.b', 'a b']);

    expect(names[0]).toBe('s__a_b');
    expect(new Set(names).size).toBe(3);
  });

  it('gives a distinct name to a tool that collides with a name another server took', () => {
    const taken = new Set<string>();

    const [fromFirst] = advertisedToolNames('Files', ['read'], taken);
    const [fromSecond] = advertisedToolNames('files', ['read'], taken);

    expect(fromFirst).toBe('files__read');
    expect(fromSecond).not.toBe(fromFirst);
    expect(fromSecond).toMatch(/^files__read_[0-9a-f]{6}$/);
    expect(taken).toEqual(new Set([fromFirst, fromSecond]));
  });

  it('keeps apart prefixes that the separator makes ambiguous', () => {
    const taken = new Set<string>();

    const [first] = advertisedToolNames('a', ['b__c'], taken);
    const [second] = advertisedToolNames('a__b', ['c'], taken);

    expect(first).toBe('a__b__c');
    expect(second).not.toBe(first);
  });

  it('stays within 64 characters when a long name also collides', () => {
    const taken = new Set<string>();
    const tool = 'd'.repeat(80);

    const [first] = advertisedToolNames('Same', [tool], taken);
    const [second] = advertisedToolNames('same', [tool], taken);

    expect(second).not.toBe(first);
    expect(second).toMatch(MODEL_NAME_RULE);
  });
});

describe('slugify', () => {
  it('falls back to "server" when nothing usable is left', () => {
    expect(slugify('☎☎☎')).toBe('server');
  });

  it('trims separators from both ends', () => {
    expect(slugify('  --Weather API--  ')).toBe('weather_api');
  });
});
