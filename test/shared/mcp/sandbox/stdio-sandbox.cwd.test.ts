import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { createLogger } from '../../../../shared/logger.js';
import { mcpServerConfigSchema } from '../../../../shared/mcp/server-config.js';
import { SandboxConfigError } from '../../../../shared/mcp/sandbox/errors.js';
import { assertCwdInside } from '../../../../shared/mcp/sandbox/stdio-sandbox.js';
import { ESCAPE_SERVER, FIXTURES_DIR, testSandbox } from '../../../helpers/sandbox.js';
import { sandboxedConnection } from '../../../helpers/sandboxed.js';

describe('assertCwdInside', () => {
  const mounts = [
    { hostPath: '/srv/data', writable: false },
    { hostPath: '/opt/x', path: '/work', writable: true },
  ];

  it.each([
    [undefined],
    ['/sandbox'],
    ['/sandbox/a/b'],
    ['/srv/data'],
    ['/srv/data/sub'],
    ['/work/y'],
    ['/srv'],
  ])('accepts %s', (cwd) => expect(() => assertCwdInside(cwd, mounts)).not.toThrow());

  it.each([['/srv/other'], ['/opt/x'], ['/sandbox/../etc'], ['sandbox'], ['/sandboxes'], ['/']])(
    'refuses %s at cwd',
    (cwd) => {
      let caught: unknown;
      try {
        assertCwdInside(cwd, mounts);
      } catch (error) {
        caught = error;
      }
      expect(caught).toBeInstanceOf(SandboxConfigError);
      expect((caught as SandboxConfigError).path).toBe('cwd');
      expect((caught as SandboxConfigError).message).toContain('/srv/data, /work');
    },
  );
});

describe('a sandboxed server with a cwd below its private folder', () => {
  it('starts there: the folder is created, and relative paths land in it', async () => {
    const dataDir = mkdtempSync(path.join(tmpdir(), 'switchboard-cwd-'));
    const sandbox = testSandbox(dataDir);
    const config = mcpServerConfigSchema.parse({
      transport: 'stdio',
      command: 'node',
      args: [ESCAPE_SERVER],
      cwd: '/sandbox/work/deeper',
      sandbox: { network: 'none', mounts: [{ hostPath: FIXTURES_DIR }] },
    });
    const connection = sandboxedConnection(config, {
      logger: createLogger({ level: 'silent' }),
      sandbox,
      serverId: 41,
    });
    try {
      await connection.connect();
      const result = await connection.callTool('write_file', { path: 'marker', content: 'here' });
      expect(result.isError).not.toBe(true);
      expect(readFileSync(path.join(sandbox.homeOf(41), 'work', 'deeper', 'marker'), 'utf8')).toBe(
        'here',
      );
    } finally {
      await connection.close();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
