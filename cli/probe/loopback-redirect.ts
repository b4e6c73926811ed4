/**
 * The probe's redirect endpoint, as a native app receives an OAuth authorization response
 * (RFC 8252 §7.3): an HTTP listener on the IPv4 loopback address, on a port the system picks,
 * taking `GET /callback?...` from the user's browser.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** No authorization response arrived in time. */
export class AuthorizationTimeoutError extends Error {
  override readonly name = 'AuthorizationTimeoutError';
}

/** Listens on `http://127.0.0.1:<port>/callback` and hands each redirect's query to a waiter. */
export class LoopbackRedirectListener {
  readonly #server: Server;
  readonly #queue: URLSearchParams[] = [];
  #waiter?: (query: URLSearchParams) => void;

  private constructor(server: Server) {
    this.#server = server;
    server.on('request', (req, res) => this.#handle(req, res));
  }

  /** Starts listening on 127.0.0.1 at an ephemeral port. */
  static async start(): Promise<LoopbackRedirectListener> {
    const server = createServer();
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    return new LoopbackRedirectListener(server);
  }

  /** The `redirect_uri` to register and send: `http://127.0.0.1:<port>/callback`. */
  get redirectUrl(): string {
    const { port } = this.#server.address() as AddressInfo;
    return `http://127.0.0.1:${port}/callback`;
  }

  /**
   * The query of the next redirect (one that arrived before the call counts).
   *
   * @param timeoutMs how long to wait, in milliseconds.
   * @throws AuthorizationTimeoutError when none arrives within `timeoutMs`.
   */
  next(timeoutMs: number): Promise<URLSearchParams> {
    const queued = this.#queue.shift();
    if (queued) return Promise.resolve(queued);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiter = undefined;
        reject(
          new AuthorizationTimeoutError(
            `no authorization arrived at ${this.redirectUrl} within ${timeoutMs} ms (--oauth-timeout-ms)`,
          ),
        );
      }, timeoutMs);
      this.#waiter = (query) => {
        clearTimeout(timer);
        this.#waiter = undefined;
        resolve(query);
      };
    });
  }

  /** Stops listening and drops open connections. */
  async close(): Promise<void> {
    this.#server.closeAllConnections();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  #handle(req: IncomingMessage, res: ServerResponse): void {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    if (req.method !== 'GET' || url.pathname !== '/callback') {
      res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end('Not found\n');
      return;
    }
    const query = url.searchParams;
    const text = query.has('error')
      ? 'The authorization was refused. You can close this tab.'
      : 'Authorization received. You can close this tab and return to the terminal.';
    res
      .writeHead(200, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' })
      .end(`${text}\n`);
    if (this.#waiter) this.#waiter(query);
    else this.#queue.push(query);
  }
}
