import { describe, expect, it } from 'vitest';
import { summarizeStructured, toolResultToText } from '../../../shared/mcp/tool-result.js';

describe('summarizeStructured', () => {
  it('gives one line per field, lists counted and named, nested objects one level deep', () => {
    expect(
      summarizeStructured({
        city: 'Oslo',
        temperature: 21,
        raining: false,
        wind: { speedKmh: 12, direction: 'NW' },
        alerts: [],
        forecast: [
          { day: 'Mon', high: 21 },
          { day: 'Tue', high: 19, low: 9, rain: { mm: 2 } },
        ],
        tags: ['warm', 'dry'],
        note: null,
      }),
    ).toBe(
      [
        'city: Oslo',
        'temperature: 21',
        'raining: false',
        'wind: speedKmh 12, direction NW',
        'alerts: none',
        'forecast: 2 items: day Mon, high 21; day Tue, high 19, low 9, …',
        'tags: 2 items: warm; dry',
        'note: none',
      ].join('\n'),
    );
  });

  it('names list items by their name, title or id and says how many more there are', () => {
    const items = Array.from({ length: 12 }, (_, index) => ({ id: index + 1, title: `t${index}` }));
    expect(summarizeStructured({ items })).toBe(
      'items: 12 items: t0; t1; t2; t3; t4; t5; t6; t7; and 4 more',
    );
  });

  it('cuts long text values and says how long they were', () => {
    const summary = summarizeStructured({ body: 'z'.repeat(500) });
    expect(summary).toBe(`body: ${'z'.repeat(200)}… (500 characters)`);
  });

  it('counts a top-level list', () => {
    expect(summarizeStructured(['a', 'b', 'c'])).toBe('3 items: a; b; c');
  });
});

describe("toolResultToText with structured: 'summary'", () => {
  it('speaks structuredContent as a summary and keeps JSON as the default', () => {
    const result = {
      content: [{ type: 'text' as const, text: '{"state":"ok","count":2}' }],
      structuredContent: { state: 'ok', count: 2 },
    };
    expect(toolResultToText(result, { structured: 'summary' }).text).toBe('state: ok\ncount: 2');
    expect(toolResultToText(result).text).toBe('{"state":"ok","count":2}');
  });
});
