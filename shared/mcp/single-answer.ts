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
import { createParser, type EventSourceMessage } from 'eventsource-parser';
import { NodeBodyResponse } from './node-body-response.js';

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
 * recognised by their JSON-RPC shape (see `answerTo`) and the SDK's media-type parsing.
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
      !(response instanceof NodeBodyResponse ? response.hasBody : response.body) ||
      mediaTypeEssence(response.headers.get('content-type')) !== 'text/event-stream'
    ) {
      return response;
    }
    const answer = NodeBodyResponse.from(response);
    let first: EventSourceMessage | undefined;
    const parser = createParser({
      onEvent: (event) => {
        // A priming event (SEP-1699: an id and empty data) says nothing yet.
        if (first === undefined && event.data !== '') first = event;
      },
    });
    const decoder = new TextDecoder();
    await answer.peek((chunk) => {
      parser.feed(decoder.decode(chunk, { stream: true }));
      return first !== undefined;
    });
    const data = first && answerTo(id, first);
    // The rest (the stream's end, normally) is read and dropped by replaceBody; anything else is
    // handed on with the bytes read so far first.
    if (data !== undefined) answer.replaceBody(data, 'application/json');
    return answer;
  };
}

/** The id of the one JSON-RPC request in a POST body, if that is what it is. */
function requestId(body: RequestInit['body']): string | number | undefined {
  if (typeof body !== 'string' || body.length > MAX_COLLAPSED_CHARS) return undefined;
  const message = parsed(body);
  if (!isObject(message) || message.jsonrpc !== '2.0' || typeof message.method !== 'string') {
    return undefined;
  }
  return typeof message.id === 'string' || typeof message.id === 'number' ? message.id : undefined;
}

/**
 * `event`'s data when it is the JSON-RPC response (a result or an error) to the request `id`,
 * sent as a plain `message` event; otherwise undefined. The shape is checked by hand, not with
 * the SDK's schemas (zod cost about a tenth of a health-check ping's CPU): the SDK parses the
 * message with its own schema once it is handed on either way, so this only decides whether it
 * is handed on as JSON.
 */
function answerTo(id: string | number, event: EventSourceMessage): string | undefined {
  if (event.event !== undefined && event.event !== 'message') return undefined;
  if (event.data.length > MAX_COLLAPSED_CHARS) return undefined;
  const message = parsed(event.data);
  if (!isObject(message) || message.jsonrpc !== '2.0' || message.id !== id) return undefined;
  const { result, error } = message;
  const answer =
    'result' in message
      ? isObject(result) && !('error' in message)
      : isObject(error) && typeof error.code === 'number' && typeof error.message === 'string';
  return answer ? event.data : undefined;
}

/** Whether `value` is a JSON object (not null, not an array). */
function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** `text` parsed as JSON, or undefined when it is not JSON. */
function parsed(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}
