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
 * reads `aborted` of the caller's signal for each call pending at a tick (a getter: no listener,
 * no allocation), and relays an abort it finds. A call still pending after
 * {@link WATCH_AFTER_TICKS} ticks starts watching the caller's signal with a real listener
 * instead, and leaves the set, so that a long call does not keep the ticker running. A call that
 * answers within that time never touches the real signal (on a machine where a call takes
 * 100 µs, watching at the first tick cost every 40th call a listener added and removed: about a
 * microsecond a call on average); an abort is relayed at most {@link RELAY_TICK_MS} late; a
 * signal aborted before the call is refused at once.
 *
 * The SDK reads only `aborted`, `reason`, `throwIfAborted()` and `addEventListener('abort', …)`
 * of a request's signal (`@modelcontextprotocol/sdk` 1.x, `shared/protocol.js` `request()`);
 * `test/shared/mcp/call-abort-relay.test.ts` and `tool-calls.test.ts` check that an abort still
 * sends `notifications/cancelled`.
 */
import { CallList, type CallListItem } from './call-list.js';

/** Period of the shared ticker, in milliseconds: the longest an early abort waits to be relayed. */
export const RELAY_TICK_MS = 5;

/** Idle ticks (no call pending) after which the ticker stops until the next call. */
const IDLE_TICKS_BEFORE_STOP = 200;

/**
 * Ticks a call is polled before the relay watches its caller's signal with a listener (100 ms
 * at {@link RELAY_TICK_MS}).
 */
export const WATCH_AFTER_TICKS = 20;

/** The calls polled at each tick (a {@link CallList}, not a `Set`: see there). */
const pending = new CallList<CallAbortRelay>();
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
  for (const relay of pending.toArray()) relay.poll();
}

/**
 * A signal for one SDK request that follows `source` lazily (see the module comment).
 * Create one per call, pass {@link signal} to the SDK, and call {@link done} when the call
 * settles (it leaves the pending set and drops the relay's listener, if any).
 */
export class CallAbortRelay implements CallListItem<CallAbortRelay> {
  callList: object | undefined = undefined;
  callPrevious: CallAbortRelay | undefined = undefined;
  callNext: CallAbortRelay | undefined = undefined;
  readonly #source: AbortSignal;
  #listeners: (() => void)[] | undefined;
  #watching = false;
  #fired = false;
  /** Ticks this call has been polled at. */
  #ticks = 0;
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
    if (this.#watching || this.callList) return;
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

  /**
   * Run by the ticker: relays an abort that already happened; after {@link WATCH_AFTER_TICKS}
   * ticks, starts watching the caller's signal instead.
   */
  poll(): void {
    if (this.#source.aborted) {
      pending.delete(this);
      this.#fire();
    } else if (++this.#ticks >= WATCH_AFTER_TICKS) {
      pending.delete(this);
      this.#watching = true;
      this.#source.addEventListener('abort', this.#fire, { once: true });
    }
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
