/**
 * A lock file that keeps a second process off an embedded PGlite database: PGlite serves one
 * process only, and two processes writing the same folder corrupt it. The file is created with
 * `O_EXCL` (`open(..., 'wx')`), holds the owner's PID, lives as long as the owner, and is removed
 * when the owner releases it or exits. A lock whose PID no longer runs (the owner was killed with
 * SIGKILL or the machine restarted) is stale and is taken over.
 *
 * Takeover renames the stale file away before creating a new one, so of two processes that find
 * the same stale lock only one removes it; a process that moved a live lock by mistake (it was
 * replaced between the read and the rename) puts it back and refuses.
 */
import {
  linkSync,
  openSync,
  readFileSync,
  renameSync,
  unlinkSync,
  writeSync,
  closeSync,
} from 'node:fs';

/** The lock file's name inside `DATA_DIR`. */
export const DATA_DIR_LOCK_FILE = 'switchboard.lock';

/** Thrown by {@link acquireDataDirLock} when another running process holds the lock. */
export class DataDirLockedError extends Error {
  override readonly name = 'DataDirLockedError';
  /** The PID of the process holding the lock. */
  readonly pid: number;
  /** The lock file. */
  readonly file: string;

  constructor(file: string, pid: number) {
    super(
      `another Switchboard process (PID ${pid}) is using this data directory: ${file} is ` +
        `held by it, and the embedded database serves one process only. Stop that process ` +
        `first, give this one another DATA_DIR, or set DATABASE_URL to a Postgres database ` +
        `both can share.`,
    );
    this.pid = pid;
    this.file = file;
  }
}

/** A held lock. */
export interface DataDirLock {
  /** The lock file. */
  readonly file: string;
  /** Removes the lock file (only if it still names this process). Safe to call more than once. */
  release(): void;
}

/** What {@link acquireDataDirLock} listens to for `exit`; `process` fits. */
export interface ExitTarget {
  once(event: 'exit', listener: () => void): unknown;
  off(event: 'exit', listener: () => void): unknown;
}

/** Options of {@link acquireDataDirLock}. */
export interface DataDirLockOptions {
  /** The PID written into the lock; default `process.pid`. */
  pid?: number;
  /** Whether a PID runs; default a signal-0 probe (`process.kill(pid, 0)`). */
  isRunning?: (pid: number) => boolean;
  /** Removes the lock when it emits `exit`; default `process`. */
  exitTarget?: ExitTarget;
}

/** True when `pid` is a running process (EPERM: it runs, under another user). */
function processRuns(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The PID a lock file names, or `undefined` when it is missing or unreadable. */
function readPid(file: string): number | undefined {
  try {
    const pid = Number.parseInt(readFileSync(file, 'utf8').trim(), 10);
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Takes the lock `file` for this process, synchronously.
 *
 * @param file the lock file, e.g. `$DATA_DIR/switchboard.lock` (its folder must exist).
 * @returns the held lock; it is also removed when the process exits.
 * @throws DataDirLockedError when a running process holds it; a file system error (EACCES, ...)
 *   when the file cannot be created.
 */
export function acquireDataDirLock(file: string, options: DataDirLockOptions = {}): DataDirLock {
  const pid = options.pid ?? process.pid;
  const isRunning = options.isRunning ?? processRuns;
  const exitTarget = options.exitTarget ?? process;
  for (let attempt = 0; attempt < 5; attempt++) {
    try {
      const fd = openSync(file, 'wx', 0o644);
      try {
        writeSync(fd, `${pid}\n`);
      } finally {
        closeSync(fd);
      }
      let released = false;
      const release = () => {
        if (released) return;
        released = true;
        exitTarget.off('exit', release);
        // A lock taken over after this process was thought dead is not this process's to remove.
        if (readPid(file) === pid) unlinkSync(file);
      };
      exitTarget.once('exit', release);
      return { file, release };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    const holder = readPid(file);
    // An empty file: its owner is between creating and writing it; treat it as held.
    if (holder !== undefined && isRunning(holder)) throw new DataDirLockedError(file, holder);
    if (holder === undefined && attempt < 4) continue;
    const aside = `${file}.stale-${pid}`;
    try {
      renameSync(file, aside);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') continue;
      throw error;
    }
    const moved = readPid(aside);
    if (moved !== holder && moved !== undefined && isRunning(moved)) {
      // Another process took the stale lock over between the read and the rename: give it back.
      try {
        linkSync(aside, file);
      } finally {
        unlinkSync(aside);
      }
      throw new DataDirLockedError(file, moved);
    }
    unlinkSync(aside);
  }
  const holder = readPid(file);
  throw new DataDirLockedError(file, holder ?? 0);
}
