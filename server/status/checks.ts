/**
 * The parts of `GET /api/status`: LiveKit and OpenAI checked for real when configured,
 * the database from a real query, and MCP aggregated from the stored server statuses in the
 * words of seed 004 (`connected`, `degraded`, `disconnected`, `ready`).
 */
import { RoomServiceClient } from 'livekit-server-sdk';
import { CONNECTION_STATUSES, type ConnectionStatus } from '../../shared/mcp/server-config.js';
import { describeError } from '../../shared/errors.js';
import { checkRealtimeEndpoint } from '../../shared/realtime-check.js';

/** The state of one external dependency. */
export interface ComponentStatus {
  status: 'connected' | 'unconfigured' | 'error';
  /** One sentence: what was checked, or why it failed, or what to set. */
  detail: string;
  /** Round trip of the check, in milliseconds, when one was made. */
  latencyMs?: number;
  /** OpenAI only: the realtime endpoint, and what agent sessions start on because of it. */
  realtime?: RealtimeStatus;
}

/** Whether the OpenAI realtime endpoint accepts a session, and so what agent sessions use. */
export interface RealtimeStatus {
  status: 'connected' | 'unconfigured' | 'error';
  /**
   * What a session started now runs on: `realtime` (the realtime model), `pipeline` (the
   * STT-LLM-TTS fallback, because the endpoint refused) or `none` (no API key: neither works).
   */
  sessionModel: 'realtime' | 'pipeline' | 'none';
  /** One sentence: what was checked, or why it failed and that sessions fall back. */
  detail: string;
  /** Milliseconds from opening the socket to `session.created`, when it was accepted. */
  latencyMs?: number;
}

/** The aggregate state of the caller's MCP servers. */
export interface McpStatus {
  /**
   * `ready`: no active server; `connected`: every active server connected; `degraded`: some
   * connected, some not (or degraded); `disconnected`: none connected.
   */
  status: 'connected' | 'degraded' | 'disconnected' | 'ready';
  detail: string;
  /** Active servers counted. */
  total: number;
  /** Active servers per connection status. */
  counts: Record<ConnectionStatus, number>;
}

async function timed<T>(check: () => Promise<T>): Promise<{ value: T; latencyMs: number }> {
  const started = performance.now();
  const value = await check();
  return { value, latencyMs: Math.round(performance.now() - started) };
}

function withTimeout<T>(promise: Promise<T>, timeoutMs: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`${what} timed out after ${timeoutMs} ms`)),
      timeoutMs,
    );
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** LiveKit settings, all three required for a check. */
export interface LivekitSettings {
  url?: string;
  apiKey?: string;
  apiSecret?: string;
}

/**
 * Checks LiveKit with an authenticated `RoomService.ListRooms` call (livekit-server-sdk).
 *
 * @param timeoutMs how long to wait for LiveKit's answer.
 */
export async function checkLivekit(
  settings: LivekitSettings,
  timeoutMs: number,
): Promise<ComponentStatus> {
  if (!settings.url || !settings.apiKey || !settings.apiSecret) {
    return {
      status: 'unconfigured',
      detail: 'Set LIVEKIT_URL, LIVEKIT_API_KEY and LIVEKIT_API_SECRET to enable the voice agent.',
    };
  }
  const client = new RoomServiceClient(settings.url, settings.apiKey, settings.apiSecret, {
    requestTimeout: Math.max(1, Math.ceil(timeoutMs / 1000)),
    failover: false,
  });
  try {
    const { value: rooms, latencyMs } = await timed(() =>
      withTimeout(client.listRooms(), timeoutMs, 'LiveKit ListRooms'),
    );
    return {
      status: 'connected',
      detail: `LiveKit answered ListRooms (${rooms.length} active rooms).`,
      latencyMs,
    };
  } catch (error) {
    return { status: 'error', detail: `LiveKit check failed: ${describeError(error)}` };
  }
}

/** OpenAI settings for the check. */
export interface OpenAISettings {
  apiKey?: string;
  /** API base, e.g. `https://api.openai.com/v1`. */
  baseUrl: string;
}

/**
 * Checks OpenAI with an authenticated `GET {baseUrl}/models`.
 *
 * @param timeoutMs how long to wait for the answer.
 */
export async function checkOpenAI(
  settings: OpenAISettings,
  timeoutMs: number,
): Promise<ComponentStatus> {
  if (!settings.apiKey) {
    return { status: 'unconfigured', detail: 'Set OPENAI_API_KEY to enable the realtime model.' };
  }
  const url = `${settings.baseUrl.replace(/\/+$/, '')}/models`;
  try {
    const { value: response, latencyMs } = await timed(() =>
      fetch(url, {
        headers: { Authorization: `Bearer ${settings.apiKey}` },
        signal: AbortSignal.timeout(timeoutMs),
      }),
    );
    await response.body?.cancel();
    if (response.ok)
      return { status: 'connected', detail: 'OpenAI accepted the API key.', latencyMs };
    const reason =
      response.status === 401 ? 'the API key was rejected' : `it answered HTTP ${response.status}`;
    return { status: 'error', detail: `OpenAI check failed: ${reason}.`, latencyMs };
  } catch (error) {
    return { status: 'error', detail: `OpenAI is unreachable: ${describeError(error)}` };
  }
}

/** OpenAI realtime settings for {@link checkRealtime}. */
export interface RealtimeSettings extends OpenAISettings {
  /** `OPENAI_REALTIME_MODEL`; default `gpt-realtime`. */
  realtimeModel?: string;
}

/**
 * Checks that the OpenAI realtime endpoint accepts a session, the check agent sessions make at
 * start (`shared/realtime-check.ts`: a WebSocket to `{baseUrl}/realtime?model=…` waiting for
 * `session.created`), and says what sessions will use: the realtime model, or the STT-LLM-TTS
 * pipeline they fall back to.
 *
 * @param timeoutMs how long to wait for `session.created`.
 */
export async function checkRealtime(
  settings: RealtimeSettings,
  timeoutMs: number,
): Promise<RealtimeStatus> {
  if (!settings.apiKey) {
    return {
      status: 'unconfigured',
      sessionModel: 'none',
      detail: 'Set OPENAI_API_KEY to enable the realtime model.',
    };
  }
  const model = settings.realtimeModel ?? 'gpt-realtime';
  const result = await checkRealtimeEndpoint({
    apiKey: settings.apiKey,
    baseUrl: settings.baseUrl,
    model,
    timeoutMs,
  });
  if (result.ok) {
    return {
      status: 'connected',
      sessionModel: 'realtime',
      detail:
        `The realtime endpoint accepted a ${model} session; ` +
        'agent sessions use the realtime model.',
      latencyMs: result.latencyMs,
    };
  }
  return {
    status: 'error',
    sessionModel: 'pipeline',
    detail:
      `The realtime endpoint did not accept a ${model} session: ${result.reason} ` +
      'Agent sessions fall back to the STT-LLM-TTS pipeline.',
  };
}

/** Aggregates the statuses of active servers (seed 004's words, with counts). */
export function summarizeMcp(statuses: readonly ConnectionStatus[]): McpStatus {
  const counts = Object.fromEntries(CONNECTION_STATUSES.map((s) => [s, 0])) as Record<
    ConnectionStatus,
    number
  >;
  for (const status of statuses) counts[status] += 1;
  const total = statuses.length;
  const up = counts.connected;
  if (total === 0) {
    return { status: 'ready', detail: 'No active MCP servers are configured.', total, counts };
  }
  if (up === total) {
    return {
      status: 'connected',
      detail: `All ${total} MCP servers are connected.`,
      total,
      counts,
    };
  }
  if (up + counts.degraded > 0) {
    return {
      status: 'degraded',
      detail: `${up} of ${total} MCP servers are connected.`,
      total,
      counts,
    };
  }
  return {
    status: 'disconnected',
    detail: `None of the ${total} MCP servers is connected.`,
    total,
    counts,
  };
}
