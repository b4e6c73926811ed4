/**
 * The LiveKit reachability check over real sockets: a closed local port (refused), a local HTTP
 * server that never answers (timeout, with a short injected deadline: the assertion is on the
 * cause, not on how long it took), one that answers (reachable, whatever the status), and a host
 * name that cannot resolve (DNS).
 */
import { createServer, type Server } from 'node:http';
import { createServer as createNetServer } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import {
  LivekitUnreachableError,
  checkLivekitReachable,
} from '../../agent/livekit-reachability.js';

const servers: Server[] = [];

afterEach(async () => {
  for (const server of servers.splice(0)) {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
});

/** A port nothing listens on (bound once, then released). */
async function closedPort(): Promise<number> {
  const server = createNetServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** A local HTTP server; `answer: false` accepts requests and never responds. */
async function httpServer(answer: boolean, status = 200): Promise<number> {
  const server = createServer((_req, res) => {
    if (answer) res.writeHead(status).end('OK');
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as { port: number }).port;
}

/** The error `checkLivekitReachable` raises, or undefined when it passes. */
async function failureOf(
  url: string,
  deadlineMs?: number,
): Promise<LivekitUnreachableError | undefined> {
  try {
    await checkLivekitReachable(url, { deadlineMs });
    return undefined;
  } catch (error) {
    if (error instanceof LivekitUnreachableError) return error;
    throw error;
  }
}

describe('checkLivekitReachable', () => {
  it('fails on a closed port as refused, in one line naming LIVEKIT_URL and the URL', async () => {
    const url = `ws://127.0.0.1:${await closedPort()}`;
    const error = await failureOf(url);
    expect(error?.reason).toBe('refused');
    expect(error?.message).toMatch(/^LIVEKIT_URL: cannot reach the LiveKit server at /);
    expect(error?.message).toContain(url);
    expect(error?.message).toContain('connection refused');
    expect(error?.message).toContain('wss://<project>.livekit.cloud');
    expect(error?.message).not.toContain('\n');
  }, 60_000);

  it('fails on a server that never answers as a timeout, at the deadline given', async () => {
    const url = `ws://127.0.0.1:${await httpServer(false)}`;
    const error = await failureOf(url, 200);
    expect(error?.reason).toBe('timeout');
    expect(error?.message).toContain('within 0.2 s');
    expect(error?.message).toContain(url);
  }, 60_000);

  it('passes on a server that answers HTTP, ws:// checked over http://, whatever the status', async () => {
    await expect(
      checkLivekitReachable(`ws://127.0.0.1:${await httpServer(true)}`, { deadlineMs: 60_000 }),
    ).resolves.toBeUndefined();
    await expect(
      checkLivekitReachable(`http://127.0.0.1:${await httpServer(true, 404)}/`, {
        deadlineMs: 60_000,
      }),
    ).resolves.toBeUndefined();
  }, 120_000);

  it('fails on a host name that does not resolve as a DNS failure', async () => {
    // `.invalid` never resolves (RFC 2606).
    const error = await failureOf('wss://no-such-project.invalid', 60_000);
    expect(error?.reason).toBe('dns');
    expect(error?.message).toContain('DNS lookup of no-such-project.invalid failed');
  }, 120_000);

  it('fails on wss:// to a server without TLS as a TLS failure', async () => {
    const error = await failureOf(`wss://127.0.0.1:${await httpServer(true)}`, 60_000);
    expect(error?.reason).toBe('tls');
    expect(error?.message).toContain('ws://');
  }, 120_000);
});
