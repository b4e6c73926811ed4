/**
 * The worker's start-up check of its LiveKit settings, before it hands over to agents-js. agents-js
 * 1.9.0 retries a failed registration for about 85 s and then exits with "closing worker due to
 * error." without naming the setting at fault; this check fails within 15 s with one line that
 * names it and says what to do.
 *
 * Two steps, under one deadline:
 *
 * 1. `checkLivekitReachable` (`livekit-reachability.ts`): `LIVEKIT_URL` answers HTTP at all.
 * 2. `checkLivekitApi`: one call of LiveKit's server API with the key and secret, through
 *    `livekit-server-sdk` (`RoomServiceClient.listRooms`, a Twirp `POST
 *    /twirp/livekit.RoomService/ListRooms` with a JWT signed by the secret, carrying the
 *    `roomList` grant). How its answer is read, following livekit-server's `pkg/service/auth.go`
 *    (the API-key middleware answers 401 to a token it cannot verify) and the Twirp spec:
 *
 *    - 200 with JSON: a LiveKit server that accepts the key and secret.
 *    - 401 (or Twirp code `unauthenticated`): the key or secret is refused, naming
 *      `LIVEKIT_API_KEY` / `LIVEKIT_API_SECRET`. One exception: livekit-server answers a token it
 *      has verified but whose grant does not allow the call with `unauthenticated` and the message
 *      `permissions denied`; the key and secret were accepted, so that passes.
 *    - 403 (or Twirp code `permission_denied`): the credentials got past authentication but this
 *      call is not allowed, by the server or by a proxy in front of it guarding `/twirp`. The
 *      worker itself only needs the `/agent` WebSocket, so this passes rather than stop a setup
 *      that may work; agents-js reports anything further when it registers.
 *    - Any other Twirp error (a JSON body with a `code`) except 404: a LiveKit server that got
 *      past authentication and then failed the call (e.g. `internal`): passes for the same reason.
 *    - 404, any other status without a Twirp body, or a 200 that is not JSON: `LIVEKIT_URL`
 *      answers HTTP but is not a LiveKit server (a web page, another service, a proxy's error).
 *    - No answer within the deadline: likewise not (or not working as) a LiveKit server.
 *
 * The secret is never printed: the server's own message is not quoted, because livekit-server
 * quotes the whole token back (`invalid token: <jwt>`). The key id is printed, to compare.
 */
import { RoomServiceClient, TwirpError } from 'livekit-server-sdk';
import {
  DEFAULT_REACHABILITY_DEADLINE_MS,
  LivekitUnreachableError,
  checkLivekitReachable,
  classifyNetworkError,
  formatSeconds,
  httpUrlOf,
} from './livekit-reachability.js';

/** The deadline of the whole check (both steps) when none is given, in milliseconds. */
export const DEFAULT_SERVER_CHECK_DEADLINE_MS = 15_000;

/** The deadline of `checkLivekitApi` alone when none is given, in milliseconds. */
export const DEFAULT_API_DEADLINE_MS = 5_000;

/** The API call the check makes, as it appears in messages. */
const API_CALL = 'POST /twirp/livekit.RoomService/ListRooms';

/** The LiveKit settings the worker connects with. */
export interface LivekitConnection {
  /** `LIVEKIT_URL`: a ws://, wss://, http:// or https:// URL with a host. */
  url: string;
  /** `LIVEKIT_API_KEY`: the key id (printed in messages). */
  apiKey: string;
  /** `LIVEKIT_API_SECRET`: signs the token; never printed. */
  apiSecret: string;
}

/** Why the LiveKit API check failed: which setting is at fault. */
export type LivekitApiFailure = 'not-livekit' | 'credentials';

/**
 * Raised by `checkLivekitApi` (and so `checkLivekitServer`); `message` is the one line to print.
 * `reason` `not-livekit` names `LIVEKIT_URL`; `credentials` names `LIVEKIT_API_KEY` and
 * `LIVEKIT_API_SECRET` and the key id, never the secret.
 */
export class LivekitApiCheckError extends Error {
  override readonly name = 'LivekitApiCheckError';

  /**
   * @param url the `LIVEKIT_URL` that was checked, as given.
   * @param reason which setting is at fault.
   * @param detail what the server answered, in words (e.g. `POST … answered 404 Not Found`).
   * @param apiKey the key id that was refused (used when `reason` is `credentials`).
   */
  constructor(
    readonly url: string,
    readonly reason: LivekitApiFailure,
    readonly detail: string,
    readonly apiKey: string,
  ) {
    super(
      reason === 'credentials'
        ? `LIVEKIT_API_KEY / LIVEKIT_API_SECRET: the LiveKit server at ${url} refused the API key ` +
            `${apiKey} and its secret (${detail}). Set LIVEKIT_API_KEY and LIVEKIT_API_SECRET ` +
            '(or --api-key and --api-secret) to a key and its secret from this server: LiveKit ' +
            'Cloud lists them under Settings → API keys; `livekit-server --dev` takes the key ' +
            'devkey with its dev secret.'
        : `LIVEKIT_URL: ${url} answers HTTP but not as a LiveKit server (${detail}). ` +
            'A valid LIVEKIT_URL (or --url) is the address of the LiveKit server itself: ' +
            'wss://<project>.livekit.cloud for LiveKit Cloud, or ws://localhost:7880 for a ' +
            'local `livekit-server --dev`.',
    );
  }
}

/**
 * Checks that the server at `livekit.url` is a LiveKit server that accepts `livekit.apiKey` and
 * `livekit.apiSecret`, by one `listRooms` call of `livekit-server-sdk` (no failover to other
 * regions, no retries). How each answer is read is in the module doc.
 *
 * @param livekit the URL, key and secret to check.
 * @param options.deadlineMs the deadline of the call in milliseconds, the response body
 *   included; default `DEFAULT_API_DEADLINE_MS` (5 000).
 * @throws LivekitApiCheckError `credentials` when the key or secret is refused; `not-livekit`
 *   when the answer is not a LiveKit server's, or none comes within the deadline.
 * @throws LivekitUnreachableError when the connection itself fails (refused, DNS, TLS).
 */
export async function checkLivekitApi(
  livekit: LivekitConnection,
  options: { deadlineMs?: number } = {},
): Promise<void> {
  const deadlineMs = Math.max(1, Math.round(options.deadlineMs ?? DEFAULT_API_DEADLINE_MS));
  const url = httpUrlOf(livekit.url);
  const client = new RoomServiceClient(url.origin, livekit.apiKey, livekit.apiSecret, {
    // Whole seconds: the SDK hands seconds × 1000 to AbortSignal.timeout, which wants an integer.
    // The timer below holds the exact deadline; this only ends the request soon after it.
    requestTimeout: Math.ceil(deadlineMs / 1000),
    failover: false,
  });
  const notLivekit = (detail: string) =>
    new LivekitApiCheckError(livekit.url, 'not-livekit', detail, livekit.apiKey);
  const timedOut = () => notLivekit(`no answer to ${API_CALL} within ${formatSeconds(deadlineMs)}`);
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(timedOut()), deadlineMs);
  });
  try {
    await Promise.race([client.listRooms(), deadline]);
  } catch (error) {
    if (error instanceof LivekitApiCheckError) throw error;
    const failure = readFailure(error, livekit, url);
    if (failure === 'accepted') return;
    throw failure ?? timedOut();
  } finally {
    clearTimeout(timer);
  }
}

/**
 * What a failed `listRooms` means: `accepted` (the key and secret got past authentication), the
 * error to raise, or undefined for a timeout.
 */
function readFailure(
  error: unknown,
  livekit: LivekitConnection,
  url: URL,
): 'accepted' | LivekitApiCheckError | LivekitUnreachableError | undefined {
  const failed = (reason: LivekitApiFailure, detail: string) =>
    new LivekitApiCheckError(livekit.url, reason, detail, livekit.apiKey);
  if (error instanceof TwirpError) {
    const answered = `${API_CALL} answered ${error.status}${error.name ? ` ${error.name}` : ''}`;
    const twirpCode = typeof error.code === 'string' && error.code !== '' ? error.code : undefined;
    if (error.status === 401 || twirpCode === 'unauthenticated') {
      // livekit-server: a verified token whose grant does not allow the call.
      if (twirpCode === 'unauthenticated' && error.message === 'permissions denied') {
        return 'accepted';
      }
      return failed('credentials', `${answered}${refusalHint(error.message)}`);
    }
    if (error.status === 403 || twirpCode === 'permission_denied') return 'accepted';
    if (twirpCode && error.status !== 404) return 'accepted';
    return failed('not-livekit', twirpCode ? `${answered}, Twirp code ${twirpCode}` : answered);
  }
  if (error instanceof Error && (error.name === 'TimeoutError' || error.name === 'AbortError')) {
    return undefined;
  }
  if (error instanceof SyntaxError) {
    return failed('not-livekit', `${API_CALL} answered with a body that is not JSON`);
  }
  const cause =
    error instanceof Error ? (error.cause as NodeJS.ErrnoException | undefined) : undefined;
  if (error instanceof TypeError && cause instanceof Error) {
    const hostPort = url.port ? `${url.hostname}:${url.port}` : url.hostname;
    if (cause.name === 'TimeoutError') return undefined;
    const [reason, detail] = classifyNetworkError(cause, hostPort);
    return new LivekitUnreachableError(livekit.url, reason, `${API_CALL}: ${detail}`);
  }
  const message = error instanceof Error ? error.message : String(error);
  return failed('not-livekit', `${API_CALL} answered what a LiveKit server does not: ${message}`);
}

/**
 * Which of the two settings livekit-server's 401 points at, from its message (`invalid API key:
 * <key>` or `invalid token: …`); the message itself is not quoted (it holds the token).
 */
function refusalHint(serverMessage: string): string {
  if (serverMessage.startsWith('invalid API key')) return ': the server does not know this key';
  if (serverMessage.startsWith('invalid token')) {
    return ': the secret does not match this key, or the clocks differ';
  }
  return '';
}

/**
 * The worker's start-up check: `checkLivekitReachable`, then `checkLivekitApi` with the time
 * left, all within one deadline.
 *
 * @param livekit the URL, key and secret the worker will connect with.
 * @param options.deadlineMs the deadline of the whole check in milliseconds; default
 *   `DEFAULT_SERVER_CHECK_DEADLINE_MS` (15 000). Reaching the server may take at most
 *   `DEFAULT_REACHABILITY_DEADLINE_MS` (10 000) of it; the API call gets the rest.
 * @throws LivekitUnreachableError when the server does not answer HTTP (`LIVEKIT_URL`).
 * @throws LivekitApiCheckError when it is not a LiveKit server (`LIVEKIT_URL`) or refuses the key
 *   and secret (`LIVEKIT_API_KEY` / `LIVEKIT_API_SECRET`).
 */
export async function checkLivekitServer(
  livekit: LivekitConnection,
  options: { deadlineMs?: number } = {},
): Promise<void> {
  const deadlineMs = options.deadlineMs ?? DEFAULT_SERVER_CHECK_DEADLINE_MS;
  const startedMs = performance.now();
  await checkLivekitReachable(livekit.url, {
    deadlineMs: Math.min(DEFAULT_REACHABILITY_DEADLINE_MS, deadlineMs),
  });
  const leftMs = deadlineMs - (performance.now() - startedMs);
  await checkLivekitApi(livekit, { deadlineMs: leftMs });
}
