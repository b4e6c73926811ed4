/**
 * The command line that starts one stdio server in its sandbox:
 *
 *     prlimit --nproc --nofile --as -- bwrap <namespaces and mounts> -- setpriv <uid> -- <server>
 *
 * The argument list is written by hand: the well-kept wrapper that drives bubblewrap,
 * `@anthropic-ai/sandbox-runtime`, requires Node >= 22.12 (its `engines`), and Switchboard runs on
 * Node 20.
 *
 * Order matters. `prlimit` sets the limits first, so every process of the sandbox inherits them.
 * When Switchboard runs as root, `bwrap` runs as root too and needs no user namespace to create
 * the others; the uid is dropped by `setpriv` as the sandbox's last step, to the server's own
 * unprivileged host uid, with every capability and group dropped and `no_new_privs` set. It
 * cannot be dropped before `bwrap`: bubblewrap resolves each mount's source path as the user it
 * runs as, and the server's private directory lies in `DATA_DIR`, which that uid must not be able
 * to enter. Running as the server's own host uid means `RLIMIT_NPROC` holds (it is not enforced
 * for root) and host file permissions protect whatever is visible. Without root, `setpriv` cannot
 * change the uid: `bwrap` then creates a user namespace and the server runs as Switchboard's user.
 */
import type { SandboxNetwork } from '../server-config.js';

/** Where the server's private directory appears inside the sandbox; its `HOME` and default cwd. */
export const SANDBOX_HOME = '/sandbox';

/** Resource limits of one sandbox. */
export interface SandboxLimits {
  /** Address space per process, in MiB (`RLIMIT_AS`). */
  memoryMb: number;
  /** Processes and threads the server's uid may run at once (`RLIMIT_NPROC`). */
  processes: number;
  /** Open files per process (`RLIMIT_NOFILE`). */
  openFiles: number;
}

/** A host path bound into the sandbox. */
export interface SandboxBind {
  hostPath: string;
  /** Where it appears inside the sandbox. */
  path: string;
  writable: boolean;
}

/** Everything {@link bwrapCommand} needs to know. */
export interface SandboxPlan {
  /** The bubblewrap, prlimit and setpriv executables (setpriv as seen inside the sandbox). */
  tools: { bwrap: string; prlimit: string; setpriv: string };
  /** The host uid (and gid) the server runs as, when Switchboard is root; otherwise undefined. */
  uid?: number;
  limits: SandboxLimits;
  network: SandboxNetwork;
  /** The server's private directory on the host, bound read-write at {@link SANDBOX_HOME}. */
  home: string;
  /** System folders and what running the command needs, bound read-only at the same path. */
  readOnly: readonly string[];
  /** Top-level symbolic links to recreate (`/bin` → `usr/bin` on merged-/usr systems). */
  symlinks: readonly { path: string; target: string }[];
  /** The admin's mounts. */
  binds: readonly SandboxBind[];
  /** Working directory inside the sandbox. */
  cwd: string;
  /** Environment variables set inside (bwrap `--setenv`, after the spawn environment). */
  setenv: Readonly<Record<string, string>>;
  /**
   * When true, bwrap waits on fd 4 before it runs the command, so the network can be attached
   * first. bwrap always writes its JSON info (with `child-pid`, the sandbox's init) to fd 3.
   */
  coordinate: boolean;
  command: string;
  args: readonly string[];
}

/** File descriptors of the child used when {@link SandboxPlan.coordinate} is set. */
export const INFO_FD = 3;
export const BLOCK_FD = 4;

/**
 * Builds the command line (see the module comment). Pure: nothing is checked or created.
 *
 * @returns the executable (`prlimit`) and its arguments.
 */
export function bwrapCommand(plan: SandboxPlan): { command: string; args: string[] } {
  const { limits } = plan;
  const bwrap: string[] = [];
  if (plan.uid === undefined) bwrap.push('--unshare-user');
  bwrap.push('--unshare-ipc', '--unshare-pid', '--unshare-uts', '--unshare-cgroup-try');
  // outbound gets its own namespace too: the provider routes it before the command runs.
  if (plan.network !== 'host') bwrap.push('--unshare-net');
  bwrap.push('--die-with-parent', '--new-session');
  const binds: SandboxBind[] = [
    ...plan.readOnly.map((dir) => ({ hostPath: dir, path: dir, writable: false })),
    { hostPath: plan.home, path: SANDBOX_HOME, writable: true },
    ...plan.binds,
  ];
  // A folder bwrap creates on the way to a mount point is 0700 root: make them 0755 first, or
  // the server could not reach its mounts. Parents before children, so none is hidden.
  // The sandbox's own /proc, /dev and /tmp first: a mount below /tmp (a DATA_DIR there) stays seen.
  // /tmp is 1777 like the host's: bwrap makes a tmpfs 0755 root, which the server (its own uid)
  // could not write, though TMPDIR points there.
  bwrap.push('--proc', '/proc', '--dev', '/dev', '--perms', '1777', '--tmpfs', '/tmp');
  const targets = binds.map((bind) => bind.path);
  for (const dir of parentsToCreate(targets)) bwrap.push('--perms', '0755', '--dir', dir);
  for (const bind of [...binds].sort((a, b) => depth(a.path) - depth(b.path))) {
    bwrap.push(bind.writable ? '--bind' : '--ro-bind', bind.hostPath, bind.path);
  }
  for (const link of plan.symlinks) bwrap.push('--symlink', link.target, link.path);
  for (const [name, value] of Object.entries(plan.setenv)) bwrap.push('--setenv', name, value);
  bwrap.push('--chdir', plan.cwd);
  bwrap.push('--info-fd', String(INFO_FD));
  if (plan.coordinate) bwrap.push('--block-fd', String(BLOCK_FD));
  const server = [plan.command, ...plan.args];
  const inner =
    plan.uid === undefined
      ? server
      : [
          plan.tools.setpriv,
          `--reuid=${plan.uid}`,
          `--regid=${plan.uid}`,
          '--clear-groups',
          '--inh-caps=-all',
          '--bounding-set=-all',
          '--no-new-privs',
          '--',
          ...server,
        ];
  return {
    command: plan.tools.prlimit,
    args: [
      `--nproc=${limits.processes}`,
      `--nofile=${limits.openFiles}`,
      `--as=${limits.memoryMb * 1024 * 1024}`,
      '--',
      plan.tools.bwrap,
      ...bwrap,
      '--',
      ...inner,
    ],
  };
}

/** Number of segments of an absolute path (`/` is 0). */
function depth(target: string): number {
  return target.split('/').filter(Boolean).length;
}

/** The folders above `targets` that no target covers, shallowest first. */
function parentsToCreate(targets: readonly string[]): string[] {
  // Below a bind mount a folder exists already; below the sandbox's /tmp it must be made.
  const covered = (dir: string) =>
    ['/proc', '/dev', '/tmp'].includes(dir) ||
    targets.some((target) => dir === target || dir.startsWith(`${target}/`));
  const parents = new Set<string>();
  for (const target of targets) {
    const parts = target.split('/').filter(Boolean);
    for (let length = 1; length < parts.length; length++) {
      const dir = `/${parts.slice(0, length).join('/')}`;
      if (!covered(dir)) parents.add(dir);
    }
  }
  return [...parents].sort((a, b) => depth(a) - depth(b));
}
