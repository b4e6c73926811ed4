import { describe, expect, it, vi } from 'vitest';
import {
  SessionDatabaseError,
  openSessionDatabase,
  prewarmSessionDatabase,
} from '../../agent/session-database.js';
import type { DatabaseHandle, OpenDatabaseOptions } from '../../shared/db/open.js';
import { SecretBox, keyId } from '../../shared/secrets.js';
import { silentLogger } from './fixtures.js';

const KEY = Buffer.alloc(32, 9);
const SETTINGS = {
  DATABASE_URL: 'postgres://db.example.test/app',
  SWITCHBOARD_SECRET_KEY: KEY.toString('base64'),
  SWITCHBOARD_PREVIOUS_SECRET_KEYS: [],
  dataDir: '/nonexistent/switchboard-data',
};

describe('openSessionDatabase', () => {
  it('opens Postgres at DATABASE_URL with a small pool that lets idle connections go', async () => {
    const fake = {} as DatabaseHandle;
    const open = vi.fn(async (_options?: OpenDatabaseOptions) => fake);

    const handle = await openSessionDatabase(SETTINGS, silentLogger(), open);

    expect(handle).toBe(fake);
    expect(open).toHaveBeenCalledWith({
      databaseUrl: 'postgres://db.example.test/app',
      maxConnections: 2,
      idleTimeoutSeconds: 1,
      secretBox: expect.any(SecretBox),
    });
    const box = open.mock.calls[0]![0]!.secretBox;
    expect(box.currentKeyId).toBe(keyId(KEY));
  });

  it('never generates a secret key of its own: without the API key it refuses to open', async () => {
    const open = vi.fn(async (_options?: OpenDatabaseOptions) => ({}) as DatabaseHandle);
    const failure = await openSessionDatabase(
      { ...SETTINGS, SWITCHBOARD_SECRET_KEY: undefined },
      silentLogger(),
      open,
    ).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(SessionDatabaseError);
    expect((failure as Error).message).toMatch(/SWITCHBOARD_SECRET_KEY is not set/);
    expect(open).not.toHaveBeenCalled();
  });

  it('refuses to run without DATABASE_URL instead of sharing embedded PGlite', async () => {
    const open = vi.fn(async (_options?: OpenDatabaseOptions) => ({}) as DatabaseHandle);
    const failure = await openSessionDatabase(
      { ...SETTINGS, DATABASE_URL: undefined },
      silentLogger(),
      open,
    ).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(SessionDatabaseError);
    expect((failure as Error).message).toMatch(/DATABASE_URL is not set/);
    expect(open).not.toHaveBeenCalled();
  });

  it('names DATABASE_URL when Postgres cannot be reached', async () => {
    await expect(
      openSessionDatabase(SETTINGS, silentLogger(), async () => {
        throw new Error('connect ECONNREFUSED');
      }),
    ).rejects.toThrow('Could not open the Postgres database at DATABASE_URL: connect ECONNREFUSED');
  });
});

describe('prewarmSessionDatabase', () => {
  it('opens the database before the job and hands that handle to the session once', async () => {
    const first = { name: 'prewarmed' } as unknown as DatabaseHandle;
    const second = { name: 'fresh' } as unknown as DatabaseHandle;
    const open = vi.fn(async (_options?: OpenDatabaseOptions) =>
      open.mock.calls.length === 1 ? first : second,
    );

    const opener = await prewarmSessionDatabase(SETTINGS, silentLogger(), open);
    expect(open).toHaveBeenCalledTimes(1);

    expect(await opener()).toBe(first);
    expect(open).toHaveBeenCalledTimes(1);
    expect(await opener()).toBe(second);
    expect(open).toHaveBeenCalledTimes(2);
  });

  it('lets the session open (and report) the database when the prewarm failed', async () => {
    let reachable = false;
    const handle = {} as DatabaseHandle;
    const open = vi.fn(async (_options?: OpenDatabaseOptions) => {
      if (!reachable) throw new Error('connect ECONNREFUSED');
      return handle;
    });
    const opener = await prewarmSessionDatabase(SETTINGS, silentLogger(), open);
    await expect(opener()).rejects.toBeInstanceOf(SessionDatabaseError);
    reachable = true;
    expect(await opener()).toBe(handle);
  });
});
