/**
 * `allowDomains` without a sandbox: the schema's host-name rule, the generated hosts file and
 * nftables rules, and how the allow-list follows a name's addresses.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  createHostsFile,
  DomainAllowList,
  hostsFileContent,
  rewriteHostsFile,
} from '../../../../shared/mcp/sandbox/allow-domains.js';
import {
  allowedSetUpdate,
  outboundRuleset,
} from '../../../../shared/mcp/sandbox/outbound-network.js';
import { allowDomainProblem, sandboxConfigSchema } from '../../../../shared/mcp/server-config.js';
import { SPECIAL_ADDRESS_RANGES } from '../../../../shared/mcp/url-policy.js';

const dirs: string[] = [];
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});
function tempDir(): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'allow-domains-'));
  dirs.push(dir);
  return dir;
}

describe('allowDomains in the sandbox config', () => {
  it.each(['example.com', 'registry.npmjs.org', 'a-b.c0.example', 'xn--bcher-kva.example'])(
    'accepts the host name %s',
    (domain) => {
      expect(allowDomainProblem(domain)).toBeUndefined();
      expect(sandboxConfigSchema.parse({ allowDomains: [domain] })).toEqual({
        allowDomains: [domain],
      });
    },
  );

  it.each([
    ['https://example.com/', 'write the host name only: "example.com", not "https://example.com/"'],
    ['example.com/api', 'write the host name only: "example.com"'],
    ['user@example.com', 'write the host name only: "example.com"'],
    ['example.com:443', 'leave out the port: "example.com"'],
    ['*.example.com', 'wildcards are not supported: list each host name'],
    ['1.2.3.4', 'IP addresses are not allowed, only host names'],
    ['2001:db8::1', 'IP addresses are not allowed, only host names'],
    ['[::1]:8080', 'IP addresses are not allowed, only host names'],
    ['Example.COM', 'write host names in lower case: "example.com"'],
    ['example.com.', 'leave out the trailing dot: "example.com"'],
    ['localhost', 'is not a fully qualified host name (it has no dot)'],
    ['under_score.example', 'is not a host name'],
    ['-dash.example', 'is not a host name'],
    ['example.123', 'IP addresses are not allowed'],
    ['', 'an entry is empty'],
    [`https://${'a'.repeat(250)}.com/`, 'is longer than 253 characters'],
  ])('refuses %s, saying what to write', (domain, message) => {
    expect(allowDomainProblem(domain)).toContain(message);
    const result = sandboxConfigSchema.safeParse({ allowDomains: ['example.com', domain] });
    expect(result.error?.issues).toEqual([
      expect.objectContaining({
        path: ['allowDomains', 1],
        message: `allowDomains: ${allowDomainProblem(domain)}`,
      }),
    ]);
  });

  it.each(['none', 'host'] as const)('refuses allowDomains with network %s', (network) => {
    const result = sandboxConfigSchema.safeParse({ network, allowDomains: ['example.com'] });
    expect(result.error?.issues).toEqual([
      expect.objectContaining({
        path: ['allowDomains'],
        message: expect.stringMatching(
          new RegExp(`only to network "outbound": with network "${network}" remove allowDomains`),
        ),
      }),
    ]);
    // An empty list limits nothing, so it is not refused.
    expect(sandboxConfigSchema.parse({ network, allowDomains: [] })).toEqual({
      network,
      allowDomains: [],
    });
  });
});

describe('hostsFileContent', () => {
  it('maps localhost and each allowed name to its addresses; a name without any gets a comment', () => {
    const text = hostsFileContent([
      ['example.com', ['93.184.215.14', '93.184.215.15']],
      ['missing.example', []],
    ]);
    const lines = text.split('\n').filter((line) => line && !line.startsWith('#'));
    expect(lines).toEqual([
      '127.0.0.1\tlocalhost',
      '::1\tlocalhost ip6-localhost ip6-loopback',
      '93.184.215.14\texample.com',
      '93.184.215.15\texample.com',
    ]);
    expect(text).toContain('# missing.example: no address yet\n');
    expect(text.endsWith('\n')).toBe(true);
  });
});

describe('hosts file on disk', () => {
  it('is created 0644 listing the names, and rewritten in place (same inode)', async () => {
    const dir = path.join(tempDir(), 'sandbox-hosts');
    const file = createHostsFile(dir, '7', ['example.com']);
    expect(path.dirname(file)).toBe(dir);
    expect(path.basename(file)).toMatch(/^7-[0-9a-f-]{36}$/);
    expect(statSync(dir).mode & 0o777).toBe(0o700);
    expect(statSync(file).mode & 0o777).toBe(0o644);
    expect(readFileSync(file, 'utf8')).toContain('# example.com: no address yet');
    const inode = statSync(file).ino;

    await rewriteHostsFile(file, hostsFileContent([['example.com', ['93.184.215.14']]]));
    await rewriteHostsFile(file, 'short\n');

    expect(readFileSync(file, 'utf8')).toBe('short\n');
    expect(statSync(file).ino).toBe(inode);
  });

  it('refuses to write through a symbolic link', async () => {
    const dir = tempDir();
    const target = path.join(dir, 'target');
    writeFileSync(target, 'untouched');
    symlinkSync(target, path.join(dir, 'link'));
    await expect(rewriteHostsFile(path.join(dir, 'link'), 'x')).rejects.toThrow(/ELOOP/);
    expect(readFileSync(target, 'utf8')).toBe('untouched');
  });
});

describe('outboundRuleset with allowed addresses', () => {
  const rules = outboundRuleset(['192.0.2.2', 'fd00::2'], {
    allowed: ['1.0.0.1', '8.8.4.4', '::1'],
  });

  it('refuses the special ranges and host addresses before it accepts the set, then rejects the rest', () => {
    const accept = rules.indexOf('ip daddr @allowed accept');
    expect(accept).toBeGreaterThan(0);
    for (const [, network, prefix, family] of SPECIAL_ADDRESS_RANGES) {
      if (family !== 'ipv4') continue;
      const reject = rules.indexOf(`ip daddr ${network}/${prefix} reject`);
      expect(reject).toBeGreaterThan(0);
      expect(reject).toBeLessThan(accept);
    }
    expect(rules.indexOf('ip daddr 192.0.2.2/32 reject')).toBeLessThan(accept);
    expect(rules.indexOf('meta nfproto ipv6 reject')).toBeLessThan(accept);
    expect(rules.indexOf('ct state established,related accept')).toBeLessThan(accept);
    expect(rules.indexOf('ct state established,related accept')).toBeGreaterThan(
      rules.indexOf('ip daddr 10.0.0.0/8 reject'),
    );
    expect(rules.slice(accept)).toMatch(/^ip daddr @allowed accept\n\s+reject\n/);
    expect(rules).toContain('elements = { 1.0.0.1, 8.8.4.4 }');
  });

  it('has no DNS redirect: DNS is rejected like any other destination', () => {
    expect(rules).not.toContain('dnat');
    expect(rules).not.toContain('dport 53');
    expect(outboundRuleset([])).toContain('dnat ip to 10.0.2.3');
  });

  it('declares an empty set when no address is known yet', () => {
    const empty = outboundRuleset([], { allowed: [] });
    expect(empty).toMatch(/set allowed \{\n\s+type ipv4_addr;\n\s+\}/);
    expect(empty).not.toContain('elements');
  });

  it('updates the set in one transaction', () => {
    expect(allowedSetUpdate(['1.0.0.1', 'fd00::1'])).toBe(
      'flush set inet switchboard_outbound allowed\nadd element inet switchboard_outbound allowed { 1.0.0.1 }\n',
    );
    expect(allowedSetUpdate([])).toBe('flush set inet switchboard_outbound allowed\n');
  });

  it.skipIf(process.getuid?.() !== 0 || spawnSync('nft', ['--version']).status !== 0)(
    'is accepted by nft, and so is the update',
    () => {
      // A throwaway network namespace, never this host's.
      const script = `${rules}${allowedSetUpdate(['9.9.9.9'])}`;
      const run = spawnSync('unshare', ['--net', '--', 'nft', '-c', '-f', '-'], { input: script });
      expect(run.stderr.toString()).toBe('');
      expect(run.status).toBe(0);
    },
  );
});

describe('DomainAllowList', () => {
  it('keeps public IPv4 answers only, warning about the refused ones', async () => {
    const warnings: string[] = [];
    const list = new DomainAllowList(['a.example', 'b.example', 'a.example'], {
      resolve: async (domain) =>
        domain === 'a.example'
          ? ['1.0.0.1', '127.0.0.1', '10.1.2.3', '169.254.169.254', '2001:db8::1', '1.0.0.1']
          : ['192.0.2.9', '8.8.4.4'],
      hostAddresses: () => ['192.0.2.9'],
      logger: {
        warn: (_: unknown, message?: string) => void warnings.push(String(message)),
      } as never,
    });
    expect(list.domains).toEqual(['a.example', 'b.example']);
    await list.resolve();

    expect(list.answers()).toEqual([
      ['a.example', ['1.0.0.1']],
      ['b.example', ['8.8.4.4']],
    ]);
    expect(list.addresses()).toEqual(['1.0.0.1', '8.8.4.4']);
    expect(warnings).toHaveLength(5);
    expect(warnings.join('\n')).toMatch(/a\.example resolves to a refused address.*127\.0\.0\.1/);
    expect(warnings.join('\n')).toMatch(/b\.example resolves to a refused address.*192\.0\.2\.9/);
  });

  it('keeps an address allowed for retainMs after the name moved, and the last answer when a lookup fails', async () => {
    let now = 0;
    let answer: string[] | Error = ['1.0.0.1'];
    const warnings: string[] = [];
    const list = new DomainAllowList(['moving.example'], {
      resolve: async () => {
        if (answer instanceof Error) throw answer;
        return answer;
      },
      retainMs: 1_000,
      now: () => now,
      logger: {
        warn: (_: unknown, message?: string) => void warnings.push(String(message)),
      } as never,
    });
    await list.resolve();
    answer = ['8.8.4.4'];
    now = 500;
    await list.resolve();
    expect(list.answers()).toEqual([['moving.example', ['8.8.4.4']]]);
    expect(list.addresses()).toEqual(['1.0.0.1', '8.8.4.4']);

    now = 1_600;
    answer = new Error('getaddrinfo EAI_AGAIN moving.example');
    await list.resolve();
    expect(list.answers()).toEqual([['moving.example', ['8.8.4.4']]]);
    expect(list.addresses()).toEqual(['8.8.4.4']);
    expect(warnings).toEqual([
      expect.stringMatching(
        /moving\.example does not resolve on this host \(getaddrinfo EAI_AGAIN/,
      ),
    ]);
  });

  it('counts a name that takes too long as unresolved', async () => {
    const list = new DomainAllowList(['slow.example'], {
      resolve: () => new Promise(() => undefined),
      resolveTimeoutMs: 10,
    });
    await list.resolve();
    expect(list.answers()).toEqual([['slow.example', []]]);
    expect(list.addresses()).toEqual([]);
  });
});
