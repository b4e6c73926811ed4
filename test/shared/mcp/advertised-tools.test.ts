import type { Tool } from '@modelcontextprotocol/sdk/types.js';
import { describe, expect, it } from 'vitest';
import { advertiseTools, cleanInputSchema, toolPassesFilter } from '../../../shared/mcp/index.js';

/** A tool carrying every non-schema field MCP allows, to prove none reach the model. */
const weather: Tool = {
  name: 'get_weather',
  title: 'Weather',
  description: 'Current weather for a city',
  inputSchema: {
    $schema: 'https://json-schema.org/draft/2020-12/schema',
    type: 'object',
    properties: { city: { type: 'string', description: 'City name' } },
    required: ['city'],
    additionalProperties: false,
  },
  outputSchema: { type: 'object', properties: { temperature: { type: 'number' } } },
  annotations: { readOnlyHint: true, title: 'Weather' },
  _meta: { 'com.example/ui': { widget: 'weather-card' } },
};

function tool(name: string, extra: Partial<Tool> = {}): Tool {
  return { name, inputSchema: { type: 'object', properties: {} }, ...extra };
}

describe('advertiseTools', () => {
  it('gives each tool its advertised name, original name, description and parameters', () => {
    expect(advertiseTools('Weather Service', [weather])).toEqual([
      {
        name: 'weather_service__get_weather',
        originalName: 'get_weather',
        description: 'Current weather for a city',
        parameters: {
          type: 'object',
          properties: { city: { type: 'string', description: 'City name' } },
          required: ['city'],
          additionalProperties: false,
        },
      },
    ]);
  });

  it('lets no _meta, annotations or outputSchema reach what the model sees', () => {
    const [advertised] = advertiseTools('Weather', [weather]);

    const json = JSON.stringify(advertised);

    expect(json).not.toContain('_meta');
    expect(json).not.toContain('annotations');
    expect(json).not.toContain('outputSchema');
    expect(json).not.toContain('readOnlyHint');
    expect(json).not.toContain('$schema');
  });

  it('drops a _meta key the server put inside the input schema', () => {
    const sneaky = tool('sneaky', {
      inputSchema: {
        type: 'object',
        properties: { q: { type: 'string' } },
        _meta: { hidden: true },
      } as Tool['inputSchema'],
    });

    const [advertised] = advertiseTools('S', [sneaky]);

    expect(advertised?.parameters).toEqual({
      type: 'object',
      properties: { q: { type: 'string' } },
    });
  });

  it('falls back to the title, then to a sentence naming the tool, for the description', () => {
    const advertised = advertiseTools('Notes', [
      tool('titled', { title: 'A titled tool' }),
      tool('bare'),
    ]);

    expect(advertised.map((t) => t.description)).toEqual([
      'A titled tool',
      'The bare tool of Notes.',
    ]);
  });

  it('keeps only the allowed tools when the filter has an allow list', () => {
    const tools = [tool('read'), tool('write'), tool('delete')];

    const advertised = advertiseTools('Files', tools, { filter: { allow: ['read', 'write'] } });

    expect(advertised.map((t) => t.originalName)).toEqual(['read', 'write']);
  });

  it('drops the denied tools when the filter has a deny list', () => {
    const tools = [tool('read'), tool('write'), tool('delete')];

    const advertised = advertiseTools('Files', tools, { filter: { deny: ['delete'] } });

    expect(advertised.map((t) => t.name)).toEqual(['files__read', 'files__write']);
  });

  it('applies the deny list to the allowed tools when the filter has both', () => {
    const tools = [tool('read'), tool('write'), tool('delete')];

    const advertised = advertiseTools('Files', tools, {
      filter: { allow: ['read', 'delete'], deny: ['delete'] },
    });

    expect(advertised.map((t) => t.originalName)).toEqual(['read']);
  });

  it('keeps names unique across servers that share a taken set', () => {
    const taken = new Set<string>();

    const first = advertiseTools('Files', [tool('read')], { taken });
    const second = advertiseTools('files', [tool('read')], { taken });

    expect(second[0]?.name).not.toBe(first[0]?.name);
    expect(second[0]?.originalName).toBe('read');
  });
});

describe('cleanInputSchema', () => {
  it('gives an object schema with empty properties when the server sent none', () => {
    expect(cleanInputSchema({ type: 'object' })).toEqual({ type: 'object', properties: {} });
  });
});

describe('toolPassesFilter', () => {
  it('lets every tool through an empty filter', () => {
    expect(toolPassesFilter('anything', {})).toBe(true);
    expect(toolPassesFilter('anything', { allow: [], deny: [] })).toBe(true);
  });
});
