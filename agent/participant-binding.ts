/**
 * A session listens only to the participant it was dispatched for (DESIGN §9.5): the user whose
 * tools it holds, as LiveKit identity `user-<id>`. Two layers, because agents-js binds only part
 * of a room to that participant:
 *
 * - `RoomInputOptions.participantIdentity` ({@link boundInputOptions}) makes agents-js link that
 *   participant only: its microphone is the audio input, and chat text (`lk.chat`) from anyone
 *   else is dropped (agents-js `RoomIO.onUserTextInput`).
 * - {@link admitOnlyParticipant} drops every incoming data stream from anyone else before any
 *   handler sees it. agents-js's session host (`RoomSessionTransport`, topic
 *   `lk.agent.session`) accepts requests from any participant while none is linked (before the
 *   bound participant joins, or after they drop), and its `runInput` request runs the model and
 *   its tools and `getChatHistory` reads the conversation.
 */
import type { voice } from '@livekit/agents';
import type { ByteStreamReader, Room, TextStreamReader } from '@livekit/rtc-node';

/** The room methods {@link admitOnlyParticipant} guards; a `Room` of `@livekit/rtc-node` fits. */
export type StreamHandlerRegistry = Pick<
  Room,
  'registerTextStreamHandler' | 'registerByteStreamHandler'
>;

/**
 * The room input options that bind a session to one participant: link only `identity` (its
 * audio, its `lk.chat` text, its disconnect closing the session), never the first participant
 * who happens to join (agents-js `RoomInputOptions.participantIdentity`).
 *
 * @param identity the LiveKit identity of the participant the job was dispatched for.
 */
export function boundInputOptions(identity: string): Partial<voice.RoomInputOptions> {
  return { participantIdentity: identity };
}

/**
 * Makes every data-stream handler registered on `room` from now on (text and byte streams, any
 * topic) receive only streams sent by `identity`; a stream from anyone else is closed unread,
 * which releases its buffers (`@livekit/rtc-node` `BaseStreamReader.close`). Call it before
 * `AgentSession.start`, which registers the session's handlers.
 *
 * @param room the job's room, connected or not.
 * @param identity the LiveKit identity of the participant the job was dispatched for.
 * @param onRefused told of each refused stream (sender and topic), e.g. to log it.
 */
export function admitOnlyParticipant(
  room: StreamHandlerRegistry,
  identity: string,
  onRefused: (refused: { identity: string; topic: string }) => void = () => {},
): void {
  const refuse = (reader: TextStreamReader | ByteStreamReader, from: { identity: string }) => {
    onRefused({ identity: from.identity, topic: reader.info.topic });
    void reader.close().catch(() => {});
  };
  const registerText = room.registerTextStreamHandler.bind(room);
  const registerByte = room.registerByteStreamHandler.bind(room);
  room.registerTextStreamHandler = (topic, handler) =>
    registerText(topic, (reader, from) =>
      from.identity === identity ? handler(reader, from) : refuse(reader, from),
    );
  room.registerByteStreamHandler = (topic, handler) =>
    registerByte(topic, (reader, from) =>
      from.identity === identity ? handler(reader, from) : refuse(reader, from),
    );
}
