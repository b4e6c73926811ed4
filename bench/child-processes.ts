/**
 * The benchmark's own check that it leaves nothing running: its child processes as `ps` lists
 * them, independently of the code that started them.
 */
import { execFileSync } from 'node:child_process';

/**
 * Ids of this process's running children (zombies and the `ps` itself left out); empty where
 * `ps` is unavailable.
 */
export function runningChildPids(): number[] {
  let output: string;
  try {
    output = execFileSync('ps', ['-o', 'pid=,stat=,comm=', '--ppid', String(process.pid)], {
      encoding: 'utf8',
    });
  } catch {
    // ps exits 1 when nothing matches; no ps at all means nothing to check.
    return [];
  }
  return (
    output
      .split('\n')
      .map((line) => line.trim().split(/\s+/))
      // The `ps` itself is a child while it runs.
      .filter(([pid, stat, comm]) => pid && stat && !stat.startsWith('Z') && comm !== 'ps')
      .map(([pid]) => Number(pid))
  );
}

/**
 * Sends SIGKILL to every child still running (and its process group, for stdio servers that run
 * in their own group), except `keep`: children that were there before the benchmark started,
 * such as tsx's esbuild service.
 *
 * @returns the ids that were still running.
 */
export function killRemainingChildren(keep: ReadonlySet<number>): number[] {
  const pids = runningChildPids().filter((pid) => !keep.has(pid));
  for (const pid of pids) {
    for (const target of [-pid, pid]) {
      try {
        process.kill(target, 'SIGKILL');
      } catch {
        // Not a group leader, or already gone.
      }
    }
  }
  return pids;
}
