import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { networkInterfaces } from 'node:os';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  UrlRefusedError,
  addressRefusal,
  assertUrlAllowed,
  classifyAddress,
  embeddedIPv4,
  GuardedNetwork,
  guardedLookup,
  localInterfaceAddresses,
  staticUrlRefusal,
  type UrlPolicy,
  type HostResolver,
} from '../../../shared/mcp/url-guard.js';

const STRICT = { allowPrivateNetworks: false };
const OPEN = { allowPrivateNetworks: true };

/** A resolver that answers from a table, failing like getaddrinfo for anything else. */
function resolverOf(table: Record<string, string[]>): HostResolver {
  return async (hostname) => {
    const addresses = table[hostname];
    if (!addresses)
      throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' });
    return addresses.map((address) => ({ address }));
  };
}

describe('classifyAddress', () => {
  it.each([
    ['169.254.169.254', 'metadata'],
    ['169.254.170.2', 'metadata'],
    ['fd00:ec2::254', 'metadata'],
    ['100.100.100.200', 'metadata'],
    ['::ffff:169.254.169.254', 'metadata'],
    ['::ffff:a9fe:a9fe', 'metadata'],
    ['64:ff9b::a9fe:a9fe', 'metadata'],
    ['[::ffff:169.254.169.254]', 'metadata'],
    ['169.254.1.1', 'link-local'],
    ['fe80::1', 'link-local'],
    ['febf::1', 'link-local'],
    ['127.0.0.1', 'loopback'],
    ['127.255.0.9', 'loopback'],
    ['::1', 'loopback'],
    ['::ffff:127.0.0.1', 'loopback'],
    ['10.0.0.1', 'private'],
    ['172.16.0.1', 'private'],
    ['172.31.255.255', 'private'],
    ['192.168.0.1', 'private'],
    ['fc00::1', 'private'],
    ['fd12:3456::1', 'private'],
    ['100.64.0.1', 'shared'],
    ['100.127.255.254', 'shared'],
    ['0.0.0.0', 'unspecified'],
    ['::', 'unspecified'],
    ['224.0.0.1', 'reserved'],
    // IPv4-translated (RFC 2765), 6to4 (RFC 3056) and local-use NAT64 (RFC 8215).
    ['::ffff:0:169.254.169.254', 'metadata'],
    ['::ffff:0:7f00:1', 'loopback'],
    ['[::ffff:0:10.0.0.1]', 'private'],
    ['2002:a9fe:a9fe::1', 'metadata'],
    ['2002:7f00:1::', 'loopback'],
    ['2002:0a00:0001:1234::1', 'private'],
    ['64:ff9b:1::a00:1', 'private'],
    ['64:ff9b:1:ffff::808:808', 'private'],
  ])('%s is %s', (address, kind) => {
    expect(classifyAddress(address)).toBe(kind);
  });

  it.each([
    '8.8.8.8',
    '172.32.0.1',
    '100.128.0.1',
    '2001:4860:4860::8888',
    '::ffff:8.8.8.8',
    '2002:808:808::1',
    '64:ff9b:2::1',
    'x',
  ])('%s is public (or no address)', (address) => {
    expect(classifyAddress(address)).toBeUndefined();
  });

  it('reads the IPv4 address inside mapped, compatible and NAT64 IPv6 addresses', () => {
    expect(embeddedIPv4('::ffff:7f00:1')).toBe('127.0.0.1');
    expect(embeddedIPv4('::ffff:10.1.2.3')).toBe('10.1.2.3');
    expect(embeddedIPv4('64:ff9b::0a00:0001')).toBe('10.0.0.1');
    expect(embeddedIPv4('::ffff:0:a9fe:a9fe')).toBe('169.254.169.254');
    expect(embeddedIPv4('2002:c000:0201::5')).toBe('192.0.2.1');
    expect(embeddedIPv4('::1')).toBeUndefined();
    expect(embeddedIPv4('2001:db8::1')).toBeUndefined();
  });
});

describe('addressRefusal', () => {
  it('always refuses metadata and link-local addresses, saying why', () => {
    expect(addressRefusal('169.254.169.254', OPEN)).toBe(
      '169.254.169.254 is a cloud metadata address',
    );
    expect(addressRefusal('::ffff:a9fe:a9fe', OPEN)).toBe(
      '::ffff:a9fe:a9fe (169.254.169.254) is a cloud metadata address',
    );
    expect(addressRefusal('fe80::1', OPEN)).toBe('fe80::1 is a link-local address');
  });

  it('refuses private ranges unless private networks are allowed, naming the setting', () => {
    for (const address of ['127.0.0.1', '::1', '10.1.2.3', '192.168.1.1', '100.64.0.1', '::']) {
      expect(addressRefusal(address, STRICT)).toMatch(/MCP_ALLOW_PRIVATE_NETWORKS=true/);
      expect(addressRefusal(address, OPEN)).toBeUndefined();
    }
    expect(addressRefusal('8.8.8.8', STRICT)).toBeUndefined();
  });

  it("refuses this machine's own interface addresses (e.g. eth0) unless private networks are allowed", () => {
    const own = Object.values(networkInterfaces())
      .flat()
      .filter((entry) => entry && !entry.internal)
      .map((entry) => entry!.address.split('%')[0]!)
      .filter((address) => classifyAddress(address) !== 'link-local'); // refused either way
    expect(own.length).toBeGreaterThan(0);
    expect(localInterfaceAddresses()).toEqual(expect.arrayContaining(own));
    for (const address of own) {
      expect(addressRefusal(address, STRICT)).toMatch(/\(set MCP_ALLOW_PRIVATE_NETWORKS=true/);
      expect(addressRefusal(address, OPEN)).toBeUndefined();
    }
  });

  it('refuses a public address that belongs to this host, in any IPv6 wrapping', () => {
    const policy = { ...STRICT, hostAddresses: () => ['93.184.216.34', '2001:db8::7'] };
    expect(addressRefusal('93.184.216.34', policy)).toBe(
      '93.184.216.34 is an address of this host (set MCP_ALLOW_PRIVATE_NETWORKS=true to allow private networks)',
    );
    expect(addressRefusal('::ffff:93.184.216.34', policy)).toMatch(/an address of this host/);
    expect(addressRefusal('2002:5db8:d822::1', policy)).toMatch(/an address of this host/);
    expect(addressRefusal('2001:0db8:0:0::7', policy)).toMatch(/an address of this host/);
    expect(addressRefusal('93.184.216.35', policy)).toBeUndefined();
    expect(staticUrlRefusal('http://93.184.216.34/mcp', policy)).toMatch(/address of this host/);
    expect(addressRefusal('93.184.216.34', { ...policy, allowPrivateNetworks: true })).toBe(
      undefined,
    );
  });
});

describe('staticUrlRefusal', () => {
  it.each([
    ['ftp://example.com/mcp', /must use http, https, ws or wss, not ftp/],
    ['file:///etc/passwd', /not file/],
    ['http://user:pass@example.com/mcp', /must not contain credentials/],
    ['http://token@example.com/mcp', /must not contain credentials/],
    ['http://metadata.google.internal/computeMetadata/v1/', /cloud metadata host name/],
    ['http://METADATA.google.internal./', /cloud metadata host name/],
    ['http://169.254.169.254/latest/meta-data/', /169\.254\.169\.254 is a cloud metadata address/],
    ['http://[::ffff:169.254.169.254]/', /cloud metadata address/],
    ['http://[fd00:ec2::254]/', /cloud metadata address/],
    ['http://2852039166/', /169\.254\.169\.254 is a cloud metadata address/],
    ['http://0x7f.1/', /127\.0\.0\.1 is a loopback address/],
    ['http://localhost:3000/mcp', /localhost is a loopback host name/],
    ['ws://api.localhost/mcp', /loopback host name/],
    ['http://10.0.0.5/mcp', /private network address/],
    ['not a url', /absolute URL/],
  ])('refuses %s', (url, reason) => {
    expect(staticUrlRefusal(url, STRICT)).toMatch(reason);
  });

  it('accepts public URLs of every allowed scheme, and private ones when allowed', () => {
    for (const url of ['https://mcp.example.com/mcp', 'http://example.com', 'wss://x.example/ws']) {
      expect(staticUrlRefusal(url, STRICT)).toBeUndefined();
    }
    expect(staticUrlRefusal('http://localhost:3000/mcp', OPEN)).toBeUndefined();
    expect(staticUrlRefusal('http://127.0.0.1:3000/mcp', OPEN)).toBeUndefined();
    expect(staticUrlRefusal('http://169.254.169.254/', OPEN)).toMatch(/metadata/);
  });
});

describe('assertUrlAllowed', () => {
  const resolve = resolverOf({
    'public.example': ['93.184.216.34'],
    'internal.example': ['10.1.2.3'],
    'sneaky.example': ['93.184.216.34', '169.254.169.254'],
    'mapped.example': ['::ffff:127.0.0.1'],
  });

  it('checks every address the host resolves to', async () => {
    await expect(
      assertUrlAllowed('https://public.example/mcp', { ...STRICT, resolve }),
    ).resolves.toBeUndefined();
    await expect(
      assertUrlAllowed('https://internal.example/mcp', { ...STRICT, resolve }),
    ).rejects.toThrow('internal.example resolves to 10.1.2.3 is a private network address');
    await expect(
      assertUrlAllowed('https://sneaky.example/mcp', { ...OPEN, resolve }),
    ).rejects.toThrow('sneaky.example resolves to 169.254.169.254 is a cloud metadata address');
    await expect(
      assertUrlAllowed('https://mapped.example/mcp', { ...STRICT, resolve }),
    ).rejects.toThrow(/::ffff:127\.0\.0\.1 \(127\.0\.0\.1\) is a loopback address/);
  });

  it('allows private addresses when private networks are allowed', async () => {
    await expect(
      assertUrlAllowed('https://internal.example/mcp', { ...OPEN, resolve }),
    ).resolves.toBeUndefined();
  });

  it('resolves names with the OS resolver: localhost is loopback', async () => {
    await expect(assertUrlAllowed('http://localhost:1/', STRICT)).rejects.toBeInstanceOf(
      UrlRefusedError,
    );
  });

  it('reports a host that does not resolve, unless told to ignore it', async () => {
    await expect(
      assertUrlAllowed('https://nowhere.example/', { ...STRICT, resolve }),
    ).rejects.toThrow('cannot resolve nowhere.example (ENOTFOUND)');
    await expect(
      assertUrlAllowed(
        'https://nowhere.example/',
        { ...STRICT, resolve },
        { ignoreResolveErrors: true },
      ),
    ).resolves.toBeUndefined();
  });

  it('refuses names resolving to 6to4, IPv4-translated or local-use NAT64 forms of refused addresses', async () => {
    const wrapped = resolverOf({
      'six-to-four.example': ['2002:a9fe:a9fe::1'],
      'translated.example': ['::ffff:0:7f00:1'],
      'nat64.example': ['64:ff9b:1::a00:1'],
    });
    await expect(
      assertUrlAllowed('https://six-to-four.example/', { ...OPEN, resolve: wrapped }),
    ).rejects.toThrow(/\(169\.254\.169\.254\) is a cloud metadata address/);
    await expect(
      assertUrlAllowed('https://translated.example/', { ...STRICT, resolve: wrapped }),
    ).rejects.toThrow(/\(127\.0\.0\.1\) is a loopback address/);
    await expect(
      assertUrlAllowed('https://nat64.example/', { ...STRICT, resolve: wrapped }),
    ).rejects.toThrow(/is a private network address/);
  });

  it('gives up resolving after resolveTimeoutMs', async () => {
    const never: HostResolver = () => new Promise(() => {});
    await expect(
      assertUrlAllowed(
        'https://slow.example/',
        { ...STRICT, resolve: never },
        { resolveTimeoutMs: 20 },
      ),
    ).rejects.toThrow(/took longer than 20 ms/);
  });
});

describe('connect-time lookup', () => {
  /** The lookup's answer for `hostname`: the error it fails the connection with, or the address. */
  const lookupOnce = (policy: UrlPolicy, hostname: string) =>
    new Promise<Error | string>((resolve) =>
      guardedLookup(policy, { cacheMs: 0 })(hostname, {}, (error, address) =>
        resolve(error ?? (address as string)),
      ),
    );
  const resolve = resolverOf({
    'six-to-four.example': ['2002:7f00:1::1'],
    'translated.example': ['::ffff:0:a9fe:a9fe'],
    'nat64.example': ['64:ff9b:1::a00:1'],
    'own.example': ['93.184.216.34'],
  });
  const policy = { ...STRICT, resolve, hostAddresses: () => ['93.184.216.34'] };

  it('classifies the addresses it connects to exactly as the static checks do', async () => {
    expect(String(await lookupOnce(policy, 'six-to-four.example'))).toMatch(/loopback address/);
    expect(String(await lookupOnce(policy, 'translated.example'))).toMatch(/cloud metadata/);
    expect(String(await lookupOnce(policy, 'nat64.example'))).toMatch(/private network address/);
    expect(String(await lookupOnce(policy, 'own.example'))).toMatch(/an address of this host/);
    expect(await lookupOnce({ ...policy, hostAddresses: () => [] }, 'own.example')).toBe(
      '93.184.216.34',
    );
  });
});

describe('GuardedNetwork.fetch', () => {
  let server: Server;
  let base: string;
  const networks: GuardedNetwork[] = [];
  /** The checked fetch of a new network under `policy`, closed after the tests. */
  const guardedFetch = (policy: UrlPolicy): typeof fetch => {
    const network = new GuardedNetwork(policy);
    networks.push(network);
    return network.fetch;
  };
  const seen: { path: string; method: string; headers: IncomingHttpHeaders }[] = [];

  beforeAll(async () => {
    server = createServer((req, res) => {
      seen.push({ path: req.url ?? '', method: req.method ?? '', headers: req.headers });
      const redirects: Record<string, [number, string]> = {
        '/to-metadata': [302, 'http://169.254.169.254/latest/meta-data/'],
        '/to-mapped': [307, 'http://[::ffff:a9fe:a9fe]/'],
        '/to-ok': [302, '/ok'],
        '/see-other': [303, '/ok'],
        '/to-other-origin': [307, `http://localhost:${(server.address() as AddressInfo).port}/ok`],
      };
      const redirect = redirects[req.url ?? ''];
      if (redirect) {
        res.writeHead(redirect[0], { location: redirect[1] }).end();
        return;
      }
      res.writeHead(200, { 'content-type': 'text/plain' }).end(`ok ${req.method}`);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    await Promise.all(networks.map((network) => network.close()));
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  it('refuses the first request to a refused address before sending anything', async () => {
    const count = seen.length;
    await expect(guardedFetch(STRICT)(`${base}/ok`)).rejects.toThrow(/loopback address/);
    expect(seen.length).toBe(count);
  });

  it('refuses a redirect to the metadata address, also in IPv4-mapped form', async () => {
    await expect(guardedFetch(OPEN)(`${base}/to-metadata`)).rejects.toThrow(
      '169.254.169.254 is a cloud metadata address',
    );
    await expect(guardedFetch(OPEN)(`${base}/to-mapped`)).rejects.toThrow(
      /\(169\.254\.169\.254\) is a cloud metadata address/,
    );
  });

  it('follows allowed redirects, turning a 303 after POST into a GET', async () => {
    const followed = await guardedFetch(OPEN)(`${base}/to-ok`);
    expect(await followed.text()).toBe('ok GET');
    const seeOther = await guardedFetch(OPEN)(`${base}/see-other`, { method: 'POST', body: 'x' });
    expect(await seeOther.text()).toBe('ok GET');
  });

  it('drops Authorization when a redirect changes origin', async () => {
    const response = await guardedFetch(OPEN)(`${base}/to-other-origin`, {
      method: 'POST',
      body: '{}',
      headers: { authorization: 'Bearer secret', 'x-kept': 'yes' },
    });
    expect(await response.text()).toBe('ok POST');
    const last = seen.at(-1)!;
    expect(last.headers.authorization).toBeUndefined();
    expect(last.headers['x-kept']).toBe('yes');
  });

  it('returns a redirect as it is with redirect: manual, and rejects with redirect: error', async () => {
    const manual = await guardedFetch(OPEN)(`${base}/to-metadata`, { redirect: 'manual' });
    expect(manual.status).toBe(302);
    await expect(guardedFetch(OPEN)(`${base}/to-ok`, { redirect: 'error' })).rejects.toThrow(
      /redirect to \/ok refused/,
    );
  });
});
