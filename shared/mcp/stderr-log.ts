/**
 * A stdio MCP server's stderr on its way to the log, bounded so that a server that floods it
 * cannot flood our logs (DESIGN §8): each line is cut at `maxLineBytes`, lines pass a token
 * bucket (`burstLines` at once, then `linesPerSecond`), and the lines dropped meanwhile are
 * counted in one "suppressed" line. The last `tailChars` of it are kept, unlimited by the rate,
 * to explain a failure in an error message.
 */
import type { Logger } from '../logger.js';

/** Bounds on a stdio server's stderr in the log. */
export interface StderrLimits {
  /** Longest line logged, in bytes (UTF-8); the rest is cut and marked. Default 1000. */
  maxLineBytes: number;
  /** Lines logged per second once the burst is spent (the bucket's refill rate). Default 10. */
  linesPerSecond: number;
  /** Lines logged at once before the rate applies (the bucket's size). Default 50. */
  burstLines: number;
  /** Characters of the most recent stderr kept for error messages. Default 2048. */
  tailChars: number;
}

/** The defaults of {@link StderrLimits}. */
export const DEFAULT_STDERR_LIMITS: StderrLimits = {
  maxLineBytes: 1000,
  linesPerSecond: 10,
  burstLines: 50,
  tailChars: 2048,
};

/** Options of {@link StderrLog}. */
export interface StderrLogOptions {
  /** Where lines go: `info` for a line, `warn` for a count of suppressed lines. */
  logger: Logger;
  /** Missing fields take {@link DEFAULT_STDERR_LIMITS}. */
  limits?: Partial<StderrLimits>;
  /** Clock for the rate, in milliseconds; default `Date.now`. */
  now?: () => number;
  /**
   * Applied to each line before it is logged or kept for error notes (a server may print its
   * environment, secrets included); default none.
   */
  scrub?: (text: string) => string;
  /**
   * Lines already logged by earlier connections to the same server (see {@link StderrRepeats});
   * default none (every line is logged, within the rate).
   */
  repeats?: StderrRepeats;
}

const NEWLINE = 0x0a;

/** A line that names what went wrong (Node's and Python's errors, and common shell words). */
const ERROR_LINE =
  /\b(?:\w*Error\b|Exception\b|ERR_|cannot|can't|not found|no such|denied|refused|failed)/i;

/**
 * Lines of a crash report that explain nothing on their own: stack frames (`at f (file:1:2)`,
 * Python's `File "x", line 1`), Node's source excerpt and caret line, lone braces, `Node.js vN`
 * banners and internal module paths.
 */
function isNoise(line: string): boolean {
  return (
    /^at\s/.test(line) ||
    /^File ".*", line \d+/.test(line) ||
    /^Traceback \(most recent call last\):$/.test(line) ||
    /^[\^~\s]+$/.test(line) ||
    /^[{}[\]]+,?$/.test(line) ||
    /^Node\.js v\d/.test(line) ||
    /^node:internal\//.test(line) ||
    /^throw \w+;$/.test(line) ||
    /^requireStack: \[/.test(line)
  );
}

/** Most distinct lines a {@link StderrRepeats} remembers; older ones are forgotten first. */
const MAX_REMEMBERED_LINES = 500;

/**
 * The stderr lines a server has already logged, shared by the connections one supervisor makes
 * (each reconnect starts the process again, which often prints the same failure): a line seen
 * before is not logged again but counted, and its count is logged when it reaches 2, 4, 8, … so
 * a server failing every retry for an hour writes a few lines, not hundreds.
 */
export class StderrRepeats {
  readonly #seen = new Map<string, number>();

  /**
   * Records `line` and says what to do with it.
   *
   * @returns `log` the first time; `count` with the times seen when that is a power of two;
   *   `skip` otherwise.
   */
  record(
    line: string,
  ): { action: 'log' } | { action: 'count'; times: number } | { action: 'skip' } {
    const times = (this.#seen.get(line) ?? 0) + 1;
    this.#seen.delete(line);
    this.#seen.set(line, times);
    if (this.#seen.size > MAX_REMEMBERED_LINES) {
      this.#seen.delete(this.#seen.keys().next().value!);
    }
    if (times === 1) return { action: 'log' };
    return (times & (times - 1)) === 0 ? { action: 'count', times } : { action: 'skip' };
  }
}

/** Splits a byte stream into bounded, rate-limited log lines and keeps its tail. */
export class StderrLog {
  readonly #logger: Logger;
  readonly #limits: StderrLimits;
  readonly #now: () => number;
  readonly #scrub: (text: string) => string;
  readonly #repeats: StderrRepeats | undefined;
  /** The current line's bytes so far, at most `maxLineBytes` of them. */
  #pending: Buffer[] = [];
  #pendingBytes = 0;
  /** Bytes of the current line dropped beyond `maxLineBytes`. */
  #cutBytes = 0;
  #tail = '';
  #tokens: number;
  #refilledAt: number;
  #suppressed = 0;

  constructor(options: StderrLogOptions) {
    this.#logger = options.logger;
    this.#limits = { ...DEFAULT_STDERR_LIMITS, ...options.limits };
    this.#now = options.now ?? Date.now;
    this.#scrub = options.scrub ?? ((text) => text);
    this.#repeats = options.repeats;
    this.#tokens = this.#limits.burstLines;
    this.#refilledAt = this.#now();
  }

  /** Takes the next chunk of the stream; complete lines are logged (within the limits). */
  write(chunk: Buffer): void {
    let start = 0;
    while (start < chunk.length) {
      const newline = chunk.indexOf(NEWLINE, start);
      this.#collect(chunk.subarray(start, newline === -1 ? chunk.length : newline));
      if (newline === -1) return;
      this.#endLine();
      start = newline + 1;
    }
  }

  /**
   * Ends the stream: logs an unterminated last line and the count of lines suppressed since the
   * last logged one. Call when the stream ends; writing afterwards starts afresh.
   */
  flush(): void {
    if (this.#pendingBytes > 0 || this.#cutBytes > 0) this.#endLine();
    this.#reportSuppressed();
  }

  /** The most recent stderr (at most `tailChars`), the unterminated current line included. */
  get tail(): string {
    return (this.#tail + this.#scrub(this.#pendingText())).slice(-this.#limits.tailChars);
  }

  /**
   * The tail as a note for an error message, e.g. ` (stderr: Error: Cannot find module '/x.js' |
   * code: 'MODULE_NOT_FOUND')`: its last five meaningful lines joined by ` | ` (stack frames,
   * source excerpts, carets, braces and runtime banners left out, see {@link isNoise}), led by
   * the last line that names an error when that one is older, at most 500 characters; empty
   * when the server wrote nothing.
   */
  note(): string {
    const meaningful = this.tail
      .split('\n')
      .map((line) => line.trim())
      .filter((line) => line && !isNoise(line));
    if (meaningful.length === 0) return '';
    const last = meaningful.slice(-5);
    const error = meaningful.findLast((line) => ERROR_LINE.test(line));
    const lines = error && !last.includes(error) ? [error, ...last.slice(1)] : last;
    const text = lines.join(' | ');
    return ` (stderr: ${text.length > 500 ? `${text.slice(0, 499)}…` : text})`;
  }

  #collect(piece: Buffer): void {
    const room = this.#limits.maxLineBytes - this.#pendingBytes;
    if (piece.length > room) {
      this.#cutBytes += piece.length - Math.max(room, 0);
      piece = piece.subarray(0, Math.max(room, 0));
    }
    if (piece.length === 0) return;
    this.#pending.push(piece);
    this.#pendingBytes += piece.length;
  }

  #pendingText(): string {
    return Buffer.concat(this.#pending).toString('utf8');
  }

  #endLine(): void {
    let line = this.#scrub(this.#pendingText().replace(/\r$/, ''));
    if (this.#cutBytes > 0) line += ` …[${this.#cutBytes} more bytes cut]`;
    this.#pending = [];
    this.#pendingBytes = 0;
    this.#cutBytes = 0;
    if (!line.trim()) return;
    this.#tail = (this.#tail + line + '\n').slice(-this.#limits.tailChars);
    const repeat = this.#repeats?.record(line);
    if (repeat?.action === 'skip') return;
    if (!this.#takeToken()) {
      this.#suppressed++;
      return;
    }
    this.#reportSuppressed();
    if (repeat?.action === 'count') {
      this.#logger.info(
        { stderr: line, times: repeat.times },
        `mcp server stderr (the same line ${repeat.times} times, across restarts)`,
      );
    } else {
      this.#logger.info({ stderr: line }, 'mcp server stderr');
    }
  }

  /** Token bucket: refills `linesPerSecond` per second up to `burstLines`. */
  #takeToken(): boolean {
    const now = this.#now();
    const elapsedMs = Math.max(0, now - this.#refilledAt);
    this.#refilledAt = now;
    this.#tokens = Math.min(
      this.#limits.burstLines,
      this.#tokens + (elapsedMs * this.#limits.linesPerSecond) / 1000,
    );
    if (this.#tokens < 1) return false;
    this.#tokens -= 1;
    return true;
  }

  #reportSuppressed(): void {
    if (this.#suppressed === 0) return;
    const suppressedLines = this.#suppressed;
    this.#suppressed = 0;
    this.#logger.warn(
      { suppressedLines },
      `mcp server stderr: suppressed ${suppressedLines} lines (more than ${this.#limits.linesPerSecond} per second)`,
    );
  }
}
