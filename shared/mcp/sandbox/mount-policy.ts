/**
 * Which host paths an admin may grant a sandboxed server (`sandbox.mounts`): anything but what
 * the sandbox exists to hide. Refused are `DATA_DIR` itself and every folder that contains it,
 * the secret key file (and folders containing it), the servers' private directories
 * (`DATA_DIR/sandboxes`), the embedded database (`DATA_DIR/pglite`) and any file directly in
 * `DATA_DIR` (the lock file, the key). A folder below `DATA_DIR` such as `DATA_DIR/files` may be
 * granted. Paths are compared after resolving symbolic links, so a link cannot smuggle one in.
 */
import { realpathSync, statSync } from 'node:fs';
import path from 'node:path';
import type { SandboxMount } from '../server-config.js';
import { SandboxConfigError } from './errors.js';

/** Folders of `DATA_DIR` no server may be granted. */
const RESERVED_DATA_DIRS = ['sandboxes', 'pglite'];

/** What the mount policy protects. */
export interface MountPolicyOptions {
  /** Absolute `DATA_DIR`. */
  dataDir: string;
  /** The secret key file when the key is kept in a file; default `<dataDir>/secret.key`. */
  secretKeyFile?: string;
}

/** `target` resolved through symbolic links as far as it exists (the rest appended). */
function resolveExisting(target: string): string {
  const absolute = path.resolve(target);
  let existing = absolute;
  const rest: string[] = [];
  for (;;) {
    try {
      return path.join(realpathSync(existing), ...rest.reverse());
    } catch {
      const parent = path.dirname(existing);
      if (parent === existing) return absolute;
      rest.push(path.basename(existing));
      existing = parent;
    }
  }
}

/** True when `inner` is `outer` or lies below it. */
function within(inner: string, outer: string): boolean {
  const relative = path.relative(outer, inner);
  return relative === '' || (!relative.startsWith('..') && !path.isAbsolute(relative));
}

/**
 * Why `hostPath` may not be granted, or undefined when it may.
 *
 * @param hostPath an absolute host path from `sandbox.mounts[].hostPath`.
 */
export function mountProblem(hostPath: string, options: MountPolicyOptions): string | undefined {
  const resolved = resolveExisting(hostPath);
  const dataDir = resolveExisting(options.dataDir);
  const keyFile = resolveExisting(
    options.secretKeyFile ?? path.join(options.dataDir, 'secret.key'),
  );
  if (within(dataDir, resolved)) {
    return 'must not be DATA_DIR or a folder containing it: grant a folder below DATA_DIR, e.g. DATA_DIR/files';
  }
  if (within(keyFile, resolved)) {
    return 'must not expose the secret key file: grant a folder that does not contain it';
  }
  if (within(resolved, dataDir)) {
    const [first] = path.relative(dataDir, resolved).split(path.sep);
    if (first !== undefined && RESERVED_DATA_DIRS.includes(first)) {
      return `must not be inside DATA_DIR/${first}, which holds other servers' private directories or the database`;
    }
    if (!statSync(path.join(dataDir, first ?? ''), { throwIfNoEntry: false })?.isDirectory()) {
      return 'must not be a file directly in DATA_DIR: grant a folder below DATA_DIR instead';
    }
  }
  return undefined;
}

/**
 * Checks every mount against {@link mountProblem}.
 *
 * @throws SandboxConfigError at `sandbox.mounts.<index>.hostPath` for the first refused mount.
 */
export function assertMountsAllowed(
  mounts: readonly SandboxMount[],
  options: MountPolicyOptions,
): void {
  mounts.forEach((mount, index) => {
    const problem = mountProblem(mount.hostPath, options);
    if (problem) {
      throw new SandboxConfigError(
        `sandbox.mounts.${index}.hostPath`,
        `sandbox.mounts.${index}.hostPath ${problem}`,
      );
    }
  });
}
