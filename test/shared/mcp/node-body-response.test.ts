/**
 * `NodeBodyResponse` (`shared/mcp/node-body-response.ts`): a `Response` over a Node readable
 * reads as a `Response` does (every reader once, the web stream with backpressure and
 * cancellation), and its owners can guard each chunk, peek at the first ones without consuming
 * them, and replace the body. The readables here are real Node streams fed chunk by chunk; the
 * whole HTTP path over real servers is tested with the connection (`connection*.test.ts`,
 * `message-limit.test.ts`).
 */
import { PassThrough, Readable } from 'node:stream';
import { describe, expect, it, vi } from 'vitest';
import { NodeBodyResponse } from '../../../shared/mcp/node-body-response.js';

const encoder = new TextEncoder();

/** A paused readable that will give `chunks` (as bytes) and end. */
function readableOf(...chunks: string[]): Readable {
  return Readable.from(
    chunks.map((chunk) => Buffer.from(chunk)),
    { objectMode: false },
  );
}

function responseOf(
  readable: Readable | null,
  headers: Record<string, string> = {},
): NodeBodyResponse {
  return new NodeBodyResponse(readable, {
    status: 200,
    statusText: 'OK',
    headers: { 'content-type': 'text/plain', ...headers },
    url: 'http://127.0.0.1:1/mcp',
    redirected: true,
  });
}

/** Every chunk of `stream`, decoded and joined. */
async function readAll(stream: ReadableStream<Uint8Array>): Promise<string> {
  let text = '';
  const decoder = new TextDecoder();
  for await (const chunk of stream as unknown as AsyncIterable<Uint8Array>) {
    text += decoder.decode(chunk, { stream: true });
  }
  return text;
}

describe('NodeBodyResponse', () => {
  it('is a Response with the given status, headers, url and redirected', () => {
    const response = responseOf(readableOf('a'), { 'mcp-session-id': 's-1' });
    expect(response).toBeInstanceOf(Response);
    expect(response.status).toBe(200);
    expect(response.statusText).toBe('OK');
    expect(response.headers.get('mcp-session-id')).toBe('s-1');
    expect(response.url).toBe('http://127.0.0.1:1/mcp');
    expect(response.redirected).toBe(true);
    expect(response.hasBody).toBe(true);
    expect(response.bodyUsed).toBe(false);
  });

  it('reads the body once with each reader, a second read failing as a Response does', async () => {
    const json = '{"a":[1,2]}';
    const readers: [string, (r: Response) => Promise<unknown>, unknown][] = [
      ['text', (r) => r.text(), json],
      ['json', (r) => r.json(), { a: [1, 2] }],
      ['arrayBuffer', async (r) => new TextDecoder().decode(await r.arrayBuffer()), json],
      [
        'bytes',
        async (r) =>
          new TextDecoder().decode(
            await (r as Response & { bytes(): Promise<Uint8Array> }).bytes(),
          ),
        json,
      ],
      ['blob', async (r) => (await r.blob()).text(), json],
    ];
    for (const [name, read, expected] of readers) {
      const response = responseOf(readableOf('{"a":', '[1,2]}'));
      expect(await read(response), name).toEqual(expected);
      expect(response.bodyUsed, name).toBe(true);
      await expect(response.text(), name).rejects.toThrow(TypeError);
      expect(() => response.clone(), name).toThrow(TypeError);
    }
    const form = responseOf(readableOf('a=1&b=', 'two'), {
      'content-type': 'application/x-www-form-urlencoded',
    });
    expect(Object.fromEntries((await form.formData()).entries())).toEqual({ a: '1', b: 'two' });
  });

  it('drops a leading byte order mark in text(), as Response does', async () => {
    expect(await responseOf(readableOf('\uFEFF{"a":1}')).json()).toEqual({ a: 1 });
  });

  it('makes its web stream only when body is asked for, and reads through it after', async () => {
    const response = responseOf(readableOf('one ', 'two ', 'three'));
    const body = response.body!;
    expect(response.body).toBe(body);
    expect(response.bodyUsed).toBe(false);
    expect(await readAll(body)).toBe('one two three');
    expect(response.bodyUsed).toBe(true);
    await expect(response.text()).rejects.toThrow(TypeError);

    const unread = responseOf(readableOf('x', 'y'));
    expect(unread.body).not.toBeNull();
    expect(await unread.text()).toBe('xy');
  });

  it('pauses the readable while the stream is not read, and destroys it when cancelled', async () => {
    const source = new PassThrough();
    const response = responseOf(source);
    const reader = response.body!.getReader();
    for (let i = 0; i < 20; i++) source.write(Buffer.alloc(64 * 1024, 'a'));
    await vi.waitFor(() => expect(source.isPaused()).toBe(true));
    const first = await reader.read();
    expect(first.value!.byteLength).toBe(64 * 1024);
    await reader.cancel();
    expect(source.destroyed).toBe(true);
    expect(response.bodyUsed).toBe(true);
  });

  it('has a null body, and reads as empty, without a readable', async () => {
    const response = responseOf(null);
    expect(response.hasBody).toBe(false);
    expect(response.body).toBeNull();
    expect(await response.text()).toBe('');
  });

  it('hands peeked chunks to the next reader first, then the rest', async () => {
    const seen: string[] = [];
    const response = responseOf(readableOf('a', 'b', 'c', 'd'));
    await response.peek((chunk) => {
      seen.push(Buffer.from(chunk).toString());
      return seen.length === 2;
    });
    expect(seen).toEqual(['a', 'b']);
    expect(response.bodyUsed).toBe(false);
    expect(await response.text()).toBe('abcd');

    const streamed = responseOf(readableOf('a', 'b', 'c'));
    await streamed.peek(() => true);
    expect(await readAll(streamed.body!)).toBe('abc');
  });

  it('rejects a peek whose check throws, and keeps the chunks read for the next reader', async () => {
    const response = responseOf(readableOf('a', 'b'));
    const broken = new Error('parser broke');
    await expect(
      response.peek(() => {
        throw broken;
      }),
    ).rejects.toBe(broken);
    expect(await response.text()).toBe('ab');
  });

  it('peeks to the end of a short body, which then reads whole', async () => {
    const response = responseOf(readableOf('a', 'b'));
    await response.peek(() => false);
    expect(await response.text()).toBe('ab');
    const streamed = responseOf(readableOf('a', 'b'));
    await streamed.peek(() => false);
    expect(await readAll(streamed.body!)).toBe('ab');
  });

  it('rejects a peek when the body fails, and fails the next reader with the same error', async () => {
    const failure = new Error('connection reset');
    const source = new PassThrough();
    const response = responseOf(source);
    const peeked = response.peek(() => false);
    source.write('partial');
    await vi.waitFor(() => expect(source.readableLength).toBe(0));
    source.destroy(failure);
    await expect(peeked).rejects.toBe(failure);
    await expect(response.body!.getReader().read()).rejects.toBe(failure);

    const again = new PassThrough();
    const text = responseOf(again);
    const peek = text.peek(() => false);
    again.destroy(failure);
    await expect(peek).rejects.toBe(failure);
    await expect(text.text()).rejects.toBe(failure);
  });

  it('fails every reader with the guard’s error and destroys the readable', async () => {
    const tooLarge = new Error('too large');
    const guardOf = (max: number) => {
      let bytes = 0;
      return (chunk: Uint8Array) => ((bytes += chunk.byteLength) > max ? tooLarge : undefined);
    };

    const text = responseOf(readableOf('12345', '67890', 'abc'));
    text.guard(guardOf(8));
    await expect(text.text()).rejects.toBe(tooLarge);

    const source = readableOf('12345', '67890');
    const streamed = responseOf(source);
    streamed.guard(guardOf(8));
    await expect(readAll(streamed.body!)).rejects.toBe(tooLarge);
    expect(source.destroyed).toBe(true);

    const peeked = responseOf(readableOf('12345', '67890'));
    peeked.guard(guardOf(8));
    await expect(peeked.peek(() => false)).rejects.toBe(tooLarge);
    await expect(peeked.text()).rejects.toBe(tooLarge);

    const within = responseOf(readableOf('12345', '678'));
    within.guard(guardOf(8));
    expect(await within.text()).toBe('12345678');
  });

  it('replaces the body with a text, and reads the rest of the readable to its end', async () => {
    const source = new PassThrough();
    const response = responseOf(source, { 'content-type': 'text/event-stream' });
    const peek = response.peek(() => true);
    source.write('data: {"a":1}\n\n');
    await peek;
    response.replaceBody('{"a":1}', 'application/json');
    expect(response.headers.get('content-type')).toBe('application/json');
    let ended = false;
    source.on('end', () => (ended = true));
    source.end(': the rest\n');
    await vi.waitFor(() => expect(ended).toBe(true));
    expect(source.readableAborted).toBe(false);
    expect(await response.json()).toEqual({ a: 1 });
    await expect(response.json()).rejects.toThrow(TypeError);

    const streamed = responseOf(readableOf('x'));
    streamed.replaceBody('replaced', 'text/plain');
    expect(await readAll(streamed.body!)).toBe('replaced');
    expect(() => streamed.replaceBody('late', 'text/plain')).toThrow(TypeError);
  });

  it('clones: both read the same bytes, read or replaced, with the same status and headers', async () => {
    const response = responseOf(readableOf('a', 'b'), { 'mcp-session-id': 's-1' });
    const copy = response.clone();
    expect(copy.headers.get('mcp-session-id')).toBe('s-1');
    expect(copy.url).toBe(response.url);
    expect(await copy.text()).toBe('ab');
    expect(await response.text()).toBe('ab');

    const replaced = responseOf(readableOf('a'));
    replaced.replaceBody('{"b":2}', 'application/json');
    const replacedCopy = replaced.clone();
    expect(await replacedCopy.json()).toEqual({ b: 2 });
    expect(await replaced.json()).toEqual({ b: 2 });
  });

  it('is made from any Response with the same bytes, and is itself when one already', async () => {
    const plain = new Response(encoder.encode('hello'), {
      status: 201,
      headers: { 'x-a': '1' },
    });
    const made = NodeBodyResponse.from(plain);
    expect(made.status).toBe(201);
    expect(made.headers.get('x-a')).toBe('1');
    expect(await made.text()).toBe('hello');
    expect(NodeBodyResponse.from(made)).toBe(made);
    expect(NodeBodyResponse.from(new Response(null, { status: 204 })).hasBody).toBe(false);
  });
});
