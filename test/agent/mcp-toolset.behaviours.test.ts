import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initializeLogger, voice } from '@livekit/agents';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { type UserToolsets } from '../../agent/load-user-toolsets.js';
import type { DatabaseHandle } from '../../shared/db/open.js';
import type { ToolPolicy } from '../../shared/mcp/server-config.js';
import { createServer } from '../../shared/db/servers.js';
import { createTestUser, openTestDatabase } from '../helpers/database.js';
import { FIXTURE_SERVER_ARGS } from '../helpers/mcp-processes.js';
import { everythingServer, silentLogger } from './fixtures.js';
import { ScriptedLLM, type ScriptedResponse } from './scripted-llm.js';
import { sandboxedToolsets } from '../helpers/sandboxed.js';

initializeLogger({ pretty: false, level: 'silent' });

// agents-js 1.9.0 hands the deferred reply of a background tool (a Promise) to
// `RunResult._watchHandle`, which expects a SpeechHandle or Task and throws a TypeError
// (`handle.addDoneCallback is not a function`) whenever a test run is current. Only test runs
// (`session.run`) have a RunResult; skip what it cannot watch.
const watchHandle = voice.testing.RunResult.prototype._watchHandle;
voice.testing.RunResult.prototype._watchHandle = function (handle) {
  if (typeof (handle as { addDoneCallback?: unknown }).addDoneCallback !== 'function') return;
  watchHandle.call(this, handle);
};

const POLL = { timeout: 20_000, interval: 25 };

describe('tools that take time, change things, and answer for the ear', () => {
  let handle: DatabaseHandle;
  let logDir: string;
  let tools: UserToolsets | undefined;
  let session: voice.AgentSession | undefined;
  let callLog: string;

  beforeAll(async () => {
    handle = await openTestDatabase();
    logDir = mkdtempSync(join(tmpdir(), 'switchboard-behaviours-'));
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

  /** A user with the fixture server under `toolPolicy`, in a text session on `responses`. */
  async function startSession(
    responses: ScriptedResponse[],
    options: {
      toolPolicy?: ToolPolicy;
      fillerAfterMs?: number;
      progressIntervalMs?: number;
      everything?: boolean;
      /** Set in the fixture's environment: `delete-note` finishes once this file exists. */
      deleteRelease?: string;
    } = {},
  ) {
    const user = await createTestUser(handle);
    callLog = join(logDir, `calls-${user.id}.log`);
    await createServer(handle, {
      ...(options.everything
        ? everythingServer(user.id)
        : {
            userId: user.id,
            name: 'Fixture',
            transport: 'stdio' as const,
            sandbox: { network: 'none', mounts: [{ hostPath: logDir, writable: true }] },
            command: process.execPath,
            args: FIXTURE_SERVER_ARGS,
            env: {
              FIXTURE_CALL_LOG: callLog,
              ...(options.deleteRelease ? { FIXTURE_DELETE_RELEASE: options.deleteRelease } : {}),
            },
          }),
      toolPolicy: options.toolPolicy ?? {},
    });
    tools = await sandboxedToolsets({
      db: handle.db,
      secrets: handle.secrets,
      userId: user.id,
      logger: silentLogger(),
      fillerAfterMs: options.fillerAfterMs,
      progressIntervalMs: options.progressIntervalMs,
      // These tests are about the tools, not the start deadline: wait for the server however
      // long a busy machine takes to start it.
      startDeadlineMs: 60_000,
    });
    const llm = new ScriptedLLM(responses);
    const agent = new voice.Agent({ instructions: 'You are a test agent.', tools: tools.toolsets });
    session = new voice.AgentSession({ llm });
    await session.start({ agent });
    return { session, agent, llm };
  }

  /** The tools the fixture ran, in order (`+progress` marks a call with a progress token). */
  function calls(): string[] {
    try {
      return readFileSync(callLog, 'utf8').split('\n').filter(Boolean);
    } catch {
      return [];
    }
  }

  /** The session history: messages as `role: text`, other conversation items by type. */
  function historyTexts(current: voice.AgentSession): string[] {
    return current.history.items.flatMap((item) => {
      if (item.type === 'message') return [`${item.role}: ${item.textContent ?? ''}`];
      if (item.type === 'function_call' || item.type === 'function_call_output') return [item.type];
      return [];
    });
  }

  function assistantTexts(current: voice.AgentSession): string[] {
    return current.history.items.flatMap((item) =>
      item.type === 'message' && item.role === 'assistant' ? [item.textContent ?? ''] : [],
    );
  }

  describe('confirmation', () => {
    const deleteFlow: ScriptedResponse[] = [
      {
        input: 'delete groceries',
        toolCalls: [{ name: 'fixture__delete-note', args: { name: 'groceries' } }],
      },
      { input: 'Not run yet', content: 'Delete the note groceries: are you sure?' },
      {
        input: 'yes please',
        toolCalls: [
          { name: 'fixture__confirm_action', args: { confirmation_id: 'c1', approved: true } },
        ],
      },
      {
        input: 'no, keep it',
        toolCalls: [
          { name: 'fixture__confirm_action', args: { confirmation_id: 'c1', approved: false } },
        ],
      },
      { input: 'deleted groceries', content: 'Done, the note is gone.' },
      { input: 'the user declined', content: 'All right, I kept it.' },
    ];

    it('asks before a destructive tool and never calls it when the user says no', async () => {
      const { session } = await startSession(deleteFlow);

      const ask = await session.run({ userInput: 'delete groceries' }).wait();
      ask.expect.nextEvent().isFunctionCall({ name: 'fixture__delete-note' });
      const held = ask.expect.nextEvent().isFunctionCallOutput({ isError: false }).event();
      expect(held.item.output).toContain('delete-note (name: groceries) on Fixture: are you sure?');
      expect(JSON.parse(held.item.output)).toContain('confirmation_id "c1"');
      ask.expect.nextEvent().isMessage({ role: 'assistant' });

      const no = await session.run({ userInput: 'no, keep it' }).wait();
      no.expect.nextEvent().isFunctionCall({ name: 'fixture__confirm_action' });
      const declined = no.expect.nextEvent().isFunctionCallOutput({ isError: false }).event();
      expect(declined.item.output).toContain('the user declined');
      no.expect.nextEvent().isMessage({ role: 'assistant' });
      no.expect.noMoreEvents();

      expect(calls()).not.toContain('delete-note');
      expect(calls()).toEqual([]);
    });

    it('runs the held call, with its arguments, once the user says yes', async () => {
      const { session } = await startSession(deleteFlow);

      await session.run({ userInput: 'delete groceries' }).wait();
      expect(calls()).toEqual([]);
      const yes = await session.run({ userInput: 'yes please' }).wait();

      yes.expect.nextEvent().isFunctionCall({ name: 'fixture__confirm_action' });
      const ran = yes.expect.nextEvent().isFunctionCallOutput({ isError: false }).event();
      expect(ran.item.output).toContain('deleted groceries');
      yes.expect.nextEvent().isMessage({ role: 'assistant' });
      expect(calls()).toEqual(['delete-note']);
    });

    it('refuses an approval the model gives in the same turn as the question', async () => {
      const { session } = await startSession([
        {
          input: 'delete groceries',
          toolCalls: [{ name: 'fixture__delete-note', args: { name: 'groceries' } }],
        },
        {
          input: 'Not run yet',
          toolCalls: [
            { name: 'fixture__confirm_action', args: { confirmation_id: 'c1', approved: true } },
          ],
        },
        { input: 'has not answered yet', content: 'Delete the note groceries: are you sure?' },
        {
          input: 'yes',
          toolCalls: [
            { name: 'fixture__confirm_action', args: { confirmation_id: 'c1', approved: true } },
          ],
        },
      ]);

      const eager = await session.run({ userInput: 'delete groceries' }).wait();
      eager.expect.nextEvent().isFunctionCall({ name: 'fixture__delete-note' });
      eager.expect.nextEvent().isFunctionCallOutput({ isError: false });
      eager.expect.nextEvent().isFunctionCall({ name: 'fixture__confirm_action' });
      eager.expect.nextEvent().isFunctionCallOutput({ isError: true });
      eager.expect.nextEvent().isMessage({ role: 'assistant' });
      expect(calls()).toEqual([]);

      const yes = await session.run({ userInput: 'yes' }).wait();
      yes.expect.nextEvent().isFunctionCall({ name: 'fixture__confirm_action' });
      yes.expect.nextEvent().isFunctionCallOutput({ isError: false });
      expect(calls()).toEqual(['delete-note']);
    });

    it("follows the server's confirm setting: never asks with 'never'", async () => {
      const { session, agent } = await startSession(
        [
          {
            input: 'delete groceries',
            toolCalls: [{ name: 'fixture__delete-note', args: { name: 'groceries' } }],
          },
        ],
        { toolPolicy: { confirm: 'never' } },
      );

      const result = await session.run({ userInput: 'delete groceries' }).wait();
      result.expect.nextEvent().isFunctionCall({ name: 'fixture__delete-note' });
      const output = result.expect.nextEvent().isFunctionCallOutput({ isError: false }).event();
      expect(output.item.output).toContain('deleted groceries');
      expect(calls()).toEqual(['delete-note']);
      expect(Object.keys(agent.toolCtx.functionTools)).not.toContain('fixture__confirm_action');
    });

    it("follows the server's confirm setting: asks even for a read-only tool with 'always'", async () => {
      const { session } = await startSession(
        [
          { input: 'echo hi', toolCalls: [{ name: 'fixture__echo', args: { message: 'hi' } }] },
          { input: 'Not run yet', content: 'Echo hi: are you sure?' },
          {
            input: 'sure',
            toolCalls: [
              { name: 'fixture__confirm_action', args: { confirmation_id: 'c1', approved: true } },
            ],
          },
        ],
        { toolPolicy: { confirm: 'always' } },
      );

      await session.run({ userInput: 'echo hi' }).wait();
      expect(calls()).toEqual([]);
      const sure = await session.run({ userInput: 'sure' }).wait();
      sure.expect.nextEvent().isFunctionCall({ name: 'fixture__confirm_action' });
      sure.expect.nextEvent().isFunctionCallOutput({ output: '"Echo: hi"', isError: false });
      expect(calls()).toEqual(['echo']);
    });
  });

  describe('a long-running tool that changes things', () => {
    it('asks first, then runs the confirmed call in the background', async () => {
      const { session, agent, llm } = await startSession(
        [
          {
            input: 'delete groceries',
            toolCalls: [{ name: 'fixture__delete-note', args: { name: 'groceries' } }],
          },
          { input: 'Not run yet', content: 'Delete the note groceries: are you sure?' },
          {
            input: 'yes please',
            toolCalls: [
              {
                name: 'fixture__confirm_action',
                args: { confirmation_id: 'c1', approved: true },
              },
            ],
          },
          { input: 'runs in the background', content: "Deleting, I'll tell you when it's done." },
          { input: 'deleted groceries', content: 'The note is deleted.' },
        ],
        // The deletion finishes once the agent has said it runs in the background, as a real
        // long-running call does (a result racing that reply is agents-js's to order).
        { toolPolicy: { longRunning: ['delete-note'] }, deleteRelease: join(logDir, 'release') },
      );
      expect(agent.toolCtx.functionTools['fixture__confirm_action']?.flags).not.toBe(0);

      await session.run({ userInput: 'delete groceries' }).wait();
      expect(calls()).toEqual([]);
      const yes = await session.run({ userInput: 'yes please' }).wait();
      yes.expect.nextEvent().isFunctionCall({ name: 'fixture__confirm_action' });
      const started = yes.expect.nextEvent().isFunctionCallOutput({ isError: false }).event();
      expect(started.item.output).toContain('runs in the background');
      await vi.waitFor(
        () => expect(assistantTexts(session!)).toContain("Deleting, I'll tell you when it's done."),
        POLL,
      );
      writeFileSync(join(logDir, 'release'), '');

      await vi.waitFor(
        () =>
          // On failure, what the model was asked says where the background result went.
          expect(assistantTexts(session!), `model inputs: ${JSON.stringify(llm.inputs)}`).toContain(
            'The note is deleted.',
          ),
        { ...POLL, timeout: 60_000 },
      );
      expect(calls()).toEqual(['delete-note +progress']);
    });
  });

  describe('filler', () => {
    it('says a filler while a slow tool runs, and none for a fast one', async () => {
      const { session } = await startSession(
        [
          { input: 'wait a bit', toolCalls: [{ name: 'fixture__wait', args: { ms: 2_500 } }] },
          { input: 'waited 2500 ms', content: 'Done waiting.' },
          { input: 'echo fast', toolCalls: [{ name: 'fixture__echo', args: { message: 'fast' } }] },
          { input: 'Echo: fast', content: 'Fast.' },
        ],
        { fillerAfterMs: 400 },
      );

      const slow = await session.run({ userInput: 'wait a bit' }).wait();
      // The filler is spoken with `session.say`, which the run's events do not list: read the
      // session history, where it sits between the call and its result.
      slow.expect.nextEvent().isFunctionCall({ name: 'fixture__wait' });
      expect(historyTexts(session)).toEqual([
        'user: wait a bit',
        'function_call',
        "assistant: One moment, I'm still working on that.",
        'function_call_output',
        'assistant: Done waiting.',
      ]);

      const fast = await session.run({ userInput: 'echo fast' }).wait();
      expect(
        fast.events.map((event) =>
          event.type === 'message' ? event.item.textContent : event.type,
        ),
      ).toEqual(['function_call', 'function_call_output', 'Fast.']);
    });
  });

  describe('long-running tools', () => {
    it('goes on with the conversation and speaks the result after the next user turn', async () => {
      const { session } = await startSession(
        [
          // Long enough that the next turn is surely over first, even on a loaded machine.
          { input: 'start waiting', toolCalls: [{ name: 'fixture__wait', args: { ms: 6_000 } }] },
          {
            input: 'runs in the background',
            content: "It's running, I'll tell you when it's done.",
          },
          {
            input: 'echo meanwhile',
            toolCalls: [{ name: 'fixture__echo', args: { message: 'meanwhile' } }],
          },
          { input: 'Echo: meanwhile', content: 'Meanwhile echoed.' },
          { input: 'waited 6000 ms', content: 'The wait has finished.' },
        ],
        { toolPolicy: { longRunning: ['wait'] } },
      );

      const started = await session.run({ userInput: 'start waiting' }).wait();
      started.expect.nextEvent().isFunctionCall({ name: 'fixture__wait' });
      const ack = started.expect.nextEvent().isFunctionCallOutput({ isError: false }).event();
      expect(ack.item.output).toContain('runs in the background');
      started.expect.nextEvent().isMessage({ role: 'assistant' });
      // The call goes out in the background: the server logs it when it gets there.
      await vi.waitFor(() => expect(calls()).toEqual(['wait +progress']), POLL);

      const meanwhile = await session.run({ userInput: 'echo meanwhile' }).wait();
      meanwhile.expect.nextEvent().isFunctionCall({ name: 'fixture__echo' });
      meanwhile.expect.nextEvent().isFunctionCallOutput({ output: '"Echo: meanwhile"' });
      expect(assistantTexts(session)).not.toContain('The wait has finished.');

      await vi.waitFor(
        () => expect(assistantTexts(session!)).toContain('The wait has finished.'),
        POLL,
      );
      expect(assistantTexts(session)).toEqual([
        "It's running, I'll tell you when it's done.",
        'Meanwhile echoed.',
        'The wait has finished.',
      ]);
    });

    it('cancels the MCP call when the user says never mind', async () => {
      const { session } = await startSession(
        [
          { input: 'hang around', toolCalls: [{ name: 'fixture__hang', args: {} }] },
          { input: 'runs in the background', content: 'Started.' },
          {
            input: 'never mind',
            toolCalls: [{ name: 'lk_agents_cancel_task', args: { call_id: 'scripted_call_1' } }],
          },
          { input: 'cancelled successfully', content: 'Cancelled it.' },
        ],
        { toolPolicy: { longRunning: ['hang'] } },
      );

      await session.run({ userInput: 'hang around' }).wait();
      await vi.waitFor(() => expect(calls()).toEqual(['hang +progress']), POLL);

      const cancel = await session.run({ userInput: 'never mind' }).wait();
      cancel.expect.nextEvent().isFunctionCall({ name: 'lk_agents_cancel_task' });
      cancel.expect.nextEvent().isFunctionCallOutput({ isError: false });
      cancel.expect.nextEvent().isMessage({ role: 'assistant' });

      await vi.waitFor(() => expect(calls()).toEqual(['hang +progress', 'hang:cancelled']), POLL);
    });

    it('speaks progress reports as updates while the call runs', async () => {
      const { session } = await startSession(
        [
          {
            input: 'count down',
            toolCalls: [{ name: 'fixture__wait', args: { ms: 1_500, steps: 3 } }],
          },
          { input: 'runs in the background', content: 'Counting.' },
          { input: 'Progress of wait: step 1', content: 'Step one done.' },
          { input: 'Progress of wait: step 2', content: 'Step two done.' },
          { input: 'waited 1500 ms', content: 'All done.' },
        ],
        { toolPolicy: { longRunning: ['wait'] }, progressIntervalMs: 0 },
      );

      await session.run({ userInput: 'count down' }).wait();
      await vi.waitFor(() => expect(assistantTexts(session!)).toContain('All done.'), POLL);

      const texts = assistantTexts(session);
      expect(texts[0]).toBe('Counting.');
      // Each report is spoken when the session is idle; two that arrive together are one reply.
      expect(texts.filter((text) => text.startsWith('Step ')).length).toBeGreaterThanOrEqual(1);
      expect(texts.at(-1)).toBe('All done.');
      expect(calls()).toEqual(['wait +progress']);
    });
  });

  describe("server-everything's long-running operation", () => {
    it('speaks its progress notifications and then its result', async () => {
      const tool = 'everything__trigger-long-running-operation';
      const { session } = await startSession(
        [
          {
            input: 'run the long one',
            toolCalls: [{ name: tool, args: { duration: 1.5, steps: 3 } }],
          },
          { input: 'runs in the background', content: 'Started the long operation.' },
          { input: 'trigger-long-running-operation: 1 of 3', content: 'A third done.' },
          { input: 'trigger-long-running-operation: 2 of 3', content: 'Two thirds done.' },
          { input: 'Long running operation completed', content: 'The operation finished.' },
        ],
        {
          everything: true,
          toolPolicy: { longRunning: ['trigger-long-running-operation'] },
          progressIntervalMs: 0,
        },
      );

      await session.run({ userInput: 'run the long one' }).wait();
      await vi.waitFor(
        () => expect(assistantTexts(session!)).toContain('The operation finished.'),
        POLL,
      );

      const texts = assistantTexts(session);
      expect(texts[0]).toBe('Started the long operation.');
      expect(texts.some((text) => text.endsWith('thirds done.') || text === 'A third done.')).toBe(
        true,
      );
      expect(texts.at(-1)).toBe('The operation finished.');
    });
  });

  describe("server-everything's task-only tool", () => {
    it('runs it as an MCP task in the background, speaking its status, then its report', async () => {
      const tool = 'everything__simulate-research-query';
      const { session } = await startSession(
        [
          { input: 'research otters', toolCalls: [{ name: tool, args: { topic: 'otters' } }] },
          { input: 'runs in the background', content: 'Researching.' },
          { input: 'Research Report: otters', content: 'The report is ready.' },
          // Status reports (e.g. "Analyzing…") that reach the model while it runs.
          { input: 'simulate-research-query', content: 'Still researching.' },
        ],
        // No tool policy: `execution.taskSupport: "required"` alone makes it long-running.
        { everything: true, progressIntervalMs: 0 },
      );

      await session.run({ userInput: 'research otters' }).wait();
      await vi.waitFor(
        () => expect(assistantTexts(session!)).toContain('The report is ready.'),
        POLL,
      );
      const texts = assistantTexts(session);
      expect(texts[0]).toBe('Researching.');
      expect(texts.at(-1)).toBe('The report is ready.');
    });
  });

  describe('results for the ear', () => {
    it('summarizes structured content instead of reading out JSON', async () => {
      const { session } = await startSession([
        { input: 'status please', toolCalls: [{ name: 'fixture__status', args: {} }] },
      ]);

      const result = await session.run({ userInput: 'status please' }).wait();
      result.expect.nextEvent().isFunctionCall({ name: 'fixture__status' });
      const output = result.expect.nextEvent().isFunctionCallOutput({ isError: false }).event();
      const text = JSON.parse(output.item.output) as string;
      expect(text).toBe(
        [
          'state: degraded',
          'uptimeSeconds: 3600',
          'owner: name Ada, team ops',
          'incidents: 3 items: disk full; slow queries; cert expiring',
        ].join('\n'),
      );
    });
  });
});
