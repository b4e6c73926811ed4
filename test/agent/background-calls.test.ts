import type { voice } from '@livekit/agents';
import { describe, expect, it, vi } from 'vitest';
import {
  BackgroundCalls,
  DEFAULT_PROGRESS_INTERVAL_MS,
  LONG_RUNNING_TIMEOUT_MS,
  type BackgroundCallExtra,
} from '../../agent/background-calls.js';
import { silentLogger } from './fixtures.js';

/** A `RunContext` with only `update`, which the background calls use. */
function fakeContext() {
  const update = vi.fn(async (_message: string) => {});
  return { ctx: { update } as unknown as voice.RunContext, update };
}

function calls(now: () => number = () => 0, progressIntervalMs?: number) {
  return new BackgroundCalls({
    id: 'mcp-server-1-background',
    serverName: 'Notes',
    progressIntervalMs,
    now,
    logger: silentLogger(),
  });
}

describe('BackgroundCalls', () => {
  it('says the call started with its call id, then returns its result', async () => {
    const { ctx, update } = fakeContext();
    const call = vi.fn(async (_extra?: BackgroundCallExtra) => 'exported');

    const result = await calls().run({
      toolName: 'export',
      options: { ctx, abortSignal: new AbortController().signal, toolCallId: 'call-7' },
      timeoutMs: 30_000,
      call,
    });

    expect(result).toBe('exported');
    expect(update).toHaveBeenCalledOnce();
    expect(update.mock.calls[0]![0]).toMatch(
      /^export on Notes has started and runs in the background \(call_id call-7\)\./,
    );
    expect(call).toHaveBeenCalledWith({
      onProgress: expect.any(Function),
      timeoutMs: LONG_RUNNING_TIMEOUT_MS,
    });
  });

  it("keeps a server's timeout longer than the long-running minimum", async () => {
    const { ctx } = fakeContext();
    const call = vi.fn(async (_extra?: BackgroundCallExtra) => 'ok');
    const timeoutMs = LONG_RUNNING_TIMEOUT_MS + 1;

    await calls().run({
      toolName: 'export',
      options: { ctx, abortSignal: new AbortController().signal, toolCallId: 'c' },
      timeoutMs,
      call,
    });

    expect(call.mock.calls[0]![0]).toMatchObject({ timeoutMs });
  });

  it('speaks progress at most once per interval, by the injected clock', async () => {
    let now = 0;
    const { ctx, update } = fakeContext();
    const call = async (extra?: BackgroundCallExtra) => {
      const report = (progress: number, at: number) => {
        now = at;
        extra!.onProgress!({ progress, total: 10 });
      };
      report(1, DEFAULT_PROGRESS_INTERVAL_MS - 1);
      report(2, DEFAULT_PROGRESS_INTERVAL_MS);
      report(3, DEFAULT_PROGRESS_INTERVAL_MS + 1);
      report(4, 2 * DEFAULT_PROGRESS_INTERVAL_MS);
      return 'done';
    };

    await calls(() => now).run({
      toolName: 'export',
      options: { ctx, abortSignal: new AbortController().signal, toolCallId: 'c' },
      timeoutMs: 1_000,
      call,
    });

    expect(update.mock.calls.slice(1).map(([message]) => message)).toEqual([
      'Progress of export: 2 of 10.',
      'Progress of export: 4 of 10.',
    ]);
  });

  it('turns a failure into the result, and a cancelled call into none', async () => {
    const { ctx } = fakeContext();
    const failing = async () => {
      throw new Error('disk full');
    };
    const aborted = new AbortController();
    aborted.abort();

    const run = (signal: AbortSignal) =>
      calls().run({
        toolName: 'export',
        options: { ctx, abortSignal: signal, toolCallId: 'c' },
        timeoutMs: 1_000,
        call: failing,
      });

    await expect(run(new AbortController().signal)).resolves.toBe(
      'export on Notes failed: disk full',
    );
    await expect(run(aborted.signal)).resolves.toBeUndefined();
  });

  it('runs an ordinary, blocking call outside a session (no context)', async () => {
    const call = vi.fn(async (_extra?: BackgroundCallExtra) => {
      throw new Error('thrown as is');
    });

    await expect(
      calls().run({
        toolName: 'export',
        options: { abortSignal: new AbortController().signal, toolCallId: 'c' },
        timeoutMs: 1_000,
        call,
      }),
    ).rejects.toThrow('thrown as is');
    expect(call).toHaveBeenCalledWith();
  });

  it('holds its tools in an AsyncToolset and notes the background in descriptions', () => {
    const background = calls();
    expect(background.toolset.id).toBe('mcp-server-1-background');
    expect(BackgroundCalls.describe('Exports notes.')).toBe(
      'Exports notes.\n(Runs in the background: the result comes later.)',
    );
  });
});
