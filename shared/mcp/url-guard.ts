/**
 * Server-side request forgery (SSRF) guard for remote MCP servers: which URLs Switchboard may
 * connect to, checked when a server is saved and again at every connection and redirect hop,
 * after DNS resolution. Follows the OWASP SSRF Prevention Cheat Sheet and ContextForge's
 * defaults: cloud metadata and link-local addresses are always refused; loopback, private,
 * shared (CGNAT) and unspecified addresses are refused unless private networks are allowed
 * (`MCP_ALLOW_PRIVATE_NETWORKS`). IPv4-mapped and NAT64 IPv6 addresses are judged by the IPv4
 * address they carry.
 */
import { lookup as dnsLookup } from 'node:dns/promises';
import { BlockList, isIP } from 'node:net';

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
  /** DNS resolution; default `dns.promises.lookup` with `all: true` (the OS resolver). */
  resolve?: HostResolver;
}

/** Why an address is special; `undefined` from {@link classifyAddress} means public. */
export type AddressKind =
  'metadata' | 'link-local' | 'loopback' | 'private' | 'shared' | 'unspecified' | 'reserved';

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

const RULES: readonly [AddressKind, string, number, 'ipv4' | 'ipv6'][] = [
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
  ['private', 'fec0::', 10, 'ipv6'],
  ['shared', '100.64.0.0', 10, 'ipv4'],
  ['reserved', '224.0.0.0', 4, 'ipv4'],
  ['reserved', '240.0.0.0', 4, 'ipv4'],
  ['reserved', 'ff00::', 8, 'ipv6'],
];

/** One BlockList per kind, in the order of {@link RULES} (the first match names the kind). */
const BLOCK_LISTS: readonly [AddressKind, BlockList][] = (() => {
  const lists = new Map<AddressKind, BlockList>();
  for (const [kind, network, prefix, family] of RULES) {
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
 * (`::a.b.c.d`) and NAT64 (`64:ff9b::a.b.c.d`, RFC 6052) forms; otherwise `undefined`.
 */
export function embeddedIPv4(address: string): string | undefined {
  if (isIP(address) !== 6) return undefined;
  const groups = expandIPv6(address);
  if (!groups) return undefined;
  const head = groups.slice(0, 6);
  const mapped = head.slice(0, 5).every((g) => g === 0) && head[5] === 0xffff;
  const compatible = head.every((g) => g === 0) && (groups[6] !== 0 || groups[7]! > 1);
  const nat64 = head[0] === 0x64 && head[1] === 0xff9b && head.slice(2).every((g) => g === 0);
  if (!mapped && !compatible && !nat64) return undefined;
  const [high, low] = [groups[6]!, groups[7]!];
  return [high >> 8, high & 0xff, low >> 8, low & 0xff].join('.');
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
  policy: Pick<UrlPolicy, 'allowPrivateNetworks'>,
): string | undefined {
  const kind = classifyAddress(address);
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
  policy: Pick<UrlPolicy, 'allowPrivateNetworks'>,
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

const defaultResolve: HostResolver = (hostname) =>
  dnsLookup(hostname, { all: true, verbatim: true });

/**
 * Checks a URL, then resolves its host and checks every address it resolves to (a connection
 * may use any of them).
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
  const refusal = staticUrlRefusal(parsed, policy);
  if (refusal) throw new UrlRefusedError(refusal, refusalKind(parsed));
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
    const why = addressRefusal(address, policy);
    if (why) throw new UrlRefusedError(`${host} resolves to ${why}`, classifyAddress(address));
  }
}

function withTimeout<T>(promise: Promise<T>, ms: number | undefined, message: string): Promise<T> {
  if (ms === undefined) return promise;
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(message)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

function refusalKind(url: URL): AddressKind | undefined {
  const host = url.hostname.replace(/^\[|\]$/g, '').toLowerCase();
  if (METADATA_HOSTNAMES.has(host.replace(/\.$/, ''))) return 'metadata';
  return classifyAddress(host);
}

const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);
/** Redirect hops followed for `redirect: 'follow'`, as in the Fetch standard. */
const MAX_REDIRECTS = 20;

/**
 * A `fetch` that checks every request's URL with {@link assertUrlAllowed} before sending it, and
 * follows redirects itself so each hop is checked too (WHATWG Fetch "HTTP-redirect fetch": 303,
 * and 301/302 after a POST, become a body-less GET; `Authorization` and `Cookie` are dropped when
 * the origin changes). `redirect: 'manual'` answers are returned as they are (the MCP SDK then
 * follows same-origin redirects through this same function); `redirect: 'error'` rejects.
 *
 * Give it to the SDK's HTTP transports as their `fetch` option.
 *
 * @param baseFetch the fetch that sends; default `globalThis.fetch`.
 * @returns a fetch that rejects with UrlRefusedError for a refused URL or redirect target.
 */
export function guardedFetch(policy: UrlPolicy, baseFetch: typeof fetch = fetch): typeof fetch {
  return async (input, init) => {
    const request = input instanceof Request ? input : undefined;
    let url = new URL(request ? request.url : input instanceof URL ? input.href : input);
    const mode = init?.redirect ?? request?.redirect ?? 'follow';
    await assertUrlAllowed(url, policy);
    let response = await baseFetch(input, { ...init, redirect: 'manual' });
    let hopInit: RequestInit = { ...init };
    for (let hop = 0; REDIRECT_STATUSES.has(response.status) && mode !== 'manual'; hop++) {
      const location = response.headers.get('location');
      if (!location) break;
      if (mode === 'error') throw new TypeError(`redirect to ${location} refused`);
      if (hop >= MAX_REDIRECTS) throw new TypeError(`more than ${MAX_REDIRECTS} redirects`);
      const next = new URL(location, url);
      hopInit = redirectedInit(hopInit, response.status, url, next);
      await response.body?.cancel();
      await assertUrlAllowed(next, policy);
      url = next;
      response = await baseFetch(url, { ...hopInit, redirect: 'manual' });
    }
    return response;
  };
}

/** The request of the next redirect hop (WHATWG Fetch, "HTTP-redirect fetch", steps 11–13). */
function redirectedInit(init: RequestInit, status: number, from: URL, to: URL): RequestInit {
  const method = (init.method ?? 'GET').toUpperCase();
  const next: RequestInit = { ...init };
  if (
    (status === 303 && method !== 'HEAD') ||
    ((status === 301 || status === 302) && method === 'POST')
  ) {
    next.method = 'GET';
    next.body = undefined;
  }
  if (from.origin !== to.origin && init.headers) {
    const headers = new Headers(init.headers);
    for (const name of ['authorization', 'cookie', 'proxy-authorization']) headers.delete(name);
    next.headers = headers;
  }
  return next;
}
