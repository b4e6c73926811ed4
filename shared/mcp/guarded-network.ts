/**
 * The network access of remote MCP connections, pinned to what the URL policy (`url-policy.ts`)
 * allows: {@link GuardedNetwork} gives undici (HTTP) and `ws` (WebSocket) a `lookup` that resolves
 * a host once and refuses any address the policy refuses (`pinned-lookup.ts`), so a DNS server
 * cannot answer one address to a check and another to the connection (DNS rebinding), and a
 * `fetch` that checks every request and redirect hop before sending it.
 */
import type { LookupFunction } from 'node:net';
import { defaultMaxListeners, getMaxListeners, setMaxListeners } from 'node:events';
import { STATUS_CODES } from 'node:http';
import type { Readable } from 'node:stream';
import {
  Agent,
  request as undiciRequest,
  fetch as undiciFetch,
  type RequestInit as UndiciRequestInit,
  type Response as UndiciResponse,
} from 'undici';
import { NodeBodyResponse } from './node-body-response.js';
import { createPinnedLookup } from './pinned-lookup.js';
import {
  UrlRefusedError,
  assertStaticUrlAllowed,
  defaultResolve,
  resolvedAddressRefusal,
  type UrlPolicy,
} from './url-policy.js';

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
    check: (hostname, address) => resolvedAddressRefusal(hostname, address, policy),
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
   * `Response`, as `globalThis.fetch` would. A request without a body or with a text or byte
   * body (every MCP message) is sent with undici's `request` rather than its `fetch`, which
   * costs about a third less CPU per request (no fetch `Request`, body stream or CORS
   * machinery); such a request sends only the headers given (no `Accept-Encoding`, so answers
   * come uncompressed). Other bodies go through undici's `fetch`.
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
    const body = init.body;
    if (
      body === undefined ||
      body === null ||
      typeof body === 'string' ||
      body instanceof Uint8Array
    ) {
      return sendRequest(url, init, body ?? undefined, dispatcher(), redirected);
    }
    const options = { ...init, redirect: 'manual', dispatcher: dispatcher() };
    try {
      return asGlobalResponse(await undiciFetch(url, options as UndiciRequestInit), redirected);
    } catch (error) {
      throw connectRefusal(error) ?? error;
    }
  };
  // The static check depends only on the URL's scheme, credentials and host name (and the
  // policy, fixed for the network): the last ones that passed are remembered, so the requests of
  // a connection, all to one server, skip it (about 8 % of a health-check ping's CPU: an address
  // literal is checked against the policy's block lists).
  let passedProtocol: string | undefined;
  let passedHostname: string | undefined;
  const assertAllowed = (url: URL): void => {
    if (
      url.hostname === passedHostname &&
      url.protocol === passedProtocol &&
      url.username === '' &&
      url.password === ''
    ) {
      return;
    }
    assertStaticUrlAllowed(url, policy);
    passedProtocol = url.protocol;
    passedHostname = url.hostname;
  };
  return async (input, init) => {
    const request = input instanceof Request ? input : undefined;
    let url = new URL(request ? request.url : input instanceof URL ? input.href : input);
    const mode = init?.redirect ?? request?.redirect ?? 'follow';
    assertAllowed(url);
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
      assertAllowed(next);
      url = next;
      response = await send(url, hopInit, true);
    }
    return response;
  };
}

/** The abort listeners a request signal may hold before Node warns: undici fetch's own figure. */
const SIGNAL_MAX_LISTENERS = 1500;

/** Statuses whose responses cannot have a body (WHATWG Fetch, "null body status"). */
const NULL_BODY_STATUSES = new Set([101, 103, 204, 205, 304]);

/**
 * Sends one request with undici's `request` (no redirects followed: the caller does that) and
 * answers a global `Response` whose body is undici's readable, made a web stream only if asked
 * (`NodeBodyResponse`). Fails as undici's fetch does:
 * with the signal's reason once aborted, otherwise `TypeError: fetch failed` with the cause
 * (the lookup's UrlRefusedError as it is, see `connectRefusal`).
 */
async function sendRequest(
  url: URL,
  init: RequestInit,
  body: string | Uint8Array | undefined,
  dispatcher: Agent,
  redirected: boolean,
): Promise<Response> {
  const signal = init.signal ?? undefined;
  signal?.throwIfAborted();
  // The MCP SDK's HTTP transports give every request the one signal of the transport, and each
  // request in flight holds an abort listener on it until it ends: more than 10 calls at once on
  // one connection (gateway sessions sharing a server) would print MaxListenersExceededWarning.
  // Raised as undici's fetch raises it for the signals it follows.
  if (signal && getMaxListeners(signal) === defaultMaxListeners) {
    setMaxListeners(SIGNAL_MAX_LISTENERS, signal);
  }
  const requestHeaders: Record<string, string> = {};
  if (init.headers) {
    // The SDK's transports give a Headers already: read, not copied.
    const given = init.headers instanceof Headers ? init.headers : new Headers(init.headers);
    given.forEach((value, name) => (requestHeaders[name] = value));
  }
  let answer;
  try {
    answer = await undiciRequest(url, {
      method: (init.method ?? 'GET') as 'GET',
      headers: requestHeaders,
      body,
      signal,
      dispatcher,
    });
  } catch (error) {
    if (signal?.aborted) throw signal.reason;
    throw connectRefusal(error) ?? new TypeError('fetch failed', { cause: error });
  }
  const status = answer.statusCode;
  let answerBody: Readable | null = answer.body;
  if (NULL_BODY_STATUSES.has(status)) {
    // Read to its (empty) end, never destroyed: destroying undici's body emits an AbortError
    // that nothing would handle.
    answer.body.dump().catch(() => {});
    answerBody = null;
  }
  const response = new NodeBodyResponse(answerBody, {
    status,
    statusText: answer.statusText || STATUS_CODES[status] || '',
    url: url.href,
    redirected,
  });
  // Appended one by one: about half the CPU of handing them to the constructor (Node 20).
  const headers = response.headers;
  for (const [name, value] of Object.entries(answer.headers)) {
    if (Array.isArray(value)) for (const item of value) headers.append(name, item);
    else if (value !== undefined) headers.append(name, value);
  }
  return response;
}

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
