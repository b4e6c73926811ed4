import { describe, expect, it } from 'vitest';
import { toolDefinitionProblem } from '../../../shared/mcp/tool-definition.js';

const inputSchema = { type: 'object' as const, properties: {} };

describe('toolDefinitionProblem', () => {
  it('accepts names of 1-128 characters without controls, and text with tabs and line breaks', () => {
    for (const name of ['echo', 'get_user.v2', 'A-b_c.9', 'x'.repeat(128), 'has space', 'a/b']) {
      expect(toolDefinitionProblem({ name, inputSchema })).toBeUndefined();
    }
    expect(
      toolDefinitionProblem({ name: 'ok', title: 'T', description: 'a\tb\r\nc', inputSchema }),
    ).toBeUndefined();
  });

  it.each([
    ['', /is not 1-128 characters long/],
    ['x'.repeat(129), /is not 1-128 characters long/],
    ['nul\u0000', /holds a control character/],
    ['bell\u0007', /holds a control character/],
    ['c1\u0085', /holds a control character/],
  ])('refuses the name %j', (name, reason) => {
    expect(toolDefinitionProblem({ name, inputSchema })).toMatch(reason);
  });

  it('refuses control characters in the title or description, and NUL anywhere', () => {
    expect(toolDefinitionProblem({ name: 'a', description: 'x\u001b[2J', inputSchema })).toBe(
      'its description holds a control character',
    );
    expect(toolDefinitionProblem({ name: 'a', title: '\u007f', inputSchema })).toBe(
      'its title holds a control character',
    );
    const nested = { type: 'object', properties: { q: { enum: ['ok', 'b\u0000d'] } } };
    expect(toolDefinitionProblem({ name: 'a', inputSchema: nested })).toBe(
      'inputSchema.properties.q.enum.1 holds a NUL character (\\u0000)',
    );
    const key = { type: 'object', properties: { ['k\u0000']: {} } };
    expect(toolDefinitionProblem({ name: 'a', inputSchema: key })).toMatch(/a key in/);
    const meta = { name: 'a', inputSchema, _meta: { note: '\u0000' } };
    expect(toolDefinitionProblem(meta)).toBe('_meta.note holds a NUL character (\\u0000)');
  });

  it('checks a deeply nested schema without overflowing the stack', () => {
    let schema: Record<string, unknown> = { type: 'string', default: '\u0000' };
    for (let depth = 0; depth < 200_000; depth++) schema = { items: schema };
    expect(toolDefinitionProblem({ name: 'deep', inputSchema: schema })).toMatch(/holds a NUL/);
  });
});
