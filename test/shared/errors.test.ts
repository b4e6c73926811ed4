import { describe, expect, it } from 'vitest';
import { describeError } from '../../shared/errors.js';

describe('describeError', () => {
  it('says a write to a stopped stdio server means the connection was closed', () => {
    const epipe = Object.assign(new Error('write EPIPE'), { code: 'EPIPE', syscall: 'write' });
    expect(describeError(epipe)).toBe(
      'the connection was closed (the server stopped reading: EPIPE)',
    );
  });

  it('names a missing command and scrubs other messages', () => {
    const missing = Object.assign(new Error('spawn uvx ENOENT'), { code: 'ENOENT', path: 'uvx' });
    expect(describeError(missing)).toBe('command not found: uvx');
    expect(
      describeError(new Error('key sk-123 refused'), (t) => t.replace('sk-123', '[secret]')),
    ).toBe('key [secret] refused');
  });
});
