/**
 * The worker's LiveKit start-up check against real local HTTP servers: a plain web server (not
 * LiveKit), a fake LiveKit server that verifies the token as livekit-server does (wrong key, wrong
 * secret, right pair), other answers of the API call, one that never answers the call (a short
 * injected deadline; the assertion is on the cause, not on how long it took) and a closed port.
 */
import { createServer, type Server } from 'node:http';
import { createServer as createNetServer } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { LivekitUnreachableError } from '../../agent/livekit-reachability.js';
import {
  LivekitApiCheckError,
  checkLivekitApi,
  checkLivekitServer,
  type LivekitConnection,
} from '../../agent/livekit-server-check.js';
import {
  startFakeLivekitServer,
  type FakeLivekitServer,
  type TwirpAnswer,
} from '../helpers/fake-livekit-server.js';

const API_KEY = 'APIswitchboardTest';
const API_SECRET = 'switchboard-test-secret-do-not-print-0123456789';

const closers: (() => Promise<void>)[] = [];

afterEach(async () => {
  for (const close of closers.splice(0)) await close();
});

async function fakeLivekit(twirp?: () => TwirpAnswer): Promise<FakeLivekitServer> {
  const server = await startFakeLivekitServer({ apiKey: API_KEY, apiSecret: API_SECRET }, twirp);
  closers.push(server.close);
  return server;
}

/** A plain web server: 200 "OK" to everything, 404 under /twirp (or `answer` to everything). */
async function webServer(answer?: { status: number; contentType: string; body: string }) {
  const server: Server = createServer((req, res) => {
    req.resume();
    if (answer) res.writeHead(answer.status, { 'content-type': answer.contentType });
    else if (req.url?.startsWith('/twirp')) res.writeHead(404, { 'content-type': 'text/plain' });
    else res.writeHead(200, { 'content-type': 'text/plain' });
    res.end(answer?.body ?? (req.url?.startsWith('/twirp') ? '404 page not found' : 'OK'));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  closers.push(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });
  return `ws://127.0.0.1:${(server.address() as { port: number }).port}`;
}

/** The error a check raises, or undefined when it passes. */
async function failureOf(check: Promise<void>): Promise<Error | undefined> {
  try {
    await check;
    return undefined;
  } catch (error) {
    return error as Error;
  }
}

const connection = (url: string, overrides: Partial<LivekitConnection> = {}) => ({
  url,
  apiKey: API_KEY,
  apiSecret: API_SECRET,
  ...overrides,
});

describe('checkLivekitServer', () => {
  it('fails on a plain web server (404 under /twirp) as not LiveKit, in one line naming LIVEKIT_URL, the status and a valid URL', async () => {
    const url = await webServer();
    const error = await failureOf(checkLivekitServer(connection(url)));
    expect(error).toBeInstanceOf(LivekitApiCheckError);
    expect((error as LivekitApiCheckError).reason).toBe('not-livekit');
    expect(error?.message).toMatch(/^LIVEKIT_URL: /);
    expect(error?.message).toContain(`${url} answers HTTP but not as a LiveKit server`);
    expect(error?.message).toContain(
      'POST /twirp/livekit.RoomService/ListRooms answered 404 Not Found',
    );
    expect(error?.message).toContain('wss://<project>.livekit.cloud');
    expect(error?.message).not.toContain('\n');
    expect(error?.message).not.toContain(API_SECRET);
  });

  it('passes a LiveKit server that accepts the key and secret, having sent a token with the roomList grant', async () => {
    const livekit = await fakeLivekit();
    await expect(checkLivekitServer(connection(livekit.url))).resolves.toBeUndefined();
    expect(livekit.verifiedClaims).toHaveLength(1);
    expect(livekit.verifiedClaims[0]).toMatchObject({ iss: API_KEY, video: { roomList: true } });
  });

  it('fails on a wrong secret naming LIVEKIT_API_KEY, LIVEKIT_API_SECRET and the key, never the secret or the token', async () => {
    const livekit = await fakeLivekit();
    const wrongSecret = 'a-wrong-secret-that-must-not-be-printed-98765';
    const error = await failureOf(
      checkLivekitServer(connection(livekit.url, { apiSecret: wrongSecret })),
    );
    expect(error).toBeInstanceOf(LivekitApiCheckError);
    expect((error as LivekitApiCheckError).reason).toBe('credentials');
    expect(error?.message).toMatch(/^LIVEKIT_API_KEY \/ LIVEKIT_API_SECRET: /);
    expect(error?.message).toContain(`refused the API key ${API_KEY} and its secret`);
    expect(error?.message).toContain('answered 401 Unauthorized');
    expect(error?.message).toContain('the secret does not match this key');
    expect(error?.message).toContain('--api-key and --api-secret');
    expect(error?.message).not.toContain(wrongSecret);
    expect(error?.message).not.toContain(API_SECRET);
    expect(error?.message).not.toContain('eyJ'); // the JWT livekit-server quotes back
    expect(error?.message).not.toContain('\n');
    expect(livekit.verifiedClaims).toEqual([]);
  });

  it('fails on a key the server does not know naming both settings and the key', async () => {
    const livekit = await fakeLivekit();
    const error = await failureOf(
      checkLivekitServer(connection(livekit.url, { apiKey: 'APIunknownKey' })),
    );
    expect((error as LivekitApiCheckError).reason).toBe('credentials');
    expect(error?.message).toMatch(/^LIVEKIT_API_KEY \/ LIVEKIT_API_SECRET: /);
    expect(error?.message).toContain('refused the API key APIunknownKey');
    expect(error?.message).toContain('the server does not know this key');
    expect(error?.message).not.toContain(API_SECRET);
  });

  it('fails on a closed port as unreachable before any API call', async () => {
    const port = await new Promise<number>((resolve) => {
      const probe = createNetServer().listen(0, '127.0.0.1', () => {
        const { port } = probe.address() as { port: number };
        probe.close(() => resolve(port));
      });
    });
    const error = await failureOf(checkLivekitServer(connection(`ws://127.0.0.1:${port}`)));
    expect(error).toBeInstanceOf(LivekitUnreachableError);
    expect((error as LivekitUnreachableError).reason).toBe('refused');
  });
});

describe('checkLivekitApi', () => {
  it('fails by the deadline given on a server that answers HTTP but never the API call', async () => {
    const livekit = await fakeLivekit(() => 'silent');
    const check = failureOf(checkLivekitApi(connection(livekit.url), { deadlineMs: 200 }));
    await livekit.twirpRequested;
    const error = await check;
    expect((error as LivekitApiCheckError).reason).toBe('not-livekit');
    expect(error?.message).toMatch(/^LIVEKIT_URL: /);
    expect(error?.message).toContain(
      'no answer to POST /twirp/livekit.RoomService/ListRooms within 0.2 s',
    );
  });

  it('fails on a 200 that is not JSON (a web page) as not LiveKit', async () => {
    const url = await webServer({ status: 200, contentType: 'text/html', body: '<html></html>' });
    const error = await failureOf(checkLivekitApi(connection(url)));
    expect((error as LivekitApiCheckError).reason).toBe('not-livekit');
    expect(error?.message).toContain('answered with a body that is not JSON');
  });

  it('fails on a plain-text 502 (a proxy with nothing behind it) as not LiveKit, naming the status', async () => {
    const url = await webServer({ status: 502, contentType: 'text/plain', body: 'Bad Gateway' });
    const error = await failureOf(checkLivekitApi(connection(url)));
    expect((error as LivekitApiCheckError).reason).toBe('not-livekit');
    expect(error?.message).toContain('answered 502 Bad Gateway');
  });

  it('fails on a Twirp bad_route 404 (a Twirp service that is not LiveKit) as not LiveKit', async () => {
    const livekit = await fakeLivekit(() => ({
      status: 404,
      contentType: 'application/json',
      body: JSON.stringify({ code: 'bad_route', msg: 'no handler' }),
    }));
    const error = await failureOf(checkLivekitApi(connection(livekit.url)));
    expect((error as LivekitApiCheckError).reason).toBe('not-livekit');
    expect(error?.message).toContain('answered 404 Not Found, Twirp code bad_route');
  });

  it.each([
    ['a 403 permission_denied', 403, { code: 'permission_denied', msg: 'not allowed' }],
    [
      "livekit-server's 401 for a verified token without the grant",
      401,
      {
        code: 'unauthenticated',
        msg: 'permissions denied',
      },
    ],
    ['a Twirp internal error', 500, { code: 'internal', msg: 'boom' }],
  ])('passes on %s: the key and secret got past authentication', async (_name, status, body) => {
    const livekit = await fakeLivekit(() => ({
      status,
      contentType: 'application/json',
      body: JSON.stringify(body),
    }));
    await expect(checkLivekitApi(connection(livekit.url))).resolves.toBeUndefined();
    await livekit.twirpRequested;
  });
});
