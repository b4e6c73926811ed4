/**
 * The replay buffer of one gateway session: the SDK's `EventStore` (what
 * `StreamableHTTPServerTransport` numbers its SSE events with and replays them from), kept in
 * memory and bounded, so a client whose SSE stream broke can reconnect with `Last-Event-ID` and
 * get what it missed (MCP 2025-11-25, Streamable HTTP, "Resumability and Redelivery"; SEP-1699
 * SSE polling), while no session holds more than {@link ReplayBufferLimits} however long it
 * lives. The SDK's own `InMemoryEventStore` is an example that keeps every event for good.
 *
 * What is kept is always the newest run of the session's events: the oldest go first when a
 * limit is passed, and an event too large to keep at all forgets every event before it too. So
 * a replay never skips an event: either every event after `Last-Event-ID` is still there and is
 * replayed, or that id is no longer known and the reconnect is refused (the SDK answers 400),
 * and the client learns it missed something instead of silently getting a gap.
 */
import { randomBytes } from 'node:crypto';
import type {
  EventId,
  EventStore,
  StreamId,
} from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import type { JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js';

/** How much one session's buffer holds at most. */
export interface ReplayBufferLimits {
  /** Most events kept; default {@link DEFAULT_REPLAY_EVENTS}. */
  maxEvents: number;
  /**
   * Most bytes kept, counted as the UTF-8 length of each message's JSON; default
   * {@link DEFAULT_REPLAY_BYTES}. A single larger message is sent but not kept.
   */
  maxBytes: number;
}

/** Default of {@link ReplayBufferLimits.maxEvents}. */
export const DEFAULT_REPLAY_EVENTS = 500;
/** Default of {@link ReplayBufferLimits.maxBytes}: 1 MiB. */
export const DEFAULT_REPLAY_BYTES = 1024 * 1024;

interface StoredEvent {
  /** The event's place in the session: 1, 2, 3… (an event not kept still takes its number). */
  seq: number;
  streamId: StreamId;
  /** `undefined` for a priming event (the SDK stores `{}`: an id to resume from, no message). */
  message: JSONRPCMessage | undefined;
  bytes: number;
}

/** A bounded, in-memory {@link EventStore} for one session (make one per transport). */
export class BoundedEventStore implements EventStore {
  readonly #limits: ReplayBufferLimits;
  /** Event id → event, in the order stored (oldest first). */
  readonly #events = new Map<EventId, StoredEvent>();
  /** Makes this store's ids unlike any other session's. */
  readonly #prefix = randomBytes(6).toString('hex');
  #next = 0;
  #bytes = 0;

  /**
   * @param limits what the buffer holds at most; defaults {@link DEFAULT_REPLAY_EVENTS} events
   *   and {@link DEFAULT_REPLAY_BYTES} bytes.
   * @throws RangeError when a limit is not a positive integer.
   */
  constructor(limits: Partial<ReplayBufferLimits> = {}) {
    this.#limits = {
      maxEvents: limits.maxEvents ?? DEFAULT_REPLAY_EVENTS,
      maxBytes: limits.maxBytes ?? DEFAULT_REPLAY_BYTES,
    };
    for (const [name, value] of Object.entries(this.#limits)) {
      if (!Number.isSafeInteger(value) || value < 1) {
        throw new RangeError(`${name} must be a positive integer, got ${value}`);
      }
    }
  }

  /** Events and bytes held now (for tests and metrics). */
  get size(): { events: number; bytes: number } {
    return { events: this.#events.size, bytes: this.#bytes };
  }

  /**
   * Numbers an event of `streamId` and keeps it, dropping the oldest events past the limits.
   * An empty message (`{}`, the SDK's priming event) is kept as a place to resume from.
   *
   * @returns the event's id, unique in this session (also when the event could not be kept).
   */
  async storeEvent(streamId: StreamId, message: JSONRPCMessage): Promise<EventId> {
    const seq = ++this.#next;
    const id = `${this.#prefix}-${seq}`;
    const priming = Object.keys(message).length === 0;
    const bytes = priming ? 0 : Buffer.byteLength(JSON.stringify(message), 'utf8');
    if (bytes > this.#limits.maxBytes) {
      // Not kept; nothing before it may be replayed either, or a replay would skip it.
      this.#events.clear();
      this.#bytes = 0;
      return id;
    }
    this.#events.set(id, { seq, streamId, message: priming ? undefined : message, bytes });
    this.#bytes += bytes;
    while (this.#events.size > this.#limits.maxEvents || this.#bytes > this.#limits.maxBytes) {
      const [oldest, event] = this.#events.entries().next().value!;
      this.#events.delete(oldest);
      this.#bytes -= event.bytes;
    }
    return id;
  }

  /** The stream of a kept event; `undefined` when the id is unknown or no longer kept. */
  async getStreamIdForEventId(eventId: EventId): Promise<StreamId | undefined> {
    return this.#events.get(eventId)?.streamId;
  }

  /**
   * Sends, in order, every event of `lastEventId`'s stream stored after it (priming events left
   * out), including those stored while the replay runs (the SDK writes an event stored before
   * the resumed stream is registered only through the replay).
   *
   * @returns the stream's id.
   * @throws Error when `lastEventId` is unknown or no longer kept, or when events after it were
   *   dropped while the replay ran (the SDK answers the reconnect with an error: the events
   *   after it may be gone).
   */
  async replayEventsAfter(
    lastEventId: EventId,
    { send }: { send: (eventId: EventId, message: JSONRPCMessage) => Promise<void> },
  ): Promise<StreamId> {
    const last = this.#events.get(lastEventId);
    if (!last) throw new Error(`Event ${lastEventId} is unknown or no longer kept`);
    let expected = last.seq + 1;
    // A Map's iterator is live: it also visits the events stored while `send` awaits.
    for (const [id, event] of this.#events) {
      if (event.seq <= last.seq) continue;
      if (event.seq !== expected) {
        throw new Error(`Events after ${lastEventId} were dropped while they were replayed`);
      }
      expected++;
      if (event.streamId === last.streamId && event.message !== undefined) {
        await send(id, event.message);
      }
    }
    // The newest events may have been dropped too (one too large to keep clears the buffer).
    if (expected !== this.#next + 1) {
      throw new Error(`Events after ${lastEventId} were dropped while they were replayed`);
    }
    return last.streamId;
  }
}
