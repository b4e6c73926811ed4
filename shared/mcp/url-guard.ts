/**
 * Server-side request forgery (SSRF) guard for remote MCP servers: which URLs Switchboard may
 * connect to, checked when a server is saved and again at every connection and redirect hop,
 * after DNS resolution. Follows the OWASP SSRF Prevention Cheat Sheet and ContextForge's
 * defaults: cloud metadata and link-local addresses are always refused; loopback, private,
 * shared (CGNAT) and unspecified addresses are refused unless private networks are allowed
 * (`MCP_ALLOW_PRIVATE_NETWORKS`), and so are the addresses of this host's own network interfaces
 * (`os.networkInterfaces()`: a service bound to all interfaces answers on the host's public
 * address too). IPv6 addresses that carry an IPv4 address (IPv4-mapped, IPv4-compatible,
 * IPv4-translated, 6to4 and well-known-prefix NAT64) are judged by that IPv4 address; the
 * local-use NAT64 prefix (`64:ff9b:1::/48`, RFC 8215) is private outright.
 *
 * Connections check the addresses they actually connect to: {@link GuardedNetwork} gives undici
 * (HTTP) and `ws` (WebSocket) a `lookup` that resolves a host once and refuses any address the
 * policy refuses (`pinned-lookup.ts`), so a DNS server cannot answer one address to a check and
 * another to the connection (DNS rebinding). What needs no DNS (scheme, credentials, metadata
 * host names, literal IP addresses) is checked synchronously before every request.
 */
import { lookup as dnsLookup } from 'node:dns/promises';
import { BlockList, isIP, type LookupFunction } from 'node:net';
import { networkInterfaces } from 'node:os';
import {
  Agent,
  fetch as undiciFetch,
  type RequestInit as UndiciRequestInit,
  type Response as UndiciResponse,
} from 'undici';
import { createPinnedLookup } from './pinned-lookup.js';

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
   * {@link GuardedNetwork} (each of their lookups is one call); default `dns.promises.lookup`
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
 * synchronously (before every request and redirect hop of a {@link GuardedNetwork}, and before
 * a connection starts).
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

const defaultResolve: HostResolver = (hostname) =>
  dnsLookup(hostname, { all: true, verbatim: true });

/**
 * Checks a URL, then resolves its host and checks every address it resolves to (a connection
 * may use any of them). For checks ahead of time, e.g. when a server is saved: connections do
 * not rely on it, since a later resolution may answer differently; they check the addresses
 * they connect to ({@link GuardedNetwork}).
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
    const why = addressRefusal(address, policy);
    if (why) {
      throw new UrlRefusedError(`${host} resolves to ${why}`, classifyAddress(address) ?? 'host');
    }
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

/**
 * A `dns.lookup`-compatible function that resolves with the policy's resolver and refuses any
 * address the policy refuses (see `pinned-lookup.ts`): give it to `net`/`tls` connections (as
 * `ws`'s and undici's `lookup` option) so the address checked is the address connected to.
 *
 * @param options.cacheMs milliseconds an answer is reused for new connections to the same host;
 *   default `DEFAULT_LOOKUP_CACHE_MS` (one minute, `pinned-lookup.ts`); `0` resolves at every
 *   connection.
 * @returns the lookup; a refused answer fails the connection with UrlRefusedError
 *   (`<host> resolves to <address> is <kind>`), a host that does not resolve with the
 *   resolver's error (e.g. `getaddrinfo ENOTFOUND <host>`).
 */
export function guardedLookup(
  policy: UrlPolicy,
  options: { cacheMs?: number; now?: () => number } = {},
): LookupFunction {
  return createPinnedLookup({
    resolve: policy.resolve ?? defaultResolve,
    check: (hostname, address) => {
      const why = addressRefusal(address, policy);
      return why
        ? new UrlRefusedError(`${hostname} resolves to ${why}`, classifyAddress(address) ?? 'host')
        : undefined;
    },
    cacheMs: options.cacheMs,
    now: options.now,
  });
}

/** Options of {@link GuardedNetwork}. */
export interface GuardedNetworkOptions {
  /**
   * Milliseconds a DNS answer is reused for new connections to the same host; default
   * `DEFAULT_LOOKUP_CACHE_MS` (one minute, `pinned-lookup.ts`). `0`: every new connection
   * resolves (and is checked) again.
   */
  lookupCacheMs?: number;
  /**
   * Milliseconds an HTTP connection (DNS, TCP and TLS) may take before the request fails;
   * default undici's, 10 000.
   */
  connectTimeoutMs?: number;
  /** The clock of `lookupCacheMs`, in milliseconds; default `Date.now`. */
  now?: () => number;
}

/**
 * The network access of remote MCP connections under one {@link UrlPolicy}: a checked `lookup`
 * (for `ws`) and a checked `fetch` (for the SDK's HTTP transports) that sends through its own
 * undici `Agent` whose connections use that lookup. Keep-alive connections are reused without a
 * new lookup, and new connections to a host reuse its checked answer for `lookupCacheMs`.
 *
 * Create one per transport (or per policy) and {@link GuardedNetwork.close} it when done: that
 * closes the agent's sockets. The agent is made at the first request, so a network used only
 * for its `lookup` holds no sockets.
 */
export class GuardedNetwork {
  /** The policy every request and connection is checked against. */
  readonly policy: UrlPolicy;
  /** A `dns.lookup`-compatible lookup that refuses what the policy refuses ({@link guardedLookup}). */
  readonly lookup: LookupFunction;
  /**
   * A `fetch` that checks each request's URL without DNS before sending it (synchronously),
   * connects only to checked addresses, and follows redirects itself so each hop is checked too
   * (WHATWG Fetch "HTTP-redirect fetch": 303, and 301/302 after a POST, become a body-less GET;
   * `Authorization`, `Cookie` and `Proxy-Authorization` are dropped when the origin changes).
   * `redirect: 'manual'` answers are returned as they are (the MCP SDK then follows same-origin
   * redirects through this same function); `redirect: 'error'` rejects with a TypeError. A
   * refused URL, redirect target or resolved address rejects with UrlRefusedError; other network
   * failures reject as undici's fetch does (`TypeError: fetch failed` with the cause).
   *
   * Give it to the SDK's HTTP transports as their `fetch` option. It answers with a global
   * `Response` (wrapping undici's body stream), as `globalThis.fetch` would.
   */
  readonly fetch: typeof fetch;
  readonly #connectTimeoutMs: number | undefined;
  #agent?: Agent;
  #closed = false;

  /**
   * @param policy where connections may go.
   * @param options DNS answer lifetime and connect timeout.
   */
  constructor(policy: UrlPolicy, options: GuardedNetworkOptions = {}) {
    this.policy = policy;
    this.lookup = guardedLookup(policy, { cacheMs: options.lookupCacheMs, now: options.now });
    this.#connectTimeoutMs = options.connectTimeoutMs;
    this.fetch = createGuardedFetch(policy, () => this.#dispatcher());
  }

  /** True once {@link GuardedNetwork.close} was called. */
  get closed(): boolean {
    return this.#closed;
  }

  /**
   * Closes the agent's connections at once (requests still running fail); later requests reject.
   * Safe to call more than once.
   */
  async close(): Promise<void> {
    this.#closed = true;
    const agent = this.#agent;
    this.#agent = undefined;
    await agent?.destroy();
  }

  #dispatcher(): Agent {
    if (this.#closed) throw new Error('the connection was closed');
    this.#agent ??= new Agent({
      connect: { lookup: this.lookup, timeout: this.#connectTimeoutMs },
    });
    return this.#agent;
  }
}

const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);
/** Redirect hops followed for `redirect: 'follow'`, as in the Fetch standard. */
const MAX_REDIRECTS = 20;

/** The fetch of {@link GuardedNetwork}: static checks, undici with `dispatcher`, own redirects. */
function createGuardedFetch(policy: UrlPolicy, dispatcher: () => Agent): typeof fetch {
  const send = async (url: URL, init: RequestInit, redirected: boolean): Promise<Response> => {
    const options = { ...init, redirect: 'manual', dispatcher: dispatcher() };
    try {
      return asGlobalResponse(await undiciFetch(url, options as UndiciRequestInit), redirected);
    } catch (error) {
      throw connectRefusal(error) ?? error;
    }
  };
  return async (input, init) => {
    const request = input instanceof Request ? input : undefined;
    let url = new URL(request ? request.url : input instanceof URL ? input.href : input);
    const mode = init?.redirect ?? request?.redirect ?? 'follow';
    assertStaticUrlAllowed(url, policy);
    let hopInit: RequestInit = request ? { ...requestInit(request), ...init } : { ...init };
    let response = await send(url, hopInit, false);
    for (let hop = 0; REDIRECT_STATUSES.has(response.status) && mode !== 'manual'; hop++) {
      const location = response.headers.get('location');
      if (!location) break;
      if (mode === 'error') throw new TypeError(`redirect to ${location} refused`);
      if (hop >= MAX_REDIRECTS) throw new TypeError(`more than ${MAX_REDIRECTS} redirects`);
      const next = new URL(location, url);
      hopInit = redirectedInit(hopInit, response.status, url, next);
      await response.body?.cancel();
      assertStaticUrlAllowed(next, policy);
      url = next;
      response = await send(url, hopInit, true);
    }
    return response;
  };
}

/** Statuses whose responses cannot have a body (WHATWG Fetch, "null body status"). */
const NULL_BODY_STATUSES = new Set([101, 103, 204, 205, 304]);

/**
 * undici's `Response` as a global one (same status, headers and `url`, and the very same body
 * stream, not a copy): the MCP SDK tests `instanceof Response` (reading OAuth error answers),
 * and the package's class is not Node's. `redirected` says whether redirects were followed to
 * get it (WHATWG Fetch: the response's URL list has more than one URL).
 */
function asGlobalResponse(response: UndiciResponse, redirected: boolean): Response {
  const body = NULL_BODY_STATUSES.has(response.status) ? null : response.body;
  const global = new Response(body as ReadableStream<Uint8Array> | null, {
    status: response.status,
    statusText: response.statusText,
    headers: response.headers as unknown as Headers,
  });
  Object.defineProperties(global, {
    url: { value: response.url },
    redirected: { value: redirected },
  });
  return global;
}

/** The parts of a `Request` given as fetch's input that undici needs as init. */
function requestInit(request: Request): RequestInit {
  return {
    method: request.method,
    headers: request.headers,
    body: request.body,
    signal: request.signal,
    ...(request.body ? { duplex: 'half' } : {}),
  };
}

/**
 * The UrlRefusedError behind a failed connection: undici rejects with `TypeError: fetch failed`
 * whose `cause` is the error the lookup failed the connection with.
 */
function connectRefusal(error: unknown): UrlRefusedError | undefined {
  for (let current = error, depth = 0; current instanceof Error && depth < 4; depth++) {
    if (current instanceof UrlRefusedError) return current;
    current = current.cause;
  }
  return undefined;
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
