/**
 * The audit trail of a toolset's calls: one `tool_calls` row per finished call (who, which tool,
 * when, how long, whether it worked; never the arguments), plus a log line. Writing is fire and
 * forget, because a tool result must never wait for, or fail because of, the audit database;
 * {@link ToolCallLog.flush} lets tests and shutdown wait for the writes already started.
 */
import type { ToolCallRecord } from '../shared/db/tool-calls.js';
import type { Logger } from '../shared/logger.js';

/**
 * Writes one finished tool call somewhere (normally `recordToolCall` on the database). May
 * reject; the log reports the failure and carries on.
 */
export type ToolCallRecorder = (record: ToolCallRecord) => Promise<void>;

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
  readonly #logger: Logger;
  readonly #pending = new Set<Promise<void>>();

  /**
   * @param recorder where rows go; `undefined` writes only the log line.
   * @param logger gets one `info` line per call and one `warn` per failed write.
   */
  constructor(recorder: ToolCallRecorder | undefined, logger: Logger) {
    this.#recorder = recorder;
    this.#logger = logger;
  }

  /**
   * Logs the call and starts writing its row; returns at once. A recorder that throws or rejects
   * is logged, never rethrown.
   */
  record(record: ToolCallRecord): void {
    this.#logger.info(
      { tool: record.toolName, durationMs: Math.round(record.durationMs), ok: record.ok },
      'mcp tool called',
    );
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

  /** Resolves when every write started so far has finished or failed. Never rejects. */
  async flush(): Promise<void> {
    await Promise.allSettled([...this.#pending]);
  }
}
