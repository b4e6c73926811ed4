/**
 * Which URLs and addresses remote MCP servers may be reached at: a guard against server-side
 * request forgery (SSRF), checked when a server is saved and again at every connection and
 * redirect hop. Follows the OWASP SSRF Prevention Cheat Sheet and ContextForge's defaults: cloud
 * metadata and link-local addresses are always refused; loopback, private, shared (CGNAT) and
 * unspecified addresses are refused unless private networks are allowed
 * (`MCP_ALLOW_PRIVATE_NETWORKS`), and so are the addresses of this host's own network interfaces
 * (`os.networkInterfaces()`: a service bound to all interfaces answers on the host's public
 * address too). IPv6 addresses that carry an IPv4 address (IPv4-mapped, IPv4-compatible,
 * IPv4-translated, 6to4 and well-known-prefix NAT64) are judged by that IPv4 address; the
 * local-use NAT64 prefix (`64:ff9b:1::/48`, RFC 8215) is private outright.
 *
 * This module is the policy only: what needs no DNS (scheme, credentials, metadata host names,
 * literal IP addresses) is checked synchronously, and {@link assertUrlAllowed} resolves a host
 * for a check ahead of time. Connections check the addresses they actually connect to through
 * `GuardedNetwork` (`guarded-network.ts`), which applies this policy to every lookup.
 */
import { lookup as dnsLookup } from 'node:dns/promises';
import { BlockList, isIP } from 'node:net';
import { networkInterfaces } from 'node:os';

/** URL schemes a remote MCP server may use. */
export const ALLOWED_URL_PROTOCOLS = ['http:', 'https:', 'ws:', 'wss:'] as const;

/** Resolves a host name to every address it has, like `dns.promises.lookup(host, { all: true })`. */
export type HostResolver = (hostname: string) => Promise<readonly { address: string }[]>;

/** Which destinations a connection may reach. */
export interface UrlPolicy {
  /**
   * Allow loopback (127/8, ::1), private (10/8, 172.16/12, 192.168/16, fc00::/7), shared CGNAT
   * (100.64/10) and unspecified (0.0.0.0, ::) addresses. Metadata and link-local addresses stay
   * refused either way.
   */
  allowPrivateNetworks: boolean;
  /**
   * The addresses of this host's own interfaces, refused like private ones (kind `host`) unless
   * private networks are allowed. Read at every check (interfaces come and go); default
   * {@link localInterfaceAddresses}.
   */
  hostAddresses?: () => Iterable<string>;
  /**
   * DNS resolution, used both by {@link assertUrlAllowed} and by the connections of a
   * `GuardedNetwork` (`guarded-network.ts`; each of their lookups is one call); default `dns.promises.lookup`
   * with `all: true` (the OS resolver).
   */
  resolve?: HostResolver;
}

/** Why an address is special; `undefined` from {@link classifyAddress} means public. */
export type AddressKind =
  | 'metadata'
  | 'link-local'
  | 'loopback'
  | 'private'
  | 'shared'
  | 'unspecified'
  | 'reserved'
  | 'host';

/** Kinds refused whatever the policy says. */
const ALWAYS_REFUSED: ReadonlySet<AddressKind> = new Set(['metadata', 'link-local', 'reserved']);

const KIND_TEXT: Record<AddressKind, string> = {
  metadata: 'a cloud metadata address',
  'link-local': 'a link-local address',
  loopback: 'a loopback address',
  private: 'a private network address',
  shared: 'a shared (CGNAT) network address',
  unspecified: 'an unspecified address',
  reserved: 'a reserved or multicast address',
  host: 'an address of this host',
};

/**
 * Host names of cloud metadata services (GCP, AWS, Azure, Alibaba, Oracle), always refused even
 * before resolution: inside a cloud they resolve to a metadata address.
 */
export const METADATA_HOSTNAMES: ReadonlySet<string> = new Set([
  'metadata',
  'metadata.google.internal',
  'metadata.goog',
  'instance-data',
  'instance-data.ec2.internal',
  'metadata.azure.com',
  'metadata.oraclecloud.com',
]);

/**
 * The special address ranges, first match naming the kind: `[kind, network, prefix length,
 * family]`. {@link classifyAddress} judges addresses by them, and a sandboxed stdio server's
 * outbound network refuses them (`sandbox/outbound-network.ts`).
 */
export const SPECIAL_ADDRESS_RANGES: readonly (readonly [
  AddressKind,
  string,
  number,
  'ipv4' | 'ipv6',
])[] = [
  // Metadata first: AWS/GCP/Azure/OCI, AWS ECS task metadata, AWS IPv6 IMDS, Alibaba Cloud.
  ['metadata', '169.254.169.254', 32, 'ipv4'],
  ['metadata', '169.254.170.2', 32, 'ipv4'],
  ['metadata', 'fd00:ec2::254', 128, 'ipv6'],
  ['metadata', '100.100.100.200', 32, 'ipv4'],
  ['link-local', '169.254.0.0', 16, 'ipv4'],
  ['link-local', 'fe80::', 10, 'ipv6'],
  ['unspecified', '0.0.0.0', 8, 'ipv4'],
  ['unspecified', '::', 128, 'ipv6'],
  ['loopback', '127.0.0.0', 8, 'ipv4'],
  ['loopback', '::1', 128, 'ipv6'],
  ['private', '10.0.0.0', 8, 'ipv4'],
  ['private', '172.16.0.0', 12, 'ipv4'],
  ['private', '192.168.0.0', 16, 'ipv4'],
  ['private', '198.18.0.0', 15, 'ipv4'],
  ['private', 'fc00::', 7, 'ipv6'],
  // Local-use NAT64 (RFC 8215): the IPv4 address sits at a place the operator chose.
  ['private', '64:ff9b:1::', 48, 'ipv6'],
  ['private', 'fec0::', 10, 'ipv6'],
  ['shared', '100.64.0.0', 10, 'ipv4'],
  ['reserved', '224.0.0.0', 4, 'ipv4'],
  ['reserved', '240.0.0.0', 4, 'ipv4'],
  ['reserved', 'ff00::', 8, 'ipv6'],
];

/** One BlockList per kind, in the order of {@link SPECIAL_ADDRESS_RANGES} (the first match names the kind). */
const BLOCK_LISTS: readonly [AddressKind, BlockList][] = (() => {
  const lists = new Map<AddressKind, BlockList>();
  for (const [kind, network, prefix, family] of SPECIAL_ADDRESS_RANGES) {
    let list = lists.get(kind);
    if (!list) lists.set(kind, (list = new BlockList()));
    list.addSubnet(network, prefix, family);
  }
  return [...lists];
})();

/** A URL or address Switchboard refuses to connect to; `message` says why. */
export class UrlRefusedError extends Error {
  override readonly name = 'UrlRefusedError';
  /** The kind of address that was refused, when an address was the reason. */
  readonly kind?: AddressKind;

  /**
   * @param message why, e.g. `169.254.169.254 is a cloud metadata address`.
   * @param kind the kind of address refused, if any.
   */
  constructor(message: string, kind?: AddressKind) {
    super(message);
    this.kind = kind;
  }
}

/**
 * The IPv4 address an IPv6 address carries, for IPv4-mapped (`::ffff:a.b.c.d`), IPv4-compatible
 * (`::a.b.c.d`), IPv4-translated (`::ffff:0:a.b.c.d`, RFC 2765), well-known-prefix NAT64
 * (`64:ff9b::a.b.c.d`, RFC 6052) and 6to4 (`2002:aabb:ccdd::/48`, RFC 3056) forms; otherwise
 * `undefined`.
 */
export function embeddedIPv4(address: string): string | undefined {
  if (isIP(address) !== 6) return undefined;
  const groups = expandIPv6(address);
  if (!groups) return undefined;
  if (groups[0] === 0x2002) return dottedQuad(groups[1]!, groups[2]!);
  const head = groups.slice(0, 6);
  const zeros = (from: number, to: number) => head.slice(from, to).every((g) => g === 0);
  const mapped = zeros(0, 5) && head[5] === 0xffff;
  const translated = zeros(0, 4) && head[4] === 0xffff && head[5] === 0;
  const compatible = zeros(0, 6) && (groups[6] !== 0 || groups[7]! > 1);
  const nat64 = head[0] === 0x64 && head[1] === 0xff9b && zeros(2, 6);
  if (!mapped && !translated && !compatible && !nat64) return undefined;
  return dottedQuad(groups[6]!, groups[7]!);
}

function dottedQuad(high: number, low: number): string {
  return [high >> 8, high & 0xff, low >> 8, low & 0xff].join('.');
}

/**
 * The addresses of this host's network interfaces (`os.networkInterfaces()`), loopback included;
 * the default of {@link UrlPolicy.hostAddresses}.
 */
export function localInterfaceAddresses(): string[] {
  return Object.values(networkInterfaces()).flatMap((list) =>
    (list ?? []).map((entry) => entry.address),
  );
}

/** True when `address` (its embedded IPv4 address, if any) is one of `hostAddresses`. */
function isHostAddress(address: string, hostAddresses: Iterable<string>): boolean {
  const bare = address.replace(/^\[|\]$/g, '');
  const ip = embeddedIPv4(bare) ?? bare.split('%')[0]!;
  const family = ipFamily(ip);
  if (!family) return false;
  const list = new BlockList();
  for (const own of hostAddresses) {
    const ownIp = own.split('%')[0]!;
    const ownFamily = ipFamily(ownIp);
    if (ownFamily) list.addAddress(ownIp, ownFamily);
  }
  return list.check(ip, family);
}

/** The eight 16-bit groups of an IPv6 address (dotted IPv4 tail allowed), or undefined. */
function expandIPv6(address: string): number[] | undefined {
  let text = address.split('%')[0]!.toLowerCase();
  const dotted = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (dotted) {
    const bytes = dotted[1]!.split('.').map(Number);
    const [a = 0, b = 0, c = 0, d = 0] = bytes;
    const tail = `${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
    text = text.slice(0, -dotted[1]!.length) + tail;
  }
  const [left, right] = text.split('::') as [string, string | undefined];
  const parse = (part: string) => (part ? part.split(':').map((g) => parseInt(g, 16)) : []);
  const head = parse(left);
  const tail = right === undefined ? [] : parse(right);
  const fill = 8 - head.length - tail.length;
  if (fill < 0 || (right === undefined && fill !== 0)) return undefined;
  return [...head, ...new Array<number>(fill).fill(0), ...tail];
}

/**
 * What kind of special address an IP address is.
 *
 * @param address an IPv4 or IPv6 address (brackets and zone ids allowed).
 * @returns the kind, or `undefined` for a public address or a string that is not an IP address.
 */
export function classifyAddress(address: string): AddressKind | undefined {
  const bare = address.replace(/^\[|\]$/g, '');
  const v4 = embeddedIPv4(bare);
  const [ip, family] = v4 ? [v4, 'ipv4' as const] : [bare.split('%')[0]!, ipFamily(bare)];
  if (!family) return undefined;
  for (const [kind, list] of BLOCK_LISTS) if (list.check(ip, family)) return kind;
  return undefined;
}

function ipFamily(address: string): 'ipv4' | 'ipv6' | undefined {
  const version = isIP(address.split('%')[0]!);
  return version === 4 ? 'ipv4' : version === 6 ? 'ipv6' : undefined;
}

/**
 * Why an address may not be reached under `policy`, or `undefined` when it may.
 *
 * @returns e.g. `169.254.169.254 is a cloud metadata address`.
 */
export function addressRefusal(
  address: string,
  policy: Pick<UrlPolicy, 'allowPrivateNetworks' | 'hostAddresses'>,
): string | undefined {
  let kind = classifyAddress(address);
  if (
    !kind &&
    !policy.allowPrivateNetworks &&
    isHostAddress(address, (policy.hostAddresses ?? localInterfaceAddresses)())
  ) {
    kind = 'host';
  }
  if (!kind || (policy.allowPrivateNetworks && !ALWAYS_REFUSED.has(kind))) return undefined;
  const shown = embeddedIPv4(address.replace(/^\[|\]$/g, ''));
  const suffix = ALWAYS_REFUSED.has(kind)
    ? ''
    : ' (set MCP_ALLOW_PRIVATE_NETWORKS=true to allow private networks)';
  return `${address}${shown ? ` (${shown})` : ''} is ${KIND_TEXT[kind]}${suffix}`;
}

/**
 * Checks what can be checked without DNS: scheme, credentials, metadata host names, `localhost`
 * names (RFC 6761) and literal IP addresses.
 *
 * @param url the URL as given.
 * @returns why the URL is refused, or `undefined` when it may be resolved and connected.
 */
export function staticUrlRefusal(
  url: string | URL,
  policy: Pick<UrlPolicy, 'allowPrivateNetworks' | 'hostAddresses'>,
): string | undefined {
  let parsed: URL;
  try {
    parsed = typeof url === 'string' ? new URL(url) : url;
  } catch {
    return 'url must be an absolute URL';
  }
  if (!(ALLOWED_URL_PROTOCOLS as readonly string[]).includes(parsed.protocol)) {
    return `url must use http, https, ws or wss, not ${parsed.protocol.replace(/:$/, '')}`;
  }
  if (parsed.username || parsed.password) {
    return 'url must not contain credentials (user:password@); use headers, apiKey or auth';
  }
  const host = parsed.hostname
    .replace(/^\[|\]$/g, '')
    .replace(/\.$/, '')
    .toLowerCase();
  if (!host) return 'url must name a host';
  if (METADATA_HOSTNAMES.has(host)) return `${host} is a cloud metadata host name`;
  if (isIP(host.split('%')[0]!)) return addressRefusal(host, policy);
  if ((host === 'localhost' || host.endsWith('.localhost')) && !policy.allowPrivateNetworks) {
    return `${host} is a loopback host name (set MCP_ALLOW_PRIVATE_NETWORKS=true to allow private networks)`;
  }
  return undefined;
}

/**
 * Throws when {@link staticUrlRefusal} refuses the URL: the checks that need no DNS, done
 * synchronously (before every request and redirect hop of a `GuardedNetwork`, and before a
 * connection starts).
 *
 * @param url the URL as given (a string that is not an absolute URL is refused).
 * @throws UrlRefusedError naming the problem, with `kind` set when an address or a metadata host
 *   name was the reason.
 */
export function assertStaticUrlAllowed(
  url: string | URL,
  policy: Pick<UrlPolicy, 'allowPrivateNetworks' | 'hostAddresses'>,
): void {
  const refusal = staticUrlRefusal(url, policy);
  if (refusal) {
    const parsed = typeof url !== 'string' ? url : URL.canParse(url) ? new URL(url) : undefined;
    throw new UrlRefusedError(refusal, parsed ? refusalKind(parsed, policy) : undefined);
  }
}

/** Resolution with the OS resolver (`dns.promises.lookup` with `all: true`), the default resolver. */
export const defaultResolve: HostResolver = (hostname) =>
  dnsLookup(hostname, { all: true, verbatim: true });

/**
 * Checks a URL, then resolves its host and checks every address it resolves to (a connection
 * may use any of them). For checks ahead of time, e.g. when a server is saved: connections do
 * not rely on it, since a later resolution may answer differently; they check the addresses
 * they connect to (`GuardedNetwork`, `guarded-network.ts`).
 *
 * @param options.ignoreResolveErrors accept a host that does not resolve (used when saving: the
 *   connection checks again); default false.
 * @param options.resolveTimeoutMs give up resolving after this many milliseconds (a resolution
 *   error); default none (the OS resolver's own timeout).
 * @throws UrlRefusedError naming the URL's problem or the refused address and why; Error when
 *   the host does not resolve (unless `ignoreResolveErrors`).
 */
export async function assertUrlAllowed(
  url: string | URL,
  policy: UrlPolicy,
  options: { ignoreResolveErrors?: boolean; resolveTimeoutMs?: number } = {},
): Promise<void> {
  const parsed = typeof url === 'string' ? new URL(url) : url;
  assertStaticUrlAllowed(parsed, policy);
  const host = parsed.hostname.replace(/^\[|\]$/g, '');
  if (isIP(host.split('%')[0]!)) return;
  let addresses: readonly { address: string }[];
  try {
    addresses = await withTimeout(
      (policy.resolve ?? defaultResolve)(host),
      options.resolveTimeoutMs,
      `resolving ${host} took longer than ${options.resolveTimeoutMs} ms`,
    );
  } catch (error) {
    if (options.ignoreResolveErrors) return;
    const code = (error as { code?: unknown }).code;
    const why = typeof code === 'string' ? ` (${code})` : `: ${(error as Error).message}`;
    throw new Error(`cannot resolve ${host}${why}`, { cause: error });
  }
  for (const { address } of addresses) {
    const refused = resolvedAddressRefusal(host, address, policy);
    if (refused) throw refused;
  }
}

/**
 * The error refusing an address `hostname` resolved to, or `undefined` when `policy` allows it.
 *
 * @returns e.g. UrlRefusedError `metadata.example resolves to 169.254.169.254 is a cloud metadata
 *   address`, its `kind` the address's (`host` for one of this host's own).
 */
export function resolvedAddressRefusal(
  hostname: string,
  address: string,
  policy: Pick<UrlPolicy, 'allowPrivateNetworks' | 'hostAddresses'>,
): UrlRefusedError | undefined {
  const why = addressRefusal(address, policy);
  if (!why) return undefined;
  return new UrlRefusedError(`${hostname} resolves to ${why}`, classifyAddress(address) ?? 'host');
}

function withTimeout<T>(promise: Promise<T>, ms: number | undefined, message: string): Promise<T> {
  if (ms === undefined) return promise;
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(message)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

function refusalKind(
  url: URL,
  policy: Pick<UrlPolicy, 'allowPrivateNetworks' | 'hostAddresses'>,
): AddressKind | undefined {
  const host = url.hostname.replace(/^\[|\]$/g, '').toLowerCase();
  if (METADATA_HOSTNAMES.has(host.replace(/\.$/, ''))) return 'metadata';
  const kind = classifyAddress(host);
  if (kind || !isIP(host.split('%')[0]!)) return kind;
  return addressRefusal(host, policy) ? 'host' : undefined;
}
