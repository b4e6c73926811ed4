/**
 * The bound on one MCP message from a server (`MCP_MAX_MESSAGE_BYTES`, DESIGN §9.4): a hostile
 * or broken server must not make Switchboard buffer a 400 MB `tools/list` page. Every transport
 * counts the bytes of each message as they arrive and gives up past the limit, before the
 * message is held whole or parsed: stdio per line (`stdio-transport.ts`), WebSocket per frame
 * (`ws`'s `maxPayload`, `websocket-transport.ts`), and Streamable HTTP and SSE through
 * {@link boundedFetch}, per response body or per server-sent event.
 */
import { NodeBodyResponse } from './node-body-response.js';

/** Default of `MCP_MAX_MESSAGE_BYTES`: 4 MiB. */
export const DEFAULT_MAX_MESSAGE_BYTES = 4 * 1024 * 1024;

/**
 * A server sent a message larger than the limit; the connection it came on is closed. The
 * message names the limit and the setting that raises it.
 */
export class McpMessageTooLargeError extends Error {
  override readonly name = 'McpMessageTooLargeError';
  /** The limit that was exceeded, in bytes. */
  readonly limitBytes: number;

  /** @param limitBytes the limit that was exceeded, in bytes. */
  constructor(limitBytes: number) {
    super(
      `the server sent a message larger than ${limitBytes} bytes, the limit ` +
        `(MCP_MAX_MESSAGE_BYTES); the connection was closed. Make the server send less (e.g. ` +
        `paginate tools/list) or raise MCP_MAX_MESSAGE_BYTES`,
    );
    this.limitBytes = limitBytes;
  }
}

/** The {@link McpMessageTooLargeError} in `error` or its chain of causes, if any. */
export function messageTooLarge(error: unknown): McpMessageTooLargeError | undefined {
  for (let current = error, depth = 0; depth < 5 && current; depth++) {
    if (current instanceof McpMessageTooLargeError) return current;
    current = (current as { cause?: unknown }).cause;
  }
  return undefined;
}

/** Options of {@link boundedFetch}. */
export interface BoundedFetchOptions {
  /** Largest message accepted, in bytes (see the module comment). */
  maxBytes: number;
  /**
   * Called once per response that exceeded the limit, with the error its body stream fails with
   * (a server-sent event stream's reader may swallow that error, so this is how the owner of the
   * connection learns of it).
   */
  onTooLarge?: (error: McpMessageTooLargeError) => void;
}

/**
 * Wraps a `fetch` so that no response body delivers more than `maxBytes` per message: a body
 * of `Content-Type: text/event-stream` is counted per event (WHATWG HTML "Server-sent events":
 * an event ends at a blank line), any other body as a whole. Past the limit the body stream
 * errors with {@link McpMessageTooLargeError} (a reading method rejects with it) and the
 * connection's body is destroyed, so at most `maxBytes` plus one network chunk is ever buffered.
 * Bytes are only counted, never copied or parsed.
 *
 * @param fetchFn the fetch to wrap (e.g. `GuardedNetwork.fetch`).
 * @returns a fetch answering `Response`s ({@link NodeBodyResponse}s) with the same status, headers,
 *   `url` and `redirected`.
 */
export function boundedFetch(fetchFn: typeof fetch, options: BoundedFetchOptions): typeof fetch {
  return async (input, init) => {
    const response = await fetchFn(input, init);
    // The answer of Switchboard's fetch as it is (its body still undici's readable; any other
    // fetch's answer read through one), each chunk counted as it is read: no stream, copy or
    // second Response per request.
    const bounded = NodeBodyResponse.from(response);
    // A null-body status (204, 304…) has no body to count: a Response cannot be made with one.
    if (!bounded.hasBody) return bounded;
    const eventStream = /^\s*text\/event-stream/i.test(response.headers.get('content-type') ?? '');
    const counter = eventStream
      ? new EventSizeCounter(options.maxBytes)
      : new BodySizeCounter(options.maxBytes);
    let reported = false;
    bounded.guard((chunk) => {
      if (!counter.exceeded(chunk)) return undefined;
      const error = new McpMessageTooLargeError(options.maxBytes);
      if (!reported) {
        reported = true;
        options.onTooLarge?.(error);
      }
      return error;
    });
    return bounded;
  };
}

/** Counts a whole body. */
class BodySizeCounter {
  #bytes = 0;
  constructor(readonly maxBytes: number) {}

  /** Adds `chunk`; true once the body is larger than the limit. */
  exceeded(chunk: Uint8Array): boolean {
    this.#bytes += chunk.byteLength;
    return this.#bytes > this.maxBytes;
  }
}

const LF = 0x0a;
const CR = 0x0d;

/**
 * Counts the bytes of the current server-sent event: lines end at CRLF, LF or CR, and an empty
 * line ends the event. Only line ends are looked at (with `indexOf`), so a large `data:` line
 * costs a scan in native code, not a loop in JavaScript.
 */
class EventSizeCounter {
  #eventBytes = 0;
  /** Bytes of the current line so far (0: at the start of a line). */
  #lineBytes = 0;
  /** The previous chunk ended with CR: an LF first in this chunk belongs to it. */
  #afterCR = false;
  constructor(readonly maxBytes: number) {}

  /** Adds `chunk`; true once the current event is larger than the limit. */
  exceeded(chunk: Uint8Array): boolean {
    let start = 0;
    if (this.#afterCR && chunk[0] === LF) start = 1;
    this.#afterCR = false;
    // The next LF and CR at or after `at`, each searched again only once passed: linear time
    // however many lines a chunk holds.
    let lf = chunk.indexOf(LF, start);
    let cr = chunk.indexOf(CR, start);
    for (let at = start; at < chunk.length;) {
      if (lf !== -1 && lf < at) lf = chunk.indexOf(LF, at);
      if (cr !== -1 && cr < at) cr = chunk.indexOf(CR, at);
      const end = lf === -1 ? cr : cr === -1 ? lf : Math.min(lf, cr);
      if (end === -1) {
        this.#lineBytes += chunk.length - at;
        this.#eventBytes += chunk.length - at;
        break;
      }
      const lineBytes = this.#lineBytes + (end - at);
      let next = end + 1;
      if (chunk[end] === CR) {
        if (next < chunk.length) {
          if (chunk[next] === LF) next += 1;
        } else {
          this.#afterCR = true;
        }
      }
      if (lineBytes === 0) {
        // A blank line: the event is complete, a new one begins.
        this.#eventBytes = 0;
      } else {
        this.#eventBytes += next - at;
        if (this.#eventBytes > this.maxBytes) return true;
      }
      this.#lineBytes = 0;
      at = next;
    }
    return this.#eventBytes > this.maxBytes;
  }
}
