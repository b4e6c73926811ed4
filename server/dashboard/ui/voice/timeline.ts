/**
 * The session's timeline as data: the transcription streams of the room (what the user and the
 * agent said) and the tool calls, merged in the order they happened. No DOM or React here, so
 * tests run it directly.
 */
import type { RoomToolCall } from '../types.js';

/**
 * One transcription stream as components-react's `useTranscriptions()` returns it (its
 * `TextStreamData`, reduced to what the timeline reads): one segment, its text growing as words
 * arrive.
 */
export interface TranscriptionStream {
  text: string;
  participantInfo: { identity: string };
  streamInfo: { id: string; timestamp: number };
}

/** One line of the timeline. */
export type TimelineEntry =
  | { kind: 'speech'; key: string; at: number; who: 'you' | 'agent'; text: string }
  | { kind: 'call'; key: string; at: number; call: RoomToolCall };

/**
 * The timeline, oldest first: speech by when its stream opened, a tool call by when it started
 * (`startedAt`, the worker's clock). Streams with no text yet are left out; speech from
 * `localIdentity` is "you", from anyone else (the agent) "agent". The sort is stable, so entries
 * at the same millisecond keep their order, speech before calls.
 *
 * @param transcriptions the room's transcription streams.
 * @param localIdentity the local participant's identity.
 * @param calls the tool calls seen so far.
 */
export function buildTimeline(
  transcriptions: readonly TranscriptionStream[],
  localIdentity: string,
  calls: readonly RoomToolCall[],
): TimelineEntry[] {
  return [
    ...transcriptions
      .filter((item) => item.text.trim())
      .map((item): TimelineEntry => ({
        kind: 'speech',
        key: `s-${item.streamInfo.id}`,
        at: item.streamInfo.timestamp,
        who: item.participantInfo.identity === localIdentity ? 'you' : 'agent',
        text: item.text,
      })),
    ...calls.map((call): TimelineEntry => ({
      kind: 'call',
      key: `c-${call.id}`,
      at: Date.parse(call.startedAt),
      call,
    })),
  ].sort((a, b) => a.at - b.at);
}
