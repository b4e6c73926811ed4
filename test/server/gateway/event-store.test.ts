/**
 * The gateway session's replay buffer (`BoundedEventStore`): replays a stream's events after a
 * `Last-Event-ID` in order, never past its limits, and never with a gap (an id whose followers
 * may be gone is refused).
 */
import { describe, expect, it } from 'vitest';
import type { JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js';
import { BoundedEventStore } from '../../../server/gateway/event-store.js';

/** A notification of about `size` bytes of JSON. */
function note(n: number, size = 0): JSONRPCMessage {
  return {
    jsonrpc: '2.0',
    method: 'notifications/message',
    params: { level: 'info', data: `${n}`.padEnd(size, '.') },
  };
}

const PRIMING = {} as JSONRPCMessage;

async function replay(store: BoundedEventStore, after: string) {
  const sent: { id: string; message: JSONRPCMessage }[] = [];
  const stream = await store.replayEventsAfter(after, {
    send: async (id, message) => void sent.push({ id, message }),
  });
  return { stream, sent };
}

describe('BoundedEventStore', () => {
  it("replays only the stream's events after the id, in order, without priming events", async () => {
    const store = new BoundedEventStore();
    const primed = await store.storeEvent('a', PRIMING);
    const a1 = await store.storeEvent('a', note(1));
    await store.storeEvent('b', note(2));
    const a3 = await store.storeEvent('a', note(3));
    const a4 = await store.storeEvent('a', note(4));

    const fromPriming = await replay(store, primed);
    expect(fromPriming.stream).toBe('a');
    expect(fromPriming.sent.map((event) => event.id)).toEqual([a1, a3, a4]);
    expect(fromPriming.sent[1]!.message).toEqual(note(3));
    expect((await replay(store, a3)).sent.map((event) => event.id)).toEqual([a4]);
    expect((await replay(store, a4)).sent).toEqual([]);
    expect(await store.getStreamIdForEventId(a1)).toBe('a');
  });

  it('gives ids no other store gives', async () => {
    const one = new BoundedEventStore();
    const two = new BoundedEventStore();
    const id = await one.storeEvent('a', note(1));
    expect(await two.storeEvent('a', note(1))).not.toBe(id);
    expect(await two.getStreamIdForEventId(id)).toBeUndefined();
  });

  it('keeps at most maxEvents, dropping the oldest, and refuses a replay from a dropped id', async () => {
    const store = new BoundedEventStore({ maxEvents: 3 });
    const ids: string[] = [];
    for (let n = 0; n < 10; n++) ids.push(await store.storeEvent('a', note(n)));
    expect(store.size.events).toBe(3);
    expect(await store.getStreamIdForEventId(ids[6]!)).toBeUndefined();
    await expect(replay(store, ids[6]!)).rejects.toThrow(/no longer kept/);
    expect((await replay(store, ids[7]!)).sent.map((event) => event.id)).toEqual(ids.slice(8));
  });

  it('keeps at most maxBytes of JSON, dropping the oldest', async () => {
    const store = new BoundedEventStore({ maxBytes: 1_000 });
    for (let n = 0; n < 50; n++) await store.storeEvent('a', note(n, 200));
    // Every message has the same size: as many as fit are kept, the newest.
    const one = Buffer.byteLength(JSON.stringify(note(49, 200)), 'utf8');
    expect(store.size).toEqual({
      events: Math.floor(1_000 / one),
      bytes: Math.floor(1_000 / one) * one,
    });
  });

  it('keeps nothing from before an event too large to keep, so no replay skips it', async () => {
    const store = new BoundedEventStore({ maxBytes: 1_000 });
    const before = await store.storeEvent('a', note(1));
    const huge = await store.storeEvent('a', note(2, 5_000));
    expect(store.size).toEqual({ events: 0, bytes: 0 });
    await expect(replay(store, before)).rejects.toThrow(/no longer kept/);
    await expect(replay(store, huge)).rejects.toThrow(/no longer kept/);
    const after = await store.storeEvent('a', note(3));
    const next = await store.storeEvent('a', note(4));
    expect((await replay(store, after)).sent.map((event) => event.id)).toEqual([next]);
  });

  it('also replays events stored while it runs, and fails when some were dropped meanwhile', async () => {
    const store = new BoundedEventStore({ maxEvents: 100, maxBytes: 1_000 });
    const first = await store.storeEvent('a', note(1));
    await store.storeEvent('a', note(2));
    let late: string | undefined;
    const sent: string[] = [];
    await store.replayEventsAfter(first, {
      send: async (id) => {
        sent.push(id);
        late ??= await store.storeEvent('a', note(3));
      },
    });
    expect(sent).toHaveLength(2);
    expect(sent[1]).toBe(late);

    // An event too large to keep arrives while the replay runs: the replay fails.
    const from = await store.storeEvent('a', note(4));
    await store.storeEvent('a', note(5));
    let stored = false;
    await expect(
      store.replayEventsAfter(from, {
        send: async () => {
          if (stored) return;
          stored = true;
          await store.storeEvent('a', note(6, 5_000));
        },
      }),
    ).rejects.toThrow(/dropped while they were replayed/);
  });

  it('refuses limits that are not positive integers', () => {
    expect(() => new BoundedEventStore({ maxEvents: 0 })).toThrow(RangeError);
    expect(() => new BoundedEventStore({ maxBytes: 1.5 })).toThrow(RangeError);
  });
});
