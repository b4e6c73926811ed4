/**
 * The audit trail of a toolset's calls: one `tool_calls` row per finished call (who, which tool,
 * when, how long, whether it worked; never the arguments), plus a `debug` log line. Writing is
 * fire and forget, because a tool result must never wait for, or fail because of, the audit
 * database; {@link ToolCallLog.flush} lets tests and shutdown wait for the writes.
 *
 * The log line is at `debug` because the row is the audit record: at the default `info` level
 * pino replaces `debug` with a no-op, so a call costs no serialisation and no pass of the
 * logger's redaction paths (`shared/logger.ts`, a hundred wildcard paths per line).
 */
import type { ToolCallRecord } from '../shared/db/tool-calls.js';
import type { Logger } from '../shared/logger.js';
import type { ToolCallSink } from '../shared/db/tool-call-batch.js';

/**
 * Writes one finished tool call somewhere (a test's recorder, or `recordToolCall` on the
 * database). May reject; the log reports the failure and carries on.
 */
export type ToolCallRecorder = (record: ToolCallRecord) => Promise<void>;

/** Re-exported: the sink a toolset's log writes to (`shared/db/tool-call-batch.ts`). */
export type { ToolCallSink };

/** Who and where the calls of a session are made, for the `tool_calls` rows. */
export interface ToolCallScope {
  userId: number;
  /** The LiveKit room name; `null` outside a room (tests, text sessions). */
  roomName?: string | null;
  /** An id of the agent session, e.g. the LiveKit job id. */
  sessionId?: string | null;
}

/** The audit writes of one toolset. */
export class ToolCallLog {
  readonly #recorder?: ToolCallRecorder;
  readonly #sink?: ToolCallSink;
  readonly #logger: Logger;
  readonly #pending = new Set<Promise<void>>();

  /**
   * @param target where rows go: a {@link ToolCallSink} (the session's batcher), or a
   *   {@link ToolCallRecorder} called once per row; `undefined` writes only the log line.
   * @param logger gets one `debug` line per call and, with a recorder, one `warn` per failed
   *   write (a sink reports its own failures).
   */
  constructor(target: ToolCallRecorder | ToolCallSink | undefined, logger: Logger) {
    if (typeof target === 'function') this.#recorder = target;
    else this.#sink = target;
    this.#logger = logger;
  }

  /**
   * Logs the call and hands its row to the sink, or starts the recorder's write; returns at once.
   * A recorder that throws or rejects is logged, never rethrown.
   */
  record(record: ToolCallRecord): void {
    // Checked first, so that at `info` the line's object is not even made.
    if (this.#logger.isLevelEnabled('debug')) {
      this.#logger.debug(
        { tool: record.toolName, durationMs: Math.round(record.durationMs), ok: record.ok },
        'mcp tool called',
      );
    }
    if (this.#sink) {
      this.#sink.add(record);
      return;
    }
    const recorder = this.#recorder;
    if (!recorder) return;
    const pending = Promise.resolve()
      .then(() => recorder(record))
      .catch((error: unknown) =>
        this.#logger.warn({ err: error, tool: record.toolName }, 'could not record tool call'),
      )
      .finally(() => this.#pending.delete(pending));
    this.#pending.add(pending);
  }

  /**
   * Resolves when every row recorded so far is written or has failed: flushes the sink (which
   * may hold rows of other toolsets too) and waits for the recorder's writes. Never rejects.
   */
  async flush(): Promise<void> {
    await Promise.allSettled([...this.#pending, this.#sink?.flush()]);
  }
}
