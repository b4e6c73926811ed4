/**
 * The tool calls in flight on a connection that answers elicitation (MCP 2025-11-25,
 * "Elicitation"), each one object ({@link TimedCall}) that is at once its timeout, its abort relay
 * and its entry in the connection's list.
 *
 * - **Timeout.** While a server waits for the user's answer, the call that asked cannot make
 *   progress, and its timeout must not run out under the user. The SDK's per-request timer cannot
 *   be paused, so such calls are sent with the SDK's timer out of the way and timed here instead:
 *   each call has an idle deadline (`timeoutMs` after it started or last reported progress, as
 *   the SDK's `resetTimeoutOnProgress` does), and {@link CallDeadlines.pauseAll} holds every
 *   deadline while an elicitation is being answered; when it ends, each deadline starts over, as
 *   after a progress report (MCP spec, "Lifecycle › Timeouts": a client MAY reset the timeout
 *   clock).
 * - **Abort.** The call is the signal handed to the SDK, as `CallAbortRelay` is on other
 *   connections and for the same reason (module comment there): the caller's signal is polled at
 *   each tick for the call's first {@link WATCH_AFTER_TICKS} ticks and watched with a listener
 *   after, so a fast call never touches it.
 * - **List.** Elicitation, sampling and log messages go to the oldest call in flight that takes
 *   them ({@link CallDeadlines.find}).
 *
 * One ticker per connection runs while calls are pending: every {@link RELAY_TICK_MS} while a call
 * is still polled, else every `tickMs` (at most 250 ms); it stops after a second without calls. A
 * call costs no timer of its own and one object linked in a {@link CallList} (hand-written
 * plumbing: a call used to pass three objects through three `Set`s, about 6 µs a call on a 2-core
 * VM where an `echo` over stdio takes 80 µs; `npm run bench`, toolCallOverhead). A deadline fires
 * at most one tick late; an abort is relayed at most {@link RELAY_TICK_MS} late.
 */
import { RELAY_TICK_MS, WATCH_AFTER_TICKS } from './call-abort-relay.js';
import { CallList, type CallListItem } from './call-list.js';
import type { AskingCall } from './elicitation.js';

export { RELAY_TICK_MS, WATCH_AFTER_TICKS };

/** How long the ticker keeps running without a call before it stops (ms). */
const IDLE_MS_BEFORE_STOP = 1_000;

/** One call's deadline, as the code that made the call sees it. */
export interface CallDeadline {
  /** Restarts the deadline (the call reported progress). */
  touch(): void;
  /** The call ended: forgets it and stops watching its caller's signal. Safe to call twice. */
  done(): void;
}

/**
 * One call in flight: its deadline, the `AbortSignal` stand-in handed to the SDK (it implements
 * what the SDK's `Protocol.request` reads: `aborted`, `reason`, `throwIfAborted`,
 * `addEventListener`), and its place in the list. Subclass it to carry what else the owner needs
 * of a call in flight. Made with `new`, linked by {@link CallDeadlines.add} once the request is
 * out.
 */
export class TimedCall implements CallDeadline, AskingCall, CallListItem<TimedCall> {
  callList: object | undefined = undefined;
  callPrevious: TimedCall | undefined = undefined;
  callNext: TimedCall | undefined = undefined;
  /** `performance.now()` when the deadline last started over. */
  since = performance.now();
  /** Pauses holding the deadline; it runs only at 0. */
  paused = 0;
  /** The SDK's cancel callback (it adds exactly one), and any more. */
  #listener: (() => void) | undefined = undefined;
  #moreListeners: (() => void)[] | undefined = undefined;
  #ticks = 0;
  #watching = false;
  #fired = false;
  /** The reason given to {@link abort}, which replaces the caller's. */
  #ownReason: { value: unknown } | undefined = undefined;
  #onSourceAbort: (() => void) | undefined = undefined;
  /** The signal followed (see {@link follow}). */
  #source: AbortSignal | undefined;

  /**
   * @param timeoutMs how long the call may go without progress, in milliseconds (`Infinity`:
   *   never; a task-augmented call is bounded by its task instead).
   * @param source the caller's signal, relayed to the SDK (none: only {@link abort} and the
   *   deadline abort the call).
   */
  constructor(
    readonly timeoutMs: number,
    source: AbortSignal | undefined,
  ) {
    this.#source = source;
  }

  /** The signal the call follows now: the caller's, or the one given to {@link follow}. */
  get source(): AbortSignal | undefined {
    return this.#source;
  }

  /** This object as the SDK's `RequestOptions.signal`. */
  get signal(): AbortSignal {
    // The SDK's type says AbortSignal; it uses only the members below (see the class comment).
    return this as unknown as AbortSignal;
  }

  /** True once an abort (the caller's, the deadline's or {@link abort}'s) reached the SDK. */
  get aborted(): boolean {
    return this.#fired;
  }

  /** The followed signal's abort reason, or the one given to {@link abort}. */
  get reason(): unknown {
    return this.#ownReason ? this.#ownReason.value : this.#source?.reason;
  }

  /** Throws the caller's reason when its signal is already aborted (the SDK calls this first). */
  throwIfAborted(): void {
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

  touch(): void {
    this.since = performance.now();
  }

  done(): void {
    // The list it is in is the owner's (`CallDeadlines.add`).
    (this.callList as CallList<TimedCall> | undefined)?.delete(this);
    this.#unwatch();
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
   * Follows `source` from now on instead of the signal the call was made with (none: only
   * {@link abort} and the deadline abort it). An elicitation's handler does this when the tool
   * call that made the call stops waiting for it and another starts (`agent/elicitation.ts`). It
   * is rare, so the new signal is watched with a listener at once; one already aborted aborts the
   * call now. Does nothing once aborted.
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
   * Run by the ticker: relays an abort of the caller's signal that already happened; after
   * {@link WATCH_AFTER_TICKS} ticks, watches the signal with a listener instead.
   */
  poll(): void {
    if (!this.polling) return;
    const source = this.#source!;
    if (source.aborted) this.#fire();
    else if (++this.#ticks >= WATCH_AFTER_TICKS) this.#watch(source);
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

/** The calls in flight on one connection. */
export class CallDeadlines<Call extends TimedCall = TimedCall> {
  readonly #tickMs: number;
  readonly #timeoutReason: (timeoutMs: number) => unknown;
  readonly #calls = new CallList<TimedCall>();
  #ticker: NodeJS.Timeout | undefined;
  #period = 0;
  /** `performance.now()` at the last tick that found calls, or that followed an {@link add}. */
  #lastBusy = 0;
  /** A call was added since the last tick. */
  #added = false;

  /**
   * @param tickMs how often deadlines are checked once no call is polled, in milliseconds
   *   (clamped to 5..250); a connection passes a tenth of its `timeoutMs`.
   * @param timeoutReason what a call whose deadline ran out is aborted with (the SDK rejects it
   *   with that); default an `Error('timed out')`.
   */
  constructor(
    tickMs: number,
    timeoutReason: (timeoutMs: number) => unknown = () => new Error('timed out'),
  ) {
    this.#tickMs = Math.min(250, Math.max(5, Math.floor(tickMs)));
    this.#timeoutReason = timeoutReason;
  }

  /** Calls in flight now. */
  get size(): number {
    return this.#calls.size;
  }

  /**
   * Starts timing `call` (and relaying its caller's abort), and lists it; `call.done()` ends both.
   *
   * @throws Error when `call` is already listed.
   */
  add(call: Call): Call {
    this.#calls.add(call);
    this.#added = true;
    if (call.polling) this.#run(RELAY_TICK_MS);
    else if (this.#ticker === undefined) this.#run(this.#tickMs);
    return call;
  }

  /** The oldest call in flight that `predicate` accepts. */
  find(predicate: (call: Call) => boolean): Call | undefined {
    // Every call listed was added as a Call.
    return this.#calls.find(predicate as (call: TimedCall) => boolean) as Call | undefined;
  }

  /** The calls in flight now, oldest first (a copy). */
  toArray(): Call[] {
    return this.#calls.toArray() as Call[];
  }

  /**
   * Holds the deadline of every call pending now until the returned function is called; each
   * held deadline then starts over. Calls added meanwhile are not held.
   *
   * @returns the release; safe to call twice.
   */
  pauseAll(): () => void {
    const held = this.#calls.toArray();
    for (const call of held) call.paused++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const now = performance.now();
      for (const call of held) {
        call.paused--;
        if (call.paused === 0) call.since = now;
      }
    };
  }

  /** Stops the ticker and forgets every call (the connection closed). */
  close(): void {
    clearInterval(this.#ticker);
    this.#ticker = undefined;
    this.#period = 0;
    for (const call of this.#calls.toArray()) call.done();
  }

  /** Runs the ticker every `period` ms (restarting it when that is another period). */
  #run(period: number): void {
    if (this.#ticker !== undefined && this.#period === period) return;
    clearInterval(this.#ticker);
    this.#period = period;
    this.#ticker = setInterval(() => this.#tick(), period);
    this.#ticker.unref();
  }

  #tick(): void {
    const now = performance.now();
    if (this.#added) {
      this.#added = false;
      this.#lastBusy = now;
    }
    if (this.#calls.size === 0) {
      if (now - this.#lastBusy >= IDLE_MS_BEFORE_STOP) {
        clearInterval(this.#ticker);
        this.#ticker = undefined;
        this.#period = 0;
      }
      return;
    }
    this.#lastBusy = now;
    let polling = false;
    for (const call of this.#calls.toArray()) {
      call.poll();
      if (call.paused === 0 && now - call.since >= call.timeoutMs) {
        this.#calls.delete(call);
        call.abort(this.#timeoutReason(call.timeoutMs));
      } else if (call.polling) {
        polling = true;
      }
    }
    this.#run(polling ? RELAY_TICK_MS : this.#tickMs);
  }
}
