import { describe, expect, it } from 'vitest';
import {
  isJsonMimeType,
  isMarkdownMimeType,
  markdownOutline,
  planForEar,
  resourceDisplayName,
} from '../../../shared/mcp/resource-contents.js';

describe('planForEar', () => {
  it('reads short text whole, with nothing for the screen', () => {
    expect(planForEar({ uri: 'x://a.txt', mimeType: 'text/plain', text: 'hello there' })).toEqual({
      spoken: 'hello there',
      cutChars: 0,
      kind: 'text',
      bytes: 11,
    });
  });

  it('cuts long text at a word, counting what was left out, and gives the whole to the screen', () => {
    const text = 'word '.repeat(100).trim();
    const plan = planForEar({ uri: 'x://a', mimeType: 'text/plain', text }, { maxChars: 42 });
    expect(plan.spoken).toBe('word word word word word word word word');
    expect(plan.cutChars).toBe(text.length - plan.spoken.length);
    expect(plan.screen).toEqual({ text });
  });

  it('gives a long markdown document its section headings first, skipping fenced code', () => {
    const text = [
      '# Guide',
      'Intro text.',
      '```',
      '# not a heading',
      '```',
      '## Install',
      'x '.repeat(200),
      '## Use ##',
    ].join('\n');
    const plan = planForEar(
      { uri: 'x://guide', mimeType: 'text/markdown', text },
      { maxChars: 80 },
    );
    expect(plan.kind).toBe('markdown');
    expect(plan.spoken.startsWith('Sections: Guide; Install; Use\n\n# Guide\nIntro text.')).toBe(
      true,
    );
    expect(plan.spoken.length).toBeLessThanOrEqual(80);
    expect(plan.screen).toEqual({ text });
  });

  it('summarizes JSON by its structure, the whole to the screen only when long', () => {
    const value = { state: 'ok', items: [{ name: 'a' }, { name: 'b' }], nested: { x: 1 } };
    const short = planForEar({
      uri: 'x://s',
      mimeType: 'application/json',
      text: JSON.stringify(value),
    });
    expect(short).toMatchObject({
      kind: 'json',
      spoken: 'state: ok\nitems: 2 items: a; b\nnested: x 1',
      screen: undefined,
    });
    const long = JSON.stringify({ items: Array.from({ length: 300 }, (_, id) => ({ id })) });
    const plan = planForEar({ uri: 'x://data.json', text: long }, { maxChars: 500 });
    expect(plan.kind).toBe('json');
    expect(plan.spoken).toMatch(/^items: 300 items: 0; 1; .*; 7; and 292 more$/);
    expect(plan.screen).toEqual({ text: long });
  });

  it('reads JSON that does not parse as text', () => {
    expect(
      planForEar({ uri: 'x://bad.json', mimeType: 'application/json', text: '{oops' }),
    ).toMatchObject({ kind: 'text', spoken: '{oops' });
  });

  it('never reads binary content: it goes to the screen with its decoded size', () => {
    const blob = Buffer.from('hello world').toString('base64');
    expect(planForEar({ uri: 'x://b', mimeType: 'image/png', blob })).toEqual({
      spoken: '',
      cutChars: 0,
      screen: { base64: blob },
      kind: 'binary',
      bytes: 11,
    });
  });
});

describe('resource names and types', () => {
  it('names a resource by its title, its name, or the end of its address', () => {
    expect(resourceDisplayName('x://a/b.md', { name: 'b.md', title: 'The B' })).toBe('The B');
    expect(resourceDisplayName('x://a/b.md', { name: 'b.md' })).toBe('b.md');
    expect(resourceDisplayName('demo://resource/static/document/read%20me.md')).toBe('read me.md');
    expect(resourceDisplayName('demo://resource/dynamic/blob/7')).toBe('blob 7');
    expect(resourceDisplayName('file:///tmp/notes.txt?x=1#top')).toBe('notes.txt');
    expect(resourceDisplayName('urn:isbn:123')).toBe('urn:isbn:123');
  });

  it('knows JSON and markdown types', () => {
    expect(isJsonMimeType('application/json; charset=utf-8')).toBe(true);
    expect(isJsonMimeType('application/ld+json')).toBe(true);
    expect(isJsonMimeType('text/plain')).toBe(false);
    expect(isMarkdownMimeType('text/markdown')).toBe(true);
    expect(isMarkdownMimeType(undefined)).toBe(false);
  });

  it('outlines at most eight headings and counts the rest', () => {
    const text = Array.from({ length: 10 }, (_, i) => `## Part ${i + 1}`).join('\n');
    expect(markdownOutline(text)).toBe(
      'Part 1; Part 2; Part 3; Part 4; Part 5; Part 6; Part 7; Part 8; and 2 more',
    );
    expect(markdownOutline('no headings')).toBe('');
  });
});
