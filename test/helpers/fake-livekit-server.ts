/**
 * A local HTTP server that answers like livekit-server where the worker's start-up check looks:
 * `GET /` answers 200 "OK", and `POST /twirp/livekit.RoomService/ListRooms` checks the Bearer JWT
 * with `TokenVerifier` against one key and secret, as livekit-server's API-key middleware does
 * (`pkg/service/auth.go`): an unknown key gets a plain-text 401 `invalid API key: <key>`, a token
 * the secret does not verify a Twirp 401 `unauthenticated` quoting the token, and a verified one
 * `{"rooms":[]}`. `twirp` replaces that answer for tests of other answers.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { TokenVerifier } from 'livekit-server-sdk';

/** An answer to the Twirp request: a status, a body and its content type; `silent` never answers. */
export type TwirpAnswer = { status: number; body: string; contentType?: string } | 'silent';

/** A running fake LiveKit server. */
export interface FakeLivekitServer {
  /** `ws://127.0.0.1:<port>`, as `LIVEKIT_URL` */
  url: string;
  /** The claims of each token the server verified (key and secret right). */
  readonly verifiedClaims: readonly Record<string, unknown>[];
  /** Resolves at the first Twirp request the server receives (before it answers). */
  readonly twirpRequested: Promise<void>;
  close(): Promise<void>;
}

/**
 * Starts the server on a loopback port the kernel picks.
 *
 * @param credentials the one key and secret the server accepts.
 * @param twirp when given, answers every Twirp request in place of the token check.
 */
export async function startFakeLivekitServer(
  credentials: { apiKey: string; apiSecret: string },
  twirp?: (req: IncomingMessage) => TwirpAnswer,
): Promise<FakeLivekitServer> {
  const verifiedClaims: Record<string, unknown>[] = [];
  let twirpRequest!: () => void;
  const twirpRequested = new Promise<void>((resolve) => (twirpRequest = resolve));
  const verifier = new TokenVerifier(credentials.apiKey, credentials.apiSecret);
  const server: Server = createServer((req, res) => {
    if (!req.url?.startsWith('/twirp/')) {
      res.writeHead(200, { 'content-type': 'text/plain' }).end('OK');
      return;
    }
    req.resume();
    twirpRequest();
    void answerTwirp(req).then((answer) => {
      if (answer === 'silent') return;
      const headers = answer.contentType ? { 'content-type': answer.contentType } : {};
      res.writeHead(answer.status, headers).end(answer.body);
    });
  });

  async function answerTwirp(req: IncomingMessage): Promise<TwirpAnswer> {
    if (twirp) return twirp(req);
    const token = (req.headers.authorization ?? '').replace(/^Bearer /, '');
    let issuer: unknown;
    try {
      const payload = Buffer.from(token.split('.')[1] ?? '', 'base64url').toString();
      issuer = (JSON.parse(payload) as { iss?: unknown }).iss;
    } catch {
      return { status: 401, body: 'invalid authorization token\n' };
    }
    if (issuer !== credentials.apiKey) {
      return { status: 401, body: `invalid API key: ${String(issuer)}\n` };
    }
    try {
      verifiedClaims.push(await verifier.verify(token));
    } catch (error) {
      return {
        status: 401,
        contentType: 'application/json',
        body: JSON.stringify({
          code: 'unauthenticated',
          msg: `invalid token: ${token}, error: ${(error as Error).message}`,
        }),
      };
    }
    return { status: 200, contentType: 'application/json', body: '{"rooms":[]}' };
  }

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `ws://127.0.0.1:${port}`,
    verifiedClaims,
    twirpRequested,
    close: async () => {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
