/**
 * The tool calls of a voice session as they happen, read from the API's calls log
 * (`GET /api/livekit/rooms/:room/calls?after=<last id>`).
 *
 * Why polling the log rather than a data message from the agent: the log is the one record of
 * every call the agent makes (the worker already writes it, with errors scrubbed of secrets,
 * DESIGN §9.2), the API scopes it to the room's owner (a foreign room is a 404, §9.5–9.6), and it
 * works with any agent version and survives a reconnect without losing calls. A data message
 * would be a second path to keep in step with the log, readable by anyone in the room. The cost is
 * up to {@link ROOM_CALLS_POLL_MS} of delay and one small indexed query per poll while connected.
 */
import { useEffect, useRef, useState } from 'react';
import { api, messageOf } from '../api.js';
import type { RoomToolCall } from '../types.js';

/** How often the calls log is read while connected, in milliseconds. */
export const ROOM_CALLS_POLL_MS = 1500;

/** What {@link useRoomCalls} returns. */
export interface RoomCalls {
  /** The calls seen so far, oldest first. */
  calls: RoomToolCall[];
  /** Why the last read failed, or null when it worked. */
  error: string | null;
}

/**
 * Polls the tool calls of `room` every {@link ROOM_CALLS_POLL_MS} while `active`, keeping the
 * calls already read (a new room starts empty).
 *
 * @param room the LiveKit room name.
 * @param userId the user an admin acts for (`?userId=`), or null for the caller.
 * @param active whether to poll now (while the page is connected to the room).
 */
export function useRoomCalls(room: string, userId: number | null, active: boolean): RoomCalls {
  const [calls, setCalls] = useState<RoomToolCall[]>([]);
  const [error, setError] = useState<string | null>(null);
  const lastId = useRef(0);

  useEffect(() => {
    lastId.current = 0;
    setCalls([]);
    setError(null);
  }, [room, userId]);

  useEffect(() => {
    if (!active) return;
    let stopped = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const read = async () => {
      const query = new URLSearchParams({ after: String(lastId.current) });
      if (userId !== null) query.set('userId', String(userId));
      try {
        const fresh = await api<RoomToolCall[]>(
          'GET',
          `/api/livekit/rooms/${encodeURIComponent(room)}/calls?${query}`,
        );
        if (stopped) return;
        setError(null);
        const last = fresh[fresh.length - 1];
        if (last) {
          lastId.current = last.id;
          setCalls((now) => [...now, ...fresh]);
        }
      } catch (failure) {
        if (!stopped) setError(messageOf(failure));
      }
      if (!stopped) timer = setTimeout(() => void read(), ROOM_CALLS_POLL_MS);
    };
    void read();
    return () => {
      stopped = true;
      clearTimeout(timer);
    };
  }, [room, userId, active]);

  return { calls, error };
}
