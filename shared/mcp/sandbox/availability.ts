/**
 * Whether bubblewrap can run here: installed, and allowed to create the namespaces a sandbox
 * needs. Checked once per {@link SandboxAvailability} (the first stdio server to start pays for
 * it), by running `bwrap` itself with the same namespaces and `true` as the command.
 */
import { execFile } from 'node:child_process';
import { SandboxUnavailableError } from './errors.js';

/** How bwrap is run: as root (it needs no user namespace) or as an unprivileged user. */
export interface BwrapRuntime {
  /** The bwrap executable; default `bwrap` (found on `PATH`). */
  bwrap?: string;
  /** True when this process runs as root; default `process.getuid() === 0`. */
  root?: boolean;
}

/** True when this process runs as root on a POSIX system. */
export function runningAsRoot(): boolean {
  return process.getuid?.() === 0;
}

/**
 * A cached check that bubblewrap works. Pass one object around (the API process and each agent
 * job create theirs); every sandboxed start awaits {@link SandboxAvailability.check}.
 */
export class SandboxAvailability {
  readonly #bwrap: string;
  readonly #root: boolean;
  #result?: Promise<void>;

  /** @param runtime which bwrap to check and as whom; see {@link BwrapRuntime}. */
  constructor(runtime: BwrapRuntime = {}) {
    this.#bwrap = runtime.bwrap ?? 'bwrap';
    this.#root = runtime.root ?? runningAsRoot();
  }

  /**
   * Resolves when bwrap ran a command in fresh namespaces; the first call runs it, later calls
   * get the same answer.
   *
   * @throws SandboxUnavailableError naming the package to install and `MCP_STDIO_SANDBOX`.
   */
  check(): Promise<void> {
    this.#result ??= this.#run();
    return this.#result;
  }

  #run(): Promise<void> {
    const args = [
      ...(this.#root ? [] : ['--unshare-user']),
      '--unshare-ipc',
      '--unshare-pid',
      '--unshare-net',
      '--unshare-uts',
      '--die-with-parent',
      '--ro-bind',
      '/',
      '/',
      '--proc',
      '/proc',
      '--',
      'true',
    ];
    return new Promise((resolve, reject) => {
      execFile(this.#bwrap, args, { timeout: 30_000 }, (error, _stdout, stderr) => {
        if (!error) return resolve();
        const code = (error as NodeJS.ErrnoException).code;
        const reason =
          code === 'ENOENT'
            ? `${this.#bwrap} is not installed`
            : String(stderr).trim().split('\n')[0] || error.message;
        reject(new SandboxUnavailableError(reason));
      });
    });
  }
}
