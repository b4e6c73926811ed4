import { describe, expect, it } from 'vitest';
import { describeError, describeIssues } from '../../shared/errors.js';

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

describe('describeIssues', () => {
  it('says a field once when its message starts with its name, and keeps the path otherwise', () => {
    const { errors, detail } = describeIssues(
      [
        { path: ['url'], message: 'url must be an absolute URL' },
        { path: ['auth', 'tokenUrl'], message: 'tokenUrl must use http or https' },
        { path: ['timeoutMs'], message: 'Too small: expected number to be >=100' },
      ],
      'body',
    );
    expect(detail).toBe(
      'Invalid body: body.url must be an absolute URL; body.auth.tokenUrl must use http or https; body.timeoutMs: Too small: expected number to be >=100',
    );
    expect(errors.map((error) => error.path)).toEqual([
      'body.url',
      'body.auth.tokenUrl',
      'body.timeoutMs',
    ]);
  });
});
