/**
 * Connect-time address checks: the lookup that net/tls connections (undici's and ws's) use
 * resolves a host once, refuses what the policy refuses, and hands the connection only the
 * addresses it checked, so a DNS server cannot answer a public address to a check and a private
 * one to the connection (DNS rebinding). Also: one lookup for many requests, agents closed with
 * their connections, and `localhost` servers working on every remote transport.
 */
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import type { LookupAddress } from 'node:dns';
import { lookup as dnsLookup } from 'node:dns/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo, LookupFunction, Socket } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../../shared/logger.js';
import type { McpConnection } from '../../../shared/mcp/index.js';
import {
  McpConnectionError,
  mcpServerConfigSchema,
  toolResultToText,
  type McpServerConfigInput,
} from '../../../shared/mcp/index.js';
import { createPinnedLookup } from '../../../shared/mcp/pinned-lookup.js';
import { GuardedNetwork, guardedLookup } from '../../../shared/mcp/guarded-network.js';
import {
  UrlRefusedError,
  type HostResolver,
  type UrlPolicy,
} from '../../../shared/mcp/url-policy.js';
import { startHttpMcpServer, type HttpMcpServer } from '../../helpers/http-mcp-server.js';
import {
  startEverythingHttpServer,
  type EverythingHttpServer,
} from '../../helpers/mcp-processes.js';
import {
  startWebSocketMcpServer,
  type WebSocketMcpTestServer,
} from '../../helpers/websocket-mcp-server.js';
import { sandboxedConnection } from '../../helpers/sandboxed.js';

const logger = createLogger({ level: 'silent' });
const STRICT = { allowPrivateNetworks: false };
const OPEN = { allowPrivateNetworks: true };
/** An address of TEST-NET-1 (RFC 5737): public as far as the policy is concerned. */
const PUBLIC = '192.0.2.1';

/** A resolver answering `answers[i]` at its i-th call (the last one from then on), counting calls. */
function sequenceResolver(...answers: string[][]): HostResolver & { calls: string[] } {
  const calls: string[] = [];
  const resolve = async (hostname: string) => {
    calls.push(hostname);
    const answer = answers[Math.min(calls.length, answers.length) - 1]!;
    return answer.map((address) => ({ address }));
  };
  return Object.assign(resolve, { calls });
}

/** The OS resolver, counting calls. */
function countingOsResolver(): HostResolver & { calls: string[] } {
  const calls: string[] = [];
  const resolve = (hostname: string) => {
    calls.push(hostname);
    return dnsLookup(hostname, { all: true, verbatim: true });
  };
  return Object.assign(resolve, { calls });
}

/** Calls a lookup as net.connect does with `all: true` (Node's default happy-eyeballs path). */
function lookupAll(
  lookup: LookupFunction,
  hostname: string,
  options: { family?: number } = {},
): Promise<LookupAddress[]> {
  return new Promise((resolve, reject) =>
    lookup(hostname, { ...options, all: true }, (error, addresses) =>
      error ? reject(error) : resolve(addresses as LookupAddress[]),
    ),
  );
}

/** Calls a lookup as net.connect does without `all`: one address and its family. */
function lookupOne(
  lookup: LookupFunction,
  hostname: string,
  options: { family?: number } = {},
): Promise<[string, number | undefined]> {
  return new Promise((resolve, reject) =>
    lookup(hostname, options, (error, address, family) =>
      error ? reject(error) : resolve([address as string, family]),
    ),
  );
}

describe('createPinnedLookup', () => {
  const acceptAll = () => undefined;

  it('answers as dns.lookup does, with all: true and without, filtering by family', async () => {
    const resolve = sequenceResolver(['2001:db8::1', '203.0.113.5', '203.0.113.6']);
    const lookup = createPinnedLookup({ resolve, check: acceptAll });
    await expect(lookupAll(lookup, 'dual.example')).resolves.toEqual([
      { address: '2001:db8::1', family: 6 },
      { address: '203.0.113.5', family: 4 },
      { address: '203.0.113.6', family: 4 },
    ]);
    await expect(lookupOne(lookup, 'dual.example')).resolves.toEqual(['2001:db8::1', 6]);
    await expect(lookupOne(lookup, 'dual.example', { family: 4 })).resolves.toEqual([
      '203.0.113.5',
      4,
    ]);
    await expect(lookupAll(lookup, 'dual.example', { family: 6 })).resolves.toEqual([
      { address: '2001:db8::1', family: 6 },
    ]);
  });

  it('fails with ENOTFOUND when no address of the family is left, or the answer is empty', async () => {
    const v4only = createPinnedLookup({
      resolve: sequenceResolver(['203.0.113.5']),
      check: acceptAll,
    });
    await expect(lookupOne(v4only, 'v4.example', { family: 6 })).rejects.toMatchObject({
      code: 'ENOTFOUND',
    });
    const empty = createPinnedLookup({ resolve: sequenceResolver([]), check: acceptAll });
    await expect(lookupAll(empty, 'empty.example')).rejects.toMatchObject({ code: 'ENOTFOUND' });
  });

  it('refuses an answer holding something that is not an IP address', async () => {
    const lookup = createPinnedLookup({
      resolve: sequenceResolver(['203.0.113.5', 'localhost']),
      check: acceptAll,
    });
    await expect(lookupAll(lookup, 'odd.example')).rejects.toThrow(/not an IP address/);
  });

  it("passes the resolver's error through and does not keep it", async () => {
    let calls = 0;
    const lookup = createPinnedLookup({
      resolve: async (hostname) => {
        calls += 1;
        if (calls === 1) {
          throw Object.assign(new Error(`getaddrinfo EAI_AGAIN ${hostname}`), {
            code: 'EAI_AGAIN',
          });
        }
        return [{ address: '203.0.113.5' }];
      },
      check: acceptAll,
    });
    await expect(lookupAll(lookup, 'flaky.example')).rejects.toMatchObject({ code: 'EAI_AGAIN' });
    await expect(lookupAll(lookup, 'flaky.example')).resolves.toHaveLength(1);
    expect(calls).toBe(2);
  });

  it('reuses an answer for cacheMs, then resolves again; overlapping lookups share one', async () => {
    let clock = 1_000;
    const resolve = sequenceResolver(['203.0.113.5'], ['203.0.113.9']);
    const lookup = createPinnedLookup({
      resolve,
      check: acceptAll,
      cacheMs: 500,
      now: () => clock,
    });
    const together = await Promise.all([
      lookupOne(lookup, 'cached.example'),
      lookupOne(lookup, 'CACHED.example'),
      lookupAll(lookup, 'cached.example'),
    ]);
    expect(together[0]).toEqual(['203.0.113.5', 4]);
    expect(resolve.calls).toHaveLength(1);
    clock += 499;
    await expect(lookupOne(lookup, 'cached.example')).resolves.toEqual(['203.0.113.5', 4]);
    expect(resolve.calls).toHaveLength(1);
    clock += 1;
    await expect(lookupOne(lookup, 'cached.example')).resolves.toEqual(['203.0.113.9', 4]);
    expect(resolve.calls).toHaveLength(2);
  });
});

describe('guardedLookup (DNS rebinding)', () => {
  it('hands out only the address it checked: a rebound second answer is refused', async () => {
    const resolve = sequenceResolver([PUBLIC], ['127.0.0.1']);
    const lookup = guardedLookup({ ...STRICT, resolve }, { cacheMs: 0 });
    await expect(lookupAll(lookup, 'rebind.example')).resolves.toEqual([
      { address: PUBLIC, family: 4 },
    ]);
    const refused = await lookupOne(lookup, 'rebind.example').catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(UrlRefusedError);
    expect((refused as UrlRefusedError).message).toBe(
      'rebind.example resolves to 127.0.0.1 is a loopback address (set MCP_ALLOW_PRIVATE_NETWORKS=true to allow private networks)',
    );
    expect((refused as UrlRefusedError).kind).toBe('loopback');
    expect(resolve.calls).toEqual(['rebind.example', 'rebind.example']);
  });

  it('keeps connecting to the pinned address while the answer is kept, without resolving', async () => {
    const resolve = sequenceResolver([PUBLIC], ['127.0.0.1']);
    const lookup = guardedLookup({ ...STRICT, resolve });
    for (let i = 0; i < 5; i++) {
      await expect(lookupOne(lookup, 'rebind.example')).resolves.toEqual([PUBLIC, 4]);
    }
    expect(resolve.calls).toHaveLength(1);
  });

  it('refuses the whole answer when any address in it is refused', async () => {
    const resolve = sequenceResolver(['203.0.113.5', '::ffff:169.254.169.254']);
    const lookup = guardedLookup({ ...OPEN, resolve });
    await expect(lookupAll(lookup, 'mixed.example')).rejects.toThrow(
      'mixed.example resolves to ::ffff:169.254.169.254 (169.254.169.254) is a cloud metadata address',
    );
  });
});

describe('GuardedNetwork.fetch', () => {
  let server: Server;
  let port: number;
  let connections = 0;
  const networks: GuardedNetwork[] = [];

  /** A network under `policy`, closed after each test. */
  function network(
    policy: UrlPolicy,
    options: ConstructorParameters<typeof GuardedNetwork>[1] = {},
  ) {
    const created = new GuardedNetwork(policy, options);
    networks.push(created);
    return created;
  }

  beforeAll(async () => {
    server = createServer((req, res) => {
      if (req.url === '/empty') res.writeHead(204).end();
      else if (req.url === '/moved') res.writeHead(302, { location: '/target' }).end();
      else if (req.url === '/to-evil') {
        res.writeHead(307, { location: `http://evil.example:${port}/stolen` }).end();
      } else res.end(`ok ${req.url}`);
    });
    server.on('connection', () => (connections += 1));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });

  afterEach(async () => {
    await Promise.all(networks.splice(0).map((n) => n.close()));
  });

  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  it('never connects to a private address a host rebinds to after a public answer', async () => {
    // The first answer is public: the connection goes there (and fails, or times out: nothing
    // of ours listens there). The second, rebound to the local server, is refused.
    const resolve = sequenceResolver([PUBLIC], ['127.0.0.1']);
    const net = network({ ...STRICT, resolve }, { lookupCacheMs: 0, connectTimeoutMs: 1_000 });
    const before = connections;
    const first = await net.fetch(`http://rebind.example:${port}/first`).then(
      (response) => response.status,
      (error: unknown) => error,
    );
    expect(first).not.toBeInstanceOf(UrlRefusedError);
    await expect(net.fetch(`http://rebind.example:${port}/second`)).rejects.toThrow(
      'rebind.example resolves to 127.0.0.1 is a loopback address',
    );
    expect(resolve.calls).toHaveLength(2);
    expect(connections).toBe(before);
  });

  it.each([
    ['169.254.169.254', OPEN, 'is a cloud metadata address'],
    ['10.1.2.3', STRICT, 'is a private network address'],
  ])('refuses a host resolving to %s when connecting', async (address, policy, why) => {
    const resolve = sequenceResolver([address]);
    const net = network({ ...policy, resolve });
    const error = await net.fetch(`http://evil.example:${port}/`).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UrlRefusedError);
    expect((error as Error).message).toBe(
      `evil.example resolves to ${address} ${why}${
        policy === STRICT ? ' (set MCP_ALLOW_PRIVATE_NETWORKS=true to allow private networks)' : ''
      }`,
    );
  });

  it('refuses a redirect hop to a host that resolves to the metadata address', async () => {
    const calls: string[] = [];
    const resolve: HostResolver = async (hostname) => {
      calls.push(hostname);
      return [{ address: hostname === 'evil.example' ? '169.254.169.254' : '127.0.0.1' }];
    };
    const net = network({ ...OPEN, resolve });
    const seen: string[] = [];
    const record = (req: { url?: string }) => seen.push(req.url ?? '');
    server.on('request', record);
    try {
      await expect(net.fetch(`http://start.example:${port}/to-evil`)).rejects.toThrow(
        'evil.example resolves to 169.254.169.254 is a cloud metadata address',
      );
    } finally {
      server.off('request', record);
    }
    expect(calls).toEqual(['start.example', 'evil.example']);
    expect(seen).toEqual(['/to-evil']);
  });

  it('checks literal addresses and metadata host names without resolving', async () => {
    const resolve = sequenceResolver(['127.0.0.1']);
    const net = network({ ...STRICT, resolve });
    await expect(net.fetch(`http://127.0.0.1:${port}/`)).rejects.toThrow(/loopback address/);
    await expect(net.fetch('http://metadata.google.internal/')).rejects.toThrow(
      /cloud metadata host name/,
    );
    expect(resolve.calls).toHaveLength(0);
  });

  it('checks every URL after one that passed: only the same scheme and host skip the check', async () => {
    const net = network(OPEN);
    const passed = await net.fetch(`http://127.0.0.1:${port}/first`);
    expect(await passed.text()).toBe('ok /first');
    await expect(net.fetch('http://169.254.169.254/latest/meta-data/')).rejects.toThrow(
      /cloud metadata address/,
    );
    await expect(net.fetch(`http://user:secret@127.0.0.1:${port}/`)).rejects.toThrow(
      /must not contain credentials/,
    );
    await expect(net.fetch(`file://127.0.0.1/etc/passwd`)).rejects.toThrow(/not file/);
    const again = await net.fetch(`http://127.0.0.1:${port}/again`);
    expect(await again.text()).toBe('ok /again');
  });

  it('resolves a host once for many requests, sequential and concurrent', async () => {
    const resolve = sequenceResolver(['127.0.0.1']);
    const net = network({ ...OPEN, resolve });
    for (let i = 0; i < 10; i++) {
      const response = await net.fetch(`http://many.example:${port}/seq${i}`);
      expect(await response.text()).toBe(`ok /seq${i}`);
    }
    const texts = await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        net.fetch(`http://many.example:${port}/par${i}`).then((r) => r.text()),
      ),
    );
    expect(texts).toEqual(Array.from({ length: 10 }, (_, i) => `ok /par${i}`));
    expect(resolve.calls).toEqual(['many.example']);
  });

  it('answers with global Responses (as the SDK expects), with url and redirected', async () => {
    const net = network({ ...OPEN, resolve: sequenceResolver(['127.0.0.1']) });
    const plain = await net.fetch(`http://shape.example:${port}/plain`);
    expect(plain).toBeInstanceOf(Response);
    expect(plain.url).toBe(`http://shape.example:${port}/plain`);
    expect(plain.redirected).toBe(false);
    expect(plain.headers.get('content-length')).toBe('9');
    expect(await plain.text()).toBe('ok /plain');
    const empty = await net.fetch(`http://shape.example:${port}/empty`);
    expect([empty.status, empty.body]).toEqual([204, null]);
    const moved = await net.fetch(`http://shape.example:${port}/moved`);
    expect(moved.url).toBe(`http://shape.example:${port}/target`);
    expect(moved.redirected).toBe(true);
    expect(await moved.text()).toBe('ok /target');
  });

  it('closes its sockets on close(), and refuses requests afterwards', async () => {
    const sockets = trackSockets(port);
    try {
      const net = network({ ...OPEN, resolve: sequenceResolver(['127.0.0.1']) });
      await (await net.fetch(`http://keep.example:${port}/`)).text();
      expect(sockets.list.length).toBeGreaterThan(0);
      expect(sockets.list.some((socket) => !socket.destroyed)).toBe(true);
      await net.close();
      expect(sockets.list.every((socket) => socket.destroyed)).toBe(true);
      await expect(net.fetch(`http://keep.example:${port}/`)).rejects.toThrow(/closed/);
    } finally {
      sockets.stop();
    }
  });
});

/** Client sockets undici opens to `port` (its `undici:client:connected` diagnostics channel). */
function trackSockets(port: number): { list: Socket[]; stop(): void } {
  const list: Socket[] = [];
  const onConnected = (message: unknown) => {
    const socket = (message as { socket?: Socket }).socket;
    if (socket?.remotePort === port) list.push(socket);
  };
  subscribe('undici:client:connected', onConnected);
  return { list, stop: () => unsubscribe('undici:client:connected', onConnected) };
}

describe('McpConnection with connect-time checks', () => {
  let http: HttpMcpServer;
  let sse: EverythingHttpServer;
  let ws: WebSocketMcpTestServer;
  const open: McpConnection[] = [];

  function connection(input: McpServerConfigInput, urlPolicy: UrlPolicy): McpConnection {
    const created = sandboxedConnection(mcpServerConfigSchema.parse(input), { logger, urlPolicy });
    open.push(created);
    return created;
  }

  const localhost = (url: string) => url.replace('127.0.0.1', 'localhost');

  beforeAll(async () => {
    [http, sse, ws] = await Promise.all([
      startHttpMcpServer(),
      startEverythingHttpServer('sse'),
      startWebSocketMcpServer(),
    ]);
  });

  afterEach(async () => {
    await Promise.all(open.splice(0).map((c) => c.close()));
  });

  afterAll(async () => {
    await Promise.all([http?.close(), sse?.stop(), ws?.close()]);
  });

  it.each([
    ['streamable-http', 'http://rebind.test:8080/mcp'],
    ['sse', 'http://rebind.test:8080/sse'],
    ['websocket', 'ws://rebind.test:8080/ws'],
  ] as const)(
    'refuses over %s a host that resolves to the metadata address',
    async (transport, url) => {
      const resolve = sequenceResolver(['169.254.169.254']);
      const conn = connection({ transport, url }, { ...OPEN, resolve });
      const error = await conn.connect().catch((e: unknown) => e);
      expect(error).toBeInstanceOf(McpConnectionError);
      expect(error).toMatchObject({ code: 'connect_failed' });
      expect((error as Error).message).toMatch(
        /rebind\.test resolves to 169\.254\.169\.254 is a cloud metadata address/,
      );
      expect(conn.status).toBe('error');
    },
  );

  it.each([
    ['streamable-http', () => localhost(http.url), 'streamable-http'],
    ['sse', () => localhost(`${sse.origin}/sse`), 'sse'],
    ['websocket', () => localhost(ws.url), 'websocket'],
  ] as const)(
    'connects to a localhost server over %s with private networks allowed, resolving once',
    async (transport, url, expected) => {
      const resolve = countingOsResolver();
      const conn = connection({ transport, url: url() }, { ...OPEN, resolve });
      await expect(conn.connect()).resolves.toMatchObject({ transport: expected });
      expect((await conn.listTools()).map((tool) => tool.name)).toContain('echo');
      for (let i = 0; i < 5; i++) {
        const result = await conn.callTool('echo', { message: `call ${i}` });
        expect(toolResultToText(result).text).toBe(`Echo: call ${i}`);
        await conn.ping();
      }
      expect(resolve.calls).toEqual(['localhost']);
    },
  );

  it('closes its HTTP sockets when the connection closes', async () => {
    const port = Number(new URL(http.url).port);
    const sockets = trackSockets(port);
    try {
      const conn = connection({ transport: 'streamable-http', url: localhost(http.url) }, OPEN);
      await conn.connect();
      await conn.callTool('echo', { message: 'x' });
      expect(sockets.list.some((socket) => !socket.destroyed)).toBe(true);
      await conn.close();
      expect(sockets.list.every((socket) => socket.destroyed)).toBe(true);
    } finally {
      sockets.stop();
    }
  });
});
