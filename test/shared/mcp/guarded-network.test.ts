import { getEventListeners } from 'node:events';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GuardedNetwork, guardedLookup } from '../../../shared/mcp/guarded-network.js';
import type { UrlPolicy } from '../../../shared/mcp/url-policy.js';
import { resolverOf } from '../../helpers/host-resolver.js';

const STRICT = { allowPrivateNetworks: false };
const OPEN = { allowPrivateNetworks: true };

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
  const HELD = 16;
  const held: (() => void)[] = [];

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
      if (req.url === '/held') {
        // Answered together once HELD requests are in.
        held.push(() => res.writeHead(200).end('held'));
        if (held.length === HELD) for (const answer of held.splice(0)) answer();
        return;
      }
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

  it('sends more than 10 requests at once with one signal without a listener warning, and leaves no listener', async () => {
    const warnings: Error[] = [];
    const onWarning = (warning: Error) => warnings.push(warning);
    process.on('warning', onWarning);
    try {
      // As the SDK's transports send: every request with the transport's one signal.
      const signal = new AbortController().signal;
      const fetchOpen = guardedFetch(OPEN);
      const answers = await Promise.all(
        Array.from({ length: HELD }, () =>
          fetchOpen(`${base}/held`, { method: 'POST', body: '{}', signal }).then((response) =>
            response.text(),
          ),
        ),
      );
      expect(answers).toEqual(Array.from({ length: HELD }, () => 'held'));
      expect(getEventListeners(signal, 'abort')).toHaveLength(0);
      expect(warnings.filter((warning) => warning.name === 'MaxListenersExceededWarning')).toEqual(
        [],
      );
    } finally {
      process.off('warning', onWarning);
    }
  });
});
