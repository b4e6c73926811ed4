import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { createRealtimeModel } from '../../agent/model.js';
import { livekitFlags, loadWorkerSettings, workerCommand } from '../../agent/worker-settings.js';
import { loadSecretKey } from '../../shared/secrets.js';
import { SettingsError } from '../../shared/settings.js';

const LIVEKIT = {
  LIVEKIT_URL: 'wss://switchboard-test.livekit.cloud',
  LIVEKIT_API_KEY: 'APIkey',
  LIVEKIT_API_SECRET: 'api-secret',
};

/** The worker's other required settings: `OPENAI_API_KEY` and `DATABASE_URL` set, as in the issue. */
const WITHOUT_LIVEKIT = {
  OPENAI_API_KEY: 'sk-test',
  DATABASE_URL: 'postgres://db.example.test/app',
  SWITCHBOARD_SECRET_KEY: Buffer.alloc(32, 7).toString('base64'),
};

const REQUIRED = { ...LIVEKIT, ...WITHOUT_LIVEKIT };

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

/** The message of the SettingsError `load` throws ('' when it throws none). */
function messageOf(load: () => unknown): string {
  try {
    load();
  } catch (error) {
    if (error instanceof SettingsError) return error.message;
    throw error;
  }
  return '';
}

describe('loadWorkerSettings: LiveKit and OpenAI at start', () => {
  it('names every LiveKit setting at once when none is set (the issue: `npm run agent` with OPENAI_API_KEY and DATABASE_URL set)', () => {
    const message = messageOf(() => loadWorkerSettings(WITHOUT_LIVEKIT, { argv: ['start'] }));
    expect(message).toMatch(/^Invalid settings:/);
    expect(message).toMatch(/^ {2}LIVEKIT_URL: required by the agent worker \(or --url\)/m);
    expect(message).toContain('wss://<project>.livekit.cloud');
    expect(message).toContain('ws://localhost:7880');
    expect(message).toMatch(/^ {2}LIVEKIT_API_KEY: required/m);
    expect(message).toMatch(/^ {2}LIVEKIT_API_SECRET: required/m);
    expect(message).not.toContain('OPENAI_API_KEY');
  });

  it('names LiveKit, OpenAI and the database together when nothing is set', () => {
    const message = messageOf(() => loadWorkerSettings({}, { argv: ['start'] }));
    for (const name of [
      'LIVEKIT_URL',
      'LIVEKIT_API_KEY',
      'LIVEKIT_API_SECRET',
      'OPENAI_API_KEY',
      'DATABASE_URL',
    ]) {
      expect(message).toMatch(new RegExp(`^  ${name}: required`, 'm'));
    }
  });

  it('does not fall back to ws://localhost:7880 without LIVEKIT_URL (the issue)', () => {
    const message = messageOf(() => loadWorkerSettings({ ...REQUIRED, LIVEKIT_URL: '' }));
    expect(message).toMatch(/^ {2}LIVEKIT_URL: required/m);
    expect(message).not.toMatch(/LIVEKIT_API_(KEY|SECRET)/);
  });

  it('names a malformed LIVEKIT_URL and what a valid one looks like', () => {
    for (const url of ['localhost:7880', 'ws://', 'livekit.example.com', 'ftp://h:7880']) {
      const message = messageOf(() => loadWorkerSettings({ ...REQUIRED, LIVEKIT_URL: url }));
      expect(message, url).toMatch(
        /^ {2}LIVEKIT_URL: must be a ws:\/\/, wss:\/\/, http:\/\/ or https:\/\/ URL with a host, such as wss:\/\/<project>\.livekit\.cloud/m,
      );
    }
    for (const url of ['ws://localhost:7880', 'https://h.example.test', 'wss://p.livekit.cloud']) {
      expect(loadWorkerSettings({ ...REQUIRED, LIVEKIT_URL: url }).LIVEKIT_URL).toBe(url);
    }
  });

  it('takes the agents-js flags --url, --api-key and --api-secret as the settings', () => {
    const argv = ['--url', 'ws://127.0.0.1:7880', 'start', '--api-key=devkey', '--api-secret', 's'];
    const settings = loadWorkerSettings(WITHOUT_LIVEKIT, { argv });
    expect(settings.LIVEKIT_URL).toBe('ws://127.0.0.1:7880');
    expect(settings.LIVEKIT_API_KEY).toBe('devkey');
    expect(settings.LIVEKIT_API_SECRET).toBe('s');
    // A flag wins over the environment, as in agents-js; a malformed one is named too.
    expect(loadWorkerSettings(REQUIRED, { argv }).LIVEKIT_URL).toBe('ws://127.0.0.1:7880');
    expect(
      messageOf(() => loadWorkerSettings(REQUIRED, { argv: ['start', '--url', 'nowhere'] })),
    ).toMatch(/^ {2}LIVEKIT_URL: must be/m);
  });

  it('leaves LiveKit to agents-js in job processes (livekit: false)', () => {
    expect(loadWorkerSettings({ ...REQUIRED, LIVEKIT_URL: '' }, { livekit: false })).toMatchObject({
      OPENAI_API_KEY: 'sk-test',
    });
  });

  it('names a malformed OPENAI_BASE_URL, and takes an empty one as unset', () => {
    const message = messageOf(() =>
      loadWorkerSettings({ ...REQUIRED, OPENAI_BASE_URL: 'api.openai.com/v1' }),
    );
    expect(message).toMatch(/^ {2}OPENAI_BASE_URL: must be an http:\/\/ or https:\/\/ URL/m);
    expect(loadWorkerSettings({ ...REQUIRED, OPENAI_BASE_URL: '' }).OPENAI_BASE_URL).toBe(
      'https://api.openai.com/v1',
    );
  });
});

describe('the worker command line', () => {
  it('finds the command past the global flags and their values', () => {
    expect(workerCommand(['start'])).toBe('start');
    expect(workerCommand(['--url', 'ws://h:7880', 'dev', '--log-level', 'debug'])).toBe('dev');
    expect(workerCommand(['--url=ws://h:7880', 'connect', '--room', 'r'])).toBe('connect');
    expect(workerCommand(['--help'])).toBeUndefined();
  });

  it('reads the LiveKit flags in both forms, the last one winning', () => {
    expect(
      livekitFlags(['--url', 'ws://a', 'start', '--url=ws://b', '--api-secret=x=y', '--api-key']),
    ).toEqual({ LIVEKIT_URL: 'ws://b', LIVEKIT_API_SECRET: 'x=y' });
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
