/** `WIDGET_FRAME_ANCESTORS`: who may frame the status widget page. */
import { describe, expect, it } from 'vitest';
import { SettingsError, loadSettings } from '../../shared/settings.js';

describe('WIDGET_FRAME_ANCESTORS', () => {
  it('defaults to any origin', () => {
    expect(loadSettings({}).WIDGET_FRAME_ANCESTORS).toEqual(['*']);
  });

  it('reads a comma-separated list of CSP sources', () => {
    const settings = loadSettings({
      WIDGET_FRAME_ANCESTORS: " 'self' , https://wall.example.com, https://*.example.org:8443 ",
    });
    expect(settings.WIDGET_FRAME_ANCESTORS).toEqual([
      "'self'",
      'https://wall.example.com',
      'https://*.example.org:8443',
    ]);
  });

  it.each([
    ['a path', 'https://wall.example.com/page'],
    ['a CSP injection', "https://a.example.com; script-src 'unsafe-inline'"],
    ["'none' beside an origin", "'none',https://a.example.com"],
    ['nothing', ''],
  ])('is refused, by name, when it is %s', (_name, value) => {
    expect(() => loadSettings({ WIDGET_FRAME_ANCESTORS: value })).toThrow(SettingsError);
    expect(() => loadSettings({ WIDGET_FRAME_ANCESTORS: value })).toThrow('WIDGET_FRAME_ANCESTORS');
  });
});
