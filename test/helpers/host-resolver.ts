/** A `HostResolver` for tests of the URL policy and the guarded network. */
import type { HostResolver } from '../../shared/mcp/url-policy.js';

/** A resolver that answers from a table, failing like getaddrinfo for anything else. */
export function resolverOf(table: Record<string, string[]>): HostResolver {
  return async (hostname) => {
    const addresses = table[hostname];
    if (!addresses)
      throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' });
    return addresses.map((address) => ({ address }));
  };
}
