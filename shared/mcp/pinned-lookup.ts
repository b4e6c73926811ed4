/**
 * A `dns.lookup` replacement for outgoing connections that checks the addresses it hands out
 * ("DNS pinning"): `net.connect` and `tls.connect` (and so undici's and `ws`'s connections) call
 * it to turn a host name into addresses, it resolves the name once, refuses the whole answer when
 * any address in it is refused, and gives the connection only the addresses it checked. The
 * address checked is thus the address connected to: there is no second resolution a hostile DNS
 * server could answer differently (DNS rebinding; OWASP SSRF Prevention Cheat Sheet, "DNS
 * pinning").
 *
 * Answers are kept for `cacheMs`, so the further connections a pool opens to the same host (and
 * reconnections after keep-alive sockets expire) cost no lookup. Node does not call `lookup` for
 * a literal IP address: check those before connecting (`staticUrlRefusal` in `url-policy.ts`).
 */
import type { LookupAddress, LookupOptions } from 'node:dns';
import { isIP, type LookupFunction } from 'node:net';

/** One address of a resolver's answer; `family` (4 or 6) is derived from `address` when absent. */
export interface ResolvedAddress {
  address: string;
  family?: number;
}

/** Options of {@link createPinnedLookup}. */
export interface PinnedLookupOptions {
  /**
   * Resolves a host name to every address it has, like `dns.promises.lookup(host, { all: true,
   * verbatim: true })`; rejects (ideally with a `code` such as `ENOTFOUND`) when it cannot.
   */
  resolve: (hostname: string) => Promise<readonly ResolvedAddress[]>;
  /**
   * Judges one address of `hostname`'s answer: returns the error to fail the connection with
   * when it is refused, `undefined` when it may be connected to. Called for every address of
   * every answer handed out, cached ones included.
   */
  check: (hostname: string, address: string) => Error | undefined;
  /**
   * Milliseconds an answer is reused for new connections to the same host name (counted from
   * when it arrived); default {@link DEFAULT_LOOKUP_CACHE_MS}. `0` resolves at every call.
   * Lookups of one name that overlap share one resolution whatever this is. Failed resolutions
   * are not kept.
   */
  cacheMs?: number;
  /** The clock of `cacheMs`, in milliseconds; default `Date.now`. */
  now?: () => number;
}

/** Default {@link PinnedLookupOptions.cacheMs}: one minute. */
export const DEFAULT_LOOKUP_CACHE_MS = 60_000;

interface CacheEntry {
  answer: Promise<LookupAddress[]>;
  /** When the answer stops being reused; `Infinity` while it is being resolved. */
  expires: number;
}

/**
 * Creates a lookup function with the signature of `dns.lookup` (as `net.connect`'s `lookup`
 * option calls it: `(hostname, { family, hints, all }, callback)`; the options may also be a
 * family number or left out). With `all: true` the callback gets every address of the answer as
 * `{ address, family }` objects (in the resolver's order); otherwise the first one as
 * `(null, address, family)`. `family` 4 or 6 (or `'IPv4'`/`'IPv6'`) keeps only addresses of
 * that family; `hints` are ignored (the resolver decides).
 *
 * The callback gets an error, and the connection fails with it, when the resolver rejects (its
 * error as it is), when `check` refuses any address of the answer (`check`'s error), when the
 * answer holds something that is not an IP address, or when no address of the requested family
 * is left (an `ENOTFOUND` error).
 *
 * @param options the resolver, the address check and the cache lifetime.
 * @returns a function to pass as `lookup` to `net.connect`, `tls.connect`, undici's `connect`
 *   options or `ws`.
 */
export function createPinnedLookup(options: PinnedLookupOptions): LookupFunction {
  const cacheMs = options.cacheMs ?? DEFAULT_LOOKUP_CACHE_MS;
  const now = options.now ?? Date.now;
  const cache = new Map<string, CacheEntry>();

  const answerFor = (hostname: string): Promise<LookupAddress[]> => {
    const key = hostname.toLowerCase();
    const cached = cache.get(key);
    if (cached && cached.expires > now()) return cached.answer;
    const entry: CacheEntry = { answer: resolveChecked(hostname, options), expires: Infinity };
    cache.set(key, entry);
    entry.answer.then(
      () => {
        if (cacheMs > 0) entry.expires = now() + cacheMs;
        else if (cache.get(key) === entry) cache.delete(key);
      },
      () => {
        if (cache.get(key) === entry) cache.delete(key);
      },
    );
    return entry.answer;
  };

  const lookup = (
    hostname: string,
    lookupOptions: LookupOptions | number | LookupCallback,
    maybeCallback?: LookupCallback,
  ): void => {
    const callback = typeof lookupOptions === 'function' ? lookupOptions : maybeCallback!;
    const settings: LookupOptions =
      typeof lookupOptions === 'number'
        ? { family: lookupOptions }
        : typeof lookupOptions === 'object' && lookupOptions !== null
          ? lookupOptions
          : {};
    const family = wantedFamily(settings.family);
    answerFor(hostname)
      .then((answer) => {
        // Checked at every hand-out, cached answers included: a refused answer fails every
        // connection that asks for it, and nothing unchecked ever reaches a connection.
        for (const { address } of answer) {
          const refusal = options.check(hostname, address);
          if (refusal) throw refusal;
        }
        const usable = family ? answer.filter((entry) => entry.family === family) : answer;
        if (usable.length === 0) throw notFound(hostname, family);
        return usable;
      })
      .then(
        (usable) =>
          process.nextTick(() =>
            settings.all
              ? callback(
                  null,
                  usable.map((entry) => ({ ...entry })),
                )
              : callback(null, usable[0]!.address, usable[0]!.family),
          ),
        // Like `dns.lookup`, a failure calls back with the error alone.
        (error: NodeJS.ErrnoException) =>
          process.nextTick(() => (callback as (error: NodeJS.ErrnoException) => void)(error)),
      );
  };
  return lookup as LookupFunction;
}

type LookupCallback = Parameters<LookupFunction>[2];

/** Resolves and validates the shape of the answer (every entry an IP address with its family). */
async function resolveChecked(
  hostname: string,
  options: PinnedLookupOptions,
): Promise<LookupAddress[]> {
  const raw = await options.resolve(hostname);
  const answer: LookupAddress[] = [];
  for (const { address } of raw) {
    const family = isIP(address);
    if (family === 0) {
      throw Object.assign(new Error(`${hostname} resolved to "${address}", not an IP address`), {
        code: 'EINVAL',
      });
    }
    answer.push({ address, family });
  }
  if (answer.length === 0) throw notFound(hostname, undefined);
  return answer;
}

function wantedFamily(family: LookupOptions['family']): 4 | 6 | undefined {
  if (family === 4 || family === 'IPv4') return 4;
  if (family === 6 || family === 'IPv6') return 6;
  return undefined;
}

function notFound(hostname: string, family: 4 | 6 | undefined): NodeJS.ErrnoException {
  const which = family ? ` (no IPv${family} address)` : '';
  return Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}${which}`), {
    code: 'ENOTFOUND',
    hostname,
  });
}
