/**
 * Hands a caller's AbortSignal to the MCP SDK without paying for an abort listener, or a timer,
 * on calls that finish quickly.
 *
 * Why this exists (hand-written on purpose): the SDK's `Protocol.request` adds one `abort`
 * listener to the signal of every request it sends (and never removes it). On Node 20,
 * `AbortSignal.prototype.addEventListener` costs about 3.5 µs (measured in a loop of 200 000
 * fresh controllers), and even a 1 ms timer per call costs 1–3 % of a 200 µs `echo` call over
 * stdio (`npm run bench`, toolCallOverhead: the bare SDK with a signal is about 6 % slower than
 * without one). Switchboard allows itself 5 % over the bare SDK in all. So the SDK gets a
 * stand-in ({@link RelayedSignal}) instead, whose `addEventListener` only stores the callback:
 *
 * - **Before the request**, the SDK's `throwIfAborted` reads the caller's signal once: a call the
 *   caller gave up on before it was made is never sent. (That read costs 1–2 µs of a 100 µs call
 *   once its code has gone cold between calls; reading it only after the request was out, and
 *   cancelling, was measured and dropped: the tool could still run.)
 * - **While the call is young**, a ticker (every {@link RELAY_TICK_MS}, running only while calls
 *   are being made) reads `aborted` of the caller's signal (a getter: no listener, no allocation)
 *   and relays an abort it finds.
 * - **Once the call is old** ({@link WATCH_AFTER_TICKS} ticks), the stand-in watches the caller's
 *   signal with a real listener instead, so that a long call does not keep a ticker running.
 *
 * A call that answers within that time never adds a listener to the real signal (on a machine
 * where a call takes 100 µs, watching at the first tick cost every 40th call a listener added and
 * removed); an abort is relayed at most {@link RELAY_TICK_MS} late.
 *
 * Two kinds of call use it: {@link CallAbortRelay} on a connection timed by the SDK (its ticker is
 * this module's, shared by every connection), and `TimedCall` (`call-deadlines.ts`) on one that
 * times its calls itself (its connection's ticker).
 *
 * The SDK reads only `aborted`, `reason`, `throwIfAborted()` and `addEventListener('abort', …)`
 * of a request's signal (`@modelcontextprotocol/sdk` 1.x, `shared/protocol.js` `request()`);
 * `test/shared/mcp/call-abort-relay.test.ts` and `tool-calls.test.ts` check that an abort still
 * sends `notifications/cancelled`.
 */
import { CallList, type CallListItem } from './call-list.js';

/** Period of the tickers, in milliseconds: the longest an early abort waits to be relayed. */
export const RELAY_TICK_MS = 5;

/**
 * Ticks a call is polled before its caller's signal is watched with a listener (100 ms at
 * {@link RELAY_TICK_MS}).
 */
export const WATCH_AFTER_TICKS = 20;

/** Idle ticks (no call pending) after which the shared ticker stops until the next call. */
const IDLE_TICKS_BEFORE_STOP = 200;

/**
 * The signal one SDK request is made with, standing in for the caller's (see the module
 * comment): it implements what the SDK reads of an `AbortSignal` (`aborted`, `reason`,
 * `throwIfAborted`, `addEventListener`), and follows the caller's signal lazily, or another one
 * once told to ({@link follow}). The owner calls {@link poll} at its ticks while {@link polling},
 * and {@link stop} when the request settles.
 */
export class RelayedSignal {
  #source: AbortSignal | undefined;
  /** The SDK's cancel callback (it adds exactly one), and any more. */
  #listener: (() => void) | undefined = undefined;
  #moreListeners: (() => void)[] | undefined = undefined;
  /** Ticks the caller's signal has been polled at. */
  #ticks = 0;
  #watching = false;
  #fired = false;
  /** The reason given to {@link abort}, which replaces the caller's. */
  #ownReason: { value: unknown } | undefined = undefined;
  #onSourceAbort: (() => void) | undefined = undefined;

  /**
   * @param source the caller's signal (for an agent tool call, the runtime's per-call signal);
   *   none: only {@link abort} aborts the request.
   */
  constructor(source: AbortSignal | undefined) {
    this.#source = source;
  }

  /** This object as the SDK's `RequestOptions.signal`. */
  get signal(): AbortSignal {
    // The SDK's type says AbortSignal; it uses only the members below (see the module comment).
    return this as unknown as AbortSignal;
  }

  /** The signal followed now: the caller's, or the one given to {@link follow}. */
  get source(): AbortSignal | undefined {
    return this.#source;
  }

  /** True once an abort (the caller's, or {@link abort}'s) reached the SDK. */
  get aborted(): boolean {
    return this.#fired;
  }

  /** The followed signal's abort reason, or the one given to {@link abort}. */
  get reason(): unknown {
    return this.#ownReason ? this.#ownReason.value : this.#source?.reason;
  }

  /**
   * Throws the reason once aborted, or the caller's when its signal already is (the SDK calls this
   * before it sends: a call the caller gave up on before it was made is never sent).
   */
  throwIfAborted(): void {
    if (this.#fired) throw this.reason;
    this.#source?.throwIfAborted();
  }

  /** Stores the SDK's cancel callback. */
  addEventListener(type: 'abort', listener: () => void): void {
    if (type !== 'abort' || this.#fired) return;
    if (this.#listener === undefined) this.#listener = listener;
    else (this.#moreListeners ??= []).push(listener);
  }

  /** True while the caller's signal is polled at each tick (see the module comment). */
  get polling(): boolean {
    return this.#source !== undefined && !this.#watching && !this.#fired;
  }

  /**
   * Aborts the SDK's request now with `reason` (the SDK rejects the request with it, after
   * sending `notifications/cancelled`), whatever the caller's signal does. Does nothing once
   * aborted.
   */
  abort(reason: unknown): void {
    if (this.#fired) return;
    this.#ownReason = { value: reason };
    this.#unwatch();
    this.#fire();
  }

  /**
   * Follows `source` from now on instead of the signal the request was made with (none: only
   * {@link abort}, or the owner's deadline, aborts it). An elicitation's handler does this when the
   * tool call that made the request stops waiting for it and another starts
   * (`agent/elicitation.ts`). It is rare, so the new signal is watched with a listener at once;
   * one already aborted aborts the request now. Does nothing once aborted.
   */
  follow(source: AbortSignal | undefined): void {
    if (source === this.#source || this.#fired) return;
    this.#unwatch();
    this.#source = source;
    if (!source) return;
    if (source.aborted) {
      this.#fire();
      return;
    }
    this.#watch(source);
  }

  /**
   * Run by the owner's ticker: relays an abort of the caller's signal that already happened;
   * after {@link WATCH_AFTER_TICKS} ticks, watches the signal with a listener instead.
   */
  poll(): void {
    if (!this.polling) return;
    const source = this.#source!;
    if (source.aborted) this.#fire();
    else if (++this.#ticks >= WATCH_AFTER_TICKS) this.#watch(source);
  }

  /** The request settled: stops watching the caller's signal and forgets the SDK's callback. */
  stop(): void {
    this.#unwatch();
    this.#listener = undefined;
    this.#moreListeners = undefined;
  }

  /** Watches `source` (the signal followed) with a listener. */
  #watch(source: AbortSignal): void {
    this.#watching = true;
    this.#onSourceAbort ??= () => {
      this.#watching = false;
      this.#fire();
    };
    source.addEventListener('abort', this.#onSourceAbort, { once: true });
  }

  #unwatch(): void {
    if (!this.#watching) return;
    this.#watching = false;
    this.#source!.removeEventListener('abort', this.#onSourceAbort!);
  }

  #fire(): void {
    this.#fired = true;
    const listener = this.#listener;
    const more = this.#moreListeners;
    this.#listener = undefined;
    this.#moreListeners = undefined;
    listener?.();
    for (const extra of more ?? []) extra();
  }
}

/** The relays polled at each tick of the shared ticker (a {@link CallList}, not a `Set`). */
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
 * A signal for one SDK request on a connection the SDK times (see the module comment), polled by
 * this module's shared ticker. Create one per call, pass {@link signal} to the SDK, and call
 * {@link done} when the call settles.
 */
export class CallAbortRelay extends RelayedSignal implements CallListItem<CallAbortRelay> {
  callList: object | undefined = undefined;
  callPrevious: CallAbortRelay | undefined = undefined;
  callNext: CallAbortRelay | undefined = undefined;

  /** @param source the caller's signal (for an agent tool call, the runtime's per-call signal). */
  constructor(source: AbortSignal) {
    super(source);
  }

  /** Stores the SDK's cancel callback; the shared ticker polls the caller's signal from now on. */
  override addEventListener(type: 'abort', listener: () => void): void {
    super.addEventListener(type, listener);
    if (type !== 'abort' || !this.polling || this.callList) return;
    pending.add(this);
    if (!ticker) {
      ticker = setInterval(tick, RELAY_TICK_MS);
      ticker.unref();
    }
  }

  /** Polled at a tick: leaves the polled set once aborted or watched. */
  override poll(): void {
    super.poll();
    if (!this.polling) pending.delete(this);
  }

  override abort(reason: unknown): void {
    pending.delete(this);
    super.abort(reason);
  }

  /** Call when the request settled: leaves the polled set and stops watching. Safe twice. */
  done(): void {
    pending.delete(this);
    this.stop();
  }
}
