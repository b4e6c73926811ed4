import { describe, expect, it } from 'vitest';
import { SettingsError, loadSettings } from '../../shared/settings.js';

describe('replica settings', () => {
  it('default MONITOR_LEASE_MS to 15 s and read it from the environment', () => {
    expect(loadSettings({}).MONITOR_LEASE_MS).toBe(15_000);
    expect(loadSettings({ MONITOR_LEASE_MS: '1500' }).MONITOR_LEASE_MS).toBe(1500);
  });

  it.each(['299', '1.5', 'soon'])('refuse MONITOR_LEASE_MS=%s, naming it', (value) => {
    expect(() => loadSettings({ MONITOR_LEASE_MS: value })).toThrow(SettingsError);
    expect(() => loadSettings({ MONITOR_LEASE_MS: value })).toThrow(/MONITOR_LEASE_MS/);
  });
});
