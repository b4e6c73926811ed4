import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { describe, expect, it } from 'vitest';
import { plainResultText, toolResultToText } from '../../../shared/mcp/index.js';
import { base64ByteLength, formatBytes } from '../../../shared/mcp/tool-result.js';

/** Base64 of `bytes` bytes. */
function payload(bytes: number): string {
  return Buffer.alloc(bytes, 7).toString('base64');
}

describe('toolResultToText', () => {
  it('joins the text parts in order, one per line', () => {
    const result: CallToolResult = {
      content: [
        { type: 'text', text: 'first' },
        { type: 'text', text: 'second' },
      ],
    };

    expect(toolResultToText(result)).toEqual({ text: 'first\nsecond', isError: false });
  });

  it('describes an image by its MIME type and decoded size', () => {
    const result: CallToolResult = {
      content: [{ type: 'image', mimeType: 'image/png', data: payload(3000) }],
    };

    expect(toolResultToText(result).text).toBe('[image: image/png, 2.9 KB]');
  });

  it('describes audio by its MIME type and decoded size', () => {
    const result: CallToolResult = {
      content: [{ type: 'audio', mimeType: 'audio/wav', data: payload(5) }],
    };

    expect(toolResultToText(result).text).toBe('[audio: audio/wav, 5 B]');
  });

  it('gives the URI, MIME type and text of an embedded text resource', () => {
    const result: CallToolResult = {
      content: [
        {
          type: 'resource',
          resource: { uri: 'file:///notes.md', mimeType: 'text/markdown', text: '# Notes' },
        },
      ],
    };

    expect(toolResultToText(result).text).toBe(
      '[resource: file:///notes.md, text/markdown]\n# Notes',
    );
  });

  it('describes an embedded blob resource by URI, MIME type and size', () => {
    const result: CallToolResult = {
      content: [
        {
          type: 'resource',
          resource: {
            uri: 'file:///report.pdf',
            mimeType: 'application/pdf',
            blob: payload(2 * 1024 * 1024),
          },
        },
      ],
    };

    expect(toolResultToText(result).text).toBe(
      '[resource: file:///report.pdf, application/pdf, 2.0 MB binary]',
    );
  });

  it('describes a resource link by title, URI and MIME type', () => {
    const result: CallToolResult = {
      content: [
        {
          type: 'resource_link',
          uri: 'https://example.com/q3.csv',
          name: 'q3.csv',
          title: 'Q3 figures',
          mimeType: 'text/csv',
        },
        { type: 'resource_link', uri: 'https://example.com/raw', name: 'raw' },
      ],
    };

    expect(toolResultToText(result).text).toBe(
      '[resource link: Q3 figures at https://example.com/q3.csv, text/csv]\n' +
        '[resource link: raw at https://example.com/raw]',
    );
  });

  it('keeps isError: true with the text the server gave', () => {
    const result: CallToolResult = {
      content: [{ type: 'text', text: 'city not found' }],
      isError: true,
    };

    expect(toolResultToText(result)).toEqual({ text: 'city not found', isError: true });
  });

  it('says a failed call gave no reason when an error result has no content', () => {
    expect(toolResultToText({ content: [], isError: true })).toEqual({
      text: 'The tool failed without saying why.',
      isError: true,
    });
  });

  it('gives structuredContent as JSON when there are no content parts', () => {
    const result: CallToolResult = {
      content: [],
      structuredContent: { temperature: 21, unit: 'C' },
    };

    expect(toolResultToText(result)).toEqual({
      text: '{"temperature":21,"unit":"C"}',
      isError: false,
    });
  });

  it('uses structuredContent in place of the text parts, keeping the other parts described', () => {
    const result: CallToolResult = {
      content: [
        { type: 'text', text: '{"temperature": 21}' },
        { type: 'image', mimeType: 'image/png', data: payload(10) },
      ],
      structuredContent: { temperature: 21 },
    };

    expect(toolResultToText(result).text).toBe('{"temperature":21}\n[image: image/png, 10 B]');
  });

  it('cuts a long result to maxChars with a note saying how much was left out', () => {
    const text = 'x'.repeat(10_000);
    const cut = toolResultToText({ content: [{ type: 'text', text }] }, { maxChars: 500 }).text;

    expect(cut.length).toBeLessThanOrEqual(500);
    expect(cut).toMatch(/^x+\n\[Result cut: showing the first \d+ of 10000 characters\.\]$/);
    const shown = Number(/first (\d+)/.exec(cut)![1]);
    expect(cut.startsWith('x'.repeat(shown))).toBe(true);
    expect(cut.indexOf('\n')).toBe(shown);
  });

  it('keeps a result at the limit whole, and cuts at 8000 characters by default', () => {
    const exact = 'y'.repeat(8000);
    expect(toolResultToText({ content: [{ type: 'text', text: exact }] }).text).toBe(exact);
    const over = toolResultToText({ content: [{ type: 'text', text: exact + 'y' }] }).text;
    expect(over.length).toBeLessThanOrEqual(8000);
    expect(over).toContain('of 8001 characters');
  });

  it('says the tool returned nothing rather than giving an empty string', () => {
    expect(toolResultToText({ content: [] })).toEqual({
      text: 'The tool returned no content.',
      isError: false,
    });
  });

  it('names a content type it does not know instead of dropping it', () => {
    const result = { content: [{ type: 'hologram', data: 'x' }] } as unknown as CallToolResult;

    expect(toolResultToText(result).text).toBe('[hologram content]');
  });
});

describe('plainResultText', () => {
  const text = (value: string) => ({ type: 'text' as const, text: value });
  const cases: { name: string; result: CallToolResult; plain: boolean }[] = [
    { name: 'one text part', result: { content: [text('hello')] }, plain: true },
    { name: 'an empty text', result: { content: [text('')] }, plain: false },
    { name: 'two text parts', result: { content: [text('a'), text('b')] }, plain: false },
    { name: 'an error', result: { content: [text('no')], isError: true }, plain: false },
    {
      name: 'structured content',
      result: { content: [text('{"a":1}')], structuredContent: { a: 1 } },
      plain: false,
    },
    {
      name: 'an image',
      result: { content: [{ type: 'image', data: 'AAAA', mimeType: 'image/png' }] },
      plain: false,
    },
    { name: 'a text over the limit', result: { content: [text('x'.repeat(11))] }, plain: false },
    { name: 'a text at the limit', result: { content: [text('x'.repeat(10))] }, plain: true },
    { name: 'no content', result: { content: [] }, plain: false },
  ];

  it.each(cases)(
    'takes only the plain case, and then agrees with toolResultToText: $name',
    ({ result, plain }) => {
      const fast = plainResultText(result, 10);
      expect(fast !== undefined).toBe(plain);
      if (fast !== undefined) expect(fast).toBe(toolResultToText(result, { maxChars: 10 }).text);
    },
  );

  it('uses the default limit of toolResultToText', () => {
    expect(plainResultText({ content: [text('x'.repeat(8_000))] })).toHaveLength(8_000);
    expect(plainResultText({ content: [text('x'.repeat(8_001))] })).toBeUndefined();
  });
});

describe('base64ByteLength', () => {
  it.each([0, 1, 2, 3, 4, 5, 1000])('gives the decoded size of %i bytes', (bytes) => {
    expect(base64ByteLength(payload(bytes))).toBe(bytes);
  });
});

describe('formatBytes', () => {
  it.each([
    [512, '512 B'],
    [1024, '1.0 KB'],
    [12_595, '12.3 KB'],
    [4 * 1024 * 1024, '4.0 MB'],
  ])('writes %i bytes as %s', (bytes, text) => {
    expect(formatBytes(bytes)).toBe(text);
  });
});
