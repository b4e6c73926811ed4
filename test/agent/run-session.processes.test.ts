import { execFileSync } from 'node:child_process';
import { mkdtempSync, realpathSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { initializeLogger, voice } from '@livekit/agents';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { runSession } from '../../agent/run-session.js';
import type { DatabaseHandle } from '../../shared/db/open.js';
import { createServer } from '../../shared/db/servers.js';
import { loadSettings } from '../../shared/settings.js';
import { createTestUser, openTestDatabase } from '../helpers/database.js';
import { EVERYTHING_BIN, descendantPids } from '../helpers/mcp-processes.js';
import { REPOSITORY } from '../helpers/sandbox.js';
import { everythingServer, fakeJob, silentLogger } from './fixtures.js';

initializeLogger({ pretty: false, level: 'silent' });

describe('session shutdown', () => {
  let handle: DatabaseHandle;
  beforeAll(async () => {
    handle = await openTestDatabase();
  });
  afterAll(async () => {
    await handle?.close();
  });

  it('leaves no process behind: servers, their shells and npx grandchildren all end', async () => {
    const user = await createTestUser(handle);
    // Every server runs in its sandbox (the settings' default), with no network.
    await createServer(handle, {
      ...everythingServer(user.id, 'Direct'),
      sandbox: { network: 'none' },
    });
    // A shell that starts the server: the server is the shell's child.
    await createServer(handle, {
      userId: user.id,
      name: 'Shell',
      transport: 'stdio',
      command: 'sh',
      args: ['-c', `'${process.execPath}' '${EVERYTHING_BIN}' stdio; true`],
      // The installed packages the server runs from, which the sandbox cannot see in `-c`.
      sandbox: {
        network: 'none',
        mounts: [
          {
            hostPath: EVERYTHING_BIN.slice(0, EVERYTHING_BIN.indexOf('/node_modules/') + 13),
            writable: false,
          },
        ],
      },
      timeoutMs: 20_000,
    });
    // npx runs the locally installed bin through its own process tree.
    await createServer(handle, {
      userId: user.id,
      name: 'Memory',
      transport: 'stdio',
      command: 'npx',
      args: ['--no-install', 'mcp-server-memory'],
      // npx finds the bin in the repository's node_modules, granted read-only.
      cwd: REPOSITORY,
      sandbox: {
        network: 'none',
        mounts: [
          { hostPath: path.join(REPOSITORY, 'package.json'), writable: false },
          { hostPath: realpathSync(path.join(REPOSITORY, 'node_modules')), writable: false },
          { hostPath: path.join(REPOSITORY, 'node_modules'), writable: false },
        ],
      },
      env: { MEMORY_FILE_PATH: '/tmp/switchboard-session-processes-memory.jsonl' },
      timeoutMs: 30_000,
    });
    const before = new Set(descendantPids());
    const { ctx, shutdown } = fakeJob(JSON.stringify({ userId: user.id }), 'job-processes');

    const running = await runSession(ctx, {
      settings: loadSettings({
        AGENT_TOOLS_DEADLINE_MS: '30000',
        MCP_STDIO_ALLOWED_COMMANDS: 'node,npx,sh',
        DATA_DIR: mkdtempSync(path.join(tmpdir(), 'switchboard-session-processes-')),
      }),
      logger: silentLogger(),
      openDatabase: async () => ({ ...handle, close: async () => {} }),
      createModel: () => new voice.testing.FakeLLM(),
    });
    try {
      expect(running.tools.toolsets.map((toolset) => toolset.connection.status)).toEqual([
        'connected',
        'connected',
        'connected',
      ]);
      const during = descendantPids().filter((pid) => !before.has(pid));
      // At least: two servers, one shell, npx and the server it runs.
      expect(during.length).toBeGreaterThanOrEqual(5);

      await shutdown();
      await vi.waitFor(
        () => {
          const left = descendantPids().filter((pid) => !before.has(pid));
          const detail = left.length
            ? execFileSync('ps', ['-o', 'pid,ppid,pgid,stat,args', '-p', left.join(',')], {
                encoding: 'utf8',
              })
            : '';
          expect(left, detail).toEqual([]);
        },
        { timeout: 15_000, interval: 100 },
      );
    } finally {
      await running.session.close();
      await running.close();
    }
  });
});
