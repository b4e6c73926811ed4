/** `PUBLIC_URL`: where OAuth redirects come back to (issue 13). */
import { describe, expect, it } from 'vitest';
import { SettingsError, loadSettings } from '../../shared/settings.js';

describe('PUBLIC_URL', () => {
  it('is unset by default, and kept without a trailing slash when set', () => {
    expect(loadSettings({}).PUBLIC_URL).toBeUndefined();
    expect(loadSettings({ PUBLIC_URL: '' }).PUBLIC_URL).toBeUndefined();
    expect(loadSettings({ PUBLIC_URL: 'https://sb.example.com/' }).PUBLIC_URL).toBe(
      'https://sb.example.com',
    );
    expect(loadSettings({ PUBLIC_URL: 'https://example.com/switchboard//' }).PUBLIC_URL).toBe(
      'https://example.com/switchboard',
    );
  });

  it.each([
    'sb.example.com',
    'ftp://sb.example.com',
    'https://sb.example.com/?x=1',
    'https://sb.example.com/#top',
  ])('refuses %s, naming PUBLIC_URL', (value) => {
    expect(() => loadSettings({ PUBLIC_URL: value })).toThrow(SettingsError);
    expect(() => loadSettings({ PUBLIC_URL: value })).toThrow(
      /PUBLIC_URL: must be an http\(s\) URL/,
    );
  });
});
