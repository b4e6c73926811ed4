/**
 * The outbound network of a sandboxed stdio server (DESIGN §9.3), with real bwrap namespaces,
 * slirp4netns and nftables: the internet is reached, this host's addresses and loopback never,
 * the rules outlast a hostile process, and slirp4netns never outlives the sandbox.
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync } from 'node:fs';
import { createServer, type Server, type Socket, connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createHostsFile, hostResolver } from '../../../../shared/mcp/sandbox/allow-domains.js';
import {
  outboundNetworkProblem,
  outboundRuleset,
  SandboxNetworkError,
  SlirpOutboundNetworkProvider,
  type SlirpOutboundNetwork,
} from '../../../../shared/mcp/sandbox/outbound-network.js';
import {
  localInterfaceAddresses,
  SPECIAL_ADDRESS_RANGES,
} from '../../../../shared/mcp/url-policy.js';
import { isProcessAlive, waitForProcessExit } from '../../../helpers/mcp-processes.js';
import {
  startBlockedSandbox,
  type BlockedSandbox,
} from '../../../helpers/network-namespace-sandbox.js';

/** Attaches to the sandbox whose PID is its argument, prints slirp4netns's PID and waits. */
const ATTACH_AND_WAIT = `
import { SlirpOutboundNetworkProvider } from ${JSON.stringify(
  fileURLToPath(new URL('../../../../shared/mcp/sandbox/outbound-network.ts', import.meta.url)),
)};
const network = await new SlirpOutboundNetworkProvider().attach({ pid: Number(process.argv[1]) });
console.log(network.processId);
setInterval(() => {}, 1 << 30);
`;

/** The one public destination this workplace reaches. */
const PUBLIC_HOST = 'registry.npmjs.org';

const hasBwrap = spawnSync('bwrap', ['--version']).status === 0;
const toolsProblem = await outboundNetworkProblem();
const canRun = hasBwrap && !toolsProblem && process.getuid?.() === 0;
// `.ci/run` installs the tools and sets this, so there a missing tool fails instead of skipping.
if (process.env.SWITCHBOARD_REQUIRE_SANDBOX === '1' && !canRun) {
  throw new Error(
    `SWITCHBOARD_REQUIRE_SANDBOX=1 but the outbound network cannot be tested here: ${
      !hasBwrap ? 'bwrap is missing (apt-get install -y bubblewrap)' : (toolsProblem ?? 'not root')
    }`,
  );
}

/** This host's first non-loopback IPv4 address (eth0 here). */
const hostAddress = localInterfaceAddresses().find(
  (address) => /^\d+\.\d+\.\d+\.\d+$/.test(address) && !address.startsWith('127.'),
);

describe('outboundRuleset', () => {
  it('rejects every special IPv4 range of the URL policy, the host addresses and all IPv6', () => {
    const rules = outboundRuleset(['192.0.2.2', '127.0.0.1', 'fd00::2']);
    for (const [, network, prefix, family] of SPECIAL_ADDRESS_RANGES) {
      if (family === 'ipv4') expect(rules).toContain(`ip daddr ${network}/${prefix} reject`);
    }
    expect(rules).toContain('ip daddr 192.0.2.2/32 reject');
    expect(rules).toContain('meta nfproto ipv6 reject');
    // Loopback stays the namespace's own; only DNS goes to slirp4netns's forwarder.
    expect(rules.indexOf('oif "lo" accept')).toBeLessThan(rules.indexOf('reject'));
    expect(rules).toContain('th dport 53 dnat ip to 10.0.2.3');
  });
});

describe('outboundNetworkProblem', () => {
  it('names the programs and the packages to install when they are missing', async () => {
    const empty = mkdtempSync(join(tmpdir(), 'no-tools-'));
    try {
      expect(await outboundNetworkProblem({ path: empty })).toBe(
        'slirp4netns and nft and nsenter are not installed (needed for network "outbound" of sandboxed stdio servers): install with apt-get install -y slirp4netns nftables util-linux',
      );
      const provider = new SlirpOutboundNetworkProvider({ path: empty });
      await expect(provider.attach({ pid: process.pid })).rejects.toThrow(
        /apt-get install -y slirp4netns nftables util-linux/,
      );
    } finally {
      rmSync(empty, { recursive: true });
    }
  });
});

describe.skipIf(!canRun)('SlirpOutboundNetworkProvider (bwrap, slirp4netns, nft, as root)', () => {
  const provider = new SlirpOutboundNetworkProvider();
  const networks: SlirpOutboundNetwork[] = [];
  const sandboxes: BlockedSandbox[] = [];
  let server: Server;
  let port: number;
  const accepted: Socket[] = [];

  beforeAll(async () => {
    server = createServer((socket) => {
      accepted.push(socket);
      socket.destroy();
    });
    await new Promise<void>((resolve) => server.listen(0, '0.0.0.0', resolve));
    port = (server.address() as { port: number }).port;
  });
  afterEach(async () => {
    await Promise.all(networks.splice(0).map((network) => network.close()));
    for (const sandbox of sandboxes.splice(0)) sandbox.bwrap.kill('SIGKILL');
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  async function attached(steps: Parameters<typeof startBlockedSandbox>[0]) {
    const sandbox = await startBlockedSandbox(steps);
    sandboxes.push(sandbox);
    const network = await provider.attach({ pid: sandbox.pid });
    networks.push(network);
    return { sandbox, network };
  }

  /** A TCP connection from this process, not the sandbox; default port the test listener's. */
  function connectFromHost(host: string, toPort = port): Promise<string> {
    return new Promise((resolve) => {
      const socket = connect({ host, port: toPort, timeout: 10_000 });
      socket.once('timeout', () => {
        socket.destroy();
        resolve('timeout');
      });
      socket.once('connect', () => {
        socket.destroy();
        resolve('connected');
      });
      socket.once('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? error.message));
    });
  }

  it('reaches the internet by name but not the host address, the slirp gateway or host loopback', async () => {
    expect(hostAddress).toBeDefined();
    // The listener is reachable on the host's address from outside a sandbox.
    expect(await connectFromHost(hostAddress!)).toBe('connected');
    accepted.length = 0;

    const { sandbox } = await attached([
      { connect: { host: hostAddress!, port } },
      { connect: { host: '10.0.2.2', port } },
      { connect: { host: '127.0.0.1', port } },
      { connect: { host: PUBLIC_HOST, port: 443 } },
    ]);
    const [viaHostAddress, viaGateway, viaLoopback, outbound] = await sandbox.run();

    expect(viaHostAddress).toBe('ECONNREFUSED');
    expect(viaGateway).toBe('ECONNREFUSED');
    // The namespace's own loopback, where nothing listens.
    expect(viaLoopback).toBe('ECONNREFUSED');
    expect(outbound).toBe('connected');
    expect(accepted).toHaveLength(0);
  });

  it('keeps refusing the host address after the sandboxed process tries to flush the rules', async () => {
    const { sandbox } = await attached([
      { exec: ['nft', 'flush', 'ruleset'] },
      { connect: { host: hostAddress!, port } },
    ]);
    const [flush, viaHostAddress] = await sandbox.run();

    expect((flush as { status: number | null }).status).not.toBe(0);
    expect(viaHostAddress).toBe('ECONNREFUSED');
    expect(accepted).toHaveLength(0);
  });

  it('ends slirp4netns when the sandboxed process exits, leaving no process behind', async () => {
    const { sandbox, network } = await attached([{ connect: { host: PUBLIC_HOST, port: 443 } }]);
    const netns = networkNamespace(sandbox.pid);
    expect(slirpProcessesFor(netns)).not.toEqual([]);
    expect(await sandbox.run()).toEqual(['connected']);

    await network.exited;
    expect(isProcessAlive(network.processId!)).toBe(false);
    expect(slirpProcessesFor(netns)).toEqual([]);
  });

  it('ends slirp4netns when a sandboxed process without a PID namespace of its own exits', async () => {
    const sandbox = await startBlockedSandbox([{ connect: { host: PUBLIC_HOST, port: 443 } }], {
      unsharePid: false,
    });
    sandboxes.push(sandbox);
    const network = await provider.attach({ pid: sandbox.pid });
    networks.push(network);
    const netns = networkNamespace(sandbox.pid);
    expect(slirpProcessesFor(netns)).not.toEqual([]);
    expect(await sandbox.run()).toEqual(['connected']);

    await network.exited;
    expect(isProcessAlive(network.processId!)).toBe(false);
    expect(slirpProcessesFor(netns)).toEqual([]);
  });

  it('ends slirp4netns when the process that attached it dies', async () => {
    const sandbox = await startBlockedSandbox([]);
    sandboxes.push(sandbox);
    const netns = networkNamespace(sandbox.pid);
    const owner = spawn(
      process.execPath,
      ['--import', 'tsx', '--input-type=module', '-e', ATTACH_AND_WAIT, String(sandbox.pid)],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    const [line] = (await once(createInterface({ input: owner.stdout! }), 'line')) as [string];
    const slirpParent = Number(line);
    expect(slirpProcessesFor(netns)).not.toEqual([]);

    owner.kill('SIGKILL');
    await once(owner, 'exit');

    expect(await waitForProcessExit(slirpParent)).toBe(true);
    expect(slirpProcessesFor(netns)).toEqual([]);
    expect(await sandbox.run()).toEqual([]);
  });

  it('close stops slirp4netns and may be called twice', async () => {
    const { sandbox, network } = await attached([]);
    const netns = networkNamespace(sandbox.pid);
    expect(slirpProcessesFor(netns)).not.toEqual([]);

    await Promise.all([network.close(), network.close()]);
    await network.close();

    expect(isProcessAlive(network.processId!)).toBe(false);
    expect(slirpProcessesFor(netns)).toEqual([]);
    expect(await sandbox.run()).toEqual([]);
  });

  it('refuses a process in this network namespace and writes no rules into it', async () => {
    const error = await provider.attach({ pid: process.pid }).catch((caught: unknown) => caught);

    expect(error).toBeInstanceOf(SandboxNetworkError);
    expect((error as Error).message).toMatch(
      /shares this process's network namespace.*--unshare-net/,
    );
    expect(execFileSync('nft', ['list', 'tables'], { encoding: 'utf8' })).not.toContain(
      'switchboard_outbound',
    );
  });

  describe('with allowDomains', () => {
    const hostsDirs: string[] = [];
    afterAll(() => {
      for (const dir of hostsDirs) rmSync(dir, { recursive: true, force: true });
    });

    /** A hosts file as StdioSandbox makes one (root's, 0644, in a folder no sandbox sees). */
    function newHostsFile(domains: string[]): string {
      const dir = mkdtempSync(join(tmpdir(), 'sandbox-hosts-'));
      hostsDirs.push(dir);
      return createHostsFile(dir, 'test', domains);
    }

    /** The allowed set in the namespace of `pid`, as nft lists it. */
    function allowedSet(pid: number): string {
      return execFileSync(
        'nsenter',
        [
          `--net=/proc/${pid}/ns/net`,
          '--',
          'nft',
          'list',
          'set',
          'inet',
          'switchboard_outbound',
          'allowed',
        ],
        { encoding: 'utf8' },
      );
    }

    it('reaches only the listed names: others do not resolve, other addresses and DNS are refused', async () => {
      const registryAddresses = await hostResolver(PUBLIC_HOST);
      const [registry] = registryAddresses;
      // Another public host, not listed (Debian's mirror), unless it shares the registry's
      // address (behind one proxy or CDN): then 1.1.1.1 stands in.
      const [debian] = await hostResolver('deb.debian.org').catch(() => [] as string[]);
      const other = debian && !registryAddresses.includes(debian) ? debian : '1.1.1.1';
      const warnings: string[] = [];
      const allowProvider = new SlirpOutboundNetworkProvider({
        resolve: async (domain) => {
          if (domain === 'loopback.allowed.test') return ['127.0.0.1'];
          if (domain === 'host.allowed.test') return [hostAddress!];
          return hostResolver(domain);
        },
      });
      const domains = [PUBLIC_HOST, 'loopback.allowed.test', 'host.allowed.test'];
      const hostsFile = newHostsFile(domains);
      const sandbox = await startBlockedSandbox(
        [
          { lookup: PUBLIC_HOST },
          { lookup: 'deb.debian.org' },
          { lookup: 'loopback.allowed.test' },
          { connect: { host: PUBLIC_HOST, port: 443 } },
          { connect: { host: other, port: 80 } },
          { connect: { host: '1.1.1.1', port: 443 } },
          { connect: { host: hostAddress!, port } },
          { connect: { host: '127.0.0.1', port } },
          { connect: { host: '10.0.2.3', port: 53 } },
          { exec: ['sh', '-c', 'echo "1.1.1.1 deb.debian.org" >> /etc/hosts'] },
        ],
        { hostsFile },
      );
      sandboxes.push(sandbox);
      const network = await allowProvider.attach({
        pid: sandbox.pid,
        allowDomains: domains,
        hostsFile,
        logger: {
          warn: (_: unknown, message?: string) => void warnings.push(String(message)),
        } as never,
      });
      networks.push(network);

      // Allowed: the registry's addresses are in the set and the hosts file maps its name.
      const set = allowedSet(sandbox.pid);
      expect(set).toContain(registry);
      expect(set).not.toContain('127.0.0.1');
      expect(set).not.toContain(hostAddress);
      const hosts = readFileSync(hostsFile, 'utf8');
      expect(hosts).toContain(`${registry}\t${PUBLIC_HOST}`);
      expect(hosts).not.toMatch(/loopback\.allowed\.test$/m);
      expect(statSync(hostsFile).mode & 0o777).toBe(0o644);
      expect(warnings.join('\n')).toMatch(/loopback\.allowed\.test resolves to a refused address/);
      expect(warnings.join('\n')).toMatch(/host\.allowed\.test resolves to a refused address/);

      const hostReachesRegistry = (await connectFromHost(registry!, 443)) === 'connected';
      accepted.length = 0;
      const [
        registryLookup,
        otherLookup,
        loopbackLookup,
        viaRegistry,
        viaOther,
        viaUnlisted,
        viaHostAddress,
        viaLoopback,
        viaDns,
        hostsWrite,
      ] = await sandbox.run();

      expect(registryLookup).toMatch(new RegExp(`^resolved .*${registry!.replaceAll('.', '\\.')}`));
      expect(otherLookup).not.toMatch(/^resolved/);
      expect(loopbackLookup).not.toMatch(/^resolved/);
      // The registry is the one public host this workplace reaches; elsewhere it may not be.
      if (hostReachesRegistry) expect(viaRegistry).toBe('connected');
      expect(viaOther).toBe('ECONNREFUSED');
      expect(viaUnlisted).toBe('ECONNREFUSED');
      expect(viaHostAddress).toBe('ECONNREFUSED');
      expect(viaLoopback).toBe('ECONNREFUSED');
      expect(viaDns).toBe('ECONNREFUSED');
      expect((hostsWrite as { status: number | null }).status).not.toBe(0);
      expect(readFileSync(hostsFile, 'utf8')).toBe(hosts);
      expect(accepted).toHaveLength(0);
    });

    it('follows a name to its new address in place, keeping the old one allowed', async () => {
      let answer = ['1.0.0.1'];
      const moving = new SlirpOutboundNetworkProvider({
        resolve: async () => answer,
        refreshIntervalMs: 20,
      });
      const hostsFile = newHostsFile(['moving.example.com']);
      const inode = statSync(hostsFile).ino;
      const sandbox = await startBlockedSandbox([{ lookup: 'moving.example.com' }], { hostsFile });
      sandboxes.push(sandbox);
      const network = await moving.attach({
        pid: sandbox.pid,
        allowDomains: ['moving.example.com'],
        hostsFile,
      });
      networks.push(network);
      expect(allowedSet(sandbox.pid)).toContain('1.0.0.1');

      answer = ['8.8.4.4'];
      await until(() => readFileSync(hostsFile, 'utf8').includes('8.8.4.4\tmoving.example.com'));
      await until(() => allowedSet(sandbox.pid).includes('8.8.4.4'));

      expect(statSync(hostsFile).ino).toBe(inode);
      expect(readFileSync(hostsFile, 'utf8')).not.toContain('1.0.0.1');
      expect(allowedSet(sandbox.pid)).toContain('1.0.0.1');
      expect(await sandbox.run()).toEqual(['resolved 8.8.4.4']);
    });

    it('starts with a name that does not resolve, warning what to check', async () => {
      const warnings: string[] = [];
      const failing = new SlirpOutboundNetworkProvider({
        resolve: async (domain) => {
          throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${domain}`), { code: 'ENOTFOUND' });
        },
      });
      const hostsFile = newHostsFile(['missing.example.com']);
      const sandbox = await startBlockedSandbox([{ lookup: 'missing.example.com' }], { hostsFile });
      sandboxes.push(sandbox);
      networks.push(
        await failing.attach({
          pid: sandbox.pid,
          allowDomains: ['missing.example.com'],
          hostsFile,
          logger: {
            warn: (_: unknown, message?: string) => void warnings.push(String(message)),
          } as never,
        }),
      );

      expect(warnings).toEqual([
        expect.stringMatching(
          /missing\.example\.com does not resolve.*check the name in allowDomains/,
        ),
      ]);
      expect(readFileSync(hostsFile, 'utf8')).toContain('# missing.example.com: no address yet');
      const [lookup] = await sandbox.run();
      expect(lookup).not.toMatch(/^resolved/);
    });

    it('refuses allowDomains without a hosts file', async () => {
      const sandbox = await startBlockedSandbox([]);
      sandboxes.push(sandbox);
      const netns = networkNamespace(sandbox.pid);
      await expect(
        provider.attach({ pid: sandbox.pid, allowDomains: ['example.com'] }),
      ).rejects.toThrow(/allowDomains needs a hosts file/);
      expect(slirpProcessesFor(netns)).toEqual([]);
    });
  });

  it('fails with the reason when the process is gone', async () => {
    const sandbox = await startBlockedSandbox([]);
    const { pid } = sandbox;
    await sandbox.run();

    await expect(provider.attach({ pid })).rejects.toThrow(new RegExp(`process ${pid} is gone`));
  });
});

/** Waits until `condition` holds, checking every 20 ms (for at most 30 s). */
async function until(condition: () => boolean): Promise<void> {
  const deadline = performance.now() + 30_000;
  while (!condition()) {
    if (performance.now() > deadline)
      throw new Error(`condition not met within 30 s: ${condition}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** The network namespace of a process, as its link reads (`net:[inode]`). */
function networkNamespace(pid: number): string {
  return readlinkSync(`/proc/${pid}/ns/net`);
}

/** Running slirp4netns processes holding the network namespace `netns` open. */
function slirpProcessesFor(netns: string): number[] {
  const found: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/comm`, 'utf8').trim() !== 'slirp4netns') continue;
      const fds = readdirSync(`/proc/${entry}/fd`);
      if (fds.some((fd) => readlinkOrEmpty(`/proc/${entry}/fd/${fd}`) === netns)) {
        if (isProcessAlive(Number(entry))) found.push(Number(entry));
      }
    } catch {
      // The process ended while being read.
    }
  }
  return found;
}

function readlinkOrEmpty(path: string): string {
  try {
    return readlinkSync(path);
  } catch {
    return '';
  }
}
