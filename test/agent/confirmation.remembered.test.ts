/**
 * "Yes, and don't ask again" (issue 16, agent/confirmation.ts): in a text session on the fixture
 * server, the user's yes with `remember` lets later calls of that tool run without the question
 * for the rest of the session, while other tools still ask; an approval the model gives in the
 * asking turn is refused with `remember` as without it, and remembers nothing.
 */
import { chmodSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initializeLogger, voice } from '@livekit/agents';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import type { UserToolsets } from '../../agent/load-user-toolsets.js';
import type { DatabaseHandle } from '../../shared/db/open.js';
import { createServer } from '../../shared/db/servers.js';
import type { ToolPolicy } from '../../shared/mcp/server-config.js';
import { createTestUser, openTestDatabase } from '../helpers/database.js';
import { FIXTURE_SERVER_ARGS } from '../helpers/mcp-processes.js';
import { sandboxedToolsets } from '../helpers/sandboxed.js';
import { silentLogger } from './fixtures.js';
import { ScriptedLLM, type ScriptedResponse } from './scripted-llm.js';

initializeLogger({ pretty: false, level: 'silent' });

// agents-js 1.9.0 hands the deferred reply of a background tool (a Promise) to
// `RunResult._watchHandle`, which expects a SpeechHandle or Task (see
// mcp-toolset.behaviours.test.ts): skip what it cannot watch.
const watchHandle = voice.testing.RunResult.prototype._watchHandle;
voice.testing.RunResult.prototype._watchHandle = function (handle) {
  if (typeof (handle as { addDoneCallback?: unknown }).addDoneCallback !== 'function') return;
  watchHandle.call(this, handle);
};

describe("confirmation: yes, and don't ask again", () => {
  let handle: DatabaseHandle;
  let logDir: string;
  let callLog: string;
  let tools: UserToolsets | undefined;
  let session: voice.AgentSession | undefined;

  beforeAll(async () => {
    handle = await openTestDatabase();
    logDir = mkdtempSync(join(tmpdir(), 'switchboard-remembered-'));
    // The sandboxed fixture (its own uid) writes its call log here, mounted writable.
    chmodSync(logDir, 0o777);
  });

  afterEach(async () => {
    await session?.close();
    await tools?.close();
    session = undefined;
    tools = undefined;
  });

  afterAll(async () => {
    await handle?.close();
    rmSync(logDir, { recursive: true, force: true });
  });

  /** A user whose fixture server asks before every tool (`confirm: 'always'`). */
  async function startSession(responses: ScriptedResponse[], toolPolicy: ToolPolicy = {}) {
    const user = await createTestUser(handle);
    callLog = join(logDir, `calls-${user.id}.log`);
    await createServer(handle, {
      userId: user.id,
      name: 'Fixture',
      transport: 'stdio',
      sandbox: { network: 'none', mounts: [{ hostPath: logDir, writable: true }] },
      command: process.execPath,
      args: FIXTURE_SERVER_ARGS,
      env: { FIXTURE_CALL_LOG: callLog },
      toolPolicy: { confirm: 'always', ...toolPolicy },
    });
    tools = await sandboxedToolsets({
      db: handle.db,
      secrets: handle.secrets,
      userId: user.id,
      logger: silentLogger(),
      startDeadlineMs: 60_000,
    });
    const agent = new voice.Agent({ instructions: 'You are a test agent.', tools: tools.toolsets });
    session = new voice.AgentSession({ llm: new ScriptedLLM(responses) });
    await session.start({ agent });
    return { session, agent };
  }

  /** The tools the fixture ran, in order. */
  function calls(): string[] {
    try {
      return readFileSync(callLog, 'utf8').split('\n').filter(Boolean);
    } catch {
      return [];
    }
  }

  /** The outputs of a run's tool calls, as the model reads them, with their error flags. */
  function outputs(result: voice.testing.RunResult): Array<{ text: string; isError: boolean }> {
    return result.events.flatMap((event) =>
      event.type === 'function_call_output'
        ? [
            {
              text: event.item.isError
                ? event.item.output
                : (JSON.parse(event.item.output) as string),
              isError: event.item.isError,
            },
          ]
        : [],
    );
  }

  it('runs the tool without asking for the rest of the session; other tools still ask', async () => {
    const { session, agent } = await startSession([
      // First: the question's own text quotes "yes, and don't ask again" as an example.
      { input: 'Not run yet', content: 'Are you sure?' },
      {
        input: "yes, and don't ask again",
        toolCalls: [
          {
            name: 'fixture__confirm_action',
            args: { confirmation_id: 'c1', approved: true, remember: true },
          },
        ],
      },
      {
        input: 'delete groceries',
        toolCalls: [{ name: 'fixture__delete-note', args: { name: 'groceries' } }],
      },
      {
        input: 'delete milk',
        toolCalls: [{ name: 'fixture__delete-note', args: { name: 'milk' } }],
      },
      { input: 'echo hi', toolCalls: [{ name: 'fixture__echo', args: { message: 'hi' } }] },
    ]);
    // The model learns of the option from the confirm tool itself.
    const confirmTool = agent.toolCtx.functionTools['fixture__confirm_action']!;
    expect(confirmTool.parameters).toMatchObject({
      properties: { remember: { type: 'boolean' } },
      required: ['confirmation_id', 'approved'],
    });
    expect(confirmTool.description).toContain("yes, and don't ask again");

    const asked = await session.run({ userInput: 'delete groceries' }).wait();
    expect(outputs(asked)[0]!.text).toContain(
      'Add remember true only if they also said not to ask again',
    );
    expect(calls()).toEqual([]);

    const yes = await session.run({ userInput: "yes, and don't ask again" }).wait();
    yes.expect.nextEvent().isFunctionCall({ name: 'fixture__confirm_action' });
    expect(outputs(yes)).toEqual([
      {
        text:
          'deleted groceries\n(delete-note on Fixture now runs without asking, for the rest of ' +
          'this session.)',
        isError: false,
      },
    ]);
    expect(calls()).toEqual(['delete-note']);

    // The same tool again: it runs at once, with no question and no confirm call.
    const again = await session.run({ userInput: 'delete milk' }).wait();
    again.expect.nextEvent().isFunctionCall({ name: 'fixture__delete-note' });
    again.expect.nextEvent().isFunctionCallOutput({ output: '"deleted milk"', isError: false });
    again.expect.noMoreEvents();
    expect(calls()).toEqual(['delete-note', 'delete-note']);

    // Another tool of the same server still asks.
    const other = await session.run({ userInput: 'echo hi' }).wait();
    other.expect.nextEvent().isFunctionCall({ name: 'fixture__echo' });
    expect(outputs(other)[0]!.text).toContain(
      'Not run yet: this action needs the user\'s spoken confirmation first. Ask the user: "echo (message: hi) on Fixture: are you sure?"',
    );
    expect(calls()).toEqual(['delete-note', 'delete-note']);
  });

  it('refuses a remembered yes the model gives in the asking turn, and remembers nothing', async () => {
    const { session } = await startSession([
      {
        // The model approves at once, in the asking turn, for groceries only.
        input: 'delete-note (name: groceries) on Fixture: are you sure?',
        toolCalls: [
          {
            name: 'fixture__confirm_action',
            args: { confirmation_id: 'c1', approved: true, remember: true },
          },
        ],
      },
      { input: 'has not answered yet', content: 'Are you sure?' },
      { input: 'Not run yet', content: 'Are you sure?' },
      {
        input: 'delete groceries',
        toolCalls: [{ name: 'fixture__delete-note', args: { name: 'groceries' } }],
      },
      {
        input: 'delete milk',
        toolCalls: [{ name: 'fixture__delete-note', args: { name: 'milk' } }],
      },
    ]);

    const eager = await session.run({ userInput: 'delete groceries' }).wait();
    expect(outputs(eager).map((output) => output.isError)).toEqual([false, true]);
    expect(outputs(eager)[1]!.text).toContain('The user has not answered yet.');
    expect(calls()).toEqual([]);

    // Nothing was remembered: the next call of the same tool asks again.
    const next = await session.run({ userInput: 'delete milk' }).wait();
    next.expect.nextEvent().isFunctionCall({ name: 'fixture__delete-note' });
    expect(outputs(next)[0]!.text).toContain('delete-note (name: milk) on Fixture: are you sure?');
    expect(calls()).toEqual([]);
  });

  it('runs a remembered long-running tool in the background, without asking', async () => {
    const { session, agent } = await startSession(
      [
        { input: 'Not run yet', content: 'Are you sure?' },
        {
          input: "yes, and don't ask again",
          toolCalls: [
            {
              name: 'fixture__confirm_action',
              args: { confirmation_id: 'c1', approved: true, remember: true },
            },
          ],
        },
        { input: 'wait once', toolCalls: [{ name: 'fixture__wait', args: { ms: 200 } }] },
        { input: 'wait twice', toolCalls: [{ name: 'fixture__wait', args: { ms: 300 } }] },
        { input: 'runs in the background', content: 'Started.' },
        { input: 'waited 200 ms', content: 'The first wait is over.' },
        { input: 'waited 300 ms', content: 'The second wait is over.' },
      ],
      { longRunning: ['wait'] },
    );
    // The tool and its confirm tool both run on the background executor, cancellable.
    expect(agent.toolCtx.functionTools['fixture__wait']!.flags).not.toBe(0);
    expect(agent.toolCtx.functionTools['fixture__confirm_action']!.flags).not.toBe(0);

    const asked = await session.run({ userInput: 'wait once' }).wait();
    expect(outputs(asked)[0]!.text).toContain('Not run yet');
    await session.run({ userInput: "yes, and don't ask again" }).wait();
    await vi.waitFor(() => expect(calls()).toEqual(['wait +progress']), { timeout: 20_000 });

    const again = await session.run({ userInput: 'wait twice' }).wait();
    again.expect.nextEvent().isFunctionCall({ name: 'fixture__wait' });
    expect(outputs(again)[0]!.text).toContain(
      'wait on Fixture has started and runs in the background',
    );
    await vi.waitFor(() => expect(calls()).toEqual(['wait +progress', 'wait +progress']), {
      timeout: 20_000,
    });
  });
});
