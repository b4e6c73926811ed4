/**
 * Spoken elicitation (issue 16) in text mode, with the agents framework's testing module
 * (`voice.testing.FakeLLM`, answering any input that contains a key): real MCP servers ask during
 * a tool call (server-everything's `trigger-elicitation-request` and `trigger-url-elicitation`
 * over stdio, and the HTTP fixture's `ask-and-work`), the tool call hands the model the questions,
 * the model asks, and the server's answer tool sends what the user said: accept with values,
 * decline, cancel, a value that does not fit (asked again, nothing sent), an answer in the asking
 * turn (refused), silence past the timeout (cancel), a URL-mode link (to the screen, never to the
 * model), the filler while the server works after the answer, and a long-running call's questions.
 * The database holds the servers and the `tool_calls` rows: PGlite, or Postgres with
 * `DATABASE_URL`.
 */
import { initializeLogger, voice } from '@livekit/agents';
import { eq } from 'drizzle-orm';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import type { ElicitationLinkMessage } from '../../agent/elicitation.js';
import type { UserToolsets } from '../../agent/load-user-toolsets.js';
import type { DatabaseHandle } from '../../shared/db/open.js';
import { toolCalls, type NewMcpServerRow } from '../../shared/db/schema.js';
import { createServer } from '../../shared/db/servers.js';
import type { ToolPolicy } from '../../shared/mcp/server-config.js';
import { createTestUser, openTestDatabase } from '../helpers/database.js';
import { SIGN_IN_URL, startHttpMcpServer, type HttpMcpServer } from '../helpers/http-mcp-server.js';
import { sandboxedToolsets } from '../helpers/sandboxed.js';
import { everythingServer, silentLogger } from './fixtures.js';
import { ScriptedLLM, type ScriptedResponse } from './scripted-llm.js';

initializeLogger({ pretty: false, level: 'silent' });

// As in mcp-toolset.behaviours.test.ts: agents-js 1.9.0's test RunResult cannot watch the
// deferred reply of a background tool (a Promise); skip what it cannot watch.
const watchHandle = voice.testing.RunResult.prototype._watchHandle;
voice.testing.RunResult.prototype._watchHandle = function (handle) {
  if (typeof (handle as { addDoneCallback?: unknown }).addDoneCallback !== 'function') return;
  watchHandle.call(this, handle);
};

const POLL = { timeout: 20_000, interval: 25 };
const ASK = 'everything__trigger-elicitation-request';
const ANSWER = 'everything__answer_question';

/** FakeLLM that also answers an input containing one of its keys (outputs vary in detail). */
class SubstringFakeLLM extends voice.testing.FakeLLM {
  readonly #responses: voice.testing.FakeLLMResponse[];

  constructor(responses: voice.testing.FakeLLMResponse[]) {
    super(responses);
    this.#responses = responses;
  }

  override lookup(input: string): voice.testing.FakeLLMResponse | undefined {
    const exact = super.lookup(input);
    if (exact) return exact;
    const partial = this.#responses.find((response) => input.includes(response.input));
    return partial && { ttft: 0, duration: 0, ...partial };
  }
}

describe('a server that asks the user during a tool call', () => {
  let handle: DatabaseHandle;
  let http: HttpMcpServer;
  let tools: UserToolsets | undefined;
  let session: voice.AgentSession | undefined;

  beforeAll(async () => {
    handle = await openTestDatabase();
    http = await startHttpMcpServer({ eliciting: true });
  });

  afterEach(async () => {
    await session?.close();
    await tools?.close();
    session = undefined;
    tools = undefined;
  });

  afterAll(async () => {
    await http?.close();
    await handle?.close();
  });

  /** A user with one server, in a text session whose model answers with `responses`. */
  async function startSession(
    responses: voice.testing.FakeLLMResponse[] | ScriptedResponse[],
    options: {
      server?: 'everything' | 'http';
      toolPolicy?: ToolPolicy;
      elicitationTimeoutMs?: number;
      fillerAfterMs?: number;
      /** The scripted LLM with session-unique call ids (for background calls). */
      scripted?: boolean;
    } = {},
  ) {
    const user = await createTestUser(handle);
    const row: NewMcpServerRow =
      options.server === 'http'
        ? { userId: user.id, name: 'Asker', transport: 'streamable-http', url: http.url }
        : everythingServer(user.id);
    const server = await createServer(handle, { ...row, toolPolicy: options.toolPolicy ?? {} });
    const links: ElicitationLinkMessage[] = [];
    tools = await sandboxedToolsets({
      db: handle.db,
      secrets: handle.secrets,
      userId: user.id,
      logger: silentLogger(),
      // No filler unless a test asks for one: these tests are about the questions.
      fillerAfterMs: options.fillerAfterMs ?? 600_000,
      elicitationTimeoutMs: options.elicitationTimeoutMs,
      sendLink: async (message) => void links.push(message),
      recordIntervalMs: 10,
      startDeadlineMs: 60_000,
    });
    const model = options.scripted
      ? new ScriptedLLM(responses as ScriptedResponse[])
      : new SubstringFakeLLM(responses as voice.testing.FakeLLMResponse[]);
    const agent = new voice.Agent({ instructions: 'You are a test agent.', tools: tools.toolsets });
    session = new voice.AgentSession({ llm: model });
    await session.start({ agent });
    const advertised = () => Object.keys(agent.toolCtx.functionTools);
    const recorded = () =>
      handle.db.select().from(toolCalls).where(eq(toolCalls.serverId, server.id));
    return { session, agent, links, advertised, recorded, model };
  }

  function assistantTexts(current: voice.AgentSession): string[] {
    return current.history.items.flatMap((item) =>
      item.type === 'message' && item.role === 'assistant' ? [item.textContent ?? ''] : [],
    );
  }

  /** The session history: messages as `role: text`, tool items as their type (and output). */
  function historyTexts(current: voice.AgentSession): string[] {
    return current.history.items.flatMap((item) => {
      if (item.type === 'message') return [`${item.role}: ${item.textContent ?? ''}`];
      if (item.type === 'function_call') return [`call ${item.name}`];
      if (item.type === 'function_call_output') return [`output: ${item.output}`];
      return [];
    });
  }

  it('asks field by field, then sends the accepted values; the answer tool shows only meanwhile', async () => {
    const { session, advertised, recorded } = await startSession([
      { input: 'sign me up', toolCalls: [{ name: ASK, args: {} }] },
      { input: "needs the user's input", content: 'What is your full name?' },
      { input: 'User provided the requested information', content: 'Thanks, all sent.' },
      {
        input: 'Ada Lovelace',
        toolCalls: [
          {
            name: ANSWER,
            args: {
              question_id: 'e1',
              action: 'accept',
              values: {
                name: 'Ada Lovelace',
                check: 'yes',
                integer: '7',
                titledSingleSelectEnum: 'wonder woman',
              },
            },
          },
        ],
      },
    ]);
    expect(advertised()).toContain(ASK);
    expect(advertised()).not.toContain(ANSWER);

    const asked = await session.run({ userInput: 'sign me up' }).wait();
    asked.expect.nextEvent().isFunctionCall({ name: ASK });
    const questions = asked.expect.nextEvent().isFunctionCallOutput({ isError: false }).event();
    const text = JSON.parse(questions.item.output) as string;
    expect(text).toContain(
      'Everything needs the user\'s input before trigger-elicitation-request can go on (question_id "e1")',
    );
    expect(text).toContain('Ask the user one short question per field');
    expect(text).toContain('read the answers back and let the user correct any');
    expect(text).toContain('- name (required): String: Your full, legal name; text.');
    expect(text).toContain('- check: Boolean: Agree to the terms and conditions; yes or no.');
    expect(text).toContain('a whole number from 1 to 100; the default is 42.');
    expect(text).toContain(
      'one of Superman, Green Lantern, Wonder Woman; the default is Superman.',
    );
    expect(text).toContain(`call ${ANSWER} with question_id "e1", action "accept"`);
    asked.expect.nextEvent().isMessage({ role: 'assistant' });
    await vi.waitFor(() => expect(advertised()).toContain(ANSWER), POLL);

    const answered = await session.run({ userInput: 'Ada Lovelace, and yes I agree' }).wait();
    answered.expect.nextEvent().isFunctionCall({ name: ANSWER });
    const result = answered.expect.nextEvent().isFunctionCallOutput({ isError: false }).event();
    expect(result.item.output).toContain('User provided the requested information');
    expect(result.item.output).toContain('- Name: Ada Lovelace');
    expect(result.item.output).toContain('- Agreed to terms: true');
    expect(result.item.output).toContain('- Favorite Integer: 7');
    expect(result.item.output).toContain('hero-3');
    answered.expect.nextEvent().isMessage({ role: 'assistant' });
    await vi.waitFor(() => expect(advertised()).not.toContain(ANSWER), POLL);

    await vi.waitFor(async () => {
      const rows = await recorded();
      expect(rows.map((row) => [row.toolName, row.ok])).toEqual([
        ['trigger-elicitation-request', true],
      ]);
    }, POLL);
  });

  it('answers decline for "no" and cancel for "never mind", each still a recorded call', async () => {
    const { session, recorded } = await startSession([
      { input: 'sign me up', toolCalls: [{ name: ASK, args: {} }] },
      { input: 'question_id "e1"', content: 'What is your name?' },
      { input: 'question_id "e2"', content: 'What is your name?' },
      { input: 'User declined', content: 'Fine, nothing sent.' },
      { input: 'User cancelled', content: 'All right, cancelled.' },
      {
        input: 'no thanks',
        toolCalls: [{ name: ANSWER, args: { question_id: 'e1', action: 'decline' } }],
      },
      {
        input: 'never mind',
        toolCalls: [{ name: ANSWER, args: { question_id: 'e2', action: 'cancel' } }],
      },
    ]);

    await session.run({ userInput: 'sign me up' }).wait();
    const no = await session.run({ userInput: 'no thanks' }).wait();
    no.expect.nextEvent().isFunctionCall({ name: ANSWER });
    const declined = no.expect.nextEvent().isFunctionCallOutput({ isError: false }).event();
    expect(declined.item.output).toContain('User declined to provide the requested information');

    await session.run({ userInput: 'sign me up' }).wait();
    const never = await session.run({ userInput: 'never mind' }).wait();
    never.expect.nextEvent().isFunctionCall({ name: ANSWER });
    const cancelled = never.expect.nextEvent().isFunctionCallOutput({ isError: false }).event();
    expect(cancelled.item.output).toContain('User cancelled the elicitation dialog');

    await vi.waitFor(async () => {
      const rows = await recorded();
      expect(rows.map((row) => [row.toolName, row.ok])).toEqual([
        ['trigger-elicitation-request', true],
        ['trigger-elicitation-request', true],
      ]);
    }, POLL);
  });

  it('sends nothing for a value that does not fit, says what is wrong, and sends the corrected one', async () => {
    const { session } = await startSession([
      { input: 'sign me up', toolCalls: [{ name: ASK, args: {} }] },
      { input: "needs the user's input", content: 'Your name and a favourite number?' },
      { input: 'Not sent', content: 'Which whole number, from 1 to 100?' },
      { input: 'User provided', content: 'Sent.' },
      {
        input: 'Grace, lots',
        toolCalls: [
          {
            name: ANSWER,
            args: {
              question_id: 'e1',
              action: 'accept',
              values: { name: 'Grace', integer: 'lots' },
            },
          },
        ],
      },
      {
        input: 'seven',
        toolCalls: [
          {
            name: ANSWER,
            args: { question_id: 'e1', action: 'accept', values: { name: 'Grace', integer: 7 } },
          },
        ],
      },
    ]);

    await session.run({ userInput: 'sign me up' }).wait();
    const wrong = await session.run({ userInput: 'Grace, lots' }).wait();
    wrong.expect.nextEvent().isFunctionCall({ name: ANSWER });
    const refused = wrong.expect.nextEvent().isFunctionCallOutput({ isError: true }).event();
    expect(refused.item.output).toContain('Not sent: integer: "lots" is not a number');
    expect(refused.item.output).toContain(`call ${ANSWER} again with question_id "e1"`);
    wrong.expect.nextEvent().isMessage({ role: 'assistant' });

    const right = await session.run({ userInput: 'seven' }).wait();
    right.expect.nextEvent().isFunctionCall({ name: ANSWER });
    const sent = right.expect.nextEvent().isFunctionCallOutput({ isError: false }).event();
    expect(sent.item.output).toContain('- Name: Grace');
    expect(sent.item.output).toContain('- Favorite Integer: 7');
  });

  it('refuses an answer the model gives in the turn that asked', async () => {
    const { session } = await startSession([
      { input: 'sign me up', toolCalls: [{ name: ASK, args: {} }] },
      {
        input: "needs the user's input",
        toolCalls: [
          { name: ANSWER, args: { question_id: 'e1', action: 'accept', values: { name: 'X' } } },
        ],
      },
      { input: 'has not answered yet', content: 'What is your name?' },
      { input: 'Unknown function', content: 'What is your name?' },
      { input: 'User provided', content: 'Sent.' },
      {
        input: 'Hedy',
        toolCalls: [
          { name: ANSWER, args: { question_id: 'e1', action: 'accept', values: { name: 'Hedy' } } },
        ],
      },
    ]);

    const eager = await session.run({ userInput: 'sign me up' }).wait();
    eager.expect.nextEvent().isFunctionCall({ name: ASK });
    eager.expect.nextEvent().isFunctionCallOutput({ isError: false });
    eager.expect.nextEvent().isFunctionCall({ name: ANSWER });
    const refused = eager.expect.nextEvent().isFunctionCallOutput({ isError: true }).event();
    // A pipeline turn keeps the tools it started with, so here the answer tool is not even there
    // yet; a realtime model would see it, and the same-turn rule refuses it (elicitation.test.ts).
    expect(refused.item.output).toMatch(
      /The user has not answered yet|Unknown function: everything__answer_question/,
    );
    eager.expect.nextEvent().isMessage({ role: 'assistant' });

    const later = await session.run({ userInput: 'Hedy' }).wait();
    later.expect.nextEvent().isFunctionCall({ name: ANSWER });
    const sent = later.expect.nextEvent().isFunctionCallOutput({ isError: false }).event();
    expect(sent.item.output).toContain('- Name: Hedy');
    expect(sent.item.output).not.toContain('- Name: X');
  });

  it('cancels a question nobody answers within the timeout; the call ends and is recorded', async () => {
    const { session, advertised, recorded } = await startSession(
      [
        { input: 'do the work', toolCalls: [{ name: 'asker__ask-and-work', args: { ms: 0 } }] },
        { input: "needs the user's input", content: 'Who is asking?' },
      ],
      { server: 'http', elicitationTimeoutMs: 300 },
    );
    const before = http.answers.length;

    await session.run({ userInput: 'do the work' }).wait();
    await vi.waitFor(
      () => expect(http.answers.slice(before)).toEqual([{ action: 'cancel' }]),
      POLL,
    );
    await vi.waitFor(() => expect(advertised()).not.toContain('asker__answer_question'), POLL);
    await vi.waitFor(async () => {
      const rows = await recorded();
      expect(rows.map((row) => [row.toolName, row.ok])).toEqual([['ask-and-work', true]]);
    }, POLL);
  });

  it('keeps the filler going while the server works after the answer', async () => {
    const { session } = await startSession(
      [
        { input: 'do the work', toolCalls: [{ name: 'asker__ask-and-work', args: { ms: 2_500 } }] },
        { input: "needs the user's input", content: 'Who is asking?' },
        { input: 'Worked for Lin', content: 'Done, Lin.' },
        {
          input: 'It is Lin',
          toolCalls: [
            {
              name: 'asker__answer_question',
              args: { question_id: 'e1', action: 'accept', values: { name: 'Lin' } },
            },
          ],
        },
      ],
      { server: 'http', fillerAfterMs: 400 },
    );

    await session.run({ userInput: 'do the work' }).wait();
    // The question came at once: no filler while the user is asked.
    expect(assistantTexts(session)).toEqual(['Who is asking?']);
    await session.run({ userInput: 'It is Lin' }).wait();
    const history = historyTexts(session);
    const answerAt = history.indexOf('call asker__answer_question');
    expect(history.slice(answerAt)).toEqual([
      'call asker__answer_question',
      "assistant: One moment, I'm still working on that.",
      'output: "Worked for Lin"',
      'assistant: Done, Lin.',
    ]);
  });

  it('sends a URL-mode link to the screen, says so, and never gives the model the address', async () => {
    const url = 'https://example.com/approve?ticket=s3cret';
    const { session, links } = await startSession([
      {
        input: 'approve it',
        toolCalls: [{ name: 'everything__trigger-url-elicitation', args: { url } }],
      },
      { input: 'User completed the URL elicitation flow', content: 'All approved.' },
    ]);

    const result = await session.run({ userInput: 'approve it' }).wait();
    result.expect.nextEvent().isFunctionCall({ name: 'everything__trigger-url-elicitation' });
    expect(links).toEqual([
      {
        type: 'elicitation',
        serverId: expect.any(Number),
        server: 'Everything',
        url,
        message: 'Please open the link to complete this action.',
      },
    ]);
    await vi.waitFor(
      () =>
        expect(assistantTexts(session!)).toContain(
          "I've sent a link from Everything to your screen. Please open it to continue.",
        ),
      POLL,
    );
    const history = historyTexts(session);
    const output = history.find((line) => line.startsWith('output: '))!;
    expect(output).toContain('User completed the URL elicitation flow');
    expect(output).toContain('[the link sent to the screen]');
    for (const line of history) expect(line).not.toContain('example.com');
  });

  it('puts the pages of a "URL elicitation required" error on the screen; the call works once retried', async () => {
    const { session, links, recorded } = await startSession(
      [
        { input: 'sign me in', toolCalls: [{ name: 'asker__sign-in', args: {} }] },
        {
          input: "is on the user's screen now",
          content: "I've put a sign-in link on your screen. Tell me when you're done.",
        },
        { input: 'done', toolCalls: [{ name: 'asker__sign-in', args: {} }] },
        { input: 'Signed in', content: 'You are signed in.' },
      ],
      { server: 'http' },
    );
    const first = await session.run({ userInput: 'sign me in' }).wait();
    first.expect.nextEvent().isFunctionCall({ name: 'asker__sign-in' });
    first.expect.nextEvent().isFunctionCallOutput({ isError: true });
    expect(links).toEqual([
      {
        type: 'elicitation',
        serverId: expect.any(Number),
        server: 'Asker',
        url: SIGN_IN_URL,
        message: 'Sign in to Example to continue.',
      },
    ]);
    http.completeSignIn();
    const second = await session.run({ userInput: 'done' }).wait();
    second.expect.nextEvent().isFunctionCall({ name: 'asker__sign-in' });
    second.expect.nextEvent().isFunctionCallOutput({ isError: false });
    expect(assistantTexts(session)).toContain('You are signed in.');
    expect(http.signInCalls).toBe(2);
    // The model heard what to do, never the address.
    const history = historyTexts(session);
    expect(history.find((line) => line.startsWith('output: '))).toMatch(
      /Asker needs the user to finish something on a web page before sign-in can run\. A link from Asker is on the user's screen now\..*call asker__sign-in again/,
    );
    for (const line of history) expect(line).not.toContain('login.example.com');
    await vi.waitFor(async () => {
      const rows = (await recorded()).sort((a, b) => a.id - b.id);
      expect(rows.map((row) => [row.toolName, row.ok])).toEqual([
        ['sign-in', false],
        ['sign-in', true],
      ]);
    }, POLL);
  });

  it("asks a long-running call's questions as updates, and its result comes by itself", async () => {
    const { session, model } = await startSession(
      [
        {
          input: 'do the work',
          toolCalls: [{ name: 'asker__ask-and-work', args: { askAfterMs: 1_500 } }],
        },
        { input: 'runs in the background', content: 'Started.' },
        { input: 'Worked for Ada', content: 'All done, Ada.' },
        { input: "needs the user's input", content: 'Who is asking?' },
        { input: 'Answer sent', content: 'Thanks.' },
        {
          input: 'It is Ada',
          toolCalls: [
            {
              name: 'asker__answer_question',
              args: { question_id: 'e1', action: 'accept', values: { name: 'Ada' } },
            },
          ],
        },
      ],
      { server: 'http', toolPolicy: { longRunning: ['ask-and-work'] }, scripted: true },
    );
    const inputs = () => `model inputs: ${JSON.stringify((model as ScriptedLLM).inputs)}`;

    await session.run({ userInput: 'do the work' }).wait();
    await vi.waitFor(
      () => expect(assistantTexts(session!), inputs()).toEqual(['Started.', 'Who is asking?']),
      POLL,
    );
    const answered = await session.run({ userInput: 'It is Ada' }).wait();
    answered.expect.nextEvent().isFunctionCall({ name: 'asker__answer_question' });
    const sent = answered.expect.nextEvent().isFunctionCallOutput({ isError: false }).event();
    expect(sent.item.output).toContain(
      'Answer sent to Asker. ask-and-work goes on in the background; its result will come by itself.',
    );
    await vi.waitFor(
      () => expect(assistantTexts(session!), inputs()).toContain('All done, Ada.'),
      POLL,
    );
  });
});
