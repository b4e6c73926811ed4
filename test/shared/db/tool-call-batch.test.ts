import { eq } from 'drizzle-orm';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { ToolCallBatcher, type ToolCallWriter } from '../../../shared/db/tool-call-batch.js';
import type { DatabaseHandle } from '../../../shared/db/open.js';
import { toolCalls, type User } from '../../../shared/db/schema.js';
import { recordToolCalls, type ToolCallRecord } from '../../../shared/db/tool-calls.js';
import { createTestUser, openTestDatabase } from '../../helpers/database.js';
import { silentLogger } from '../../agent/fixtures.js';

/** Generous bound for rows to land on a busy machine; the batcher itself waits ≤ 100 ms. */
const LANDS = { timeout: 10_000, interval: 10 };

describe('ToolCallBatcher', () => {
  let handle: DatabaseHandle;
  let user: User;

  beforeAll(async () => {
    handle = await openTestDatabase();
  });

  afterAll(async () => {
    await handle.close();
  });

  beforeEach(async () => {
    user = await createTestUser(handle);
  });

  function call(index: number): ToolCallRecord {
    return {
      userId: user.id,
      serverId: null,
      toolName: `tool-${index}`,
      roomName: 'room',
      sessionId: 'job',
      startedAt: new Date(),
      durationMs: index + 0.4,
      ok: index % 2 === 0,
      error: index % 2 === 0 ? null : 'failed',
    };
  }

  async function storedRows(): Promise<number> {
    const rows = await handle.db.select().from(toolCalls).where(eq(toolCalls.userId, user.id));
    return rows.length;
  }

  /** Writes to the test database, counting the INSERTs. */
  function databaseWriter() {
    return vi.fn<ToolCallWriter>((records) => recordToolCalls(handle.db, records));
  }

  function deferred() {
    let release: (error?: Error) => void = () => {};
    const promise = new Promise<void>((resolve, reject) => {
      release = (error) => (error ? reject(error) : resolve());
    });
    return { promise, release };
  }

  it('writes 250 calls with at most three INSERTs', async () => {
    const write = databaseWriter();
    const batcher = new ToolCallBatcher({ write, logger: silentLogger() });

    for (let index = 0; index < 250; index += 1) batcher.add(call(index));

    await vi.waitFor(async () => expect(await storedRows()).toBe(250), LANDS);
    expect(write.mock.calls.length).toBeLessThanOrEqual(3);
    expect(write.mock.calls.flatMap(([records]) => records)).toHaveLength(250);
  });

  it('writes a few calls on its own, without a flush, within the interval', async () => {
    const write = databaseWriter();
    const batcher = new ToolCallBatcher({ write, logger: silentLogger() });

    batcher.add(call(1));
    batcher.add(call(2));
    batcher.add(call(3));

    await vi.waitFor(async () => expect(await storedRows()).toBe(3), LANDS);
    expect(write).toHaveBeenCalledOnce();
  });

  it('stores each call as recordToolCall would, duration rounded', async () => {
    const batcher = new ToolCallBatcher({ write: databaseWriter(), logger: silentLogger() });

    batcher.add({ ...call(1), error: 'bad\u0000byte' });
    await batcher.flush();

    const [row] = await handle.db.select().from(toolCalls).where(eq(toolCalls.userId, user.id));
    expect(row).toMatchObject({
      toolName: 'tool-1',
      roomName: 'room',
      sessionId: 'job',
      durationMs: 1,
      ok: false,
      error: 'bad\uFFFDbyte',
    });
  });

  it('writes what is left at once on flush', async () => {
    const write = databaseWriter();
    // An interval that never comes during the test: only flush can write.
    const batcher = new ToolCallBatcher({ write, logger: silentLogger(), intervalMs: 3_600_000 });

    for (let index = 0; index < 5; index += 1) batcher.add(call(index));
    expect(await storedRows()).toBe(0);
    await batcher.flush();

    expect(await storedRows()).toBe(5);
    expect(batcher.buffered).toBe(0);
  });

  it('retries a batch whose write fails once, and its rows land', async () => {
    const logger = silentLogger();
    const warn = vi.spyOn(logger, 'warn');
    const write = vi
      .fn<ToolCallWriter>((records) => recordToolCalls(handle.db, records))
      .mockRejectedValueOnce(new Error('connection reset'));
    const batcher = new ToolCallBatcher({ write, logger, retryDelayMs: 10 });

    batcher.add(call(1));
    batcher.add(call(2));
    await batcher.flush();

    expect(write).toHaveBeenCalledTimes(2);
    expect(await storedRows()).toBe(2);
    expect(warn).not.toHaveBeenCalled();
  });

  it('logs one warning with the row count when a batch cannot be written, never throwing', async () => {
    const logger = silentLogger();
    const warn = vi.spyOn(logger, 'warn');
    const write = vi.fn<ToolCallWriter>(async () => {
      throw new Error('database is down');
    });
    const batcher = new ToolCallBatcher({ write, logger, retryDelayMs: 10 });

    for (let index = 0; index < 4; index += 1) expect(() => batcher.add(call(index))).not.toThrow();
    await expect(batcher.flush()).resolves.toBeUndefined();

    expect(write).toHaveBeenCalledTimes(2);
    expect(warn).toHaveBeenCalledOnce();
    expect(warn).toHaveBeenCalledWith(
      { err: 'database is down', rows: 4, dropped: 0 },
      'could not record tool calls',
    );
  });

  it('returns from add at once and never writes on the caller’s stack', async () => {
    const hanging = deferred();
    const write = vi.fn<ToolCallWriter>(() => hanging.promise);
    const batcher = new ToolCallBatcher({ write, logger: silentLogger() });

    for (let index = 0; index < 150; index += 1) expect(batcher.add(call(index))).toBeUndefined();
    expect(write).not.toHaveBeenCalled();

    await vi.waitFor(() => expect(write).toHaveBeenCalledOnce(), LANDS);
    // The database hangs: further calls still return at once and wait in the buffer.
    batcher.add(call(150));
    expect(batcher.buffered).toBe(51);
    hanging.release();
    await batcher.flush();
    expect(write).toHaveBeenCalledTimes(2);
  });

  describe('rows that arrive during a write', () => {
    beforeEach(() => {
      vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance'] });
    });

    afterEach(() => {
      vi.useRealTimers();
    });

    it('wait for their interval, then go in one batch, not one statement each', async () => {
      const hanging = deferred();
      const write = vi
        .fn<ToolCallWriter>(async () => {})
        .mockImplementationOnce(() => hanging.promise);
      const batcher = new ToolCallBatcher({ write, logger: silentLogger(), intervalMs: 100 });

      for (let index = 0; index < 100; index += 1) batcher.add(call(index));
      await vi.advanceTimersByTimeAsync(0);
      expect(write).toHaveBeenCalledOnce();
      for (let index = 100; index < 103; index += 1) batcher.add(call(index));
      await vi.advanceTimersByTimeAsync(10);
      hanging.release();
      await vi.advanceTimersByTimeAsync(0);
      // The write is over; its three late rows were not written on their own.
      expect(write).toHaveBeenCalledOnce();
      expect(batcher.buffered).toBe(3);

      batcher.add(call(103));
      await vi.advanceTimersByTimeAsync(89);
      expect(write).toHaveBeenCalledOnce();
      // 100 ms after the first of them arrived.
      await vi.advanceTimersByTimeAsync(1);
      expect(write).toHaveBeenCalledTimes(2);
      expect(write.mock.calls[1]![0].map((record) => record.toolName)).toEqual([
        'tool-100',
        'tool-101',
        'tool-102',
        'tool-103',
      ]);
    });

    it('are written as soon as the write ends when they have waited their interval', async () => {
      const hanging = deferred();
      const write = vi
        .fn<ToolCallWriter>(async () => {})
        .mockImplementationOnce(() => hanging.promise);
      const batcher = new ToolCallBatcher({ write, logger: silentLogger(), intervalMs: 100 });

      for (let index = 0; index < 100; index += 1) batcher.add(call(index));
      await vi.advanceTimersByTimeAsync(0);
      batcher.add(call(100));
      await vi.advanceTimersByTimeAsync(150);
      expect(write).toHaveBeenCalledOnce();
      hanging.release();
      await vi.advanceTimersByTimeAsync(0);

      expect(write).toHaveBeenCalledTimes(2);
      expect(write.mock.calls[1]![0]).toHaveLength(1);
      expect(batcher.buffered).toBe(0);
    });
  });

  it('caps the buffer while the database is down and counts the dropped rows', async () => {
    const logger = silentLogger();
    const warn = vi.spyOn(logger, 'warn');
    const first = deferred();
    const write = vi
      .fn<ToolCallWriter>(async () => {
        throw new Error('database is down');
      })
      .mockImplementationOnce(() => first.promise);
    const batcher = new ToolCallBatcher({
      write,
      logger,
      maxBatchRows: 5,
      maxBufferedRows: 10,
      retryDelayMs: 0,
    });

    for (let index = 0; index < 5; index += 1) batcher.add(call(index));
    await vi.waitFor(() => expect(write).toHaveBeenCalledOnce(), LANDS);
    for (let index = 5; index < 20; index += 1) batcher.add(call(index));
    expect(batcher.buffered).toBe(10);
    first.release(new Error('database is down'));
    await batcher.flush();

    expect(warn.mock.calls.map(([fields]) => fields)).toEqual([
      { err: 'database is down', rows: 5, dropped: 5 },
      { err: 'database is down', rows: 5, dropped: 0 },
      { err: 'database is down', rows: 5, dropped: 0 },
    ]);
  });
});
