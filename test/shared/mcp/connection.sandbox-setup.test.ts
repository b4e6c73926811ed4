/**
 * bubblewrap can fail to set up a sandbox's network namespace before the server runs (seen
 * rarely under load: `bwrap: loopback: Failed RTM_NEWADDR: No child processes`). The server
 * never started, so the connection starts it once more instead of failing the connect.
 */
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../../shared/logger.js';
import { mcpServerConfigSchema } from '../../../shared/mcp/server-config.js';
import { ESCAPE_SERVER, FIXTURES_DIR, testSandbox } from '../../helpers/sandbox.js';
import { sandboxedConnection } from '../../helpers/sandboxed.js';

const dataDir = mkdtempSync(path.join(tmpdir(), 'switchboard-sandbox-setup-'));
afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

/** A bwrap that fails like the real one's loopback set-up on its first server launches. */
function flakyBwrap(failures: number): { bwrap: string; launches: () => number } {
  const counter = path.join(dataDir, `launches-${failures}`);
  const bwrap = path.join(dataDir, `flaky-bwrap-${failures}`);
  writeFileSync(
    bwrap,
    `#!/bin/sh
case "$*" in
  *${ESCAPE_SERVER}*)
    echo x >> '${counter}'
    if [ "$(wc -l < '${counter}')" -le ${failures} ]; then
      echo 'bwrap: loopback: Failed RTM_NEWADDR: No child processes' >&2
      exit 1
    fi ;;
esac
exec bwrap "$@"
`,
  );
  chmodSync(bwrap, 0o755);
  return {
    bwrap,
    launches: () =>
      existsSync(counter) ? readFileSync(counter, 'utf8').split('\n').filter(Boolean).length : 0,
  };
}

const config = mcpServerConfigSchema.parse({
  transport: 'stdio',
  command: 'node',
  args: [ESCAPE_SERVER],
  sandbox: { network: 'none', mounts: [{ hostPath: FIXTURES_DIR }] },
});

describe('a sandbox whose network set-up fails in bubblewrap', () => {
  it('starts the server once more, and connects', async () => {
    const { bwrap, launches } = flakyBwrap(1);
    const connection = sandboxedConnection(config, {
      logger: createLogger({ level: 'silent' }),
      sandbox: testSandbox(dataDir, { tools: { bwrap } }),
    });
    try {
      await connection.connect();
      expect(connection.status).toBe('connected');
      expect(launches()).toBe(2);
    } finally {
      await connection.close();
    }
  });

  it('fails with bubblewrap’s message when the second start fails too', async () => {
    const { bwrap, launches } = flakyBwrap(5);
    const connection = sandboxedConnection(config, {
      logger: createLogger({ level: 'silent' }),
      sandbox: testSandbox(dataDir, { tools: { bwrap } }),
    });
    try {
      await expect(connection.connect()).rejects.toThrow(/bwrap: loopback: Failed RTM_NEWADDR/);
      expect(launches()).toBe(2);
    } finally {
      await connection.close();
    }
  });
});
