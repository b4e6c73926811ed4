/**
 * The sandbox every stdio MCP server runs in (DESIGN §9.3): bubblewrap with its own user, PID,
 * IPC, UTS, mount and (unless `network: 'host'`) network namespaces; read-only system folders;
 * a private writable directory per server (`DATA_DIR/sandboxes/<id>`, its `HOME` and default
 * working directory); read-only what running its command needs; the admin's `mounts`; resource
 * limits; and an unprivileged host uid per server. Nothing else of the host is visible: not
 * `DATA_DIR`, the secret key, the repository, other servers' directories or the host's `/proc`.
 * See `bwrap-command.ts` for the command line and why it is ordered as it is. A server with
 * network `outbound` and `allowDomains` also gets its own read-only `/etc/hosts`, a per-launch
 * file in `DATA_DIR/sandbox-hosts` the outbound network writes (`allow-domains.ts`).
 */
import {
  accessSync,
  chownSync,
  constants,
  lstatSync,
  mkdirSync,
  readlinkSync,
  realpathSync,
  statSync,
} from 'node:fs';
import path from 'node:path';
import type { SandboxConfig, SandboxMount } from '../server-config.js';
import { SandboxAvailability, runningAsRoot } from './availability.js';
import {
  SANDBOX_HOME,
  bwrapCommand,
  type SandboxBind,
  type SandboxLimits,
} from './bwrap-command.js';
import { SandboxConfigError, SandboxNetworkUnavailableError } from './errors.js';
import { createHostsFile } from './allow-domains.js';
import { assertMountsAllowed } from './mount-policy.js';
import type { OutboundNetworkProvider } from './outbound-network.js';

/** Limits used when neither the settings nor the server set one. */
export const DEFAULT_SANDBOX_LIMITS: SandboxLimits = {
  // Node 20 needs more than 512 MiB of address space to start; 4 GiB leaves room for real work.
  memoryMb: 4096,
  // Counts threads: node runs about ten, and npx → npm → sh → node chains several processes.
  processes: 256,
  openFiles: 1024,
};

/**
 * What Node needs to run WebAssembly under the sandbox's address-space limit (`prlimit --as`):
 * V8 reserves about 10 GiB of guard regions per Wasm memory, so under the default 4 GiB every
 * `WebAssembly.instantiate` fails, and with it Node's own `fetch` (undici's llhttp is Wasm) and
 * tsx. `--disable-wasm-trap-handler` has V8 check bounds explicitly instead. Set only when the
 * Node running Switchboard knows the flag (20.15+): an unknown flag in `NODE_OPTIONS` stops Node.
 * Server configs cannot set `NODE_OPTIONS` themselves (refused as a dangerous name).
 */
const WASM_UNDER_ADDRESS_LIMIT: Readonly<Record<string, string>> =
  process.allowedNodeEnvironmentFlags.has('--disable-wasm-trap-handler')
    ? { NODE_OPTIONS: '--disable-wasm-trap-handler' }
    : {};

/** The host uid of server `id`; servers without an id (the probe CLI) share `nobody`. */
export function sandboxUid(serverId: number | undefined): number {
  return serverId === undefined ? 65_534 : 200_000 + serverId;
}

/** Top-level system folders bound read-only (those that exist), or recreated as their links. */
const SYSTEM_PATHS = ['/usr', '/bin', '/sbin', '/lib', '/lib32', '/lib64', '/libx32', '/etc'];

/** Options of {@link StdioSandbox}. */
export interface StdioSandboxOptions {
  /** Absolute `DATA_DIR`: private directories go to `<dataDir>/sandboxes/<server id>`. */
  dataDir: string;
  /** The secret key file, never mountable; default `<dataDir>/secret.key`. */
  secretKeyFile?: string;
  /** Limits of servers that set none (`MCP_SANDBOX_*`); default {@link DEFAULT_SANDBOX_LIMITS}. */
  limits?: Partial<SandboxLimits>;
  /** Connects `network: 'outbound'` servers; without one they fail to start with a clear error. */
  outbound?: OutboundNetworkProvider;
  /** The cached bwrap check; default a new one. Share one per process. */
  availability?: SandboxAvailability;
  /** Host paths every sandbox gets read-only at the same path (tests grant their fixtures). */
  readOnlyPaths?: readonly string[];
  /** Executables; defaults `bwrap`, `prlimit` and `/usr/bin/setpriv`. */
  tools?: Partial<{ bwrap: string; prlimit: string; setpriv: string }>;
  /** Whether this process is root (then each server gets its own host uid); default detected. */
  root?: boolean;
}

/** One stdio server to start. */
export interface SandboxedServer {
  /** The server's id: names its private directory and host uid; none for a one-off probe. */
  serverId?: number;
  command: string;
  args: readonly string[];
  /** Working directory inside the sandbox; default its private directory. */
  cwd?: string;
  /** The environment's `PATH`, used to find `command` on the host. */
  path?: string;
  sandbox: SandboxConfig;
}

/** How to spawn a sandboxed server. */
export interface SandboxLaunch {
  command: string;
  args: string[];
  /** When set, spawn with fds 3 (bwrap's info) and 4 (its block) as pipes and call this. */
  network?: {
    provider: OutboundNetworkProvider;
    allowDomains?: readonly string[];
    /**
     * With `allowDomains`: the host file bound read-only over the sandbox's `/etc/hosts`, for
     * the provider to write. Remove it once the server has ended.
     */
    hostsFile?: string;
  };
  /** The server's private directory on the host. */
  home: string;
}

/**
 * Turns a stdio server's command into its sandboxed command line. One per process (the API, an
 * agent job, the probe CLI), built from the settings.
 */
export class StdioSandbox {
  readonly #options: StdioSandboxOptions;
  readonly #availability: SandboxAvailability;
  readonly #root: boolean;
  readonly #tools: { bwrap: string; prlimit: string; setpriv: string };

  constructor(options: StdioSandboxOptions) {
    this.#options = options;
    this.#root = options.root ?? runningAsRoot();
    this.#tools = {
      bwrap: 'bwrap',
      prlimit: 'prlimit',
      setpriv: '/usr/bin/setpriv',
      ...options.tools,
    };
    this.#availability =
      options.availability ??
      new SandboxAvailability({ bwrap: this.#tools.bwrap, root: this.#root });
  }

  /**
   * Checks an admin's mounts against the mount policy (`mount-policy.ts`).
   *
   * @throws SandboxConfigError at `sandbox.mounts.<index>.hostPath` for the first refused one.
   */
  assertMountsAllowed(mounts: readonly SandboxMount[]): void {
    assertMountsAllowed(mounts, this.#options);
  }

  /**
   * Checks what an admin configured for a sandboxed server before it is saved: its mounts
   * against the mount policy (`mount-policy.ts`) and its working directory (see
   * {@link assertCwdInside}).
   *
   * @param server `sandbox` (its mounts) and `cwd` (a path inside the sandbox, optional).
   * @throws SandboxConfigError at `sandbox.mounts.<index>.hostPath` or `cwd` for the first problem.
   */
  assertConfigAllowed(server: { sandbox?: SandboxConfig; cwd?: string | null }): void {
    const mounts = server.sandbox?.mounts ?? [];
    assertMountsAllowed(mounts, this.#options);
    assertCwdInside(server.cwd ?? undefined, mounts);
  }

  /** The folder of the hosts files of servers with `allowDomains`; no sandbox sees it. */
  get hostsDir(): string {
    return path.join(this.#options.dataDir, 'sandbox-hosts');
  }

  /** The private directory of server `serverId` on the host. */
  homeOf(serverId: number | undefined): string {
    return path.join(
      this.#options.dataDir,
      'sandboxes',
      serverId === undefined ? 'probe' : String(serverId),
    );
  }

  /**
   * Checks bwrap works, creates the server's private directory (owned by its uid, mode 0700),
   * checks its mounts and builds the command line. For network `outbound` with `allowDomains`,
   * also creates the launch's hosts file in {@link hostsDir} (see `createHostsFile`), bound
   * read-only over the sandbox's `/etc/hosts`: the caller removes it when the server has ended.
   *
   * @throws SandboxUnavailableError when bwrap is missing or cannot create namespaces.
   * @throws Error with code `ENOENT` when the command is not found (as `spawn` reports it).
   * @throws SandboxConfigError when a mount is refused or missing.
   * @throws SandboxNetworkUnavailableError for `network: 'outbound'` without a provider.
   */
  async prepare(server: SandboxedServer): Promise<SandboxLaunch> {
    await this.#availability.check();
    const { sandbox } = server;
    const commandNeeds = this.#commandNeeds(server);
    const network = sandbox.network ?? 'outbound';
    if (network === 'outbound' && !this.#options.outbound)
      throw new SandboxNetworkUnavailableError();
    const mounts = sandbox.mounts ?? [];
    assertMountsAllowed(mounts, this.#options);
    assertCwdInside(server.cwd, mounts);
    const binds: SandboxBind[] = mounts.map((mount, index) => {
      if (!statSync(mount.hostPath, { throwIfNoEntry: false })) {
        throw new SandboxConfigError(
          `sandbox.mounts.${index}.hostPath`,
          `sandbox.mounts.${index}.hostPath does not exist on this host: ${mount.hostPath}`,
        );
      }
      return {
        hostPath: mount.hostPath,
        path: mount.path ?? mount.hostPath,
        writable: mount.writable,
      };
    });
    const uid = this.#root ? sandboxUid(server.serverId) : undefined;
    const home = this.homeOf(server.serverId);
    mkdirSync(home, { recursive: true, mode: 0o700 });
    if (uid !== undefined) chownSync(home, uid, uid);
    // A cwd below the private directory is created there, owned by the server, so bwrap can
    // enter it on the first start.
    const homeRelative = server.cwd ? path.relative(SANDBOX_HOME, path.normalize(server.cwd)) : '';
    if (homeRelative && !homeRelative.startsWith('..')) {
      let dir = home;
      for (const part of homeRelative.split(path.sep)) {
        dir = path.join(dir, part);
        mkdirSync(dir, { recursive: true, mode: 0o700 });
        if (uid !== undefined) chownSync(dir, uid, uid);
      }
    }

    const readOnly = new Set<string>();
    const symlinks: { path: string; target: string }[] = [];
    for (const dir of SYSTEM_PATHS) {
      const stat = lstatSync(dir, { throwIfNoEntry: false });
      if (stat?.isSymbolicLink()) symlinks.push({ path: dir, target: readlinkSync(dir) });
      else if (stat?.isDirectory()) readOnly.add(dir);
    }
    const needed = [
      path.dirname(realpathSync(process.execPath)),
      ...commandNeeds,
      ...server.args.flatMap((arg) => packagesOf(arg)),
      ...(this.#options.readOnlyPaths ?? []),
    ];
    for (const dir of needed) {
      if (!statSync(dir, { throwIfNoEntry: false })) continue;
      if (![...readOnly].some((system) => within(dir, system))) readOnly.add(dir);
    }
    const allowDomains =
      network === 'outbound' && sandbox.allowDomains?.length ? sandbox.allowDomains : undefined;
    // Last of the binds at its depth, so nothing an admin mounts hides it.
    const hostsFile = allowDomains
      ? createHostsFile(this.hostsDir, String(server.serverId ?? 'probe'), allowDomains)
      : undefined;
    if (hostsFile) binds.push({ hostPath: hostsFile, path: '/etc/hosts', writable: false });
    const limits = { ...DEFAULT_SANDBOX_LIMITS, ...this.#options.limits, ...sandbox.limits };
    const { command, args } = bwrapCommand({
      tools: this.#tools,
      uid,
      limits,
      network,
      home,
      readOnly: [...readOnly],
      symlinks,
      binds,
      cwd: server.cwd ?? SANDBOX_HOME,
      setenv: { HOME: SANDBOX_HOME, TMPDIR: '/tmp', ...WASM_UNDER_ADDRESS_LIMIT },
      coordinate: network === 'outbound',
      command: server.command,
      args: server.args,
    });
    return {
      command,
      args,
      home,
      network:
        network === 'outbound'
          ? { provider: this.#options.outbound!, allowDomains, hostsFile }
          : undefined,
    };
  }

  /** Read-only folders the command itself needs: its own folder and, for npm's, the npm package. */
  #commandNeeds(server: SandboxedServer): string[] {
    const found = findCommand(server.command, server.path ?? process.env.PATH ?? '');
    if (!found) {
      // As spawn reports it, so the error names the command ("command not found: nodee").
      throw Object.assign(new Error(`spawn ${server.command} ENOENT`), {
        code: 'ENOENT',
        path: server.command,
      });
    }
    const real = realpathSync(found);
    return [path.dirname(found), path.dirname(real), ...packagesOf(real)];
  }
}

/**
 * A sandboxed server's working directory is a path inside its sandbox: its private directory
 * ({@link SANDBOX_HOME}) or below, the inside path of one of its mounts or below, or a folder
 * above a mount (bwrap creates it to mount on). A host path such as `/srv/mcp` does not exist in
 * there, and bwrap would fail to start the server.
 *
 * @param cwd the configured working directory; undefined means the private directory.
 * @param mounts the server's mounts (`path`, default `hostPath`, is where each appears inside).
 * @throws SandboxConfigError at `cwd` when it is relative or lies outside every such folder.
 */
export function assertCwdInside(cwd: string | undefined, mounts: readonly SandboxMount[]): void {
  if (cwd === undefined) return;
  const insides = [SANDBOX_HOME, ...mounts.map((mount) => mount.path ?? mount.hostPath)];
  const normal = path.normalize(cwd);
  // Inside a folder the sandbox has, or a folder above a mount (bwrap creates those to mount on).
  const exists = (inside: string) => within(normal, inside) || within(inside, normal);
  if (path.isAbsolute(cwd) && normal !== '/' && insides.some(exists)) return;
  throw new SandboxConfigError(
    'cwd',
    `cwd ${JSON.stringify(cwd)} is not a folder inside the server's sandbox: use ${SANDBOX_HOME} ` +
      `(the server's private folder) or a folder below it, or the path of one of its ` +
      `sandbox.mounts (${insides.slice(1).join(', ') || 'it has none; add one to grant a host folder'})`,
  );
}

/** True when `inner` is `outer` or lies below it. */
function within(inner: string, outer: string): boolean {
  const relative = path.relative(outer, inner);
  return relative === '' || (!relative.startsWith('..') && !path.isAbsolute(relative));
}

/**
 * The installed packages a file runs from: the outermost `node_modules` folder above an existing
 * absolute path (so hoisted dependencies are visible too), or nothing.
 */
function packagesOf(arg: string): string[] {
  if (!path.isAbsolute(arg) || !statSync(arg, { throwIfNoEntry: false })) return [];
  const parts = arg.split(path.sep);
  const index = parts.indexOf('node_modules');
  return index < 0 ? [] : [parts.slice(0, index + 1).join(path.sep)];
}

/** The absolute path `command` runs from: itself when it has a slash, else found on `PATH`. */
function findCommand(command: string, searchPath: string): string | undefined {
  const candidates = command.includes('/')
    ? [path.resolve(command)]
    : searchPath
        .split(path.delimiter)
        .filter(Boolean)
        .map((dir) => path.join(dir, command));
  return candidates.find((candidate) => {
    try {
      accessSync(candidate, constants.X_OK);
      return statSync(candidate).isFile();
    } catch {
      return false;
    }
  });
}
