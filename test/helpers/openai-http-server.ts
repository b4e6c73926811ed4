/**
 * A test stand-in for the OpenAI HTTP API as the LiveKit OpenAI plugin's `openai.LLM` uses it
 * (through the `openai` SDK): `GET {base}/models` (the LLM's prewarm) and streaming
 * `POST {base}/chat/completions` (server-sent events of `chat.completion.chunk` objects ending
 * with `data: [DONE]`, OpenAI API reference "Chat › Streaming"). Each completion answers with the
 * next queued answer: a tool call (`delta.tool_calls`, `finish_reason: "tool_calls"`) or text;
 * with nothing queued it says `OK.`. Every request is recorded. It has no realtime endpoint: a
 * WebSocket upgrade to `{base}/realtime` gets a plain 404, as from a proxy without realtime.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** What one chat completion answers. */
export type ChatAnswer =
  { toolCall: { name: string; arguments: Record<string, unknown> } } | { text: string };

/** One recorded request. */
export interface RecordedRequest {
  method: string;
  /** Path and query. */
  url: string;
  authorization?: string;
  /** The parsed JSON body, if any. */
  body?: ChatCompletionRequest;
}

/** The parts of a chat completion request the tests read. */
export interface ChatCompletionRequest {
  model: string;
  stream?: boolean;
  messages: { role: string; content?: unknown; tool_call_id?: string; tool_calls?: unknown[] }[];
  tools?: {
    type: string;
    function: { name: string; description?: string; parameters: Record<string, unknown> };
  }[];
}

/** A running stand-in. */
export interface OpenAIHttpTestServer {
  /** The `baseURL`, e.g. `http://127.0.0.1:1234/v1`. */
  baseUrl: string;
  /** Every request, in arrival order. */
  requests: RecordedRequest[];
  /** The bodies of the chat completion requests, in order. */
  chatRequests(): ChatCompletionRequest[];
  /** Queues the answer to the next chat completion. */
  answerNext(answer: ChatAnswer): void;
  close(): Promise<void>;
}

async function readBody(req: IncomingMessage): Promise<string> {
  let body = '';
  for await (const chunk of req) body += chunk;
  return body;
}

/**
 * Starts the stand-in on 127.0.0.1, port 0, under `/v1`.
 *
 * @returns the running server; call `close()` when done.
 */
export async function startOpenAIHttpServer(): Promise<OpenAIHttpTestServer> {
  const answers: ChatAnswer[] = [];
  let counter = 0;
  const http: Server = createServer(async (req, res) => {
    const raw = await readBody(req);
    const record: RecordedRequest = {
      method: req.method ?? '',
      url: req.url ?? '',
      authorization: req.headers.authorization,
    };
    if (raw) record.body = JSON.parse(raw) as ChatCompletionRequest;
    server.requests.push(record);

    if (req.method === 'GET' && req.url === '/v1/models') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ object: 'list', data: [] }));
      return;
    }
    if (req.method === 'POST' && req.url === '/v1/chat/completions' && record.body?.stream) {
      counter += 1;
      const id = `chatcmpl-${counter}`;
      const model = record.body.model;
      const chunk = (choices: unknown[], extra: Record<string, unknown> = {}) => {
        const data = { id, object: 'chat.completion.chunk', created: 0, model, choices, ...extra };
        return `data: ${JSON.stringify(data)}\n\n`;
      };
      const answer = answers.shift() ?? { text: 'OK.' };
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
      if ('toolCall' in answer) {
        const call = { index: 0, id: `call_${counter}`, type: 'function' };
        const name = answer.toolCall.name;
        const args = JSON.stringify(answer.toolCall.arguments);
        res.write(
          chunk([
            {
              index: 0,
              delta: {
                role: 'assistant',
                content: null,
                tool_calls: [{ ...call, function: { name, arguments: '' } }],
              },
              finish_reason: null,
            },
          ]),
        );
        res.write(
          chunk([
            {
              index: 0,
              delta: { tool_calls: [{ index: 0, function: { arguments: args } }] },
              finish_reason: null,
            },
          ]),
        );
        res.write(chunk([{ index: 0, delta: {}, finish_reason: 'tool_calls' }]));
      } else {
        res.write(
          chunk([{ index: 0, delta: { role: 'assistant', content: '' }, finish_reason: null }]),
        );
        res.write(chunk([{ index: 0, delta: { content: answer.text }, finish_reason: null }]));
        res.write(chunk([{ index: 0, delta: {}, finish_reason: 'stop' }]));
      }
      res.write(chunk([], { usage: { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 } }));
      res.end('data: [DONE]\n\n');
      return;
    }
    res.writeHead(404, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ error: { message: `No route ${req.method} ${req.url}` } }));
  });

  const server: OpenAIHttpTestServer = {
    baseUrl: '',
    requests: [],
    chatRequests: () =>
      server.requests
        .filter((request) => request.url === '/v1/chat/completions' && request.body)
        .map((request) => request.body!),
    answerNext: (answer) => void answers.push(answer),
    close: () =>
      new Promise<void>((resolve) => {
        http.closeAllConnections();
        http.close(() => resolve());
      }),
  };

  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  server.baseUrl = `http://127.0.0.1:${(http.address() as AddressInfo).port}/v1`;
  return server;
}
