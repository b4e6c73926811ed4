/**
 * The worker's check, before it hands over to agents-js, that the LiveKit server at `LIVEKIT_URL`
 * answers at all. agents-js retries an unreachable server for about 85 s (10 attempts) and then
 * exits with "closing worker due to error." without naming the setting; this check fails within
 * a deadline (default 10 s) with one line naming `LIVEKIT_URL`, the URL, the cause (DNS failure,
 * connection refused, timeout, TLS) and what to check.
 *
 * A LiveKit server answers plain HTTP on the port of its WebSocket endpoint (`GET /` returns
 * 200 "OK"), so the check is one HTTP(S) request: `ws://` becomes `http://` and `wss://`
 * `https://`. Any HTTP answer, whatever its status, counts as reachable: whether it is a LiveKit
 * server and accepts the key and secret is `checkLivekitServer`'s next step
 * (`livekit-server-check.ts`).
 */
import http from 'node:http';
import https from 'node:https';

/** The deadline of the check when none is given, in milliseconds (well under 15 s). */
export const DEFAULT_REACHABILITY_DEADLINE_MS = 10_000;

/** Why the LiveKit server could not be reached. */
export type UnreachableCause = 'dns' | 'refused' | 'timeout' | 'tls' | 'network';

/** Raised by `checkLivekitReachable`; `message` is the one line to print. */
export class LivekitUnreachableError extends Error {
  override readonly name = 'LivekitUnreachableError';

  /**
   * @param url the `LIVEKIT_URL` that was checked, as given.
   * @param reason why it could not be reached.
   * @param detail what was wrong, in words (e.g. `connection refused by 127.0.0.1:7880`).
   */
  constructor(
    readonly url: string,
    readonly reason: UnreachableCause,
    readonly detail: string,
  ) {
    super(
      `LIVEKIT_URL: cannot reach the LiveKit server at ${url} (${detail}). ` +
        `${ADVICE[reason]} A valid LIVEKIT_URL (or --url) is wss://<project>.livekit.cloud for ` +
        'LiveKit Cloud, or ws://localhost:7880 for a local `livekit-server --dev`.',
    );
  }
}

const ADVICE: Record<UnreachableCause, string> = {
  dns: 'Check the host name for typos and that this machine can resolve it.',
  refused: 'Check the port and that the LiveKit server is running.',
  timeout: 'Check that the host is right and that no firewall or proxy drops the connection.',
  tls:
    'Use ws:// for a server without TLS (such as `livekit-server --dev`) and wss:// only for ' +
    'one with a valid certificate.',
  network: 'Check the URL and the network between this machine and the server.',
};

/**
 * The HTTP(S) URL a LiveKit URL's server answers on: `ws:` → `http:`, `wss:` → `https:`;
 * `http:` and `https:` stay as they are.
 *
 * @param livekitUrl a URL with a host (`loadWorkerSettings` has checked its shape).
 * @throws TypeError when `livekitUrl` is not a URL.
 */
export function httpUrlOf(livekitUrl: string): URL {
  const url = new URL(livekitUrl);
  if (url.protocol === 'ws:') url.protocol = 'http:';
  else if (url.protocol === 'wss:') url.protocol = 'https:';
  return url;
}

/**
 * Classifies a network error of `node:http(s)` (or the `cause` of a `fetch` failure) by its
 * `code`.
 *
 * @param error the error, with `code` such as `ECONNREFUSED` when Node gives one.
 * @param host the `host[:port]` that was asked, to name in the detail.
 * @returns the cause and the detail in words, for `LivekitUnreachableError`.
 */
export function classifyNetworkError(
  error: NodeJS.ErrnoException,
  host: string,
): [UnreachableCause, string] {
  const code = error.code ?? '';
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN' || code === 'EAI_FAIL') {
    return ['dns', `DNS lookup of ${host} failed: ${code}`];
  }
  if (code === 'ECONNREFUSED') return ['refused', `connection refused by ${host}`];
  if (
    code.startsWith('ERR_TLS') ||
    code.startsWith('ERR_SSL') ||
    code.includes('CERT') ||
    code === 'EPROTO' ||
    /SSL|TLS|certificate/i.test(error.message)
  ) {
    return ['tls', `TLS handshake failed: ${code || error.message}`];
  }
  return ['network', code ? `${code}: ${error.message}` : error.message];
}

/**
 * Checks that the LiveKit server at `livekitUrl` answers an HTTP(S) request within the
 * deadline. The deadline covers everything: DNS lookup, connection, TLS and the response head.
 *
 * @param livekitUrl `LIVEKIT_URL`: a ws://, wss://, http:// or https:// URL with a host
 *   (`loadWorkerSettings` has checked its shape).
 * @param options.deadlineMs the total deadline in milliseconds; default
 *   `DEFAULT_REACHABILITY_DEADLINE_MS` (10 000).
 * @throws LivekitUnreachableError with the cause (`dns`, `refused`, `timeout`, `tls`,
 *   `network`) when no HTTP answer comes back in time.
 */
export async function checkLivekitReachable(
  livekitUrl: string,
  options: { deadlineMs?: number } = {},
): Promise<void> {
  const deadlineMs = options.deadlineMs ?? DEFAULT_REACHABILITY_DEADLINE_MS;
  const url = httpUrlOf(livekitUrl);
  const hostPort = url.port ? `${url.hostname}:${url.port}` : url.hostname;
  const client = url.protocol === 'https:' ? https : http;
  await new Promise<void>((resolve, reject) => {
    let settled = false;
    const finish = (error?: LivekitUnreachableError) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      request.destroy();
      if (error) reject(error);
      else resolve();
    };
    const request = client.get(url, { headers: { 'user-agent': 'switchboard-agent' } }, (res) => {
      res.resume();
      finish();
    });
    request.on('error', (error: NodeJS.ErrnoException) => {
      const [reason, detail] = classifyNetworkError(error, hostPort);
      finish(new LivekitUnreachableError(livekitUrl, reason, detail));
    });
    const timer = setTimeout(() => {
      finish(
        new LivekitUnreachableError(
          livekitUrl,
          'timeout',
          `no answer from ${hostPort} within ${formatSeconds(deadlineMs)}`,
        ),
      );
    }, deadlineMs);
  });
}

/** A duration in milliseconds in seconds for a message: `10000` → `10 s`, `250` → `0.25 s`. */
export function formatSeconds(ms: number): string {
  return `${Number((ms / 1000).toFixed(2))} s`;
}
