import { initializeLogger, voice } from '@livekit/agents';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { runSession } from '../../agent/run-session.js';
import { UserResolutionError } from '../../agent/user-resolution.js';
import type { DatabaseHandle } from '../../shared/db/open.js';
import { createServer } from '../../shared/db/servers.js';
import { loadSettings } from '../../shared/settings.js';
import { createTestUser, openTestDatabase } from '../helpers/database.js';
import { isProcessAlive } from '../helpers/mcp-processes.js';
import { brokenServer, everythingServer, fakeJob, silentLogger } from './fixtures.js';
import { fileSandboxDataDir } from '../helpers/sandboxed.js';

initializeLogger({ pretty: false, level: 'silent' });

const GREETING = 'instructions: greet the user';

describe('runSession', () => {
  let handle: DatabaseHandle;
  const sessions: voice.AgentSession[] = [];
  const settings = loadSettings({
    // The sandbox (on by default) keeps its private folders in this file's temporary DATA_DIR.
    DATA_DIR: fileSandboxDataDir(),
    AGENT_GREETING: GREETING,
    AGENT_INSTRUCTIONS: 'Be brief.',
    // The servers' first connect ends the wait, not this deadline, even on a busy machine.
    AGENT_TOOLS_DEADLINE_MS: '60000',
  });

  /** The shared test database, with a close() the test can observe but that leaves it open. */
  function sessionDatabase() {
    const close = vi.fn(async () => {});
    return { database: { ...handle, close }, close };
  }

  beforeAll(async () => {
    handle = await openTestDatabase();
  });

  afterEach(async () => {
    await Promise.all(sessions.splice(0).map((session) => session.close()));
  });

  afterAll(async () => {
    await handle?.close();
  });

  it("starts a greeting agent with the user's tools and closes everything at shutdown", async () => {
    const user = await createTestUser(handle);
    await createServer(handle, everythingServer(user.id));
    await createServer(handle, brokenServer(user.id));
    const { ctx, shutdownCallbacks, shutdown } = fakeJob(JSON.stringify({ userId: user.id }));
    const { database, close: closeDatabase } = sessionDatabase();
    const llm = new voice.testing.FakeLLM([
      { input: GREETING, content: 'Hello from Switchboard.' },
      { input: 'echo it', toolCalls: [{ name: 'everything__echo', args: { message: 'it' } }] },
    ]);

    const running = await runSession(ctx, {
      settings,
      logger: silentLogger(),
      openDatabase: async () => database,
      createModel: () => llm,
    });
    sessions.push(running.session);

    expect(ctx.connect).toHaveBeenCalledOnce();
    expect(ctx.waitForParticipant).not.toHaveBeenCalled();
    expect(running.userId).toBe(user.id);
    expect(running.agent.instructions).toBe('Be brief.');
    expect(running.tools.unavailable.map((server) => server.name)).toEqual(['Broken']);
    expect(Object.keys(running.agent.toolCtx.functionTools)).toContain('everything__echo');

    await running.greeting.waitForPlayout();
    const greeting = running.session.history.items.find(
      (item) => item.type === 'message' && item.role === 'assistant',
    );
    expect(greeting && greeting.type === 'message' && greeting.textContent).toBe(
      'Hello from Switchboard.',
    );

    const result = await running.session.run({ userInput: 'echo it' }).wait();
    result.expect.nextEvent().isFunctionCall({ name: 'everything__echo' });
    result.expect.nextEvent().isFunctionCallOutput({ output: '"Echo: it"', isError: false });

    expect(shutdownCallbacks).toHaveLength(1);
    const pid = running.tools.toolsets[0]!.connection.pid!;
    await shutdown();
    await vi.waitFor(() => expect(isProcessAlive(pid)).toBe(false), { timeout: 10_000 });
    expect(closeDatabase).toHaveBeenCalledOnce();
    await running.close();
    expect(closeDatabase).toHaveBeenCalledOnce();
  });

  it('refuses a user that does not exist and closes the database it opened', async () => {
    const { ctx, shutdown } = fakeJob(JSON.stringify({ userId: 987_654 }));
    const { database, close: closeDatabase } = sessionDatabase();

    const failure = runSession(ctx, {
      settings,
      logger: silentLogger(),
      openDatabase: async () => database,
      createModel: () => new voice.testing.FakeLLM(),
    });

    await expect(failure).rejects.toThrow(UserResolutionError);
    await expect(failure).rejects.toThrow('User 987654 does not exist');
    expect(closeDatabase).toHaveBeenCalledOnce();
    await shutdown();
    expect(closeDatabase).toHaveBeenCalledOnce();
  });

  it('does not open the database when the session names no user', async () => {
    const { ctx } = fakeJob('');
    const openDatabase = vi.fn(async () => handle);

    await expect(
      runSession(ctx, { settings, logger: silentLogger(), openDatabase }),
    ).rejects.toMatchObject({ code: 'no_user' });
    expect(ctx.waitForParticipant).toHaveBeenCalledOnce();
    expect(openDatabase).not.toHaveBeenCalled();
  });
});
