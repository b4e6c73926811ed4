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
 * - **Abort.** The call is the signal handed to the SDK, a `RelayedSignal` as on other
 *   connections and for the same reason (module comment of `call-abort-relay.ts`): the caller's
 *   signal is read once before the request, polled at each tick for the call's first
 *   {@link WATCH_AFTER_TICKS} ticks and watched with a listener after, so a fast call adds no
 *   listener to it.
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
import { RELAY_TICK_MS, RelayedSignal, WATCH_AFTER_TICKS } from './call-abort-relay.js';
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
 * One call in flight: its deadline, the `AbortSignal` stand-in handed to the SDK (a
 * {@link RelayedSignal}: see `call-abort-relay.ts`), and its place in the list. Subclass it to
 * carry what else the owner needs of a call in flight. Made with `new`, linked by
 * {@link CallDeadlines.add} once the request is out.
 */
export class TimedCall
  extends RelayedSignal
  implements CallDeadline, AskingCall, CallListItem<TimedCall>
{
  callList: object | undefined = undefined;
  callPrevious: TimedCall | undefined = undefined;
  callNext: TimedCall | undefined = undefined;
  /** `performance.now()` when the deadline last started over (set by {@link CallDeadlines.add}). */
  since = 0;
  /** Pauses holding the deadline; it runs only at 0. */
  paused = 0;
  /** True once the deadline ran out (and aborted the call); any other abort is a cancellation. */
  timedOut = false;

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
    super(source);
  }

  touch(): void {
    this.since = performance.now();
  }

  done(): void {
    // The list it is in is the owner's (`CallDeadlines.add`).
    (this.callList as CallList<TimedCall> | undefined)?.delete(this);
    this.stop();
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
   * Call once `call`'s request is out: starts its deadline, lists it and relays its caller's
   * abort; `call.done()` ends all three.
   *
   * @throws Error when `call` is already listed.
   */
  add(call: Call): Call {
    call.since = performance.now();
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
        call.timedOut = true;
        call.abort(this.#timeoutReason(call.timeoutMs));
      } else if (call.polling) {
        polling = true;
      }
    }
    this.#run(polling ? RELAY_TICK_MS : this.#tickMs);
  }
}
