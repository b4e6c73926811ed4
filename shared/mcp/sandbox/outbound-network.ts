/**
 * Outbound network for a sandboxed stdio server (DESIGN §9.3): the server's own network
 * namespace gets a way to the internet, but never to this host's loopback, its interface
 * addresses, or private, shared (CGNAT), link-local, metadata and reserved addresses, so never
 * to the API, Postgres or another server's port.
 *
 * Why slirp4netns: it is the user-mode network stack rootless Podman, Docker and RootlessKit use
 * to give an unprivileged network namespace outbound TCP/UDP, it joins an existing namespace by
 * PID (bwrap has already made it), and it offers `--disable-host-loopback` (its gateway 10.0.2.2
 * does not reach the host's 127.0.0.1), `--enable-sandbox`/`--enable-seccomp` (it runs confined
 * itself), `--ready-fd` and `--exit-fd`. pasta (passt) would do as well, but maps the host's
 * addresses into the namespace by default, the opposite of what is wanted here.
 *
 * slirp4netns opens ordinary sockets on the host for the namespace's connections, so any address
 * the host reaches, the namespace reaches. The refusal therefore sits in the namespace itself: an
 * nftables table, written by this (privileged) process before the server starts, rejects every
 * special range of `url-policy.ts` ({@link SPECIAL_ADDRESS_RANGES}) and the host's own interface
 * addresses, and all IPv6 (slirp4netns runs without IPv6). The sandboxed server runs without
 * capabilities (bwrap `--cap-drop ALL`, a non-root uid), so it cannot change the table. DNS
 * queries to any port-53 destination are redirected to slirp4netns's resolver 10.0.2.3, which
 * forwards them to the host's resolver: the one exception, DNS only, whatever address the host's
 * resolver has.
 *
 * With `allowDomains` (`allow-domains.ts`) the namespace reaches only what those names resolve
 * to: the names are resolved on the host, written to the sandbox's read-only `/etc/hosts`, and
 * their addresses fill a named nftables set; after the same refusals (special ranges, host
 * addresses, IPv6), the table accepts the set and rejects everything else, DNS included (the
 * hosts file is the sandbox's only resolver, so any other name fails at once). The names are
 * resolved again every minute while the server runs; the set and the hosts file follow.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { access, constants, open, stat, type FileHandle } from 'node:fs/promises';
import { isIP } from 'node:net';
import { join } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import type { Logger } from '../../logger.js';
import { localInterfaceAddresses, SPECIAL_ADDRESS_RANGES } from '../url-policy.js';
import {
  DomainAllowList,
  hostsFileContent,
  rewriteHostsFile,
  type DomainResolver,
} from './allow-domains.js';

/** Gives a process's own network namespace a way out (DESIGN §9.3). */
export interface OutboundNetworkProvider {
  /**
   * Connects the network namespace of process `pid` (already unshared, e.g. by bwrap
   * --unshare-net, and not yet running the server: bwrap waits on --block-fd) to the outside.
   * Resolves once the namespace has a working default route and DNS (or, with `allowDomains`,
   * its hosts file written).
   * @throws SandboxNetworkError (a named error with a clear message) when it cannot.
   */
  attach(options: AttachOptions): Promise<OutboundNetwork>;
}

/** What {@link OutboundNetworkProvider.attach} is given. */
export interface AttachOptions {
  /** Host PID of a process in the namespace (bwrap's `child-pid`). */
  pid: number;
  /**
   * When non-empty, only these host names (validated by `allowDomainProblem`) are reachable; an
   * empty list or none means every public address.
   */
  allowDomains?: readonly string[];
  /**
   * With `allowDomains`: the host file bound read-only over the sandbox's `/etc/hosts`
   * (`createHostsFile` in `allow-domains.ts`), which the provider writes and keeps up to date.
   */
  hostsFile?: string;
  /** Where unresolved names and failed refreshes are reported (at warn). */
  logger?: Pick<Logger, 'warn'>;
}
export interface OutboundNetwork {
  /** Tears the link down; idempotent. */
  close(): Promise<void>;
}

/** A sandbox's network could not be set up; `message` says why and what to do. */
export class SandboxNetworkError extends Error {
  override readonly name = 'SandboxNetworkError';

  /**
   * @param message what failed and what to do next, in a sentence or two.
   * @param options.cause the underlying error, kept for logs.
   */
  constructor(message: string, options: { cause?: unknown } = {}) {
    super(message, { cause: options.cause });
  }
}

/** The fixed PATH the network tools are looked up in and run with. */
export const SANDBOX_TOOL_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** The programs the outbound network runs, and the Debian package of each. */
export const OUTBOUND_NETWORK_TOOLS: readonly { command: string; debianPackage: string }[] = [
  { command: 'slirp4netns', debianPackage: 'slirp4netns' },
  { command: 'nft', debianPackage: 'nftables' },
  { command: 'nsenter', debianPackage: 'util-linux' },
];

/** slirp4netns's address of its DNS forwarder inside the namespace (its default `--cidr`). */
export const SLIRP_DNS_ADDRESS = '10.0.2.3';

/** Name of the nftables table written into each namespace. */
const TABLE = 'switchboard_outbound';
/** Name of the set of allowed addresses in {@link TABLE}, with `allowDomains`. */
const ALLOWED_SET = 'allowed';

/**
 * Why the outbound network cannot run on this machine: the missing programs and the command
 * that installs them, or `undefined` when all of {@link OUTBOUND_NETWORK_TOOLS} are installed.
 *
 * @param options.path directories to look in, colon-separated; default {@link SANDBOX_TOOL_PATH}.
 * @returns e.g. `slirp4netns is not installed: install it with apt-get install -y slirp4netns`.
 */
export async function outboundNetworkProblem(
  options: { path?: string } = {},
): Promise<string | undefined> {
  const dirs = (options.path ?? SANDBOX_TOOL_PATH).split(':').filter(Boolean);
  const missing: (typeof OUTBOUND_NETWORK_TOOLS)[number][] = [];
  for (const tool of OUTBOUND_NETWORK_TOOLS) {
    if (!(await findExecutable(tool.command, dirs))) missing.push(tool);
  }
  if (missing.length === 0) return undefined;
  const names = missing.map((tool) => tool.command).join(' and ');
  const packages = [...new Set(missing.map((tool) => tool.debianPackage))].join(' ');
  const verb = missing.length === 1 ? 'is' : 'are';
  return `${names} ${verb} not installed (needed for network "outbound" of sandboxed stdio servers): install with apt-get install -y ${packages}`;
}

async function findExecutable(
  command: string,
  dirs: readonly string[],
): Promise<string | undefined> {
  for (const dir of dirs) {
    const candidate = join(dir, command);
    try {
      await access(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not in this directory
    }
  }
  return undefined;
}

/**
 * The nftables ruleset (`nft -f` syntax) written into a sandbox's network namespace.
 *
 * Without `options.allowed`: loopback allowed; DNS (TCP and UDP port 53, any destination)
 * redirected to {@link SLIRP_DNS_ADDRESS} and allowed there; every IPv4 range of
 * {@link SPECIAL_ADDRESS_RANGES} and every IPv4 `hostAddresses` entry rejected (a refused TCP
 * connection, not a silent drop); all IPv6 rejected; everything else accepted.
 *
 * With `options.allowed` (the `allowDomains` allow-list): loopback allowed; the same rejections
 * first (so an allowed name resolving to a special or host address is still refused, and so is
 * slirp4netns's DNS forwarder, in 10.0.0.0/8); then packets of connections already made
 * accepted (conntrack `established,related`: an address dropped from the set does not cut them);
 * then destinations in the set `allowed` (IPv4 addresses, see {@link allowedSetUpdate}) accepted;
 * everything else rejected, DNS included. No DNS redirect.
 *
 * @param hostAddresses this host's interface addresses (IPv6 ones and non-addresses are skipped:
 *   IPv6 is rejected outright).
 * @param options.allowed the allowed IPv4 addresses (non-IPv4 entries are skipped); an empty
 *   list allows nothing but loopback.
 */
export function outboundRuleset(
  hostAddresses: Iterable<string>,
  options: { allowed?: Iterable<string> } = {},
): string {
  const refused = new Set<string>();
  for (const [, network, prefix, family] of SPECIAL_ADDRESS_RANGES) {
    if (family === 'ipv4') refused.add(`${network}/${prefix}`);
  }
  for (const address of hostAddresses) if (isIP(address) === 4) refused.add(`${address}/32`);
  const rejections = [
    ...[...refused].map((range) => `    ip daddr ${range} reject`),
    '    meta nfproto ipv6 reject',
  ];
  if (options.allowed) {
    const allowed = [...options.allowed].filter((address) => isIP(address) === 4);
    return [
      `table inet ${TABLE} {`,
      `  set ${ALLOWED_SET} {`,
      '    type ipv4_addr;',
      ...(allowed.length > 0 ? [`    elements = { ${allowed.join(', ')} }`] : []),
      '  }',
      '  chain output {',
      '    type filter hook output priority 0; policy accept;',
      '    oif "lo" accept',
      ...rejections,
      '    ct state established,related accept',
      `    ip daddr @${ALLOWED_SET} accept`,
      '    reject',
      '  }',
      '}',
      '',
    ].join('\n');
  }
  return [
    `table inet ${TABLE} {`,
    '  chain dns {',
    '    type nat hook output priority -100; policy accept;',
    `    meta nfproto ipv4 meta l4proto { tcp, udp } th dport 53 dnat ip to ${SLIRP_DNS_ADDRESS}`,
    '  }',
    '  chain output {',
    '    type filter hook output priority 0; policy accept;',
    '    oif "lo" accept',
    `    ip daddr ${SLIRP_DNS_ADDRESS} meta l4proto { tcp, udp } th dport 53 accept`,
    ...rejections,
    '  }',
    '}',
    '',
  ].join('\n');
}

/**
 * The `nft -f` script that replaces the content of the allowed set written by
 * {@link outboundRuleset} with `allowed`, in one transaction (no moment with an empty set).
 *
 * @param allowed the IPv4 addresses to allow (others are skipped).
 */
export function allowedSetUpdate(allowed: Iterable<string>): string {
  const addresses = [...allowed].filter((address) => isIP(address) === 4);
  return [
    `flush set inet ${TABLE} ${ALLOWED_SET}`,
    ...(addresses.length > 0
      ? [`add element inet ${TABLE} ${ALLOWED_SET} { ${addresses.join(', ')} }`]
      : []),
    '',
  ].join('\n');
}

/** Options of {@link SlirpOutboundNetworkProvider}. */
export interface SlirpOutboundNetworkOptions {
  /**
   * This host's interface addresses, refused inside the namespace; read at every attach. Default
   * `localInterfaceAddresses` (`url-policy.ts`).
   */
  hostAddresses?: () => Iterable<string>;
  /** Milliseconds slirp4netns may take to configure the namespace; default 10 000. */
  attachTimeoutMs?: number;
  /**
   * Milliseconds between checks that the target process still lives, used only when it has no
   * PID namespace of its own (otherwise slirp4netns runs in that namespace and the kernel ends it
   * with the sandbox); default 500.
   */
  pollIntervalMs?: number;
  /** PATH the tools are run with; default {@link SANDBOX_TOOL_PATH}. */
  path?: string;
  /** Resolves `allowDomains` names on the host; default `hostResolver` (IPv4 `dns.lookup`). */
  resolve?: DomainResolver;
  /** Milliseconds between resolutions of `allowDomains` while a server runs; default 60 000. */
  refreshIntervalMs?: number;
  /**
   * Milliseconds an address stays allowed after its name last resolved to it; default 600 000.
   */
  retainMs?: number;
}

/**
 * {@link OutboundNetworkProvider} with slirp4netns and an nftables table in the namespace (see
 * the module doc). Runs `nsenter`, `nft` and `slirp4netns`, and needs root: it joins namespaces
 * owned by the sandbox's user namespace, whatever uid the sandbox runs as.
 */
export class SlirpOutboundNetworkProvider implements OutboundNetworkProvider {
  readonly #hostAddresses: () => Iterable<string>;
  readonly #attachTimeoutMs: number;
  readonly #pollIntervalMs: number;
  readonly #path: string;
  readonly #env: NodeJS.ProcessEnv;
  readonly #resolve?: DomainResolver;
  readonly #refreshIntervalMs: number;
  readonly #retainMs?: number;

  /**
   * @param options host addresses, timeouts, PATH and the `allowDomains` resolver; see
   *   {@link SlirpOutboundNetworkOptions}.
   */
  constructor(options: SlirpOutboundNetworkOptions = {}) {
    this.#hostAddresses = options.hostAddresses ?? localInterfaceAddresses;
    this.#attachTimeoutMs = options.attachTimeoutMs ?? 10_000;
    this.#pollIntervalMs = options.pollIntervalMs ?? 500;
    this.#path = options.path ?? SANDBOX_TOOL_PATH;
    this.#env = { PATH: this.#path, LC_ALL: 'C' };
    this.#resolve = options.resolve;
    this.#refreshIntervalMs = options.refreshIntervalMs ?? 60_000;
    this.#retainMs = options.retainMs;
  }

  /**
   * Writes the refusal rules into the namespace of `pid`, then starts slirp4netns on it and waits
   * until it has configured `tap0` (address 10.0.2.100, default route via 10.0.2.2, DNS 10.0.2.3).
   *
   * With a non-empty `allowDomains`, first resolves the names on the host (a name that does not
   * resolve is logged at warn and tried again at the next refresh; it never fails the attach),
   * writes `hostsFile`, and writes the allow-list rules ({@link outboundRuleset} with `allowed`);
   * then every `refreshIntervalMs` resolves them again and updates the set and the file, until the
   * link closes.
   *
   * @param options see {@link AttachOptions}.
   * @returns the link; it ends by itself when the process exits.
   * @throws SandboxNetworkError when this process is not root, `allowDomains` comes without
   *   `hostsFile` or the hosts file cannot be written, the process is gone, shares this
   *   process's network namespace, a tool is missing, or nft or slirp4netns fail (their error
   *   text included) or take longer than `attachTimeoutMs`.
   */
  async attach(options: AttachOptions): Promise<SlirpOutboundNetwork> {
    const { pid, hostsFile, logger } = options;
    const allowList =
      options.allowDomains && options.allowDomains.length > 0
        ? new DomainAllowList(options.allowDomains, {
            resolve: this.#resolve,
            retainMs: this.#retainMs,
            hostAddresses: this.#hostAddresses,
            logger,
          })
        : undefined;
    if (allowList && !hostsFile) {
      throw new SandboxNetworkError(
        "allowDomains needs a hosts file bound over the sandbox's /etc/hosts (StdioSandbox.prepare makes one): pass its path as hostsFile",
      );
    }
    if (process.getuid?.() !== 0) {
      // Writing rules into (and joining) a namespace another user namespace owns takes root.
      throw new SandboxNetworkError(
        'network "outbound" needs Switchboard to run as root (to set up the sandbox\'s network): run it as root, or give the server network "none"',
      );
    }
    if (!Number.isSafeInteger(pid) || pid <= 0) {
      throw new SandboxNetworkError(`pid must be a positive integer, not ${pid}`);
    }
    const problem = await outboundNetworkProblem({ path: this.#path });
    if (problem) throw new SandboxNetworkError(problem);
    // The namespaces are held open from here on, so a PID reused after the sandbox ended cannot
    // point nft or slirp4netns at another process's namespace.
    const netns = await openNamespace(pid, 'net');
    let pidns: FileHandle | undefined;
    try {
      if (netns.inode === (await namespaceInode('self', 'net'))) {
        // Rules written here would change this host's own network: never.
        throw new SandboxNetworkError(
          `process ${pid} shares this process's network namespace: start it in its own (bwrap --unshare-net) before attaching`,
        );
      }
      const target = await openNamespace(pid, 'pid');
      if (target.inode === (await namespaceInode('self', 'pid'))) await target.handle.close();
      else pidns = target.handle;

      let rules: string;
      if (allowList) {
        await allowList.resolve();
        await writeHosts(hostsFile!, hostsFileContent(allowList.answers()));
        rules = outboundRuleset(this.#hostAddresses(), { allowed: allowList.addresses() });
      } else {
        rules = outboundRuleset(this.#hostAddresses());
      }
      await this.#nft(netns.handle.fd, rules);

      const slirp = [
        'slirp4netns',
        '--configure',
        '--mtu=65520',
        '--disable-host-loopback',
        '--enable-sandbox',
        '--enable-seccomp',
        '--exit-fd=3',
        '--ready-fd=4',
        // Stay in this user namespace: by default slirp4netns joins the target's, which bwrap
        // --uid nests below the one owning the network namespace, where it may not join it.
        '--userns-path=/proc/self/ns/user',
        '--netns-type=path',
        '/proc/self/fd/5',
        'tap0',
      ];
      // In the sandbox's PID namespace, the kernel kills slirp4netns when the sandbox ends.
      const argv = pidns ? ['nsenter', '--pid=/proc/self/fd/6', '--', ...slirp] : slirp;
      const child = spawn(argv[0]!, argv.slice(1), {
        env: this.#env,
        stdio: ['ignore', 'ignore', 'pipe', 'pipe', 'pipe', netns.handle.fd, pidns?.fd ?? 'ignore'],
      });
      const network = new SlirpOutboundNetwork(child, {
        pid,
        netnsInode: netns.inode,
        pollIntervalMs: pidns ? undefined : this.#pollIntervalMs,
      });
      try {
        await network.ready(this.#attachTimeoutMs);
        if (allowList) {
          // Its own handle on the namespace, held until the link ends, for the set's updates.
          const held = await open(`/proc/self/fd/${netns.handle.fd}`, 'r');
          network.refreshEvery(
            this.#refreshIntervalMs,
            held,
            async (netnsFd) => {
              const before = allowList.addresses().join(',');
              const hostsBefore = hostsFileContent(allowList.answers());
              await allowList.resolve();
              const addresses = allowList.addresses();
              if (addresses.join(',') !== before) {
                await this.#nft(netnsFd, allowedSetUpdate(addresses));
              }
              const hosts = hostsFileContent(allowList.answers());
              if (hosts !== hostsBefore) await writeHosts(hostsFile!, hosts);
            },
            logger,
          );
        }
      } catch (error) {
        await network.close();
        throw error;
      }
      return network;
    } finally {
      await netns.handle.close();
      await pidns?.close();
    }
  }

  /** Runs `nft -f -` with `script` in the network namespace open as `netnsFd`. */
  #nft(netnsFd: number, script: string): Promise<void> {
    return this.#run(
      'nft',
      ['nsenter', '--net=/proc/self/fd/3', '--', 'nft', '-f', '-'],
      netnsFd,
      script,
    );
  }

  /** Runs a tool to completion with `fd3` as its fd 3 and `input` on stdin; rejects with its stderr. */
  async #run(tool: string, argv: readonly string[], fd3: number, input: string): Promise<void> {
    const child = spawn(argv[0]!, argv.slice(1), {
      env: this.#env,
      stdio: ['pipe', 'ignore', 'pipe', fd3],
    });
    const stderr = collectTail(child.stderr!);
    const done = new Promise<number | null>((resolve, reject) => {
      child.once('error', reject);
      child.once('close', (code) => resolve(code));
    });
    child.stdin!.on('error', () => {
      // The exit status or spawn error says what went wrong.
    });
    child.stdin!.end(input);
    let code: number | null;
    try {
      code = await done;
    } catch (error) {
      throw toolError(argv[0]!, error);
    }
    if (code !== 0) {
      throw new SandboxNetworkError(
        `${tool} could not set up the sandbox's network rules (exit ${code}): ${stderr().trim() || 'no output'}`,
      );
    }
  }
}

/**
 * A running slirp4netns linking one namespace to the outside. Ends when {@link close} is called,
 * when the sandboxed process exits, or when this process exits (its end of `--exit-fd` closes).
 */
export class SlirpOutboundNetwork implements OutboundNetwork {
  /** Resolves once slirp4netns (and the `nsenter` that started it, if any) has exited. */
  readonly exited: Promise<void>;
  /** PID of the process this runs (`slirp4netns`, or the `nsenter` that runs it). */
  readonly processId: number | undefined;
  readonly #child: ChildProcess;
  readonly #stderr: () => string;
  readonly #pid: number;
  readonly #netnsInode: number;
  #poll?: NodeJS.Timeout;
  #refresh?: { timer: NodeJS.Timeout; netns: FileHandle; running?: Promise<void> };
  #exitCode: number | null | undefined;
  #spawnError?: Error;
  #closing?: Promise<void>;

  /**
   * @param child the spawned slirp4netns (or nsenter running it), fds 3 and 4 its `--exit-fd`
   *   and `--ready-fd`.
   * @param options.pid the sandboxed process; options.netnsInode its network namespace's inode.
   * @param options.pollIntervalMs when set, milliseconds between checks that the process (and
   *   its namespace) still exists; the link closes when it does not.
   */
  constructor(
    child: ChildProcess,
    options: { pid: number; netnsInode: number; pollIntervalMs?: number },
  ) {
    this.#child = child;
    this.processId = child.pid;
    this.#pid = options.pid;
    this.#netnsInode = options.netnsInode;
    this.#stderr = collectTail(child.stderr!);
    // A spawn failure is followed by 'close'; ready() reports it then.
    child.on('error', (error) => (this.#spawnError ??= error));
    this.exited = new Promise((resolve) => {
      child.once('close', (code) => {
        this.#exitCode = code;
        clearInterval(this.#poll);
        void this.#stopRefresh();
        resolve();
      });
    });
    if (options.pollIntervalMs !== undefined) {
      this.#poll = setInterval(() => void this.#checkTarget(), options.pollIntervalMs);
      this.#poll.unref();
    }
  }

  /**
   * Runs `refresh` every `intervalMs` milliseconds (never two at once; the timer does not keep
   * this process alive) until the link ends, then closes `netns`. A failing refresh is logged at
   * warn and tried again at the next interval.
   *
   * @param intervalMs milliseconds between the end of one refresh and the start of the next.
   * @param netns a handle on the sandbox's network namespace, given to `refresh` as its fd and
   *   owned by this link from now on.
   * @param refresh re-resolves and updates the rules (see `SlirpOutboundNetworkProvider.attach`).
   * @param logger where failures go.
   */
  refreshEvery(
    intervalMs: number,
    netns: FileHandle,
    refresh: (netnsFd: number) => Promise<void>,
    logger?: Pick<Logger, 'warn'>,
  ): void {
    if (this.#closing || this.#exitCode !== undefined) {
      void netns.close();
      return;
    }
    const schedule = (): NodeJS.Timeout => {
      const timer = setTimeout(() => {
        const state = this.#refresh;
        if (!state) return;
        state.running = refresh(netns.fd)
          .catch((error: unknown) => {
            logger?.warn(
              { err: error, pid: this.#pid },
              `updating a sandbox's allowed domains failed (it keeps the previous addresses and tries again in ${Math.round(intervalMs / 1000)} s): ${(error as Error).message}`,
            );
          })
          .finally(() => {
            if (this.#refresh === state) state.timer = schedule();
          });
      }, intervalMs);
      timer.unref();
      return timer;
    };
    this.#refresh = { timer: schedule(), netns };
  }

  /** Stops the refresh, waits for one under way, and closes its namespace handle. */
  async #stopRefresh(): Promise<void> {
    const state = this.#refresh;
    if (!state) return;
    this.#refresh = undefined;
    clearTimeout(state.timer);
    await state.running;
    await state.netns.close().catch(() => undefined);
  }

  /**
   * Waits until slirp4netns reports the namespace configured.
   *
   * @param timeoutMs milliseconds to wait.
   * @throws SandboxNetworkError when it exits first, cannot be started, or takes over `timeoutMs`.
   */
  async ready(timeoutMs: number): Promise<void> {
    const readyFd = this.#child.stdio[4] as Readable;
    let timer: NodeJS.Timeout | undefined;
    try {
      await new Promise<void>((resolve, reject) => {
        readyFd.once('data', () => resolve());
        void this.exited.then(() =>
          reject(
            this.#spawnError
              ? toolError(this.#child.spawnfile, this.#spawnError)
              : new SandboxNetworkError(
                  `slirp4netns exited (${this.#exitCode}) before the sandbox's network was up: ${this.#stderr().trim() || 'no output'}`,
                ),
          ),
        );
        timer = setTimeout(
          () =>
            reject(
              new SandboxNetworkError(
                `slirp4netns did not configure the sandbox's network within ${timeoutMs} ms; check that it can join the namespace of process ${this.#pid}`,
              ),
            ),
          timeoutMs,
        );
      });
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * Stops slirp4netns (closing its `--exit-fd`) and resolves once it has exited; a second call
   * returns the same promise. Kills the spawned process after 5 seconds if it has not exited by
   * then (a slirp4netns in the sandbox's PID namespace then ends with the sandbox).
   */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      clearInterval(this.#poll);
      const refreshStopped = this.#stopRefresh();
      (this.#child.stdio[3] as Writable | null)?.destroy();
      const kill = setTimeout(() => this.#child.kill('SIGKILL'), 5_000);
      try {
        await this.exited;
      } finally {
        clearTimeout(kill);
      }
      await refreshStopped;
    })();
    return this.#closing;
  }

  async #checkTarget(): Promise<void> {
    let alive: boolean;
    try {
      alive = (await namespaceInode(this.#pid, 'net')) === this.#netnsInode;
    } catch {
      alive = false;
    }
    if (!alive) await this.close();
  }
}

/** Writes a sandbox's hosts file; a failure becomes a SandboxNetworkError saying what to check. */
async function writeHosts(file: string, content: string): Promise<void> {
  try {
    await rewriteHostsFile(file, content);
  } catch (error) {
    throw new SandboxNetworkError(
      `the sandbox's hosts file ${file} could not be written (${(error as Error).message}); check that DATA_DIR is writable, then restart the server`,
      { cause: error },
    );
  }
}

/** Opens a namespace of a process, with its inode number (which names the namespace). */
async function openNamespace(
  pid: number,
  kind: 'net' | 'pid',
): Promise<{ handle: FileHandle; inode: number }> {
  let handle: FileHandle;
  try {
    handle = await open(`/proc/${pid}/ns/${kind}`, 'r');
  } catch (error) {
    throw goneError(pid, error);
  }
  try {
    return { handle, inode: (await handle.stat()).ino };
  } catch (error) {
    await handle.close();
    throw goneError(pid, error);
  }
}

/** The inode number of a namespace of a process. */
async function namespaceInode(pid: number | 'self', kind: 'net' | 'pid'): Promise<number> {
  try {
    return (await stat(`/proc/${pid}/ns/${kind}`)).ino;
  } catch (error) {
    throw goneError(pid, error);
  }
}

function goneError(pid: number | 'self', error: unknown): SandboxNetworkError {
  return new SandboxNetworkError(
    `process ${pid} is gone or its namespaces cannot be read (${(error as Error).message})`,
    { cause: error },
  );
}

/** The error for a tool that could not be started, naming the package to install. */
function toolError(command: string, error: unknown): SandboxNetworkError {
  const tool = OUTBOUND_NETWORK_TOOLS.find((entry) => entry.command === command);
  if ((error as { code?: unknown }).code === 'ENOENT' && tool) {
    return new SandboxNetworkError(
      `${command} is not installed (needed for network "outbound" of sandboxed stdio servers): install with apt-get install -y ${tool.debianPackage}`,
      { cause: error },
    );
  }
  return new SandboxNetworkError(`${command} could not be started: ${(error as Error).message}`, {
    cause: error,
  });
}

/** Keeps the last 2 000 characters a stream writes; returns a reader of them. */
function collectTail(stream: Readable): () => string {
  let text = '';
  stream.setEncoding('utf8');
  stream.on('data', (chunk: string) => {
    text = (text + chunk).slice(-2_000);
  });
  return () => text;
}
