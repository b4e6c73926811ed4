/**
 * The Voice page's timeline (`ui/voice/timeline.ts`): speech from both sides and tool calls,
 * merged in the order they happened.
 */
import { describe, expect, it } from 'vitest';
import {
  buildTimeline,
  type TranscriptionStream,
} from '../../../../server/dashboard/ui/voice/timeline.js';
import type { RoomToolCall } from '../../../../server/dashboard/ui/types.js';

const T0 = Date.parse('2026-11-30T10:00:00Z');

const said = (id: string, identity: string, atMs: number, text: string): TranscriptionStream => ({
  text,
  participantInfo: { identity },
  streamInfo: { id, timestamp: T0 + atMs },
});

const call = (id: number, atMs: number, ok = true): RoomToolCall => ({
  id,
  serverId: 3,
  serverName: 'Weather',
  toolName: 'get_forecast',
  roomName: 'room-1',
  sessionId: 'session-1',
  startedAt: new Date(T0 + atMs).toISOString(),
  durationMs: 120,
  ok,
  error: ok ? null : 'the tool failed',
});

describe('buildTimeline', () => {
  it('merges speech and tool calls by time, naming the local participant "you"', () => {
    const timeline = buildTimeline(
      [
        said('agent-2', 'agent-AJ_1', 3000, 'It will rain tomorrow.'),
        said('user-1', 'user-7', 0, 'What is the weather tomorrow?'),
      ],
      'user-7',
      [call(41, 1500)],
    );

    expect(timeline.map((entry) => [entry.kind, entry.key])).toEqual([
      ['speech', 's-user-1'],
      ['call', 'c-41'],
      ['speech', 's-agent-2'],
    ]);
    expect(timeline[0]).toMatchObject({ who: 'you', text: 'What is the weather tomorrow?' });
    expect(timeline[2]).toMatchObject({ who: 'agent', text: 'It will rain tomorrow.' });
    expect(timeline[1]).toMatchObject({ at: T0 + 1500, call: { toolName: 'get_forecast' } });
  });

  it('leaves out streams with no text yet and keeps calls of the same millisecond in order', () => {
    const timeline = buildTimeline([said('empty', 'agent-AJ_1', 0, '  ')], 'user-7', [
      call(1, 500),
      call(2, 500, false),
    ]);

    expect(timeline.map((entry) => entry.key)).toEqual(['c-1', 'c-2']);
  });
});
