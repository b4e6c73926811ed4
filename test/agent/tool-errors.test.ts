import { describe, expect, it } from 'vitest';
import {
  backgroundFailedSentence,
  callFailedSentence,
  toolSaidSentence,
} from '../../agent/tool-errors.js';
import { McpConnectionError } from '../../shared/mcp/index.js';

describe('callFailedSentence', () => {
  it('says what failed and what happens next, by error code', () => {
    const error = (code: ConstructorParameters<typeof McpConnectionError>[0], message = 'boom') =>
      callFailedSentence('Notes', 'delete', new McpConnectionError(code, message));

    expect(error('unavailable', 'The Notes server is unavailable. Retrying in 3 s.')).toBe(
      'The Notes server is unavailable. Retrying in 3 s.',
    );
    expect(error('request_failed', 'bad input')).toBe(
      'The Notes server could not run delete: bad input. It was not retried.',
    );
    expect(error('timeout')).toBe(
      'The Notes server did not answer delete in time, so it was cancelled and not retried; ' +
        'the user may try again later.',
    );
    expect(error('cancelled')).toBe(
      'The call of delete on Notes was cancelled before it finished.',
    );
    expect(error('connection_lost')).toBe(
      'The connection to the Notes server broke while delete was running, so it may or may ' +
        'not have run. Reconnecting.',
    );
    expect(error('connect_failed', 'no route')).toBe('The Notes server is unavailable: no route');
  });

  it('describes any other error', () => {
    expect(callFailedSentence('Notes', 'delete', new Error('odd'))).toMatch(
      /^The delete tool of Notes failed: .*odd/,
    );
  });
});

describe('toolSaidSentence and backgroundFailedSentence', () => {
  it("quote the server's error text and the thrown message", () => {
    expect(toolSaidSentence('Notes', 'delete', 'no such note')).toBe(
      'The delete tool of Notes said: no such note',
    );
    expect(backgroundFailedSentence('Notes', 'export', new Error('disk full'))).toBe(
      'export on Notes failed: disk full',
    );
    expect(backgroundFailedSentence('Notes', 'export', 'plain')).toBe(
      'export on Notes failed: plain',
    );
  });
});
