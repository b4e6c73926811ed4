/**
 * The stdio gateway: relays JSON-RPC between an MCP client on stdin/stdout (the SDK's
 * `StdioServerTransport`, newline-delimited JSON, MCP 2025-11-25 "stdio") and Switchboard's MCP
 * endpoint (the SDK's `StreamableHTTPClientTransport`, MCP 2025-11-25 "Streamable HTTP") with
 * `Authorization: Bearer <token>`. Every message goes through unchanged, both ways: requests,
 * responses, notifications (progress, cancellation, list changes) and the server's own requests
 * (elicitation, sampling, roots). The HTTP transport keeps the `Mcp-Session-Id`, sets
 * `MCP-Protocol-Version` once the initialize response is seen, and opens the standalone GET
 * stream for server notifications when the client's `notifications/initialized` is accepted.
 *
 * What the bridge adds to the two transports:
 * - a failed POST of a client request (401/403, unreachable, any HTTP error) is answered on stdout
 *   with a JSON-RPC error for that request id, and explained in one line on stderr;
 * - a 404 for the session (it expired, or another replica answered; MCP 2025-11-25 "Session
 *   Management") starts a new session: the client's initialize request and
 *   `notifications/initialized` are replayed, the new initialize response is kept from the
 *   client, and the request that met the 404 is sent again. Requests still waiting on the ended
 *   session get an error; notifications and responses meant for it are dropped. A session that
 *   ends while nothing is sent is restarted as soon as the standalone GET stream, reconnecting,
 *   meets the 404 (or with the next message, if that restart failed);
 * - closing (stdin's end, or {@link Gateway.close}) ends the HTTP session with a DELETE.
 *
 * The token never appears in what the bridge writes: every line and error message is scrubbed.
 */
import type { Readable, Writable } from 'node:stream';
import {
  StreamableHTTPClientTransport,
  StreamableHTTPError,
} from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import {
  isJSONRPCErrorResponse,
  isJSONRPCNotification,
  isJSONRPCRequest,
  isJSONRPCResultResponse,
  type JSONRPCErrorResponse,
  type JSONRPCMessage,
  type JSONRPCNotification,
  type JSONRPCRequest,
  type RequestId,
} from '@modelcontextprotocol/sdk/types.js';

/**
 * The JSON-RPC error code of the bridge's own answers (the endpoint could not be reached, refused
 * the token, or the session could not be restarted): -32000, in JSON-RPC 2.0's range for
 * implementation-defined server errors.
 */
export const GATEWAY_ERROR_CODE = -32000;

/** How to get a token, appended to the explanation of a 401 or 403. */
export const TOKEN_HELP =
  'Make a token with the gateway scope in the dashboard (Access → API tokens), or with ' +
  'POST /api/tokens and {"label": "...", "scopes": ["gateway"]}, and pass it in SWITCHBOARD_TOKEN.';

/** Tokens this long or longer are cut out of everything the bridge writes (`sb_` ones are 46). */
const MIN_SCRUBBED_LENGTH = 8;

/** How long closing waits for the session's DELETE before it gives up on it, in milliseconds. */
const TERMINATE_TIMEOUT_MS = 5_000;

/** How long a session restart waits for the replayed initialize's answer, in milliseconds. */
const RESTART_TIMEOUT_MS = 30_000;

/** Options of {@link startGateway}. */
export interface GatewayOptions {
  /** Switchboard's MCP endpoint, e.g. `http://127.0.0.1:3000/mcp` (see `mcpEndpoint`). */
  endpoint: URL;
  /** The API token, sent as `Authorization: Bearer <token>`; never written anywhere. */
  token: string;
  /** Where the client's messages come from; default `process.stdin`. */
  input?: Readable;
  /** Where messages for the client go (nothing else is written there); default `process.stdout`. */
  output?: Writable;
  /** Writes one diagnostic line (no newline at its end), e.g. to stderr. The token is scrubbed. */
  log: (line: string) => void;
}

/** A running gateway. */
export interface Gateway {
  /**
   * Ends the HTTP session (DELETE, waiting at most 5 s for the answer), closes both transports
   * and resolves {@link closed}. Safe to call more than once; never rejects.
   */
  close(): Promise<void>;
  /** Resolves once the gateway has closed: after {@link close}, or when `input` ends. */
  readonly closed: Promise<void>;
}

/** A client request sent to the endpoint and not answered yet. */
interface PendingRequest {
  /** The session generation it was sent in. */
  generation: number;
  /** Whether the endpoint took it (its POST answered 2xx). */
  accepted: boolean;
}

/**
 * Starts relaying between `input`/`output` and the endpoint. Nothing is sent to the endpoint
 * before the client's first message (normally its initialize request).
 *
 * @returns the running gateway; it closes itself when `input` ends or `output` fails.
 */
export function startGateway(options: GatewayOptions): Gateway {
  const { endpoint, token, log } = options;
  // A token too short to be one of Switchboard's would shred every line it is cut out of.
  const scrub = (text: string) =>
    token.length >= MIN_SCRUBBED_LENGTH ? text.split(token).join('[token]') : text;
  const say = (line: string) => log(scrub(line));
  const where = displayUrl(endpoint);
  const input = options.input ?? process.stdin;
  const output = options.output ?? process.stdout;
  const stdio = new StdioServerTransport(input, output);

  /** Errors already reported by the code that awaited them (the SDK also hands them to onerror). */
  const reported = new WeakSet<object>();
  /** Client requests waiting for their answer, by id. */
  const pending = new Map<RequestId, PendingRequest>();
  /** Answers to the bridge's own requests (replayed initializes), by id. */
  const internal = new Map<RequestId, (message: JSONRPCMessage) => void>();

  let initializeRequest: JSONRPCRequest | undefined;
  let initializedNotification: JSONRPCNotification | undefined;
  let generation = 0;
  let restarting: Promise<void> | undefined;
  let needsRestart = false;
  let closing: Promise<void> | undefined;
  let resolveClosed!: () => void;
  const closed = new Promise<void>((resolve) => (resolveClosed = resolve));

  const toClient = (message: JSONRPCMessage) => {
    if (closing) return;
    stdio.send(message).catch((error: unknown) => say(`cannot write to stdout: ${String(error)}`));
  };

  const createTransport = () => {
    let getStreamOpened = false;
    const transport = new StreamableHTTPClientTransport(endpoint, {
      requestInit: { headers: { Authorization: `Bearer ${token}` } },
      // Notes whether the standalone GET stream ever opened, so a 404 on its reconnection is
      // told from an endpoint that never serves it in this session (replicas without sticky
      // sessions), where restarting would only loop.
      fetch: async (url, init) => {
        const response = await fetch(url, init);
        if (init?.method === 'GET' && response.ok) getStreamOpened = true;
        return response;
      },
    });
    transport.onmessage = (message) => {
      const id = 'id' in message ? message.id : undefined;
      const isAnswer = isJSONRPCResultResponse(message) || isJSONRPCErrorResponse(message);
      if (isAnswer && id !== undefined) {
        const waiter = internal.get(id);
        if (waiter) {
          internal.delete(id);
          waiter(message);
          return;
        }
        pending.delete(id);
        if (id === initializeRequest?.id && isJSONRPCResultResponse(message)) {
          transport.setProtocolVersion(String(message.result.protocolVersion));
        }
      }
      toClient(message);
    };
    transport.onerror = (error) => {
      // The SDK reports a failed send here and then throws it to `forward`, which explains it
      // with its context; wait until that has run and report only what nobody else did (the GET
      // stream's failures).
      setImmediate(() => {
        if (closing || transport !== http) return;
        if (typeof error === 'object' && error !== null) {
          // The SDK may hand the same failure over twice (the GET stream's first open).
          if (reported.has(error)) return;
          reported.add(error);
        }
        const is404 = error instanceof StreamableHTTPError && error.code === 404;
        if (is404 && getStreamOpened && initializeRequest) {
          // The GET stream, reconnecting, found the session gone: start a new one now, so that
          // server notifications resume without waiting for the client's next message.
          restartSession(generation).catch((restartError: unknown) =>
            say(describeFailure(restartError, where)),
          );
          return;
        }
        say(describeFailure(error, where));
      });
    };
    // start() makes the abort controller that the GET stream's reconnection and close() need;
    // it does no I/O (the first request is the client's initialize).
    void transport.start();
    return transport;
  };

  let http = createTransport();

  /** Answers client request `id` with a JSON-RPC error carrying `text`. */
  const answerWithError = (id: RequestId, text: string, httpStatus?: number) => {
    pending.delete(id);
    const answer: JSONRPCErrorResponse = {
      jsonrpc: '2.0',
      id,
      error: {
        code: GATEWAY_ERROR_CODE,
        message: text,
        ...(httpStatus !== undefined && { data: { httpStatus } }),
      },
    };
    toClient(answer);
  };

  /** Explains on stderr why the endpoint did not take `message`, and answers it if a request. */
  const fail = (message: JSONRPCMessage, error: unknown) => {
    const text = scrub(describeFailure(error, where));
    say(text);
    if (!isJSONRPCRequest(message)) return;
    const status =
      error instanceof StreamableHTTPError && (error.code ?? 0) > 0 ? error.code : undefined;
    answerWithError(message.id, text, status);
  };

  /** `transport.send`, with its failure marked as reported here (see `onerror`). */
  const send = async (transport: StreamableHTTPClientTransport, message: JSONRPCMessage) => {
    try {
      await transport.send(message);
    } catch (error) {
      if (typeof error === 'object' && error !== null) reported.add(error);
      throw error;
    }
  };

  /**
   * Replaces the ended session of generation `ended` with a new one; concurrent callers for the
   * same generation share one restart.
   *
   * @throws Error when the endpoint does not take the replayed initialize.
   */
  const restartSession = (ended: number): Promise<void> => {
    if (generation !== ended) return restarting ?? Promise.resolve();
    generation += 1;
    const current = generation;
    const old = http;
    old.onmessage = old.onerror = old.onclose = undefined;
    void old.close();
    // Requests the ended session took will never be answered.
    for (const [id, request] of pending) {
      if (request.generation <= ended && request.accepted) {
        say(`a request was lost with the ended Switchboard session`);
        answerWithError(id, 'the Switchboard session ended before answering; try again');
      }
    }
    const restart = (async () => {
      http = createTransport();
      const id = `switchboard-gateway-restart-${current}`;
      let timer: NodeJS.Timeout | undefined;
      let response: JSONRPCMessage;
      try {
        const answer = new Promise<JSONRPCMessage>((resolve, reject) => {
          internal.set(id, resolve);
          timer = setTimeout(
            () => reject(new Error('the new Switchboard session did not answer its initialize')),
            RESTART_TIMEOUT_MS,
          );
        });
        await send(http, { ...initializeRequest!, id });
        response = await answer;
      } finally {
        internal.delete(id);
        clearTimeout(timer);
      }
      if (!isJSONRPCResultResponse(response)) {
        const refusal = isJSONRPCErrorResponse(response) ? response.error.message : 'no result';
        throw new Error(`Switchboard refused to start a new session: ${refusal}`);
      }
      http.setProtocolVersion(String(response.result.protocolVersion));
      if (initializedNotification) await send(http, initializedNotification);
      needsRestart = false;
      say(`the Switchboard session ended (HTTP 404); started a new one`);
    })();
    restarting = restart;
    restart
      .catch(() => {
        needsRestart = true;
      })
      .finally(() => {
        if (restarting === restart) restarting = undefined;
      });
    return restart;
  };

  /** Sends one client message to the endpoint, restarting the session once on a 404. */
  const forward = async (message: JSONRPCMessage, retried = false): Promise<void> => {
    if (restarting) await restarting.catch(() => {});
    if (closing) return;
    if (needsRestart) {
      try {
        await restartSession(generation);
      } catch (error) {
        fail(message, error);
        return;
      }
    }
    const transport = http;
    const sentIn = generation;
    const hadSession = transport.sessionId !== undefined;
    const request = isJSONRPCRequest(message) ? message : undefined;
    if (request) pending.set(request.id, { generation: sentIn, accepted: false });
    try {
      await send(transport, message);
      const entry = request && pending.get(request.id);
      if (entry?.generation === sentIn) entry.accepted = true;
    } catch (error) {
      if (closing) return;
      const sessionEnded = error instanceof StreamableHTTPError && error.code === 404;
      if (sessionEnded && hadSession && !retried && initializeRequest) {
        try {
          await restartSession(sentIn);
        } catch (restartError) {
          fail(message, restartError);
          return;
        }
        if (request) return forward(message, true);
        say(`dropped a message meant for the ended session`);
        return;
      }
      fail(message, error);
    }
  };

  stdio.onmessage = (message) => {
    if (isJSONRPCRequest(message) && message.method === 'initialize') initializeRequest = message;
    if (isJSONRPCNotification(message) && message.method === 'notifications/initialized') {
      initializedNotification = message;
    }
    void forward(message);
  };
  stdio.onerror = (error) =>
    say(`ignored input that is not JSON-RPC: ${describeFailure(error, where)}`);

  const close = (): Promise<void> =>
    (closing ??= (async () => {
      const transport = http;
      transport.onmessage = undefined;
      let timer: NodeJS.Timeout | undefined;
      try {
        await Promise.race([
          transport.terminateSession(),
          new Promise((resolve) => (timer = setTimeout(resolve, TERMINATE_TIMEOUT_MS))),
        ]);
      } catch {
        // The session may be gone already, or the endpoint unreachable: nothing left to end.
      } finally {
        clearTimeout(timer);
      }
      transport.onerror = transport.onclose = undefined;
      await transport.close();
      await stdio.close();
      resolveClosed();
    })());

  input.once('end', () => void close());
  output.once('error', () => void close());
  void stdio.start();
  say(`relaying stdio to ${where}`);
  return { close, closed };
}

/**
 * One readable line for a failure of the HTTP side: a 401 or 403 says what is wrong with the
 * token and how to get a good one, an unreachable endpoint names the socket error
 * (`cannot reach Switchboard at <url>: ECONNREFUSED`), any other HTTP error its status and
 * (shortened) body.
 *
 * @param where the endpoint as shown to the user.
 */
export function describeFailure(error: unknown, where: string): string {
  if (error instanceof StreamableHTTPError) {
    if (error.code === 401) {
      return `Switchboard at ${where} rejected the API token (HTTP 401): it is unknown or revoked. ${TOKEN_HELP}`;
    }
    if (error.code === 403) {
      return `Switchboard at ${where} refused the API token (HTTP 403): it lacks the gateway scope. ${TOKEN_HELP}`;
    }
  }
  const network = networkErrorCode(error);
  if (network) return `cannot reach Switchboard at ${where}: ${network}`;
  const text = error instanceof Error ? error.message : String(error);
  const short = text.length > 300 ? `${text.slice(0, 300)}…` : text;
  if (error instanceof StreamableHTTPError && (error.code ?? 0) > 0) {
    const detail = short.replace(/^Streamable HTTP error: /, '');
    return `Switchboard at ${where} answered HTTP ${error.code}: ${detail}`;
  }
  return short.replace(/\s*\n\s*/g, ' | ');
}

/**
 * The socket error code of a failed `fetch` (undici's `TypeError: fetch failed` with the
 * `ECONNREFUSED`, `ENOTFOUND`… error as its cause, or an `AggregateError` of one per address).
 */
function networkErrorCode(error: unknown): string | undefined {
  if (!(error instanceof TypeError) || !(error.cause instanceof Error)) return undefined;
  const cause = error.cause as Error & { code?: unknown; errors?: unknown };
  if (typeof cause.code === 'string') return cause.code;
  const first = Array.isArray(cause.errors) ? (cause.errors[0] as { code?: unknown }) : undefined;
  if (typeof first?.code === 'string') return first.code;
  return cause.message;
}

/** The endpoint without user info, query or fragment, for messages. */
function displayUrl(url: URL): string {
  const shown = new URL(url);
  shown.username = shown.password = shown.search = shown.hash = '';
  return shown.href;
}
