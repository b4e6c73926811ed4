/**
 * `singleAnswerFetch` (`shared/mcp/single-answer.ts`): a POSTed request answered by an event
 * stream whose first event is its response reaches the SDK as that response in JSON; anything
 * else (a notification or server request first, a response to another id, a stream that ends
 * first, other requests) passes through with every byte. The wrapped fetch is a stand-in that
 * answers with real `Response`s, their streams cut into chunks at awkward places; the SDK's
 * client over it and over real servers is tested with the connection (`connection*.test.ts`).
 */
import { describe, expect, it, vi } from 'vitest';
import { singleAnswerFetch } from '../../../shared/mcp/single-answer.js';

const URL_ = 'http://127.0.0.1:1/mcp';

/** A POST of one JSON-RPC message, as the SDK's Streamable HTTP transport sends it. */
function post(message: unknown): RequestInit {
  return {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(message),
  };
}

/** A fetch answering `text` as an event stream (status 200 unless given), cut every 7 bytes. */
function streaming(text: string, init: ResponseInit = {}): typeof fetch {
  return async () => {
    const bytes = new TextEncoder().encode(text);
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        for (let at = 0; at < bytes.length; at += 7) controller.enqueue(bytes.slice(at, at + 7));
        controller.close();
      },
    });
    return new Response(body, {
      status: 200,
      ...init,
      headers: { 'content-type': 'text/event-stream', 'mcp-session-id': 's-1', ...init.headers },
    });
  };
}

const RESPONSE = JSON.stringify({ jsonrpc: '2.0', id: 7, result: { content: [] } });
const PROGRESS = JSON.stringify({
  jsonrpc: '2.0',
  method: 'notifications/progress',
  params: { progressToken: 1, progress: 1 },
});

describe('singleAnswerFetch', () => {
  it('answers a one-event stream holding the response as JSON, headers kept', async () => {
    const fetch = singleAnswerFetch(streaming(`event: message\nid: e1\ndata: ${RESPONSE}\n\n`));
    const response = await fetch(URL_, post({ jsonrpc: '2.0', id: 7, method: 'tools/call' }));
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('application/json');
    expect(response.headers.get('mcp-session-id')).toBe('s-1');
    expect(await response.json()).toEqual(JSON.parse(RESPONSE));
  });

  it('answers the collapsed body once, by any reader, as a Response does', async () => {
    const fetch = singleAnswerFetch(streaming(`data: ${RESPONSE}\n\n`));
    const request = post({ jsonrpc: '2.0', id: 7, method: 'tools/call' });

    const asText = await fetch(URL_, request);
    expect(asText).toBeInstanceOf(Response);
    expect(asText.bodyUsed).toBe(false);
    const copy = asText.clone();
    expect(await asText.text()).toBe(RESPONSE);
    expect(asText.bodyUsed).toBe(true);
    await expect(asText.json()).rejects.toThrow(TypeError);
    expect(() => asText.clone()).toThrow(TypeError);
    expect(copy.status).toBe(200);
    expect(copy.headers.get('mcp-session-id')).toBe('s-1');
    expect(await copy.json()).toEqual(JSON.parse(RESPONSE));

    const asBytes = await fetch(URL_, request);
    expect(new TextDecoder().decode(await asBytes.arrayBuffer())).toBe(RESPONSE);
    const asBlob = await (await fetch(URL_, request)).blob();
    expect(asBlob.type).toBe('application/json');
    expect(await asBlob.text()).toBe(RESPONSE);
  });

  it('reads the rest of a collapsed stream to its end instead of cancelling it (the connection is kept)', async () => {
    const chunks = [`data: ${RESPONSE}\n\n`, ': trailing comment\n'];
    let cancelled = false;
    let ended = false;
    const fetch = singleAnswerFetch(
      async () =>
        new Response(
          new ReadableStream<Uint8Array>({
            pull(controller) {
              const next = chunks.shift();
              if (next === undefined) {
                ended = true;
                controller.close();
              } else controller.enqueue(new TextEncoder().encode(next));
            },
            cancel() {
              cancelled = true;
            },
          }),
          { headers: { 'content-type': 'text/event-stream' } },
        ),
    );
    const response = await fetch(URL_, post({ jsonrpc: '2.0', id: 7, method: 'ping' }));
    expect(await response.text()).toBe(RESPONSE);
    await vi.waitFor(() => expect(ended).toBe(true));
    expect(cancelled).toBe(false);
  });

  it('passes over a priming event (an id, no data) to the response after it', async () => {
    const fetch = singleAnswerFetch(
      streaming(`id: p0\nretry: 1000\ndata: \n\ndata: ${RESPONSE}\n\n`),
    );
    const response = await fetch(URL_, post({ jsonrpc: '2.0', id: 7, method: 'ping' }));
    expect(response.headers.get('content-type')).toBe('application/json');
    expect(await response.text()).toBe(RESPONSE);
  });

  it('answers an error response as JSON too', async () => {
    const error = JSON.stringify({
      jsonrpc: '2.0',
      id: 'a',
      error: { code: -32601, message: 'no' },
    });
    const fetch = singleAnswerFetch(streaming(`data: ${error}\n\n`));
    const response = await fetch(URL_, post({ jsonrpc: '2.0', id: 'a', method: 'nope' }));
    expect(response.headers.get('content-type')).toBe('application/json');
    expect(await response.text()).toBe(error);
  });

  it.each([
    ['a notification first', `data: ${PROGRESS}\n\ndata: ${RESPONSE}\n\n`],
    ['a response to another request', `data: ${RESPONSE.replace('"id":7', '"id":8')}\n\n`],
    ['an event of another type', `event: other\ndata: ${RESPONSE}\n\n`],
    ['a stream that ends before any event', `: a comment only\n`],
    ['data that is not JSON', `data: {not json\n\n`],
    [
      'a response whose result is not an object',
      `data: ${RESPONSE.replace('{"content":[]}', '5')}\n\n`,
    ],
    [
      'an error response without a code',
      `data: {"jsonrpc":"2.0","id":7,"error":{"message":"x"}}\n\n`,
    ],
    ['a message of another JSON-RPC version', `data: ${RESPONSE.replace('2.0', '1.0')}\n\n`],
  ])('hands on %s as the event stream it was, every byte', async (_, text) => {
    const fetch = singleAnswerFetch(streaming(text));
    const response = await fetch(URL_, post({ jsonrpc: '2.0', id: 7, method: 'tools/call' }));
    expect(response.headers.get('content-type')).toBe('text/event-stream');
    expect(response.headers.get('mcp-session-id')).toBe('s-1');
    expect(await response.text()).toBe(text);
  });

  it('leaves notifications, GETs, errors, JSON answers and large bodies alone', async () => {
    const text = `data: ${RESPONSE}\n\n`;
    const cases: [RequestInit, ResponseInit][] = [
      [post({ jsonrpc: '2.0', method: 'notifications/initialized' }), {}],
      [{ method: 'GET' }, {}],
      [post({ jsonrpc: '2.0', id: 7, method: 'ping' }), { status: 404 }],
      [
        post({ jsonrpc: '2.0', id: 7, method: 'ping' }),
        { headers: { 'content-type': 'application/json' } },
      ],
      [
        post({ jsonrpc: '2.0', id: 7, method: 'tools/call', params: { x: 'y'.repeat(70_000) } }),
        {},
      ],
    ];
    for (const [init, answer] of cases) {
      const original = await streaming(text, answer)(URL_, init);
      const fetch = singleAnswerFetch(async () => original);
      expect(await fetch(URL_, init)).toBe(original);
    }
  });

  it('rejects as the stream does when it fails before the first event', async () => {
    const failure = new Error('connection reset');
    const fetch = singleAnswerFetch(
      async () =>
        new Response(
          new ReadableStream({
            pull(controller) {
              controller.error(failure);
            },
          }),
          { headers: { 'content-type': 'text/event-stream' } },
        ),
    );
    await expect(fetch(URL_, post({ jsonrpc: '2.0', id: 1, method: 'ping' }))).rejects.toBe(
      failure,
    );
  });
});
