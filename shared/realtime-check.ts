/**
 * Whether the OpenAI Realtime API accepts a session: a real WebSocket connection to the URL the
 * LiveKit OpenAI plugin uses, authenticated like the plugin, waiting for the server's first event
 * (`session.created`, OpenAI Realtime API reference, "Server events › session.created"). The
 * agent runs it at session start to choose between the realtime model and the STT/LLM/TTS
 * pipeline; `/api/status` runs it to say which one sessions will use.
 *
 * Hand-written protocol code because neither the plugin nor the `openai` SDK exposes a check:
 * the plugin opens its socket lazily inside a session and retries in the background, so a
 * failure would only show up as a silent agent. It opens one socket, reads one event and closes.
 */
import { WebSocket } from 'ws';
import { describeError } from './errors.js';

/** What {@link checkRealtimeEndpoint} needs. */
export interface RealtimeCheckOptions {
  /** `OPENAI_API_KEY`; without one the check fails at once. */
  apiKey?: string;
  /** `OPENAI_BASE_URL`, e.g. `https://api.openai.com/v1`. */
  baseUrl: string;
  /** `OPENAI_REALTIME_MODEL`, e.g. `gpt-realtime`. */
  model: string;
  /** Longest wait for `session.created`, in milliseconds (`AGENT_REALTIME_CHECK_TIMEOUT_MS`). */
  timeoutMs: number;
}

/** The outcome of {@link checkRealtimeEndpoint}; it never throws. */
export type RealtimeCheckResult =
  | {
      ok: true;
      /** Milliseconds from opening the socket to `session.created`. */
      latencyMs: number;
    }
  | {
      ok: false;
      /** One sentence saying why, e.g. `the server answered HTTP 401`. No secrets. */
      reason: string;
    };

/**
 * The WebSocket URL the OpenAI plugin connects its realtime sessions to, for the plain OpenAI
 * (not Azure) case: `processBaseURL` in `@livekit/agents-plugin-openai` 1.9
 * `dist/realtime/realtime_model.js`, repeated here so `shared/` does not load the plugin (and
 * LiveKit's native bindings) into the API process. `http(s)` becomes `ws(s)`, `/realtime` is
 * appended to the base path and the model goes in the `model` query parameter, e.g.
 * `https://api.openai.com/v1` → `wss://api.openai.com/v1/realtime?model=gpt-realtime`.
 *
 * @param baseUrl the API base (`OPENAI_BASE_URL`).
 * @param model the realtime model (`OPENAI_REALTIME_MODEL`).
 * @throws TypeError when `baseUrl` is not a URL.
 */
export function realtimeUrl(baseUrl: string, model: string): string {
  const url = new URL([baseUrl, 'realtime'].join('/'));
  if (url.protocol === 'https:') url.protocol = 'wss:';
  else if (url.protocol === 'http:') url.protocol = 'ws:';
  if (!url.pathname || ['', '/v1', '/openai'].includes(url.pathname.replace(/\/$/, ''))) {
    url.pathname = `${url.pathname.replace(/\/$/, '')}/realtime`;
  } else {
    url.pathname = url.pathname.replace(/\/$/, '');
  }
  url.searchParams.set('model', model);
  return url.toString();
}

/**
 * Opens a realtime session the way the plugin does (`Authorization: Bearer <key>`,
 * `User-Agent: LiveKit-Agents-JS`) and waits for `session.created`; then closes the socket. A
 * session that is opened and closed without input costs no tokens.
 *
 * @returns `{ ok: true, latencyMs }`, or `{ ok: false, reason }` when there is no API key, the
 *   URL is invalid, the upgrade is refused (HTTP status), the server sends an `error` event or
 *   anything but `session.created` first, the socket closes or fails, or the timeout passes.
 *   Never rejects.
 */
export function checkRealtimeEndpoint(options: RealtimeCheckOptions): Promise<RealtimeCheckResult> {
  if (!options.apiKey) {
    return Promise.resolve({ ok: false, reason: 'OPENAI_API_KEY is not set.' });
  }
  let url: string;
  try {
    url = realtimeUrl(options.baseUrl, options.model);
  } catch (error) {
    return Promise.resolve({
      ok: false,
      reason: `invalid OPENAI_BASE_URL: ${describeError(error)}`,
    });
  }
  const started = performance.now();
  return new Promise((resolve) => {
    const socket = new WebSocket(url, {
      headers: { Authorization: `Bearer ${options.apiKey}`, 'User-Agent': 'LiveKit-Agents-JS' },
      handshakeTimeout: options.timeoutMs,
    });
    let settled = false;
    const finish = (result: RealtimeCheckResult) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.removeAllListeners();
      // A late 'error' after terminate() must not become an uncaught exception.
      socket.on('error', () => {});
      if (socket.readyState === WebSocket.OPEN) socket.close(1000);
      else socket.terminate();
      resolve(result);
    };
    const timer = setTimeout(
      () => finish({ ok: false, reason: `no session.created within ${options.timeoutMs} ms.` }),
      options.timeoutMs,
    );

    socket.on('unexpected-response', (_request, response) => {
      const status = response.statusCode ?? 0;
      response.resume();
      const why = status === 401 ? ' (the API key was rejected)' : '';
      finish({ ok: false, reason: `the server answered HTTP ${status}${why}.` });
    });
    socket.on('message', (data, isBinary) => {
      if (isBinary) return finish({ ok: false, reason: 'the server sent a binary frame.' });
      let event: { type?: unknown; error?: { message?: unknown } };
      try {
        event = JSON.parse(data.toString()) as typeof event;
      } catch {
        return finish({ ok: false, reason: 'the server sent a frame that is not JSON.' });
      }
      if (event.type === 'session.created') {
        return finish({ ok: true, latencyMs: Math.round(performance.now() - started) });
      }
      if (event.type === 'error') {
        const message =
          typeof event.error?.message === 'string' ? event.error.message : 'no message';
        return finish({ ok: false, reason: `the server sent an error: ${message}` });
      }
      finish({
        ok: false,
        reason: `the server sent ${String(event.type)} before session.created.`,
      });
    });
    socket.on('close', (code) =>
      finish({ ok: false, reason: `the server closed the connection (code ${code}).` }),
    );
    socket.on('error', (error) =>
      finish({ ok: false, reason: `the connection failed: ${describeError(error)}` }),
    );
  });
}
