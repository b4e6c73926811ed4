/**
 * A local HTTP server that records every request it gets (method, path, headers, body) and
 * answers each with a fixed status, for tests that check what a client sent somewhere, or that
 * it sent nothing at all.
 */
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** One recorded request. */
export interface CapturedRequest {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
}

/** A running capture server. */
export interface CaptureServer {
  /** `http://127.0.0.1:<port>` */
  origin: string;
  readonly requests: readonly CapturedRequest[];
  /** Everything received (request lines, headers and bodies) as one text, to search. */
  text(): string;
  close(): Promise<void>;
}

/**
 * Starts the server on a loopback port the kernel picks.
 *
 * @param answer the response to each request: status, headers and body; default a 401 with
 *   `WWW-Authenticate: Bearer`, which makes an OAuth client ask the token endpoint.
 */
export async function startCaptureServer(
  answer: (request: CapturedRequest) => {
    status: number;
    headers?: Record<string, string>;
    body?: string;
  } = () => ({ status: 401, headers: { 'www-authenticate': 'Bearer' } }),
): Promise<CaptureServer> {
  const requests: CapturedRequest[] = [];
  const http: Server = createServer(async (req, res) => {
    let body = '';
    for await (const chunk of req) body += chunk;
    const request = { method: req.method ?? '', path: req.url ?? '', headers: req.headers, body };
    requests.push(request);
    const reply = answer(request);
    res.writeHead(reply.status, reply.headers).end(reply.body ?? '');
  });
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  const { port } = http.address() as AddressInfo;
  return {
    origin: `http://127.0.0.1:${port}`,
    requests,
    text: () => requests.map((r) => JSON.stringify(r)).join('\n'),
    close: async () => {
      http.closeAllConnections();
      await new Promise((resolve) => http.close(resolve));
    },
  };
}
