import { EventEmitter } from 'node:events';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DataDirLockedError, acquireDataDirLock } from '../../../shared/db/data-dir-lock.js';
import { openDatabase } from '../../../shared/db/open.js';
import { testSecretBox } from '../../helpers/database.js';

const dir = mkdtempSync(path.join(tmpdir(), 'switchboard-lock-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A PID no process has: the highest possible, never handed out on Linux defaults. */
const DEAD_PID = 4_194_304;

describe('the data directory lock', () => {
  it('holds the PID, refuses a second owner naming the first, and is removed on release', () => {
    const file = path.join(dir, 'a.lock');
    const exit = new EventEmitter();
    const first = acquireDataDirLock(file, { exitTarget: exit });
    expect(readFileSync(file, 'utf8').trim()).toBe(String(process.pid));

    let refusal: unknown;
    try {
      acquireDataDirLock(file, { pid: process.pid + 1, exitTarget: exit });
    } catch (error) {
      refusal = error;
    }
    expect(refusal).toBeInstanceOf(DataDirLockedError);
    expect((refusal as DataDirLockedError).pid).toBe(process.pid);
    expect((refusal as Error).message).toContain(`PID ${process.pid}`);

    first.release();
    expect(existsSync(file)).toBe(false);
    expect(exit.listenerCount('exit')).toBe(0);
  });

  it('takes over a stale lock whose process is gone', () => {
    const file = path.join(dir, 'stale.lock');
    writeFileSync(file, `${DEAD_PID}\n`);
    const exit = new EventEmitter();
    const lock = acquireDataDirLock(file, { exitTarget: exit });
    expect(readFileSync(file, 'utf8').trim()).toBe(String(process.pid));
    lock.release();
  });

  it('is removed when the owner exits without releasing it', () => {
    const file = path.join(dir, 'exit.lock');
    const exit = new EventEmitter();
    acquireDataDirLock(file, { exitTarget: exit });
    exit.emit('exit');
    expect(existsSync(file)).toBe(false);
  });

  it('keeps a second embedded database off the same folder until the first is closed', async () => {
    const pgliteDir = path.join(dir, 'pglite');
    const lockFile = path.join(dir, 'switchboard.lock');
    const first = await openDatabase({ pgliteDir, lockFile, secretBox: testSecretBox() });
    // The same process asks again (as a second process would): the lock names the holder.
    await expect(
      openDatabase({ pgliteDir, lockFile, secretBox: testSecretBox() }),
    ).rejects.toBeInstanceOf(DataDirLockedError);
    await first.close();
    expect(existsSync(lockFile)).toBe(false);
    const second = await openDatabase({ pgliteDir, lockFile, secretBox: testSecretBox() });
    await second.close();
  }, 60_000);
});
