/**
 * Splits a byte stream into newline-delimited lines (the framing of the MCP stdio transport, MCP
 * spec 2025-11-25 "Transports › stdio") and refuses a line longer than a limit while it is still
 * arriving, so a server writing an endless line costs at most the limit in memory. Unlike the
 * SDK's `ReadBuffer`, which concatenates the whole buffer at every chunk, the chunks of an
 * unfinished line are kept as they are and joined once, when its newline arrives.
 */
import { McpMessageTooLargeError } from './message-limit.js';

const LF = 0x0a;

/** Newline-delimited lines of at most `maxBytes` bytes each. */
export class BoundedLineReader {
  /** The largest line accepted, in bytes, its newline (and a CR before it) not counted. */
  readonly maxBytes: number;
  #pending: Buffer[] = [];
  #pendingBytes = 0;

  /** @param maxBytes the largest line accepted, in bytes. */
  constructor(maxBytes: number) {
    this.maxBytes = maxBytes;
  }

  /**
   * Adds a chunk and hands each line it completes to `onLine`, without its line end (LF or CRLF),
   * decoded as UTF-8.
   *
   * @throws McpMessageTooLargeError when a line (complete or not) is longer than `maxBytes`; the
   *   lines before it were handed out, and the reader is cleared.
   */
  append(chunk: Buffer, onLine: (line: string) => void): void {
    let start = 0;
    for (let end = chunk.indexOf(LF); end !== -1; end = chunk.indexOf(LF, start)) {
      const piece = chunk.subarray(start, end);
      let line = piece;
      if (this.#pendingBytes > 0) {
        line = Buffer.concat([...this.#pending, piece], this.#pendingBytes + piece.length);
        this.#pending = [];
        this.#pendingBytes = 0;
      }
      start = end + 1;
      const length =
        line.length > 0 && line[line.length - 1] === 0x0d ? line.length - 1 : line.length;
      if (length > this.maxBytes) this.#refuse();
      onLine(line.toString('utf8', 0, length));
    }
    if (start < chunk.length) {
      const rest = chunk.subarray(start);
      const bytes = this.#pendingBytes + rest.length;
      // A limit-long line may end here with the CR of its CRLF, the LF still to come.
      const endsInCR = bytes === this.maxBytes + 1 && rest[rest.length - 1] === 0x0d;
      if (bytes > this.maxBytes && !endsInCR) this.#refuse();
      this.#pending.push(rest);
      this.#pendingBytes += rest.length;
    }
  }

  /** Drops an unfinished line. */
  clear(): void {
    this.#pending = [];
    this.#pendingBytes = 0;
  }

  #refuse(): never {
    this.clear();
    throw new McpMessageTooLargeError(this.maxBytes);
  }
}
