/**
 * Classifying failed MCP requests (`shared/mcp/request-errors.ts`): a "URL elicitation required"
 * answer (MCP 2025-11-25, error -32042) keeps its pages on the `McpConnectionError`, scrubbed, as
 * a plain `request_failed` that does not drop the connection; anything else carries none.
 */
import { describe, expect, it } from 'vitest';
import {
  ErrorCode,
  McpError,
  UrlElicitationRequiredError,
} from '@modelcontextprotocol/sdk/types.js';
import { classifyRequestError, urlElicitationsOf } from '../../../shared/mcp/request-errors.js';

const context = {
  what: 'tools/call sign-in',
  label: 'Example',
  connected: true,
  scrub: (text: string) => text.replaceAll('s3cret', '[redacted]'),
};

describe('a "URL elicitation required" answer', () => {
  it('keeps its URL-mode pages, scrubbed, on a request_failed that keeps the connection', () => {
    const error = new UrlElicitationRequiredError([
      {
        mode: 'url',
        url: 'https://login.example.com/?key=s3cret',
        message: 'Sign in (s3cret)',
        elicitationId: 'e1',
      },
    ]);
    const { error: failure, lost } = classifyRequestError(error, context);
    expect(lost).toBe(false);
    expect(failure.code).toBe('request_failed');
    expect(failure.urlElicitations).toEqual([
      {
        url: 'https://login.example.com/?key=[redacted]',
        message: 'Sign in ([redacted])',
        elicitationId: 'e1',
      },
    ]);
  });

  it('is recognised from the code and data alone, leaving out entries that are not URL mode', () => {
    const error = new McpError(ErrorCode.UrlElicitationRequired, 'needs a page', {
      elicitations: [
        { mode: 'form', message: 'no' },
        { mode: 'url', url: 42 },
        { mode: 'url', url: 'https://a.example/', elicitationId: 7 },
        null,
      ],
    });
    expect(urlElicitationsOf(error)).toEqual([
      { url: 'https://a.example/', message: '', elicitationId: '' },
    ]);
  });

  it('gives nothing for other errors, or for -32042 without any URL-mode page', () => {
    expect(urlElicitationsOf(new McpError(ErrorCode.InvalidParams, 'bad'))).toBeUndefined();
    expect(urlElicitationsOf(new Error('boom'))).toBeUndefined();
    expect(
      urlElicitationsOf(new McpError(ErrorCode.UrlElicitationRequired, 'x', { elicitations: [] })),
    ).toBeUndefined();
    const plain = classifyRequestError(new McpError(ErrorCode.InvalidParams, 'bad'), context);
    expect(plain.error.urlElicitations).toBeUndefined();
  });
});
