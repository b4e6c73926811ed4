/** The dashboard's words for what a token opens and who made a tool call (`ui/format.ts`). */
import { describe, expect, it } from 'vitest';
import { callSourceWords, scopeWords } from '../../../../server/dashboard/ui/format.js';

describe('scopeWords', () => {
  it.each([
    [null, 'full access'],
    [['api', 'gateway'], 'full access'],
    [['api'], 'API only'],
    [['gateway'], 'MCP gateway only'],
    [['gateway', 'server:3'], 'MCP gateway only: server 3'],
    [['gateway', 'server:3', 'server:7'], 'MCP gateway only: servers 3, 7'],
  ])('names %j as %s', (scopes, words) => {
    expect(scopeWords(scopes)).toBe(words);
  });
});

describe('callSourceWords', () => {
  it('says voice for an agent call and the token label for a gateway call', () => {
    expect(callSourceWords({ source: 'agent', tokenLabel: null })).toBe('voice');
    expect(callSourceWords({ source: 'gateway', tokenLabel: 'laptop' })).toBe('gateway (laptop)');
    expect(callSourceWords({ source: 'gateway', tokenLabel: '' })).toBe('gateway (no label)');
  });
});
