import { networkInterfaces } from 'node:os';
import { describe, expect, it } from 'vitest';
import {
  UrlRefusedError,
  addressRefusal,
  assertUrlAllowed,
  classifyAddress,
  embeddedIPv4,
  localInterfaceAddresses,
  staticUrlRefusal,
  type HostResolver,
} from '../../../shared/mcp/url-policy.js';
import { resolverOf } from '../../helpers/host-resolver.js';

const STRICT = { allowPrivateNetworks: false };
const OPEN = { allowPrivateNetworks: true };

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
