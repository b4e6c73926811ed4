/**
 * The timeouts of tool calls on a connection that answers elicitation (MCP 2025-11-25,
 * "Elicitation"): while a server waits for the user's answer, the call that asked cannot make
 * progress, and its timeout must not run out under the user. The SDK's per-request timer cannot
 * be paused, so such calls are sent with the SDK's timer out of the way and timed here instead:
 * each call has an idle deadline (`timeoutMs` after it started or last reported progress, as the
 * SDK's `resetTimeoutOnProgress` does), and {@link CallDeadlines.pauseAll} holds every deadline
 * while an elicitation is being answered; when it ends, each deadline starts over, as after a
 * progress report (MCP spec, "Lifecycle › Timeouts": a client MAY reset the timeout clock).
 *
 * One ticker per connection runs while calls are pending (every `tickMs`, at most 250 ms) and
 * stops after 20 idle ticks; a call costs no timer of its own, so a fast call pays only two links
 * in a {@link CallList}. A deadline fires at most one tick late.
 */
import { CallList, type CallListItem } from './call-list.js';

/** Idle ticks (no call pending) after which the ticker stops until the next call. */
const IDLE_TICKS_BEFORE_STOP = 20;

/** One call's deadline, from {@link CallDeadlines.add}. */
export interface CallDeadline {
  /** Restarts the deadline (the call reported progress). */
  touch(): void;
  /** The call ended: forgets the deadline. Safe to call twice. */
  done(): void;
}

/** One call's deadline (a class: a call costs one small object, no closures). */
class Entry implements CallDeadline, CallListItem<Entry> {
  callList: object | undefined = undefined;
  callPrevious: Entry | undefined = undefined;
  callNext: Entry | undefined = undefined;
  /** `performance.now()` when the deadline last started over. */
  since = performance.now();
  /** Pauses holding the deadline; it runs only at 0. */
  paused = 0;

  constructor(
    readonly entries: CallList<Entry>,
    readonly timeoutMs: number,
    readonly onTimeout: () => void,
  ) {}

  touch(): void {
    this.since = performance.now();
  }

  done(): void {
    this.entries.delete(this);
  }
}

/** The deadlines of one connection's calls. */
export class CallDeadlines {
  readonly #tickMs: number;
  readonly #entries = new CallList<Entry>();
  #ticker: NodeJS.Timeout | undefined;
  #idleTicks = 0;

  /**
   * @param tickMs how often deadlines are checked, in milliseconds (clamped to 5..250); a
   *   connection passes a tenth of its `timeoutMs`.
   */
  constructor(tickMs: number) {
    this.#tickMs = Math.min(250, Math.max(5, Math.floor(tickMs)));
  }

  /** Calls with a deadline now. */
  get size(): number {
    return this.#entries.size;
  }

  /**
   * Starts timing a call.
   *
   * @param timeoutMs how long the call may go without progress, in milliseconds.
   * @param onTimeout called once when that time has passed unpaused (the caller aborts the call).
   */
  add(timeoutMs: number, onTimeout: () => void): CallDeadline {
    const entry = new Entry(this.#entries, timeoutMs, onTimeout);
    this.#entries.add(entry);
    if (this.#ticker === undefined) {
      this.#idleTicks = 0;
      this.#ticker = setInterval(() => this.#tick(), this.#tickMs);
      this.#ticker.unref();
    }
    return entry;
  }

  /**
   * Holds the deadline of every call pending now until the returned function is called; each
   * held deadline then starts over. Calls added meanwhile are not held.
   *
   * @returns the release; safe to call twice.
   */
  pauseAll(): () => void {
    const held = this.#entries.toArray();
    for (const entry of held) entry.paused++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const now = performance.now();
      for (const entry of held) {
        entry.paused--;
        if (entry.paused === 0) entry.since = now;
      }
    };
  }

  /** Stops the ticker and forgets every deadline (the connection closed). */
  close(): void {
    clearInterval(this.#ticker);
    this.#ticker = undefined;
    this.#entries.clear();
  }

  #tick(): void {
    if (this.#entries.size === 0) {
      if (++this.#idleTicks >= IDLE_TICKS_BEFORE_STOP) {
        clearInterval(this.#ticker);
        this.#ticker = undefined;
      }
      return;
    }
    this.#idleTicks = 0;
    const now = performance.now();
    for (const entry of this.#entries.toArray()) {
      if (entry.paused > 0 || now - entry.since < entry.timeoutMs) continue;
      this.#entries.delete(entry);
      entry.onTimeout();
    }
  }
}
