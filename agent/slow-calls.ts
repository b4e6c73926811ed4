/**
 * Filler speech for tool calls that take time (README, "Tools that take time or change things"),
 * so the user is not left in silence: a call still running after `AGENT_FILLER_AFTER_MS` makes
 * the agent say a short filler ("One moment, I'm still working on that.") through agents-js
 * `RunContext.filler` (`voice/run_context.js`: it waits until the session is idle, speaks with
 * `session.say`, repeats every `interval` up to `maxSteps`, and stops when the call ends or the
 * user or agent starts speaking).
 *
 * The filler is armed lazily, so a fast call pays no timer and no session listener: each call is
 * linked in a list (a `CallList`, which allocates nothing), and one ticker per toolset, running
 * only while calls are being made, arms the filler of the calls that have run past the delay (at
 * most one tick late).
 */
import type { voice } from '@livekit/agents';
import type { Progress } from '@modelcontextprotocol/sdk/types.js';
import type { Logger } from '../shared/logger.js';
import { CallList, type CallListItem } from '../shared/mcp/call-list.js';

/** Default of `AGENT_FILLER_AFTER_MS`, in milliseconds. */
export const DEFAULT_FILLER_AFTER_MS = 1_500;
/** Milliseconds between two fillers of the same call. */
export const FILLER_REPEAT_MS = 8_000;
/** Most fillers spoken for one call. */
export const FILLER_MAX_STEPS = 3;
/** Idle ticks (no call pending) after which the ticker stops until the next call. */
const IDLE_TICKS_BEFORE_STOP = 20;

/** The agents runtime's context of one tool call (only what the filler uses). */
export type FillerContext = Pick<voice.RunContext, 'filler' | 'session'>;

/** One tool call watched for slowness; made per call by the toolset, only inside a session. */
export class SlowCall implements CallListItem<SlowCall> {
  callList: object | undefined = undefined;
  callPrevious: SlowCall | undefined = undefined;
  callNext: SlowCall | undefined = undefined;
  /** The latest `notifications/progress` of the call, when it carries a progress token. */
  progress: Progress | undefined = undefined;
  /** The call's promise; set once the request is out. */
  promise: Promise<unknown> | undefined = undefined;
  /** The watch's tick count when it was added (see {@link SlowCallWatch}). */
  addedAtTick = 0;
  /** True once its filler was armed: the call ran past the delay. */
  armed = false;

  /**
   * @param ctx the runtime's context of the call.
   * @param toolName the tool's original MCP name; default `''` (not remembered as slow).
   */
  constructor(
    readonly ctx: FillerContext,
    readonly toolName = '',
  ) {}
}

/**
 * The text of filler number `step` (0 first): short, and with the latest progress when the server
 * reports it (`step 3 of 10`, or its message).
 */
export function fillerText(step: number, progress?: Progress): string {
  const detail = progress ? progressPhrase(progress) : '';
  if (step === 0) {
    return detail
      ? `One moment, I'm still working on that: ${detail}.`
      : `One moment, I'm still working on that.`;
  }
  return detail ? `Still working on it: ${detail}.` : `Still working on it, thanks for waiting.`;
}

/**
 * A short spoken form of an MCP progress report: its `message` when it has one, otherwise
 * `3 of 10` (with a total) or `3 done`.
 */
export function progressPhrase(progress: Progress): string {
  if (progress.message) return progress.message;
  if (progress.total !== undefined) return `${progress.progress} of ${progress.total}`;
  return `${progress.progress} done`;
}

/**
 * Says `text` now: with `session.say` when the session can speak text (a TTS, or text mode), or
 * through the model (`generateReply` with tools off) when it cannot, as with a realtime model
 * that has no TTS (its `say` throws).
 */
export function speak(session: voice.AgentSession, text: string): voice.SpeechHandle {
  try {
    return session.say(text);
  } catch {
    return session.generateReply({
      instructions: `Say only this, briefly and in the user's language: "${text}"`,
      toolChoice: 'none',
    });
  }
}

/** Options of {@link SlowCallWatch}. */
export interface SlowCallWatchOptions {
  /** Milliseconds a call runs before its filler is armed (`AGENT_FILLER_AFTER_MS`). */
  afterMs: number;
  logger: Logger;
}

/**
 * Watches a toolset's calls and arms the filler of those still running after `afterMs`. One per
 * toolset; its ticker runs every `min(250, max(20, afterMs / 5))` ms while calls are pending and
 * stops after 20 idle ticks. Time is counted in ticks, so a call reads no clock: a call is armed
 * at the first tick at least `afterMs` after it was added (at most one tick late; a tick the event
 * loop delays delays it too).
 */
export class SlowCallWatch {
  readonly afterMs: number;
  readonly #tickMs: number;
  /** Ticks after its addition at which a call is armed: the first at least `afterMs` later. */
  readonly #armAfterTicks: number;
  readonly #logger: Logger;
  readonly #pending = new CallList<SlowCall>();
  /** Tools that ran past `afterMs` before: their calls should carry a progress token. */
  readonly #slowTools = new Set<string>();
  #ticker: NodeJS.Timeout | undefined;
  /** Ticks run so far. */
  #ticks = 0;
  #idleTicks = 0;

  /** @param options the delay and a logger. */
  constructor(options: SlowCallWatchOptions) {
    this.afterMs = options.afterMs;
    this.#tickMs = Math.min(250, Math.max(20, Math.floor(options.afterMs / 5)));
    // The next tick after an addition comes within one period, so k ticks are more than k - 1
    // periods: armed after k ticks, where (k - 1) periods reach afterMs (at most a tick late).
    this.#armAfterTicks = Math.ceil(options.afterMs / this.#tickMs) + 1;
    this.#logger = options.logger;
  }

  /** Starts watching a call (its `promise` must be set before the next tick matters). */
  add(call: SlowCall): void {
    if (this.#ticker === undefined) {
      // A ticker started now ticks a whole period later: its start counts as a tick.
      this.#ticks++;
      this.#idleTicks = 0;
      this.#ticker = setInterval(() => this.#tick(), this.#tickMs);
      this.#ticker.unref();
    }
    call.addedAtTick = this.#ticks;
    this.#pending.add(call);
  }

  /**
   * Stops watching a call (it ended; an armed filler ends by itself with the call), and remembers
   * its tool as slow when its filler was armed (see {@link wasSlow}).
   */
  finish(call: SlowCall): void {
    this.#pending.delete(call);
    if (call.armed && call.toolName) this.#slowTools.add(call.toolName);
  }

  /**
   * True when a call of `toolName` ran past the delay before (in this toolset's life): its next
   * calls ask the server for progress, so their filler can say how far they got.
   */
  wasSlow(toolName: string): boolean {
    return this.#slowTools.has(toolName);
  }

  /** Stops the ticker; calls still pending get no filler. */
  close(): void {
    clearInterval(this.#ticker);
    this.#ticker = undefined;
    this.#pending.clear();
  }

  #tick(): void {
    this.#ticks++;
    if (this.#pending.size === 0) {
      if (++this.#idleTicks >= IDLE_TICKS_BEFORE_STOP) {
        clearInterval(this.#ticker);
        this.#ticker = undefined;
      }
      return;
    }
    this.#idleTicks = 0;
    for (const call of this.#pending.toArray()) {
      if (this.#ticks - call.addedAtTick < this.#armAfterTicks || !call.promise) continue;
      this.#pending.delete(call);
      this.#arm(call);
    }
  }

  #arm(call: SlowCall): void {
    call.armed = true;
    const { ctx } = call;
    const running = call.promise!;
    ctx
      .filler(
        (step) => speak(ctx.session, fillerText(step, call.progress)),
        { delay: 0, interval: FILLER_REPEAT_MS, maxSteps: FILLER_MAX_STEPS },
        () => running,
      )
      // The call's own failure is handled by the toolset; a filler that cannot speak is no error.
      .catch((error: unknown) => this.#logger.debug({ err: error }, 'filler ended'));
  }
}
