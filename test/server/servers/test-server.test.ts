/**
 * The Test button's pieces that need no database: the one-off probe under the guards it is given
 * (URL policy, the owner's share of the stdio cap), and tool naming among the user's servers.
 * The routes that use them are tested in `test/server/routes/servers*.test.ts`.
 */
import { describe, expect, it } from 'vitest';
import type { McpServerRow } from '../../../shared/db/schema.js';
import { createLogger } from '../../../shared/logger.js';
import { StdioProcessLimiter } from '../../../shared/mcp/stdio-process-limiter.js';
import { advertisedToolsFor } from '../../../server/servers/test-server.js';
import { NO_NETWORK, sandboxedProbe } from '../../helpers/sandboxed.js';

const silent = createLogger({ level: 'silent' });

/** A stored server row, remote unless `overrides` say otherwise. */
function serverRow(overrides: Partial<McpServerRow> = {}): McpServerRow {
  return {
    id: 7,
    userId: 3,
    name: 'Notes',
    description: '',
    transport: 'streamable-http',
    url: 'http://127.0.0.1:9/mcp',
    command: null,
    args: [],
    cwd: null,
    sandbox: {},
    env: {},
    headers: {},
    apiKey: null,
    auth: { type: 'none' },
    timeoutMs: 5_000,
    toolFilter: {},
    toolPolicy: {},
    isActive: true,
    adminManaged: false,
    connectionStatus: 'disconnected',
    lastConnected: null,
    lastError: null,
    metadata: {},
    createdAt: new Date(0),
    updatedAt: new Date(0),
    ...overrides,
  } as McpServerRow;
}

describe('probeServer', () => {
  it('connects under the URL policy of its guards, reporting a refusal as an error patch', async () => {
    const result = await sandboxedProbe(serverRow(), silent, {
      guards: { urlPolicy: { allowPrivateNetworks: false } },
    });

    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.error).toMatch(/private/i);
    expect(result.patch).toEqual({ connectionStatus: 'error', lastError: result.error });
  });

  it("counts a stdio server against its owner's share of the guards' process cap", async () => {
    const stdioLimiter = new StdioProcessLimiter({ maxProcesses: 4, maxProcessesPerUser: 1 });
    const held = stdioLimiter.forUser(3).acquire('held');
    try {
      const row = serverRow({
        transport: 'stdio',
        url: null,
        command: 'node',
        args: ['-e', ''],
        sandbox: NO_NETWORK,
      });

      const result = await sandboxedProbe(row, silent, { guards: { stdioLimiter } });

      expect(result.ok).toBe(false);
      if (result.ok) return;
      expect(result.error).toContain('MCP_MAX_STDIO_PROCESSES_PER_USER');
      expect(stdioLimiter.active).toBe(1);
    } finally {
      held.release();
    }
  });

  it('reports a stored config that does not validate instead of throwing', async () => {
    const result = await sandboxedProbe(serverRow({ url: null }), silent);

    expect(result).toMatchObject({ ok: false, patch: { connectionStatus: 'error' } });
  });
});

describe('advertisedToolsFor', () => {
  const tool = (name: string) => ({ name, inputSchema: { type: 'object' as const } });

  it("names the tools as the agent does: the user's earlier active servers take a name first", () => {
    const earlier = serverRow({ id: 2, name: 'Notes', metadata: { toolNames: ['search'] } });
    const inactive = serverRow({
      id: 3,
      name: 'Notes',
      isActive: false,
      metadata: { toolNames: ['open'] },
    });
    const later = serverRow({ id: 9, name: 'Notes', metadata: { toolNames: ['list'] } });
    const server = serverRow({ id: 7, name: 'Notes' });

    const names = advertisedToolsFor(
      server,
      [tool('search'), tool('open'), tool('list')],
      [earlier, inactive, server, later],
    ).map((advertised) => advertised.name);

    expect(names).toHaveLength(3);
    expect(names[0]).not.toBe('notes__search');
    expect(names.slice(1)).toEqual(['notes__open', 'notes__list']);
  });
});
