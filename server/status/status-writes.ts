/**
 * The status monitor's writes of `mcp_servers` status columns, batched per tick: the patches of
 * every server queued within one tick (`tickMs`, default 1 s, counted from the first patch
 * queued) are merged per server and written by one statement (`updateServerStatuses`: one
 * multi-row UPDATE and its notifications), and nothing is written in a tick where nothing was
 * queued (no timer runs then either). A server whose `connection_status` changes twice in one
 * tick (down, then back up) is not merged away: the later status starts a second batch written
 * a tick after the first, so the stored status passes through both. A failed batch is logged and
 * kept (what is queued meanwhile joins it) for a retry after a growing delay (the tick doubled
 * per consecutive failure, at most {@link MAX_RETRY_DELAY_MS}).
 */
import type { Database } from '../../shared/db/open.js';
import { updateServerStatuses, type ServerStatusPatch } from '../../shared/db/servers.js';
import type { Logger } from '../../shared/logger.js';

/** Default of {@link StatusWriterOptions.tickMs}: 1 s. */
export const DEFAULT_STATUS_TICK_MS = 1_000;
/** Longest wait before retrying a failed batch: 30 s. */
export const MAX_RETRY_DELAY_MS = 30_000;

/** Writes one batch; resolves when it is stored. Default `updateServerStatuses`. */
export type StatusBatchWrite = (
  db: Database,
  patches: ReadonlyMap<number, ServerStatusPatch>,
) => Promise<unknown>;

/** Options of {@link StatusWriter}. */
export interface StatusWriterOptions {
  db: Database;
  logger: Logger;
  /** Milliseconds from the first patch queued to the batch's write; default 1000. */
  tickMs?: number;
  /** The batch write (tests replace it); default `updateServerStatuses`. */
  write?: StatusBatchWrite;
}

/** Queues status patches per server and writes them together once per tick. */
export class StatusWriter {
  readonly #db: Database;
  readonly #logger: Logger;
  readonly #tickMs: number;
  readonly #write: StatusBatchWrite;
  /**
   * Batches not yet written, oldest first, each merged per server (a later value of a column
   * wins); a new batch starts when a server's queued `connectionStatus` would be overwritten.
   */
  #pending: Map<number, ServerStatusPatch>[] = [];
  #timer?: NodeJS.Timeout;
  /** The batch being written, if any (batches never overlap, so writes stay in order). */
  #writing?: Promise<void>;
  /** The batch {@link #writing} writes. */
  #inFlight?: ReadonlyMap<number, ServerStatusPatch>;
  #failures = 0;

  constructor(options: StatusWriterOptions) {
    this.#db = options.db;
    this.#logger = options.logger;
    this.#tickMs = options.tickMs ?? DEFAULT_STATUS_TICK_MS;
    this.#write = options.write ?? updateServerStatuses;
  }

  /** Servers with a patch waiting for the next batch. */
  get pending(): number {
    return new Set(this.#pending.flatMap((batch) => [...batch.keys()])).size;
  }

  /**
   * Queues a server's patch for the next batch, merged over what is already queued for it.
   * An empty patch queues nothing.
   */
  queue(serverId: number, patch: ServerStatusPatch): void {
    if (Object.keys(patch).length === 0) return;
    let batch = this.#pending.at(-1);
    const queued = batch?.get(serverId)?.connectionStatus;
    if (!batch || (queued && patch.connectionStatus && queued !== patch.connectionStatus)) {
      batch = new Map();
      this.#pending.push(batch);
    }
    batch.set(serverId, { ...batch.get(serverId), ...patch });
    this.#arm(this.#tickMs);
  }

  /** True while a patch of the server is queued or being written. */
  holds(serverId: number): boolean {
    return (
      this.#inFlight?.has(serverId) === true || this.#pending.some((batch) => batch.has(serverId))
    );
  }

  /** Drops what is queued for a server (it is no longer watched); a batch in flight is kept. */
  discard(serverId: number): void {
    for (const batch of this.#pending) batch.delete(serverId);
  }

  /**
   * Writes every queued batch now, in order, without waiting for the tick, after the batch in
   * flight. Resolves when all are done, or at the first failure (logged, and retried later);
   * never rejects.
   */
  async flush(): Promise<void> {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    while (this.#pending.length > 0) {
      if (!(await this.#writeNext())) return;
    }
    await this.settled();
  }

  /** Waits for the batch in flight, if any (what is queued stays queued). */
  async settled(): Promise<void> {
    while (this.#writing) await this.#writing;
  }

  /** Stops the timer; what is still queued is dropped (call {@link flush} first to keep it). */
  stop(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#pending = [];
  }

  #arm(delayMs: number): void {
    if (this.#timer) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      void this.#tick();
    }, delayMs);
    this.#timer.unref();
  }

  /** The tick: writes the oldest batch, and leaves a later one to the next tick. */
  async #tick(): Promise<void> {
    if (await this.#writeNext()) {
      if (this.#pending.length > 0) this.#arm(this.#tickMs);
    }
  }

  /**
   * Writes the oldest batch once the batch in flight is done (batches never overlap).
   * @returns false when it failed (it is then queued again for the retry).
   */
  async #writeNext(): Promise<boolean> {
    while (this.#writing) await this.#writing;
    const batch = this.#pending.shift();
    if (!batch) return true;
    let ok = true;
    const writing = this.#writeBatch(batch).then((written) => {
      ok = written;
    });
    this.#writing = writing;
    this.#inFlight = batch;
    await writing;
    if (this.#writing === writing) {
      this.#writing = undefined;
      this.#inFlight = undefined;
    }
    return ok;
  }

  async #writeBatch(batch: Map<number, ServerStatusPatch>): Promise<boolean> {
    try {
      if (batch.size > 0) await this.#write(this.#db, batch);
      this.#failures = 0;
      return true;
    } catch (error) {
      this.#failures += 1;
      const retryMs = Math.min(MAX_RETRY_DELAY_MS, this.#tickMs * 2 ** this.#failures);
      this.#logger.error(
        { err: error, servers: batch.size, retryMs },
        'could not write server statuses; retrying',
      );
      // Written again first: what was queued since stays after it.
      this.#pending.unshift(batch);
      clearTimeout(this.#timer);
      this.#timer = undefined;
      this.#arm(retryMs);
      return false;
    }
  }
}
