/** Serves an Express app on a free loopback port for a test, and calls it with fetch. */
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import type { Express } from 'express';

/** A running app and a small client for it. */
export interface TestServer {
  baseUrl: string;
  /** The listening HTTP server (for `attachStatusStream`). */
  server: Server;
  /**
   * Sends a request. `body` is sent as JSON unless it is a string (sent as is, with
   * `contentType`, default `application/json`).
   */
  request(
    method: string,
    path: string,
    options?: { token?: string; body?: unknown; contentType?: string },
  ): Promise<{ status: number; headers: Headers; body: any }>; // eslint-disable-line @typescript-eslint/no-explicit-any
  close(): Promise<void>;
}

/**
 * Listens on 127.0.0.1.
 *
 * @param port the port; default 0 (one the OS chooses).
 */
export async function serve(app: Express, port = 0): Promise<TestServer> {
  const server: Server = await new Promise((resolve) => {
    const s = app.listen(port, '127.0.0.1', () => resolve(s));
  });
  const baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    baseUrl,
    server,
    async request(method, path, options = {}) {
      const headers: Record<string, string> = {};
      if (options.token) headers.authorization = `Bearer ${options.token}`;
      let body: string | undefined;
      if (options.body !== undefined) {
        headers['content-type'] = options.contentType ?? 'application/json';
        body = typeof options.body === 'string' ? options.body : JSON.stringify(options.body);
      }
      const response = await fetch(baseUrl + path, { method, headers, body });
      const text = await response.text();
      let parsed: unknown = text;
      try {
        parsed = text ? JSON.parse(text) : undefined;
      } catch {
        // not JSON: keep the text
      }
      return { status: response.status, headers: response.headers, body: parsed };
    },
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((error) => (error ? reject(error) : resolve()));
      }),
  };
}
