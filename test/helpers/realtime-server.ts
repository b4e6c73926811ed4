/**
 * A test stand-in for the OpenAI Realtime API (GA, WebSocket transport): a `ws` server on
 * 127.0.0.1 that speaks the subset of the protocol the LiveKit OpenAI plugin 1.9 uses
 * (`@livekit/agents-plugin-openai` `dist/realtime/realtime_model.js`), so the real
 * `openai.realtime.RealtimeModel` can run a session against it through `baseURL`.
 *
 * - Upgrade: `GET {base path}/realtime?model=<model>` with `Authorization: Bearer <key>`;
 *   anything else is refused with HTTP 401/404 (like OpenAI), and every upgrade with 503 while
 *   {@link RealtimeTestServer.refuse} is set.
 * - On connect it sends `session.created`.
 * - `session.update` → `session.updated`; `conversation.item.create` →
 *   `conversation.item.added` + `conversation.item.done`; `conversation.item.delete` →
 *   `conversation.item.deleted`; `response.cancel` with nothing in flight → the `error`
 *   "Cancellation failed: no active response found" OpenAI sends.
 * - `response.create` → `response.created` (echoing `response.metadata`, which the plugin
 *   matches its request by), then the next queued answer ({@link RealtimeTestServer.answerNext}):
 *   a `function_call` item (`response.output_item.added`, `conversation.item.added`,
 *   `response.function_call_arguments.delta/done`, `response.output_item.done`) or an assistant
 *   message spoken as an audio transcript; then `response.done`. With nothing queued it says
 *   `OK.`.
 *
 * Every client event is recorded in {@link RealtimeTestServer.events}, in arrival order. Plain
 * HTTP: `GET {base path}/models` answers an empty list with the right key (so `/api/status`'s
 * OpenAI check passes against it), anything else 404.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';

/** A client event as received (JSON object with a `type`). */
export interface RealtimeClientEvent {
  type: string;
  [key: string]: unknown;
}

/** What the server answers one `response.create` with. */
export type RealtimeAnswer =
  { functionCall: { name: string; arguments: Record<string, unknown> } } | { text: string };

/** Options of {@link startRealtimeServer}. */
export interface RealtimeServerOptions {
  /** The API key upgrades must carry as `Authorization: Bearer`; default `sk-realtime-test`. */
  apiKey?: string;
  /** The base path the plugin is pointed at; default `/v1` (so the socket is `/v1/realtime`). */
  basePath?: string;
}

/** A running stand-in; see the module comment for what it speaks. */
export interface RealtimeTestServer {
  /** The `baseURL` to give the plugin (and `OPENAI_BASE_URL`), e.g. `http://127.0.0.1:1234/v1`. */
  baseUrl: string;
  /** The API key it accepts. */
  apiKey: string;
  /** Every client event received, in order, across connections. */
  events: RealtimeClientEvent[];
  /** Each accepted upgrade: the request path with query, and its headers. */
  connections: { url: string; headers: IncomingMessage['headers'] }[];
  /** When true, every upgrade is refused with HTTP 503 (a realtime endpoint that is down). */
  refuse: boolean;
  /** Queues the answer to the next `response.create` that has no answer yet. */
  answerNext(answer: RealtimeAnswer): void;
  /** The `session.update` events received. */
  sessionUpdates(): RealtimeClientEvent[];
  /** The items of `conversation.item.create` events whose item is a `function_call_output`. */
  functionCallOutputs(): { call_id: string; output: string }[];
  /** Closes every connection and the server. */
  close(): Promise<void>;
}

interface ConversationItem {
  id: string;
  type: string;
  [key: string]: unknown;
}

/**
 * Starts the stand-in on 127.0.0.1, port 0.
 *
 * @returns the running server; call `close()` when done.
 */
export async function startRealtimeServer(
  options: RealtimeServerOptions = {},
): Promise<RealtimeTestServer> {
  const apiKey = options.apiKey ?? 'sk-realtime-test';
  const basePath = options.basePath ?? '/v1';
  const answers: RealtimeAnswer[] = [];
  const sockets = new Set<WebSocket>();
  const http: Server = createServer((req, res) => {
    const authorized = req.headers.authorization === `Bearer ${apiKey}`;
    if (req.method === 'GET' && req.url === `${basePath}/models` && authorized) {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ object: 'list', data: [] }));
      return;
    }
    res.writeHead(authorized ? 404 : 401).end();
  });
  const wss = new WebSocketServer({ noServer: true });
  let counter = 0;
  const nextId = (prefix: string) => `${prefix}_${(counter += 1)}`;

  const reasons: Record<number, string> = {
    401: 'Unauthorized',
    404: 'Not Found',
    503: 'Service Unavailable',
  };
  const refuse = (socket: Duplex, status: number, message: string) => {
    const body = JSON.stringify({ error: { message, type: 'invalid_request_error' } });
    socket.end(
      `HTTP/1.1 ${status} ${reasons[status]}\r\n` +
        `Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n` +
        `Connection: close\r\n\r\n${body}`,
    );
  };

  const server: RealtimeTestServer = {
    baseUrl: '',
    apiKey,
    events: [],
    connections: [],
    refuse: false,
    answerNext: (answer) => void answers.push(answer),
    sessionUpdates: () => server.events.filter((event) => event.type === 'session.update'),
    functionCallOutputs: () =>
      server.events
        .filter((event) => event.type === 'conversation.item.create')
        .map((event) => event.item as ConversationItem)
        .filter((item) => item.type === 'function_call_output')
        .map((item) => ({ call_id: String(item.call_id), output: String(item.output) })),
    close: async () => {
      for (const socket of sockets) socket.terminate();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
      await new Promise<void>((resolve) => http.close(() => resolve()));
    },
  };

  http.on('upgrade', (req, socket, head) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (server.refuse) return refuse(socket, 503, 'The realtime endpoint is down (test).');
    if (url.pathname !== `${basePath}/realtime` || !url.searchParams.get('model')) {
      return refuse(socket, 404, `No realtime endpoint at ${url.pathname}`);
    }
    if (req.headers.authorization !== `Bearer ${apiKey}`) {
      return refuse(socket, 401, 'Incorrect API key provided.');
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      server.connections.push({ url: req.url ?? '', headers: req.headers });
      sockets.add(ws);
      ws.on('close', () => sockets.delete(ws));
      serveSession(ws, url.searchParams.get('model')!);
    });
  });

  /** One realtime session: the conversation's items in order, and the session config. */
  function serveSession(ws: WebSocket, model: string): void {
    const items: string[] = [];
    let session: Record<string, unknown> = {
      id: nextId('sess'),
      object: 'realtime.session',
      type: 'realtime',
      model,
      output_modalities: ['audio'],
      tools: [],
    };
    const send = (event: Record<string, unknown>) =>
      ws.send(JSON.stringify({ event_id: nextId('event'), ...event }));
    const addItem = (item: ConversationItem, previous?: string | null) => {
      const previousId = previous === undefined ? (items.at(-1) ?? null) : previous;
      const at = previousId === null ? 0 : items.indexOf(previousId) + 1;
      items.splice(at, 0, item.id);
      send({ type: 'conversation.item.added', previous_item_id: previousId, item });
      send({ type: 'conversation.item.done', previous_item_id: previousId, item });
    };

    send({ type: 'session.created', session });
    ws.on('message', (data) => {
      const event = JSON.parse(data.toString()) as RealtimeClientEvent;
      server.events.push(event);
      switch (event.type) {
        case 'session.update':
          session = { ...session, ...(event.session as Record<string, unknown>) };
          send({ type: 'session.updated', session });
          break;
        case 'conversation.item.create': {
          const item = event.item as ConversationItem;
          addItem(
            { ...item, id: item.id ?? nextId('item'), status: 'completed' },
            event.previous_item_id as string | undefined,
          );
          break;
        }
        case 'conversation.item.delete': {
          const index = items.indexOf(String(event.item_id));
          if (index >= 0) items.splice(index, 1);
          send({ type: 'conversation.item.deleted', item_id: event.item_id });
          break;
        }
        case 'response.cancel':
          send({
            type: 'error',
            error: {
              type: 'invalid_request_error',
              code: 'response_cancel_not_active',
              message: 'Cancellation failed: no active response found',
              event_id: event.event_id,
            },
          });
          break;
        case 'response.create':
          respond(event, answers.shift() ?? { text: 'OK.' });
          break;
        default:
          break;
      }
    });

    function respond(request: RealtimeClientEvent, answer: RealtimeAnswer): void {
      const responseId = nextId('resp');
      const metadata = (request.response as { metadata?: unknown } | undefined)?.metadata ?? null;
      const response = { id: responseId, object: 'realtime.response', metadata };
      send({
        type: 'response.created',
        response: { ...response, status: 'in_progress', output: [] },
      });
      let done: ConversationItem;
      if ('functionCall' in answer) {
        const args = JSON.stringify(answer.functionCall.arguments);
        const item = {
          id: nextId('item'),
          type: 'function_call',
          status: 'in_progress',
          name: answer.functionCall.name,
          call_id: nextId('call'),
          arguments: '',
        };
        send({
          type: 'response.output_item.added',
          response_id: responseId,
          output_index: 0,
          item,
        });
        addItem(item);
        const at = {
          response_id: responseId,
          item_id: item.id,
          output_index: 0,
          call_id: item.call_id,
        };
        send({ type: 'response.function_call_arguments.delta', ...at, delta: args });
        send({ type: 'response.function_call_arguments.done', ...at, arguments: args });
        done = { ...item, status: 'completed', arguments: args };
      } else {
        const item = {
          id: nextId('item'),
          type: 'message',
          role: 'assistant',
          status: 'in_progress',
          content: [] as unknown[],
        };
        send({
          type: 'response.output_item.added',
          response_id: responseId,
          output_index: 0,
          item,
        });
        addItem(item);
        const at = { response_id: responseId, item_id: item.id, output_index: 0, content_index: 0 };
        send({
          type: 'response.content_part.added',
          ...at,
          part: { type: 'audio', transcript: '' },
        });
        send({ type: 'response.output_audio_transcript.delta', ...at, delta: answer.text });
        send({ type: 'response.output_audio_transcript.done', ...at, transcript: answer.text });
        const part = { type: 'audio', transcript: answer.text };
        send({ type: 'response.content_part.done', ...at, part });
        done = {
          ...item,
          status: 'completed',
          content: [{ type: 'output_audio', transcript: answer.text }],
        };
      }
      send({
        type: 'response.output_item.done',
        response_id: responseId,
        output_index: 0,
        item: done,
      });
      send({
        type: 'response.done',
        response: {
          ...response,
          status: 'completed',
          output: [done],
          usage: { total_tokens: 0, input_tokens: 0, output_tokens: 0 },
        },
      });
    }
  }

  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  server.baseUrl = `http://127.0.0.1:${(http.address() as AddressInfo).port}${basePath}`;
  return server;
}
