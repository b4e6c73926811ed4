/**
 * `allowDomains` of network `outbound` (DESIGN §9.3): a sandboxed server reaches only the
 * addresses its listed host names resolve to, and nothing else, not even DNS.
 *
 * No DNS server or proxy of our own: the names are resolved here, on the host (IPv4, with the
 * host's resolver), and the result goes two ways. The sandbox's `/etc/hosts` is a file this module
 * writes (bound read-only over the sandbox's, see {@link createHostsFile}) listing each allowed
 * name with its addresses, so the server's resolver (glibc, Node's `dns.lookup`, curl) finds them
 * without DNS; every other name fails to resolve. And the addresses fill the nftables set that
 * `outbound-network.ts` lets through (after its refusal of loopback, private and other special
 * ranges, so a name that resolves to `127.0.0.1` or `10.0.0.5` stays refused). Both are refreshed
 * while the server runs ({@link DomainAllowList.resolve}, called by the outbound network every
 * minute), and addresses a name no longer resolves to stay allowed for a while
 * ({@link DomainAllowListOptions.retainMs}) so that clients with a cached answer keep working.
 */
import { randomUUID } from 'node:crypto';
import { lookup } from 'node:dns/promises';
import { constants, mkdirSync, writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { isIP } from 'node:net';
import path from 'node:path';
import type { Logger } from '../../logger.js';
import { addressRefusal, localInterfaceAddresses } from '../url-policy.js';

/** Resolves a host name to its IPv4 addresses; rejects (or resolves `[]`) when it has none. */
export type DomainResolver = (domain: string) => Promise<readonly string[]>;

/** The host's resolver: `dns.lookup` (getaddrinfo: `/etc/hosts`, then DNS), IPv4 only. */
export const hostResolver: DomainResolver = async (domain) =>
  (await lookup(domain, { all: true, family: 4 })).map((entry) => entry.address);

/** Options of {@link DomainAllowList}. */
export interface DomainAllowListOptions {
  /** Resolves each name; default {@link hostResolver}. */
  resolve?: DomainResolver;
  /** Milliseconds one name may take to resolve before it counts as unresolved; default 5 000. */
  resolveTimeoutMs?: number;
  /**
   * Milliseconds an address stays allowed after a name last resolved to it; default 600 000
   * (10 minutes). The hosts file always lists the latest answer only.
   */
  retainMs?: number;
  /** This host's interface addresses, refused like the special ranges; default from url-guard. */
  hostAddresses?: () => Iterable<string>;
  /** Where unresolved names and refused addresses are reported (at warn). */
  logger?: Pick<Logger, 'warn'>;
  /** The clock, in milliseconds; default `performance.now`. */
  now?: () => number;
}

/**
 * The addresses a list of allowed host names resolve to, kept up to date by {@link resolve}.
 * Addresses the outbound network refuses anyway (loopback, private, CGNAT, link-local,
 * metadata, reserved, this host's own; see `url-policy.ts`) are dropped with a warning, as are
 * non-IPv4 answers.
 */
export class DomainAllowList {
  /** The allowed names, deduplicated, in the order given. */
  readonly domains: readonly string[];
  readonly #resolve: DomainResolver;
  readonly #resolveTimeoutMs: number;
  readonly #retainMs: number;
  readonly #hostAddresses: () => Iterable<string>;
  readonly #logger?: Pick<Logger, 'warn'>;
  readonly #now: () => number;
  /** Each name's latest usable answer (kept when a later lookup fails). */
  readonly #current = new Map<string, readonly string[]>();
  /** When each address was last in an answer. */
  readonly #seen = new Map<string, number>();

  /**
   * @param domains host names, already validated (`allowDomainProblem` in `server-config.ts`).
   * @param options resolver, timeouts and logger; see {@link DomainAllowListOptions}.
   */
  constructor(domains: readonly string[], options: DomainAllowListOptions = {}) {
    this.domains = [...new Set(domains)];
    this.#resolve = options.resolve ?? hostResolver;
    this.#resolveTimeoutMs = options.resolveTimeoutMs ?? 5_000;
    this.#retainMs = options.retainMs ?? 600_000;
    this.#hostAddresses = options.hostAddresses ?? localInterfaceAddresses;
    this.#logger = options.logger;
    this.#now = options.now ?? (() => performance.now());
  }

  /**
   * Resolves every name again (in parallel). A name that does not resolve keeps its previous
   * answer, or has none yet; it is logged at warn and never throws. Resolves once all are done.
   */
  async resolve(): Promise<void> {
    const hostAddresses = [...this.#hostAddresses()];
    await Promise.all(
      this.domains.map(async (domain) => {
        let answer: readonly string[];
        try {
          answer = await withTimeout(this.#resolve(domain), this.#resolveTimeoutMs);
        } catch (error) {
          this.#logger?.warn(
            { domain, err: error },
            `allowed domain ${domain} does not resolve on this host (${(error as Error).message}); it stays unreachable from the sandbox until it does (tried again every minute): check the name in allowDomains and this host's DNS`,
          );
          return;
        }
        const usable: string[] = [];
        for (const address of answer) {
          const refusal =
            isIP(address) !== 4
              ? `${address} is not an IPv4 address (the sandbox has IPv4 only)`
              : addressRefusal(address, {
                  allowPrivateNetworks: false,
                  hostAddresses: () => hostAddresses,
                });
          if (refusal) {
            this.#logger?.warn(
              { domain, address },
              `allowed domain ${domain} resolves to a refused address, which stays refused: ${refusal}`,
            );
          } else if (!usable.includes(address)) {
            usable.push(address);
          }
        }
        if (usable.length === 0 && answer.length === 0) {
          this.#logger?.warn(
            { domain },
            `allowed domain ${domain} has no IPv4 address; it stays unreachable from the sandbox`,
          );
        }
        const now = this.#now();
        for (const address of usable) this.#seen.set(address, now);
        this.#current.set(domain, usable);
      }),
    );
  }

  /** The latest usable addresses of each name, in {@link domains} order (`[]` when none yet). */
  answers(): [domain: string, addresses: readonly string[]][] {
    return this.domains.map((domain) => [domain, this.#current.get(domain) ?? []]);
  }

  /**
   * The addresses to let through, sorted: every latest answer, and every address seen within
   * `retainMs` (older ones are forgotten here).
   */
  addresses(): string[] {
    const now = this.#now();
    const current = new Set([...this.#current.values()].flat());
    for (const [address, seen] of this.#seen) {
      if (now - seen > this.#retainMs && !current.has(address)) this.#seen.delete(address);
    }
    return [...new Set([...current, ...this.#seen.keys()])].sort(compareAddresses);
  }
}

/** The header of a generated hosts file. */
const HOSTS_HEADER = [
  '# /etc/hosts of a Switchboard sandbox with allowDomains (written by Switchboard, read-only).',
  '# DNS is off in this sandbox: only the names below resolve, and only their addresses are',
  '# reachable. Rewritten as their addresses change.',
];

/**
 * The text of a sandbox's `/etc/hosts` (hosts(5) format): `localhost` on the loopback addresses,
 * then one line per allowed name and address; a name without addresses gets a comment only, so
 * it does not resolve.
 *
 * @param answers each name with its IPv4 addresses (as {@link DomainAllowList.answers} gives).
 */
export function hostsFileContent(
  answers: Iterable<readonly [domain: string, addresses: readonly string[]]>,
): string {
  const lines = [
    ...HOSTS_HEADER,
    '127.0.0.1\tlocalhost',
    '::1\tlocalhost ip6-localhost ip6-loopback',
  ];
  for (const [domain, addresses] of answers) {
    if (addresses.length === 0) lines.push(`# ${domain}: no address yet`);
    for (const address of addresses) lines.push(`${address}\t${domain}`);
  }
  return `${lines.join('\n')}\n`;
}

/**
 * Creates a new, empty-listed hosts file for one launch of a sandboxed server, to be bound
 * read-only over the sandbox's `/etc/hosts` (its content is written by the outbound network
 * when it attaches). The file is `<dir>/<name>-<random>`, mode 0644 and owned by this process's
 * user (root when sandboxes run as their own uids), in `dir` (made mode 0700 if missing), which no
 * sandbox sees: the server can read the file but neither write nor replace it. Remove it when
 * the server has ended.
 *
 * @param dir a directory on the host that no sandbox mounts (e.g. `DATA_DIR/sandbox-hosts`).
 * @param name a prefix naming the server (its id), for whoever looks in `dir`.
 * @param domains the allowed names, listed as "no address yet".
 * @returns the file's absolute path.
 */
export function createHostsFile(dir: string, name: string, domains: readonly string[]): string {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const file = path.join(dir, `${name}-${randomUUID()}`);
  writeFileSync(file, hostsFileContent(domains.map((domain) => [domain, []])), {
    flag: 'wx',
    mode: 0o644,
  });
  return file;
}

/**
 * Replaces the content of a hosts file in place: the same inode, so a bind mount of it sees the
 * new text. Written from the start, then cut to length, so a reader sees the old text, the new
 * one or (for an instant) a mix of whole old and new lines, never an empty file. Refuses to
 * follow a symbolic link.
 *
 * @param file the file made by {@link createHostsFile}.
 * @param content the new text ({@link hostsFileContent}).
 * @throws the file system's error (e.g. `ENOENT` when the file was removed).
 */
export async function rewriteHostsFile(file: string, content: string): Promise<void> {
  const handle = await open(file, constants.O_WRONLY | constants.O_NOFOLLOW);
  try {
    const data = Buffer.from(content, 'utf8');
    await handle.write(data, 0, data.length, 0);
    await handle.truncate(data.length);
    // The umask may have narrowed it at creation; the sandbox's uid must read it.
    await handle.chmod(0o644);
  } finally {
    await handle.close();
  }
}

/** Orders IPv4 addresses numerically. */
function compareAddresses(a: string, b: string): number {
  const number = (address: string) =>
    address.split('.').reduce((total, part) => total * 256 + Number(part), 0);
  return number(a) - number(b);
}

/** Rejects with a timeout error when `promise` takes over `ms` milliseconds. */
async function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}
