import { describe, expect, it, vi } from 'vitest';
import {
  ToolCallLog,
  type ToolCallRecorder,
  type ToolCallSink,
} from '../../agent/tool-call-log.js';
import type { ToolCallRecord } from '../../shared/db/tool-calls.js';
import { createLogger } from '../../shared/logger.js';
import { silentLogger } from './fixtures.js';

const record: ToolCallRecord = {
  userId: 1,
  serverId: 2,
  toolName: 'echo',
  startedAt: new Date(0),
  durationMs: 12.4,
  ok: true,
  error: null,
};

describe('ToolCallLog', () => {
  it('returns at once and lets flush wait for the write', async () => {
    let finish: () => void = () => {};
    const recorder = vi.fn<ToolCallRecorder>(
      () =>
        new Promise<void>((resolve) => {
          finish = resolve;
        }),
    );
    const log = new ToolCallLog(recorder, silentLogger());

    log.record(record);
    let flushed = false;
    const flushing = log.flush().then(() => (flushed = true));
    await vi.waitFor(() => expect(recorder).toHaveBeenCalledWith(record));
    expect(flushed).toBe(false);
    finish();
    await flushing;
    expect(flushed).toBe(true);
  });

  it('logs a failed write (thrown or rejected) and never rethrows it', async () => {
    const logger = silentLogger();
    const warn = vi.spyOn(logger, 'warn');
    const log = new ToolCallLog(() => {
      throw new Error('database is down');
    }, logger);

    expect(() => log.record(record)).not.toThrow();
    await expect(log.flush()).resolves.toBeUndefined();
    expect(warn).toHaveBeenCalledWith(
      expect.objectContaining({ tool: 'echo' }),
      'could not record tool call',
    );
  });

  it('hands the row to a sink and flushes the sink on flush', async () => {
    const sink: ToolCallSink = { add: vi.fn(), flush: vi.fn(async () => {}) };
    const log = new ToolCallLog(sink, silentLogger());

    log.record(record);
    await log.flush();

    expect(sink.add).toHaveBeenCalledWith(record);
    expect(sink.flush).toHaveBeenCalledOnce();
  });

  it('writes only a debug log line without a recorder', async () => {
    const lines: string[] = [];
    const logger = createLogger({
      level: 'debug',
      pretty: false,
      destination: { write: (line: string) => void lines.push(line) },
    });
    const log = new ToolCallLog(undefined, logger);

    log.record(record);
    await log.flush();

    expect(lines.map((line) => JSON.parse(line) as Record<string, unknown>)).toEqual([
      expect.objectContaining({
        level: 20,
        msg: 'mcp tool called',
        tool: 'echo',
        durationMs: 12,
        ok: true,
      }),
    ]);
  });

  it('does not make the debug line at all at info', () => {
    const logger = createLogger({ level: 'info', pretty: false, destination: { write: () => {} } });
    const debug = vi.spyOn(logger, 'debug');
    const sink: ToolCallSink = { add: vi.fn(), flush: vi.fn(async () => {}) };

    new ToolCallLog(sink, logger).record(record);

    expect(debug).not.toHaveBeenCalled();
    expect(sink.add).toHaveBeenCalledWith(record);
  });
});
