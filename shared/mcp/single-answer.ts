/**
 * The answer of a Streamable HTTP request that came as a one-event stream, handed to the SDK as
 * the JSON response it amounts to (MCP spec 2025-11-25, "Transports › Streamable HTTP › Sending
 * Messages to the Server": to a POSTed request the server answers either `application/json` with
 * the response, or `text/event-stream` whose events may carry requests and notifications before
 * the response, which ends the stream).
 *
 * Most servers (the MCP SDK's server transport by default) answer every request with an event
 * stream, even a `ping` or an `echo` whose stream holds nothing but the response. The SDK's
 * client then builds a pipeline of web streams for each (`TextDecoderStream`, the
 * `EventSourceParserStream`, two pipes and a reader): a third of the 139 KB a health-check ping
 * allocated (`npm run bench`, `scale.monitor`; 91 KB with this). {@link singleAnswerFetch} reads
 * the first event itself, with the parser library the SDK uses (`eventsource-parser`): when it is
 * the response to the request, the SDK gets it as an `application/json` body, as from a server
 * that answers with JSON (the rest of the stream is read and dropped, as the SDK would have read
 * it); anything else (a notification, a server request, a priming event followed by more, or a
 * stream that ends or fails first) is handed on as the event stream it was, its bytes read so
 * far replayed first, so progress, elicitation, sampling and resumption work as before.
 */
import { mediaTypeEssence } from '@modelcontextprotocol/sdk/shared/mediaType.js';
import type { FetchLike } from '@modelcontextprotocol/sdk/shared/transport.js';
import {
  isJSONRPCErrorResponse,
  isJSONRPCRequest,
  isJSONRPCResultResponse,
} from '@modelcontextprotocol/sdk/types.js';
import { createParser, type EventSourceMessage } from 'eventsource-parser';

/**
 * Largest request body and answer event looked at, in characters: a larger one passes through as
 * it came (parsing it here too would cost more than the streams it saves).
 */
const MAX_COLLAPSED_CHARS = 64 * 1024;

/**
 * Wraps the `fetch` of a Streamable HTTP client transport (see the module comment): a POST of one
 * JSON-RPC request whose `200` answer is an event stream whose first event with data is that
 * request's response answers as `application/json` with that response (the rest of the stream,
 * which should be nothing but its end, is read and dropped). Every other request and answer
 * passes through as it is; the wrapped fetch's errors reject as they did. Messages are
 * recognised with the SDK's own JSON-RPC guards and media-type parsing.
 *
 * @param fetchFn the fetch to wrap (Switchboard's bounded, guarded fetch).
 * @returns a fetch answering global `Response`s with the same status, headers (but
 *   `Content-Type` for a collapsed answer), `url` and `redirected`.
 */
export function singleAnswerFetch(fetchFn: FetchLike): FetchLike {
  return async (input, init) => {
    const response = await fetchFn(input, init);
    const id = init?.method === 'POST' ? requestId(init.body) : undefined;
    if (
      id === undefined ||
      response.status !== 200 ||
      !response.body ||
      mediaTypeEssence(response.headers.get('content-type')) !== 'text/event-stream'
    ) {
      return response;
    }
    const reader = response.body.getReader();
    const read: Uint8Array[] = [];
    let first: EventSourceMessage | undefined;
    const parser = createParser({
      onEvent: (event) => {
        // A priming event (SEP-1699: an id and empty data) says nothing yet.
        if (first === undefined && event.data !== '') first = event;
      },
    });
    const decoder = new TextDecoder();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      read.push(value);
      parser.feed(decoder.decode(value, { stream: true }));
      if (first) break;
    }
    const answer = first && answerTo(id, first);
    if (answer !== undefined) {
      // The rest (the stream's end, normally) is read, not cancelled: a cancelled HTTP/1.1
      // answer costs its connection, and the next request a new one.
      void drain(reader);
      const headers = new Headers(response.headers);
      headers.set('content-type', 'application/json');
      return withOrigin(
        new JsonAnswer(answer, { status: 200, statusText: response.statusText, headers }),
        response,
      );
    }
    const replay = new ReadableStream<Uint8Array>({
      start(controller) {
        for (const chunk of read) controller.enqueue(chunk);
      },
      async pull(controller) {
        const { done, value } = await reader.read();
        if (done) controller.close();
        else controller.enqueue(value);
      },
      cancel(reason) {
        return reader.cancel(reason);
      },
    });
    return withOrigin(
      new Response(replay, {
        status: response.status,
        statusText: response.statusText,
        headers: response.headers,
      }),
      response,
    );
  };
}

/** The id of the one JSON-RPC request in a POST body, if that is what it is. */
function requestId(body: RequestInit['body']): string | number | undefined {
  if (typeof body !== 'string' || body.length > MAX_COLLAPSED_CHARS) return undefined;
  const message = parsed(body);
  return isJSONRPCRequest(message) ? message.id : undefined;
}

/**
 * `event`'s data when it is the JSON-RPC response (a result or an error) to the request `id`,
 * sent as a plain `message` event; otherwise undefined.
 */
function answerTo(id: string | number, event: EventSourceMessage): string | undefined {
  if (event.event !== undefined && event.event !== 'message') return undefined;
  if (event.data.length > MAX_COLLAPSED_CHARS) return undefined;
  const message = parsed(event.data);
  const response = isJSONRPCResultResponse(message) || isJSONRPCErrorResponse(message);
  return response && message.id === id ? event.data : undefined;
}

/** `text` parsed as JSON, or undefined when it is not JSON. */
function parsed(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/**
 * A `Response` whose body is a JSON text already in memory, read without a stream: the SDK calls
 * `json()` on it, and a `Response` made from a string builds a byte stream and reads it back,
 * about 18 µs of a health-check ping's 300–500 µs on Node 20 (`new ReadableStream` is slow
 * there), against 2 µs for this. Its `body` is null: it is read with `text()`, `json()`,
 * `arrayBuffer()` or `blob()`, once, as a `Response`'s body is (`bodyUsed`; a second read rejects
 * with a `TypeError`). The readers are instance fields, not methods: the DOM typings declare them
 * as properties of `Response`.
 */
class JsonAnswer extends Response {
  override readonly body = null;
  override bodyUsed = false;
  readonly #text: string;

  /** @param text the JSON text of the body; `init` as for `Response`. */
  constructor(text: string, init: ResponseInit) {
    super(null, init);
    this.#text = text;
  }

  override text = (): Promise<string> => {
    if (this.bodyUsed) return Promise.reject(new TypeError('Body is unusable: already read'));
    this.bodyUsed = true;
    return Promise.resolve(this.#text);
  };

  override json = async (): Promise<unknown> => JSON.parse(await this.text()) as unknown;

  override arrayBuffer = async (): Promise<ArrayBuffer> => {
    const bytes = new TextEncoder().encode(await this.text());
    return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength);
  };

  override blob = async (): Promise<Blob> =>
    new Blob([await this.text()], { type: this.headers.get('content-type') ?? '' });

  override clone = (): Response => {
    if (this.bodyUsed) throw new TypeError('Response.clone: Body has already been consumed.');
    return withOrigin(new JsonAnswer(this.#text, this), this);
  };
}

/** Reads `reader` to its end (or its error), dropping what it reads. Never rejects. */
async function drain(reader: ReadableStreamDefaultReader<Uint8Array>): Promise<void> {
  try {
    for (;;) {
      const { done } = await reader.read();
      if (done) return;
    }
  } catch {
    // The answer is in; what failed after it changes nothing.
  }
}

/** `response` with the `url` and `redirected` of `from` (a constructed Response has neither). */
function withOrigin(response: Response, from: Response): Response {
  Object.defineProperties(response, {
    url: { value: from.url },
    redirected: { value: from.redirected },
  });
  return response;
}
