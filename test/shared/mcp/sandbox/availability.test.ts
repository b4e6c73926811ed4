/**
 * Without a working bubblewrap a stdio server fails with an error saying what to install and
 * which setting turns the sandbox off; it never runs unsandboxed instead.
 */
import { mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { createLogger } from '../../../../shared/logger.js';
import { mcpServerConfigSchema } from '../../../../shared/mcp/server-config.js';
import { ESCAPE_SERVER, testSandbox } from '../../../helpers/sandbox.js';
import { sandboxedConnection } from '../../../helpers/sandboxed.js';

describe('a stdio server without bubblewrap', () => {
  it('fails with the package to install and the setting, and starts nothing', async () => {
    const dataDir = mkdtempSync(path.join(tmpdir(), 'switchboard-no-bwrap-'));
    const config = mcpServerConfigSchema.parse({
      transport: 'stdio',
      command: 'node',
      args: [ESCAPE_SERVER],
      sandbox: { network: 'none' },
    });
    const connection = sandboxedConnection(config, {
      logger: createLogger({ level: 'silent' }),
      sandbox: testSandbox(dataDir, { tools: { bwrap: path.join(dataDir, 'no-such-bwrap') } }),
    });
    await expect(connection.connect()).rejects.toThrow(
      /no-such-bwrap is not installed.*apt-get install -y bubblewrap.*MCP_STDIO_SANDBOX=off/,
    );
    expect(connection.pid).toBeNull();
    expect(readdirSync(dataDir)).toEqual([]);
    await connection.close();
  });
});
