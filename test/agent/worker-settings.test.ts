import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { createRealtimeModel } from '../../agent/model.js';
import { loadWorkerSettings } from '../../agent/worker-settings.js';
import { loadSecretKey } from '../../shared/secrets.js';
import { SettingsError } from '../../shared/settings.js';

const REQUIRED = {
  OPENAI_API_KEY: 'sk-test',
  DATABASE_URL: 'postgres://db.example.test/app',
  SWITCHBOARD_SECRET_KEY: Buffer.alloc(32, 7).toString('base64'),
};

describe('loadWorkerSettings', () => {
  it('registers the worker as "switchboard" unless AGENT_NAME says otherwise', () => {
    expect(loadWorkerSettings(REQUIRED).AGENT_NAME).toBe('switchboard');
    expect(loadWorkerSettings({ ...REQUIRED, AGENT_NAME: 'desk' }).AGENT_NAME).toBe('desk');
  });

  it('requires an OpenAI API key', () => {
    expect(() => loadWorkerSettings({})).toThrow(SettingsError);
    expect(() => loadWorkerSettings({ ...REQUIRED, OPENAI_API_KEY: '  ' })).toThrow(
      /OPENAI_API_KEY: required/,
    );
  });

  it('requires a shared Postgres database rather than embedded PGlite', () => {
    expect(() => loadWorkerSettings({ OPENAI_API_KEY: 'sk-test' })).toThrow(
      /DATABASE_URL: required by the agent worker/,
    );
  });

  it("requires the API's secret key, from SWITCHBOARD_SECRET_KEY or the API's key file", () => {
    const dataDir = mkdtempSync(path.join(tmpdir(), 'switchboard-worker-'));
    try {
      const withoutKey = { ...REQUIRED, SWITCHBOARD_SECRET_KEY: '', DATA_DIR: dataDir };
      expect(() => loadWorkerSettings(withoutKey)).toThrow(
        /SWITCHBOARD_SECRET_KEY: required by the agent worker/,
      );
      loadSecretKey({ dataDir });
      expect(loadWorkerSettings(withoutKey).SWITCHBOARD_SECRET_KEY).toBeUndefined();
      expect(() => loadWorkerSettings({ ...REQUIRED, SWITCHBOARD_SECRET_KEY: 'c2hvcnQ=' })).toThrow(
        /SWITCHBOARD_SECRET_KEY: must be 32 bytes/,
      );
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it('names every failing field at once', () => {
    let message = '';
    try {
      loadWorkerSettings({ OPENAI_TEMPERATURE: '9', DATABASE_URL: 'mysql://x' });
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toMatch(/^Invalid settings:/);
    expect(message).toContain('OPENAI_TEMPERATURE');
    expect(message).toContain('DATABASE_URL');
    expect(message).toContain('OPENAI_API_KEY');
  });
});

describe('createRealtimeModel', () => {
  it('configures the realtime model from the settings', () => {
    const settings = loadWorkerSettings({
      ...REQUIRED,
      OPENAI_REALTIME_MODEL: 'gpt-realtime-mini',
      OPENAI_BASE_URL: 'https://openai.example.test/v1',
    });

    const model = createRealtimeModel(settings);

    expect(model.model).toBe('gpt-realtime-mini');
    expect(model.provider).toBe('openai.example.test');
  });
});
