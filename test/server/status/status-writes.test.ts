/**
 * The monitor's status writes are batched per tick: many changes, one write; nothing changed,
 * no write; a failed batch is logged and written again.
 */
import { describe, expect, it, vi } from 'vitest';
import type { Database } from '../../../shared/db/open.js';
import type { ServerStatusPatch } from '../../../shared/db/servers.js';
import { createLogger } from '../../../shared/logger.js';
import { StatusWriter } from '../../../server/status/status-writes.js';

type Batch = ReadonlyMap<number, ServerStatusPatch>;

/** A writer over a recording batch write; `next()` resolves with the next batch written. */
function recordingWriter(options: { failures?: number; tickMs?: number } = {}) {
  const batches: Batch[] = [];
  const waiters: ((batch: Batch) => void)[] = [];
  let failures = options.failures ?? 0;
  const errors: unknown[] = [];
  const logger = createLogger({ level: 'silent' });
  vi.spyOn(logger, 'error').mockImplementation((...args: unknown[]) => {
    errors.push(args[0]);
  });
  const writer = new StatusWriter({
    db: {} as Database,
    logger,
    tickMs: options.tickMs ?? 20,
    write: async (_db, batch) => {
      if (failures > 0) {
        failures -= 1;
        throw new Error('database unavailable');
      }
      batches.push(new Map(batch));
      waiters.shift()?.(batch);
    },
  });
  const next = () => new Promise<Batch>((resolve) => waiters.push(resolve));
  return { writer, batches, errors, next };
}

describe('StatusWriter', () => {
  it('writes the changes of many servers in a tick as one batch', async () => {
    const { writer, batches, next } = recordingWriter();
    const written = next();
    for (let id = 1; id <= 50; id++) writer.queue(id, { connectionStatus: 'connected' });
    writer.queue(7, { lastConnected: new Date(0) });
    const batch = await written;
    expect(batches).toHaveLength(1);
    expect(batch.size).toBe(50);
    expect(batch.get(7)).toEqual({ connectionStatus: 'connected', lastConnected: new Date(0) });
    expect(writer.pending).toBe(0);
  });

  it('writes nothing when nothing changed', async () => {
    const { writer, batches } = recordingWriter();
    writer.queue(1, {});
    expect(writer.pending).toBe(0);
    await writer.flush();
    expect(batches).toEqual([]);
  });

  it('keeps a status that a later one in the same tick would hide, a tick earlier', async () => {
    const { writer, batches, next } = recordingWriter({ tickMs: 3_600_000 });
    writer.queue(1, { connectionStatus: 'error', lastError: 'gone' });
    writer.queue(2, { lastConnected: new Date(0) });
    writer.queue(1, { connectionStatus: 'connected', lastError: null });
    writer.queue(1, { metadata: { toolCount: 1 } });
    const both = Promise.all([next(), next()]);
    await writer.flush();
    await both;
    expect(batches).toEqual([
      new Map<number, ServerStatusPatch>([
        [1, { connectionStatus: 'error', lastError: 'gone' }],
        [2, { lastConnected: new Date(0) }],
      ]),
      new Map([
        [1, { connectionStatus: 'connected', lastError: null, metadata: { toolCount: 1 } }],
      ]),
    ]);
  });

  it('logs a failed batch and writes it again, with what was queued meanwhile', async () => {
    const { writer, batches, errors, next } = recordingWriter({ failures: 1, tickMs: 10 });
    writer.queue(1, { connectionStatus: 'error' });
    await writer.flush();
    expect(batches).toEqual([]);
    expect(errors).toHaveLength(1);
    expect(writer.pending).toBe(1);

    const retried = next();
    writer.queue(2, { connectionStatus: 'connected' });
    expect(await retried).toEqual(
      new Map([
        [1, { connectionStatus: 'error' }],
        [2, { connectionStatus: 'connected' }],
      ]),
    );
    expect(writer.pending).toBe(0);
  });

  it('drops what a server no longer watched had queued', async () => {
    const { writer, batches } = recordingWriter({ tickMs: 3_600_000 });
    writer.queue(1, { connectionStatus: 'error' });
    writer.queue(2, { connectionStatus: 'connected' });
    writer.discard(1);
    await writer.flush();
    expect(batches).toEqual([new Map([[2, { connectionStatus: 'connected' }]])]);
  });
});
