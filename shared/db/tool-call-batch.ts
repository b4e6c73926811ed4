/**
 * Batched audit writes: {@link ToolCallBatcher} buffers a session's finished tool calls and
 * writes them with one multi-row INSERT (`recordToolCalls`) at most every `intervalMs`, or as
 * soon as `maxBatchRows` are waiting, so a busy session costs one round trip per batch instead of
 * one per call, and a tool result never waits for the database.
 *
 * Voice sessions (`agent/`) and the API's MCP gateway (`server/gateway/`) both record through it.
 */
import type { ToolCallRecord } from './tool-calls.js';
import { describeError } from '../errors.js';
import type { Logger } from '../logger.js';

/**
 * Takes finished tool calls and writes them in its own time (a {@link ToolCallBatcher}).
 */
export interface ToolCallSink {
  /** Takes one row; returns at once and never throws. */
  add(record: ToolCallRecord): void;
  /** Writes what it holds; resolves when every row taken so far is written or given up. */
  flush(): Promise<void>;
}

/**
 * Writes a batch of finished tool calls at once (normally `recordToolCalls` on the database),
 * all or none. May reject; the batcher retries once, then reports and drops the batch.
 */
export type ToolCallWriter = (records: readonly ToolCallRecord[]) => Promise<void>;

/** Default of {@link ToolCallBatcherOptions.intervalMs}. */
export const DEFAULT_BATCH_INTERVAL_MS = 100;
/** Default of {@link ToolCallBatcherOptions.maxBatchRows}. */
export const DEFAULT_MAX_BATCH_ROWS = 100;
/** Default of {@link ToolCallBatcherOptions.maxBufferedRows}. */
export const DEFAULT_MAX_BUFFERED_ROWS = 10_000;
/** Default of {@link ToolCallBatcherOptions.retryDelayMs}. */
export const DEFAULT_RETRY_DELAY_MS = 200;

/** Options of {@link ToolCallBatcher}. */
export interface ToolCallBatcherOptions {
  /** Where batches go. */
  write: ToolCallWriter;
  /** Gets one `warn` per batch that could not be written, with its row count. */
  logger: Logger;
  /** Longest time a row waits in the buffer before its batch is written, in ms; default 100. */
  intervalMs?: number;
  /** Most rows in one INSERT; this many waiting rows are written at once. Default 100. */
  maxBatchRows?: number;
  /**
   * Most rows held while writes are slow or failing (the database is down); rows beyond it are
   * dropped and counted in the next warning. Default 10,000.
   */
  maxBufferedRows?: number;
  /** Wait before the one retry of a failed batch, in ms; default 200. */
  retryDelayMs?: number;
}

/**
 * Buffers the `tool_calls` rows of one session and writes them in batches, one batch at a time.
 * Rows that arrive during a write go in a later batch, written when it is full or when its oldest
 * row has waited `intervalMs`, not as soon as the write ends: a write takes a while, and writing
 * the few rows that came in meanwhile at once would cost a statement for each handful of rows. A failed batch is retried once after
 * `retryDelayMs`, then logged at `warn` with its row count (never its contents) and dropped; the
 * buffer is capped at `maxBufferedRows`, so a database that stays down costs bounded memory.
 * {@link flush} writes what is left (the session calls it when it closes, before the database
 * closes).
 */
export class ToolCallBatcher implements ToolCallSink {
  readonly #write: ToolCallWriter;
  readonly #logger: Logger;
  readonly #intervalMs: number;
  readonly #maxBatchRows: number;
  readonly #maxBufferedRows: number;
  readonly #retryDelayMs: number;
  #buffer: ToolCallRecord[] = [];
  /**
   * When the oldest buffered row arrived (`performance.now()`, ms), or earlier (what is left of a
   * split buffer keeps the time of the whole, so it is written sooner, never later); undefined
   * while the buffer is empty.
   */
  #oldestAt?: number;
  /** The pending start of a write, and when it fires (`performance.now()`, ms). */
  #timer?: { handle: NodeJS.Timeout; dueAt: number };
  /** Running `flush()` calls: while any runs, the write loop writes until the buffer is empty. */
  #flushing = 0;
  /** The running write loop; it ends when the buffer is empty. */
  #writing?: Promise<void>;
  /** Rows dropped because the buffer was full, not yet reported. */
  #dropped = 0;

  /** @param options the writer, logger and limits; see {@link ToolCallBatcherOptions}. */
  constructor(options: ToolCallBatcherOptions) {
    this.#write = options.write;
    this.#logger = options.logger;
    this.#intervalMs = options.intervalMs ?? DEFAULT_BATCH_INTERVAL_MS;
    this.#maxBatchRows = options.maxBatchRows ?? DEFAULT_MAX_BATCH_ROWS;
    this.#maxBufferedRows = options.maxBufferedRows ?? DEFAULT_MAX_BUFFERED_ROWS;
    this.#retryDelayMs = options.retryDelayMs ?? DEFAULT_RETRY_DELAY_MS;
  }

  /** Rows waiting to be written (not counting a batch being written). */
  get buffered(): number {
    return this.#buffer.length;
  }

  /**
   * Buffers one row and returns at once; it is written within `intervalMs`, or sooner when the
   * buffer reaches `maxBatchRows`. The write never starts on the caller's stack. Never throws.
   */
  add(record: ToolCallRecord): void {
    if (this.#buffer.length >= this.#maxBufferedRows) {
      this.#dropped += 1;
      return;
    }
    if (this.#buffer.length === 0) this.#oldestAt = performance.now();
    this.#buffer.push(record);
    // A running write loop takes the new row, or schedules it, when its current batch is done.
    if (this.#writing) return;
    this.#scheduleNext();
  }

  /**
   * Writes every buffered row now and resolves when the buffer is empty and no write is running
   * (rows added meanwhile included). Never rejects: failures are logged as for any batch.
   */
  async flush(): Promise<void> {
    this.#flushing += 1;
    try {
      while (this.#writing || this.#buffer.length > 0) {
        this.#cancelTimer();
        this.#start();
        await this.#writing;
      }
    } finally {
      this.#flushing -= 1;
    }
  }

  /** True when the buffer should be written now: a flush runs, a batch is full, or a row is due. */
  #due(): boolean {
    if (this.#buffer.length === 0) return false;
    return (
      this.#flushing > 0 ||
      this.#buffer.length >= this.#maxBatchRows ||
      performance.now() >= this.#oldestAt! + this.#intervalMs
    );
  }

  /**
   * Sets the timer that starts the write loop: at once for a full batch, else when the oldest
   * buffered row will have waited `intervalMs`; a timer already due that soon is kept.
   */
  #scheduleNext(): void {
    if (this.#buffer.length === 0) return;
    // 0: at once (a full batch). The clock is read only when a timer is set: a row added to a
    // buffer whose timer is already due soon enough (nearly every call) needs none.
    const dueAt =
      this.#buffer.length >= this.#maxBatchRows ? 0 : this.#oldestAt! + this.#intervalMs;
    if (this.#timer && this.#timer.dueAt <= dueAt) return;
    this.#cancelTimer();
    const handle = setTimeout(
      () => {
        this.#timer = undefined;
        this.#start();
      },
      Math.max(0, dueAt - performance.now()),
    );
    // Buffered rows do not keep the process alive; a clean stop flushes them.
    handle.unref();
    this.#timer = { handle, dueAt };
  }

  #cancelTimer(): void {
    if (this.#timer) clearTimeout(this.#timer.handle);
    this.#timer = undefined;
  }

  /** Starts the write loop unless it runs or there is nothing to write. */
  #start(): void {
    if (this.#writing || this.#buffer.length === 0) return;
    this.#writing = this.#drain().finally(() => {
      this.#writing = undefined;
      this.#scheduleNext();
    });
  }

  /**
   * Writes one batch, then more while they are due (see {@link #due}); rows left over wait for
   * the timer set when the loop ends. Never rejects.
   */
  async #drain(): Promise<void> {
    do {
      this.#cancelTimer();
      const batch = this.#buffer.splice(0, this.#maxBatchRows);
      if (this.#buffer.length === 0) this.#oldestAt = undefined;
      await this.#writeBatch(batch);
    } while (this.#due());
  }

  /** Writes one batch, retrying once; reports a lost batch and any dropped rows. */
  async #writeBatch(batch: ToolCallRecord[]): Promise<void> {
    let failure: { error: unknown } | undefined;
    for (let attempt = 0; attempt < 2; attempt += 1) {
      if (attempt > 0) await new Promise((resolve) => setTimeout(resolve, this.#retryDelayMs));
      try {
        await this.#write(batch);
        failure = undefined;
        break;
      } catch (error) {
        failure = { error };
      }
    }
    const dropped = this.#dropped;
    this.#dropped = 0;
    if (failure) {
      // The reason only: a database error may quote the whole statement with its values.
      this.#logger.warn(
        { err: describeError(failure.error).slice(0, 300), rows: batch.length, dropped },
        'could not record tool calls',
      );
    } else if (dropped > 0) {
      this.#logger.warn({ dropped }, 'tool calls were not recorded: the buffer was full');
    }
  }
}
