/**
 * A session listens only to the participant it was dispatched for. No LiveKit server runs here,
 * so the session gets a real `@livekit/rtc-node` `Room` that never connects: `runSession` and
 * agents-js register their real stream handlers on it (`lk.chat` for chat text, agents-js's
 * session host on `lk.agent.session`), and the test hands those handlers streams the way the
 * room does when a participant sends one, from the bound user and from another participant.
 * The model is scripted and the tool is server-everything's `echo` over stdio.
 */
import { initializeLogger } from '@livekit/agents';
import { AgentSession as pb } from '@livekit/protocol';
import {
  ParticipantKind,
  Room,
  RoomEvent,
  type ByteStreamHandler,
  type LocalParticipant,
  type RemoteParticipant,
  type TextStreamHandler,
} from '@livekit/rtc-node';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { admitOnlyParticipant } from '../../agent/participant-binding.js';
import { runSession, type RunningSession } from '../../agent/run-session.js';
import type { DatabaseHandle } from '../../shared/db/open.js';
import type { User } from '../../shared/db/schema.js';
import { createServer } from '../../shared/db/servers.js';
import { loadSettings } from '../../shared/settings.js';
import { createTestUser, openTestDatabase } from '../helpers/database.js';
import { everythingServer, fakeJob, silentLogger } from './fixtures.js';
import { ScriptedLLM } from './scripted-llm.js';
import { fileSandboxDataDir } from '../helpers/sandboxed.js';

initializeLogger({ pretty: false, level: 'silent' });

const GREETING = 'instructions: greet the user';

/** The handlers a `Room` keeps per topic (private in rtc-node; the room calls them per stream). */
interface RoomHandlers {
  textStreamHandlers: Map<string, TextStreamHandler>;
  byteStreamHandlers: Map<string, ByteStreamHandler>;
}

/** A stream reader as the room hands it to a handler, recording whether it was read or closed. */
function incomingStream<T>(topic: string, content: T) {
  return {
    info: { id: `stream-${Math.random()}`, topic, timestamp: Date.now(), mimeType: 'text/plain' },
    readAll: vi.fn(async () => content),
    close: vi.fn(async () => {}),
  };
}

/** An `lk.agent.session` request asking the session to answer `text` (agents-js `runInput`). */
function runInputRequest(text: string): Uint8Array {
  return new pb.AgentSessionMessage({
    message: {
      case: 'request',
      value: new pb.SessionRequest({
        requestId: `req-${text}`,
        request: { case: 'runInput', value: new pb.SessionRequest_RunInput({ text }) },
      }),
    },
  }).toBinary();
}

describe('a session bound to the participant it was dispatched for', () => {
  let handle: DatabaseHandle;
  let alice: User;
  let bob: User;
  const sessions: RunningSession[] = [];
  const settings = loadSettings({
    // The sandbox (on by default) keeps its private folders in this file's temporary DATA_DIR.
    DATA_DIR: fileSandboxDataDir(),
    AGENT_GREETING: GREETING,
    AGENT_INSTRUCTIONS: 'Be brief.',
    // The servers' first connect ends the wait, not this deadline, even on a busy machine.
    AGENT_TOOLS_DEADLINE_MS: '60000',
  });

  beforeAll(async () => {
    handle = await openTestDatabase();
    [alice, bob] = [await createTestUser(handle), await createTestUser(handle)];
    await createServer(handle, everythingServer(alice.id));
  });

  afterEach(async () => {
    for (const running of sessions.splice(0)) {
      await running.session.close();
      await running.close();
    }
  });

  afterAll(async () => {
    await handle?.close();
  });

  /** Alice's session in a room where Alice (`user-<alice>`) and Bob (`user-<bob>`) are present. */
  async function startAliceSession() {
    const room = new Room();
    // The agent's own participant, as in a connected room.
    room.localParticipant = { identity: 'agent-job-42' } as LocalParticipant;
    for (const user of [alice, bob]) {
      const identity = `user-${user.id}`;
      room.remoteParticipants.set(identity, { identity } as RemoteParticipant);
    }
    const { ctx } = fakeJob(JSON.stringify({ userId: alice.id }));
    ctx.room = room;
    const model = new ScriptedLLM([
      { input: GREETING, content: 'Hello.' },
      { input: 'alice asks', toolCalls: [{ name: 'everything__echo', args: { message: 'A' } }] },
      { input: 'bob asks', toolCalls: [{ name: 'everything__echo', args: { message: 'B' } }] },
    ]);
    const running = await runSession(ctx, {
      settings,
      logger: silentLogger(),
      openDatabase: async () => ({ ...handle, close: async () => {} }),
      createModel: () => model,
    });
    sessions.push(running);
    const handlers = room as unknown as RoomHandlers;
    const from = (user: User) => ({ identity: `user-${user.id}` });
    return { running, model, room, handlers, from };
  }

  /** The `echo` outputs in the session's history. */
  function echoOutputs(running: RunningSession): string[] {
    return running.session.history.items.flatMap((item) =>
      item.type === 'function_call_output' ? [item.output] : [],
    );
  }

  function userMessages(running: RunningSession): string[] {
    return running.session.history.items.flatMap((item) =>
      item.type === 'message' && item.role === 'user' ? [item.textContent ?? ''] : [],
    );
  }

  it("is bound to the dispatched user's identity", async () => {
    const { running } = await startAliceSession();

    expect(running.participantIdentity).toBe(`user-${alice.id}`);
  });

  it('links the bound participant for audio, even when another participant joins first', async () => {
    const { running, room } = await startAliceSession();
    const linked = vi.spyOn(running.session, '_onRoomIOParticipantLinked');
    const joining = (user: User) =>
      ({
        identity: `user-${user.id}`,
        attributes: {},
        info: { kind: ParticipantKind.STANDARD },
      }) as unknown as RemoteParticipant;

    room.emit(RoomEvent.ParticipantConnected, joining(bob));
    room.emit(RoomEvent.ParticipantConnected, joining(alice));

    expect(linked).toHaveBeenCalledOnce();
    expect(linked.mock.calls[0]![0].identity).toBe(`user-${alice.id}`);
  });

  it("answers the bound participant's chat text and never reads another participant's", async () => {
    const { running, model, handlers, from } = await startAliceSession();
    const chat = handlers.textStreamHandlers.get('lk.chat');
    expect(chat).toBeDefined();
    const bobText = incomingStream('lk.chat', 'bob asks');
    const aliceText = incomingStream('lk.chat', 'alice asks');

    chat!(bobText as never, from(bob));
    chat!(aliceText as never, from(alice));

    await vi.waitFor(() => expect(echoOutputs(running)).toEqual(['"Echo: A"']), {
      timeout: 20_000,
    });
    expect(aliceText.readAll).toHaveBeenCalledOnce();
    expect(bobText.readAll).not.toHaveBeenCalled();
    expect(userMessages(running)).toEqual(['alice asks']);
    expect(model.inputs.some((input) => input.includes('bob asks'))).toBe(false);
  });

  it("runs the bound participant's session requests and drops another participant's", async () => {
    const { running, model, handlers, from } = await startAliceSession();
    const host = handlers.byteStreamHandlers.get('lk.agent.session');
    expect(host).toBeDefined();
    const bobRequest = incomingStream('lk.agent.session', [runInputRequest('bob asks')]);
    const aliceRequest = incomingStream('lk.agent.session', [runInputRequest('alice asks')]);

    host!(bobRequest as never, from(bob));
    host!(aliceRequest as never, from(alice));

    await vi.waitFor(() => expect(echoOutputs(running)).toEqual(['"Echo: A"']), {
      timeout: 20_000,
    });
    expect(aliceRequest.readAll).toHaveBeenCalledOnce();
    expect(bobRequest.readAll).not.toHaveBeenCalled();
    expect(userMessages(running)).toEqual(['alice asks']);
    expect(model.inputs.some((input) => input.includes('bob asks'))).toBe(false);
  });
});

describe('admitOnlyParticipant', () => {
  it('passes streams from the identity to every handler registered after it, on any topic', () => {
    const room = new Room();
    const refused: Array<{ identity: string; topic: string }> = [];
    admitOnlyParticipant(room, 'user-1', (r) => refused.push(r));
    const text = vi.fn();
    const bytes = vi.fn();
    room.registerTextStreamHandler('any.topic', text);
    room.registerByteStreamHandler('other.topic', bytes);
    const handlers = room as unknown as RoomHandlers;
    const own = incomingStream('any.topic', 'hi');
    const foreignText = incomingStream('any.topic', 'hi');
    const foreignBytes = incomingStream('other.topic', [new Uint8Array([1])]);

    handlers.textStreamHandlers.get('any.topic')!(own as never, { identity: 'user-1' });
    handlers.textStreamHandlers.get('any.topic')!(foreignText as never, { identity: 'user-2' });
    handlers.byteStreamHandlers.get('other.topic')!(foreignBytes as never, { identity: 'user-10' });

    expect(text).toHaveBeenCalledOnce();
    expect(text).toHaveBeenCalledWith(own, { identity: 'user-1' });
    expect(bytes).not.toHaveBeenCalled();
    expect(foreignText.close).toHaveBeenCalledOnce();
    expect(foreignBytes.close).toHaveBeenCalledOnce();
    expect(own.close).not.toHaveBeenCalled();
    expect(refused).toEqual([
      { identity: 'user-2', topic: 'any.topic' },
      { identity: 'user-10', topic: 'other.topic' },
    ]);
  });
});
