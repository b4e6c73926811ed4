/**
 * `network: 'outbound'` goes through the outbound network provider: without one the server does
 * not start (and says why); with one, the provider is handed the sandbox's own network namespace
 * before the server's command runs, and its network is closed with the server.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { createLogger } from '../../../../shared/logger.js';
import {
  SlirpOutboundNetworkProvider,
  outboundNetworkProblem,
  type OutboundNetworkProvider,
} from '../../../../shared/mcp/sandbox/outbound-network.js';
import { localInterfaceAddresses } from '../../../../shared/mcp/url-policy.js';
import { mcpServerConfigSchema } from '../../../../shared/mcp/server-config.js';
import { ESCAPE_SERVER, FIXTURES_DIR, testSandbox } from '../../../helpers/sandbox.js';
import { sandboxedConnection } from '../../../helpers/sandboxed.js';

const config = mcpServerConfigSchema.parse({
  transport: 'stdio',
  command: 'node',
  args: [ESCAPE_SERVER],
  sandbox: {
    network: 'outbound',
    allowDomains: ['example.com'],
    mounts: [{ hostPath: FIXTURES_DIR }],
  },
});
const logger = createLogger({ level: 'silent' });
const canRunOutbound =
  process.getuid?.() === 0 &&
  spawnSync('bwrap', ['--version']).status === 0 &&
  !(await outboundNetworkProblem());

describe('outbound network of a sandboxed server', () => {
  it('fails to start without a provider, naming what is missing and the alternatives', async () => {
    const dataDir = mkdtempSync(path.join(tmpdir(), 'switchboard-outbound-'));
    const connection = sandboxedConnection(config, { logger, sandbox: testSandbox(dataDir) });
    await expect(connection.connect()).rejects.toThrow(
      /outbound network for sandboxed servers needs an outbound network provider.*'none'/,
    );
    await connection.close();
  });

  it('hands the provider the sandbox’s own network namespace before the server runs, and closes it after', async () => {
    const dataDir = mkdtempSync(path.join(tmpdir(), 'switchboard-outbound-'));
    const events: string[] = [];
    let namespace = '';
    const outbound: OutboundNetworkProvider = {
      attach: async ({ pid, allowDomains }) => {
        namespace = readlinkSync(`/proc/${pid}/ns/net`);
        events.push(`attach ${allowDomains?.join(',')}`);
        return { close: async () => void events.push('close') };
      },
    };
    const connection = sandboxedConnection(config, {
      logger,
      sandbox: testSandbox(dataDir, { outbound }),
      serverId: 5,
    });
    await connection.connect();
    events.push('connected');
    expect(namespace).toMatch(/^net:\[\d+\]$/);
    expect(namespace).not.toBe(readlinkSync('/proc/self/ns/net'));
    await connection.close();
    expect(events).toEqual(['attach example.com', 'connected', 'close']);
  });

  it.skipIf(!canRunOutbound)(
    'with slirp4netns, reaches the internet by name but not Postgres, the API port or this host',
    async () => {
      const dataDir = mkdtempSync(path.join(tmpdir(), 'switchboard-outbound-'));
      const outboundConfig = mcpServerConfigSchema.parse({
        ...config,
        sandbox: { network: 'outbound', mounts: [{ hostPath: FIXTURES_DIR }] },
      });
      const connection = sandboxedConnection(outboundConfig, {
        logger,
        sandbox: testSandbox(dataDir, { outbound: new SlirpOutboundNetworkProvider() }),
        serverId: 6,
      });
      const attempt = async (host: string, port: number) => {
        const result = await connection.callTool('connect', { host, port });
        const [part] = result.content as { type: string; text: string }[];
        return JSON.parse(part!.text) as { ok: boolean; error?: string };
      };
      try {
        await connection.connect();
        // The one public address this workplace may reach (the npm registry), by name: DNS too.
        expect(await attempt('registry.npmjs.org', 443)).toMatchObject({ ok: true });
        expect(await attempt('127.0.0.1', 5432)).toMatchObject({ ok: false });
        expect(await attempt('10.0.2.2', 5432)).toMatchObject({ ok: false });
        const host = localInterfaceAddresses().find(
          (address) => /^\d+\.\d+\.\d+\.\d+$/.test(address) && !address.startsWith('127.'),
        );
        if (host) expect(await attempt(host, 5432)).toMatchObject({ ok: false });
      } finally {
        await connection.close();
      }
    },
  );

  it.skipIf(!canRunOutbound)(
    'with allowDomains, reaches the listed name only, through a read-only /etc/hosts removed at the end',
    async () => {
      const dataDir = mkdtempSync(path.join(tmpdir(), 'switchboard-outbound-'));
      const allowConfig = mcpServerConfigSchema.parse({
        ...config,
        sandbox: {
          network: 'outbound',
          allowDomains: ['registry.npmjs.org'],
          mounts: [{ hostPath: FIXTURES_DIR }],
        },
      });
      const sandbox = testSandbox(dataDir, { outbound: new SlirpOutboundNetworkProvider() });
      const connection = sandboxedConnection(allowConfig, { logger, sandbox, serverId: 7 });
      const call = async (tool: string, args: Record<string, unknown>) => {
        const result = await connection.callTool(tool, args);
        const [part] = result.content as { type: string; text: string }[];
        return JSON.parse(part!.text) as { ok: boolean; value?: unknown; error?: string };
      };
      try {
        await connection.connect();
        const [hostsFile] = readdirSync(sandbox.hostsDir);
        expect(hostsFile).toMatch(/^7-/);
        const hosts = await call('read_file', { path: '/etc/hosts' });
        expect(hosts.value).toMatch(/^\d+\.\d+\.\d+\.\d+\tregistry\.npmjs\.org$/m);
        expect(hosts.value).toBe(readFileSync(path.join(sandbox.hostsDir, hostsFile!), 'utf8'));
        expect(
          await call('write_file', { path: '/etc/hosts', content: '1.1.1.1 evil' }),
        ).toMatchObject({ ok: false });
        expect(await call('connect', { host: 'registry.npmjs.org', port: 443 })).toMatchObject({
          ok: true,
        });
        // Not listed: the name does not resolve, and the address is refused.
        expect(await call('connect', { host: 'deb.debian.org', port: 80 })).toMatchObject({
          ok: false,
          error: expect.stringMatching(/ENOTFOUND|EAI_AGAIN/),
        });
        expect(await call('connect', { host: '1.1.1.1', port: 443 })).toMatchObject({
          ok: false,
          error: expect.stringMatching(/ECONNREFUSED/),
        });
        expect(await call('connect', { host: '127.0.0.1', port: 5432 })).toMatchObject({
          ok: false,
        });
      } finally {
        await connection.close();
      }
      expect(readdirSync(sandbox.hostsDir)).toEqual([]);
    },
  );
});
