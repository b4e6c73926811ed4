/**
 * `network: 'outbound'` goes through the outbound network provider: without one the server does
 * not start (and says why); with one, the provider is handed the sandbox's own network namespace
 * before the server's command runs, and its network is closed with the server.
 */
import { mkdtempSync, readlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { createLogger } from '../../../../shared/logger.js';
import { McpConnection } from '../../../../shared/mcp/connection.js';
import type { OutboundNetworkProvider } from '../../../../shared/mcp/sandbox/network.js';
import { mcpServerConfigSchema } from '../../../../shared/mcp/server-config.js';
import { ESCAPE_SERVER, FIXTURES_DIR, testSandbox } from '../../../helpers/sandbox.js';

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

describe('outbound network of a sandboxed server', () => {
  it('fails to start without a provider, naming what is missing and the alternatives', async () => {
    const dataDir = mkdtempSync(path.join(tmpdir(), 'switchboard-outbound-'));
    const connection = new McpConnection(config, { logger, sandbox: testSandbox(dataDir) });
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
    const connection = new McpConnection(config, {
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
});
