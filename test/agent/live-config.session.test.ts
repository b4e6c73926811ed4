import { initializeLogger, voice } from '@livekit/agents';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { runSession } from '../../agent/run-session.js';
import type { DatabaseHandle } from '../../shared/db/open.js';
import { createServer, updateServer } from '../../shared/db/servers.js';
import { loadSettings } from '../../shared/settings.js';
import { createTestUser, openTestDatabase } from '../helpers/database.js';
import { isProcessAlive } from '../helpers/mcp-processes.js';
import { everythingServer, fakeJob, silentLogger } from './fixtures.js';
import { fileSandboxDataDir } from '../helpers/sandboxed.js';

initializeLogger({ pretty: false, level: 'silent' });

describe('live configuration in a running session', () => {
  let handle: DatabaseHandle;
  beforeAll(async () => {
    handle = await openTestDatabase();
  });
  afterAll(async () => {
    await handle?.close();
  });

  it('adds a server created mid-session, renames its tools on edit and drops it when disabled', async () => {
    const user = await createTestUser(handle);
    const { ctx, shutdown } = fakeJob(JSON.stringify({ userId: user.id }), 'job-live');
    const llm = new voice.testing.FakeLLM([
      { input: 'echo it', toolCalls: [{ name: 'everything__echo', args: { message: 'it' } }] },
      { input: 'echo again', toolCalls: [{ name: 'notes__echo', args: { message: 'again' } }] },
    ]);
    const running = await runSession(ctx, {
      settings: loadSettings({
        // The sandbox (on by default) keeps its private folders in this file's temporary DATA_DIR.
        DATA_DIR: fileSandboxDataDir(),
        AGENT_TOOLS_DEADLINE_MS: '60000',
      }),
      logger: silentLogger(),
      openDatabase: async () => ({ ...handle, close: async () => {} }),
      createModel: () => llm,
    });
    const toolNames = () => Object.keys(running.agent.toolCtx.functionTools);
    try {
      expect(running.tools.toolsets).toEqual([]);
      expect(toolNames()).not.toContain('everything__echo');

      // Added through the store, as the API does: NOTIFY reaches the session.
      const server = await createServer(handle, everythingServer(user.id));
      await vi.waitFor(() => expect(toolNames()).toContain('everything__echo'), {
        timeout: 20_000,
        interval: 50,
      });
      const first = await running.session.run({ userInput: 'echo it' }).wait();
      first.expect.nextEvent().isFunctionCall({ name: 'everything__echo' });
      first.expect.nextEvent().isFunctionCallOutput({ output: '"Echo: it"', isError: false });
      const firstPid = running.tools.current()[0]!.connection.pid!;

      // An edit that changes the tool names reconnects: the old process ends.
      await updateServer(handle, user.id, server.id, { name: 'Notes' });
      await vi.waitFor(() => expect(toolNames()).toContain('notes__echo'), {
        timeout: 20_000,
        interval: 50,
      });
      expect(toolNames()).not.toContain('everything__echo');
      await vi.waitFor(() => expect(isProcessAlive(firstPid)).toBe(false), { timeout: 10_000 });
      const second = await running.session.run({ userInput: 'echo again' }).wait();
      second.expect.nextEvent().isFunctionCall({ name: 'notes__echo' });
      second.expect.nextEvent().isFunctionCallOutput({ output: '"Echo: again"', isError: false });

      // Disabled: its tools leave the session and its process ends.
      const secondPid = running.tools.current()[0]!.connection.pid!;
      await updateServer(handle, user.id, server.id, { isActive: false });
      await vi.waitFor(() => expect(toolNames()).not.toContain('notes__echo'), {
        timeout: 10_000,
        interval: 50,
      });
      await vi.waitFor(() => expect(isProcessAlive(secondPid)).toBe(false), { timeout: 10_000 });
      expect(running.tools.current()).toEqual([]);
    } finally {
      await shutdown();
      await running.session.close();
    }
  });
});
