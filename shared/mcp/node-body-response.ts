/**
 * A fetch `Response` whose body is still the Node readable it came on (undici's `request` body),
 * made into a web `ReadableStream` only if a reader asks for `body`. Switchboard's HTTP path to
 * remote MCP servers (`guarded-network.ts`, then `message-limit.ts`'s bound, then
 * `single-answer.ts`) hands one of these along instead of building a stream and a `Response` at
 * each step: on Node 20 a `ReadableStream` costs about 4 µs to build (`makeTransferable`) and a
 * `Response` with headers about as much, and a health-check ping, which is all a watched server
 * costs, went through three of each (`npm run bench`, `scale.monitor` and `healthLoop`).
 *
 * It behaves as a `Response` (WHATWG Fetch, "Body mixin"): `body`, `bodyUsed`, `text()`,
 * `json()`, `arrayBuffer()`, `bytes()`, `blob()`, `formData()` and `clone()`, each read once,
 * a second read rejecting with a `TypeError`; `url` and `redirected` are those given. Besides,
 * the layers that made it can {@link NodeBodyResponse.guard} every chunk (the message bound),
 * {@link NodeBodyResponse.peek} at the first chunks without consuming them (the single-answer
 * check) and {@link NodeBodyResponse.replaceBody} with a text already read.
 */
import { Readable } from 'node:stream';

/** Whether a web stream was read from or cancelled (`stream.isDisturbed`). */
const isDisturbed = (stream: ReadableStream): boolean => Readable.isDisturbed(stream as never);

/** Options of a {@link NodeBodyResponse} besides `ResponseInit`. */
export interface NodeBodyResponseInit extends ResponseInit {
  /** The final URL of the answer (`Response.url`). */
  url: string;
  /** Whether redirects were followed to get it (`Response.redirected`). */
  redirected: boolean;
}

/** Checks one chunk of a body: an error fails the read and destroys the readable. */
export type BodyGuard = (chunk: Uint8Array) => Error | undefined;

/** Swallows a readable's errors once a reader no longer listens (or before one does). */
const ignore = (): void => undefined;

/**
 * A `Response` over a Node readable body (see the module comment). The readable must be paused
 * or not yet read; it belongs to the response from then on (read, or destroyed when the body is
 * cancelled).
 */
export class NodeBodyResponse extends Response {
  /** The body's readable; null for a response without a body. */
  readonly #readable: Readable | null;
  /** Chunks {@link NodeBodyResponse.peek} read, handed to the body's reader first. */
  #peeked: Uint8Array[] = [];
  /** The readable ended while peeked at. */
  #ended = false;
  /** The readable failed (or a guard refused a chunk) while peeked at. */
  #failure: unknown;
  #guard?: BodyGuard;
  /** The body that replaced the readable's ({@link NodeBodyResponse.replaceBody}). */
  #text?: string;
  /** The web stream made when `body` was first read. */
  #stream?: ReadableStream<Uint8Array>;
  /** A reading method was called (a read or cancelled stream shows as `isDisturbed`). */
  #used = false;
  readonly #url: string;
  readonly #redirected: boolean;

  /**
   * @param readable the body (paused or not yet read), or null for a response without one.
   * @param init status, status text and headers as for `Response`, plus `url` and `redirected`.
   * @throws RangeError or TypeError as the `Response` constructor does for a bad status or headers.
   */
  constructor(readable: Readable | null, init: NodeBodyResponseInit) {
    super(null, init);
    this.#readable = readable;
    this.#url = init.url;
    this.#redirected = init.redirected;
    readable?.on('error', ignore);
  }

  /**
   * A `NodeBodyResponse` with `response`'s status, headers, `url`, `redirected` and body (its
   * stream read through `Readable.fromWeb`); `response` itself when it is one already.
   */
  static from(response: Response): NodeBodyResponse {
    if (response instanceof NodeBodyResponse) return response;
    return new NodeBodyResponse(response.body ? Readable.fromWeb(response.body as never) : null, {
      status: response.status,
      statusText: response.statusText,
      headers: response.headers,
      url: response.url,
      redirected: response.redirected,
    });
  }

  /** Whether the response has a body (`body` is not null), without making its stream. */
  get hasBody(): boolean {
    return this.#readable !== null || this.#text !== undefined;
  }

  /**
   * Checks every chunk read from now on, whoever reads it; the first error `guard` returns fails
   * that read (the web stream errors, a reading method rejects) and destroys the readable. One
   * guard: a second call replaces the first.
   */
  guard(guard: BodyGuard): void {
    this.#guard = guard;
  }

  /**
   * Reads chunks until `until` returns true for one or the body ends, without consuming them:
   * whoever reads the body next gets them first, then the rest.
   *
   * @param until called with each chunk as it comes; true stops reading (the readable is paused);
   *   what it throws rejects the peek (the chunks read stay for the next reader).
   * @throws Error the guard's error when it refused a chunk, or the readable's when it failed
   *   (every later reader fails with that error too).
   * @throws TypeError when the body was used already.
   */
  async peek(until: (chunk: Uint8Array) => boolean): Promise<void> {
    const readable = this.#readable;
    if (this.#used || this.#stream) throw new TypeError('Body is unusable: already read');
    if (this.#failure !== undefined) throw this.#failure;
    if (!readable || this.#ended) return;
    await new Promise<void>((resolve, reject) => {
      const stop = () => {
        readable.pause();
        readable.off('data', onData);
        readable.off('end', onEnd);
        readable.off('error', onError);
      };
      const onData = (chunk: Buffer) => {
        const refused = this.#refused(readable, chunk);
        if (refused) {
          stop();
          reject(refused);
          return;
        }
        this.#peeked.push(chunk);
        let done: boolean;
        try {
          done = until(chunk);
        } catch (error) {
          // Thrown out of a 'data' listener it would reach no one but the process.
          stop();
          reject(error);
          return;
        }
        if (done) {
          stop();
          resolve();
        }
      };
      const onEnd = () => {
        this.#ended = true;
        stop();
        resolve();
      };
      const onError = (error: unknown) => {
        this.#failure = error;
        stop();
        reject(error);
      };
      readable.on('data', onData);
      readable.once('end', onEnd);
      readable.once('error', onError);
      readable.resume();
    });
  }

  /**
   * Makes `text` the body and `contentType` its `Content-Type`; the rest of the readable is read
   * and dropped (not cancelled: a cancelled HTTP/1.1 answer costs its connection, and the next
   * request a new one).
   *
   * @throws TypeError when the body was used already.
   */
  replaceBody(text: string, contentType: string): void {
    if (this.#used || this.#stream) throw new TypeError('Body is unusable: already read');
    this.#text = text;
    this.#peeked = [];
    this.headers.set('content-type', contentType);
    const readable = this.#readable;
    if (readable && !this.#ended && this.#failure === undefined) readable.resume();
  }

  /**
   * `chunk` checked by the guard: its error, after which the body fails every later reader and
   * the readable is destroyed; undefined when the chunk may be handed on.
   */
  #refused(readable: Readable, chunk: Uint8Array): Error | undefined {
    const refused = this.#guard?.(chunk);
    if (refused) {
      this.#failure = refused;
      readable.destroy();
    }
    return refused;
  }

  /** The body as bytes, read once (the reading methods' common part). */
  async #consume(): Promise<Uint8Array> {
    if (this.#used || (this.#stream && (this.#stream.locked || isDisturbed(this.#stream)))) {
      throw new TypeError('Body is unusable: Body has already been read');
    }
    this.#used = true;
    if (this.#text !== undefined) return new TextEncoder().encode(this.#text);
    if (this.#stream) return new Uint8Array(await new Response(this.#stream).arrayBuffer());
    const chunks = await this.#collect();
    return chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
  }

  /** The body as text (UTF-8, a byte order mark dropped, as `text()` decodes), read once. */
  async #consumeText(): Promise<string> {
    if (this.#text !== undefined && !this.#used && !this.#stream) {
      this.#used = true;
      return this.#text;
    }
    return new TextDecoder().decode(await this.#consume());
  }

  /** The peeked chunks and the rest of the readable, guarded; rejects as the body fails. */
  #collect(): Promise<Uint8Array[]> {
    const chunks = this.#peeked;
    this.#peeked = [];
    const readable = this.#readable;
    if (!readable || this.#ended) return Promise.resolve(chunks);
    if (this.#failure !== undefined) return Promise.reject(this.#failure);
    return new Promise((resolve, reject) => {
      const onData = (chunk: Buffer) => {
        const refused = this.#refused(readable, chunk);
        if (refused) {
          readable.off('data', onData);
          reject(refused);
        } else chunks.push(chunk);
      };
      readable.on('data', onData);
      readable.once('end', () => resolve(chunks));
      readable.once('error', reject);
      readable.resume();
    });
  }

  /**
   * The readable as a web stream of bytes, peeked chunks first, with backpressure: the readable
   * is paused while the stream's queue is full and destroyed when the stream is cancelled.
   * Lighter than `Readable.toWeb` for the short answers of MCP requests.
   */
  #webStream(readable: Readable): ReadableStream<Uint8Array> {
    let ended = false;
    const peeked = this.#peeked;
    this.#peeked = [];
    return new ReadableStream<Uint8Array>({
      start: (controller) => {
        for (const chunk of peeked) controller.enqueue(chunk);
        if (this.#ended || this.#failure !== undefined) {
          ended = true;
          if (this.#ended) controller.close();
          else controller.error(this.#failure);
          return;
        }
        readable.on('data', (chunk: Buffer) => {
          if (ended) return;
          const refused = this.#refused(readable, chunk);
          if (refused) {
            ended = true;
            controller.error(refused);
            return;
          }
          controller.enqueue(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength));
          if ((controller.desiredSize ?? 1) <= 0) readable.pause();
        });
        readable.once('end', () => {
          if (ended) return;
          ended = true;
          controller.close();
        });
        readable.once('error', (error) => {
          if (ended) return;
          ended = true;
          controller.error(error);
        });
      },
      pull: () => {
        if (!ended) readable.resume();
      },
      cancel: () => {
        ended = true;
        readable.destroy();
      },
    });
  }

  static {
    // Accessors and readers on the prototype, not per instance: the DOM typings declare them as
    // properties of `Response`, which a subclass may not redeclare as accessors or methods.
    const readers: Record<string, (this: NodeBodyResponse) => unknown> = {
      text() {
        return this.#consumeText();
      },
      async json() {
        return JSON.parse(await this.#consumeText()) as unknown;
      },
      async arrayBuffer() {
        const bytes = await this.#consume();
        return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength);
      },
      async bytes() {
        return new Uint8Array(await this.#consume());
      },
      async blob() {
        const bytes = await this.#consume();
        return new Blob([bytes], { type: this.headers.get('content-type') ?? '' });
      },
      async formData() {
        const bytes = await this.#consume();
        return new Response(bytes, { headers: this.headers }).formData();
      },
      clone() {
        if (this.bodyUsed) throw new TypeError('Response.clone: Body has already been consumed.');
        const init = {
          status: this.status,
          statusText: this.statusText,
          headers: this.headers,
          url: this.#url,
          redirected: this.#redirected,
        };
        if (this.#text !== undefined) {
          const copy = new NodeBodyResponse(null, init);
          copy.#text = this.#text;
          return copy;
        }
        const body = this.body;
        if (!body) return new NodeBodyResponse(null, init);
        const [mine, theirs] = body.tee();
        this.#stream = mine;
        return new NodeBodyResponse(Readable.fromWeb(theirs as never), init);
      },
    };
    const prototype = this.prototype;
    for (const [name, reader] of Object.entries(readers)) {
      Object.defineProperty(prototype, name, { value: reader, writable: true, configurable: true });
    }
    Object.defineProperties(prototype, {
      body: {
        configurable: true,
        get(this: NodeBodyResponse): ReadableStream<Uint8Array> | null {
          if (this.#stream) return this.#stream;
          if (this.#text !== undefined) {
            const bytes = new TextEncoder().encode(this.#text);
            this.#stream = new ReadableStream<Uint8Array>({
              start(controller) {
                controller.enqueue(bytes);
                controller.close();
              },
            });
          } else if (this.#readable) this.#stream = this.#webStream(this.#readable);
          return this.#stream ?? null;
        },
      },
      bodyUsed: {
        configurable: true,
        get(this: NodeBodyResponse): boolean {
          return this.#used || (this.#stream !== undefined && isDisturbed(this.#stream));
        },
      },
      url: {
        configurable: true,
        get(this: NodeBodyResponse): string {
          return this.#url;
        },
      },
      redirected: {
        configurable: true,
        get(this: NodeBodyResponse): boolean {
          return this.#redirected;
        },
      },
    });
  }
}
