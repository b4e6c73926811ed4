/**
 * Hands a caller's AbortSignal to the MCP SDK without paying for an abort listener, or a timer,
 * on calls that finish quickly.
 *
 * Why this exists (hand-written on purpose): the SDK's `Protocol.request` adds one `abort`
 * listener to the signal of every request it sends (and never removes it). On Node 20,
 * `AbortSignal.prototype.addEventListener` costs about 3.5 µs (measured in a loop of 200 000
 * fresh controllers), and even a 1 ms timer per call costs 1–3 % of a 200 µs `echo` call over
 * stdio (its timer list is made, scheduled with libuv and torn down each time): together most of
 * the 5 % Switchboard allows itself over the bare SDK (`npm run bench`). The relay gives the SDK a minimal signal
 * object instead, whose `addEventListener` only stores the callback and puts the relay in a
 * pending set. One shared ticker, running every {@link RELAY_TICK_MS} while calls are being made,
 * starts watching the caller's real signal for each call still pending at a tick. A call that
 * answers before the next tick never touches the real signal; a call aborted early is cancelled
 * at the next tick, at most {@link RELAY_TICK_MS} late; a signal aborted before the call is
 * refused at once.
 *
 * The SDK reads only `aborted`, `reason`, `throwIfAborted()` and `addEventListener('abort', …)`
 * of a request's signal (`@modelcontextprotocol/sdk` 1.x, `shared/protocol.js` `request()`);
 * `test/shared/mcp/call-abort-relay.test.ts` and `tool-calls.test.ts` check that an abort still
 * sends `notifications/cancelled`.
 */

/** Period of the shared ticker, in milliseconds: the longest an early abort waits to be relayed. */
export const RELAY_TICK_MS = 5;

/** Idle ticks (no call pending) after which the ticker stops until the next call. */
const IDLE_TICKS_BEFORE_STOP = 200;

const pending = new Set<CallAbortRelay>();
let ticker: NodeJS.Timeout | undefined;
let idleTicks = 0;

function tick(): void {
  if (pending.size === 0) {
    if (++idleTicks >= IDLE_TICKS_BEFORE_STOP) {
      clearInterval(ticker);
      ticker = undefined;
    }
    return;
  }
  idleTicks = 0;
  for (const relay of pending) relay.watch();
}

/**
 * A signal for one SDK request that follows `source` lazily (see the module comment).
 * Create one per call, pass {@link signal} to the SDK, and call {@link done} when the call
 * settles (it leaves the pending set and drops the relay's listener, if any).
 */
export class CallAbortRelay {
  readonly #source: AbortSignal;
  #listeners: (() => void)[] | undefined;
  #watching = false;
  #fired = false;
  #onAbort: (() => void) | undefined;
  /** The reason given to {@link abort}, which replaces the source's. */
  #ownReason: { value: unknown } | undefined;

  /** @param source the caller's signal (for an agent tool call, the runtime's per-call signal). */
  constructor(source: AbortSignal) {
    this.#source = source;
  }

  /** The object to pass as the SDK's `RequestOptions.signal`. */
  get signal(): AbortSignal {
    // The SDK's type says AbortSignal; it uses only the members below (module comment).
    return this as unknown as AbortSignal;
  }

  /** True once the source's abort has been relayed to the SDK. */
  get aborted(): boolean {
    return this.#fired;
  }

  /** The source's abort reason, or the one given to {@link abort}. */
  get reason(): unknown {
    return this.#ownReason ? this.#ownReason.value : this.#source.reason;
  }

  /**
   * Aborts the SDK's request now with `reason` (which the SDK rejects the request with, after
   * sending `notifications/cancelled`), whatever the source does: a call's own deadline
   * (`call-deadlines.ts`). Does nothing once fired.
   */
  abort(reason: unknown): void {
    if (this.#fired) return;
    this.#ownReason = { value: reason };
    pending.delete(this);
    if (this.#watching) {
      this.#watching = false;
      this.#source.removeEventListener('abort', this.#fire);
    }
    this.#fire();
  }

  /** Throws the source's reason when it is already aborted (the SDK calls this before sending). */
  throwIfAborted(): void {
    this.#source.throwIfAborted();
  }

  /** Stores the SDK's cancel callback; the ticker starts watching the source if the call lasts. */
  addEventListener(type: 'abort', listener: () => void): void {
    if (type !== 'abort' || this.#fired) return;
    (this.#listeners ??= []).push(listener);
    if (this.#watching) return;
    pending.add(this);
    if (!ticker) {
      ticker = setInterval(tick, RELAY_TICK_MS);
      ticker.unref();
    }
  }

  /** Call when the request settled: leaves the pending set and stops watching. Safe twice. */
  done(): void {
    pending.delete(this);
    this.#listeners = undefined;
    if (this.#watching) {
      this.#watching = false;
      this.#source.removeEventListener('abort', this.#fire);
    }
  }

  /** Run by the ticker: relays an abort that already happened, or starts watching for one. */
  watch(): void {
    pending.delete(this);
    if (this.#source.aborted) {
      this.#fire();
      return;
    }
    this.#watching = true;
    this.#source.addEventListener('abort', this.#fire, { once: true });
  }

  // Made only for a call that outlives a tick (a class-field arrow would be made for every call).
  get #fire(): () => void {
    this.#onAbort ??= () => {
      this.#watching = false;
      this.#fired = true;
      const listeners = this.#listeners;
      this.#listeners = undefined;
      for (const listener of listeners ?? []) listener();
    };
    return this.#onAbort;
  }
}
