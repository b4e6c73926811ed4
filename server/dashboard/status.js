// @ts-check
/**
 * The system status pills (LiveKit, OpenAI, MCP, database) and the status stream
 * (`GET /api/status/stream`, README): the stream's first message and its `system` messages update
 * the pills; its server messages go to the handlers given to {@link openStream}. When the stream
 * drops, `/api/status` is read at once and then polled, and the stream is reopened with backoff.
 */
import { api, ApiError, session } from './api.js';
import { byId, h, tone } from './dom.js';

/** @typedef {{ onSnapshot: (servers: Record<string, string>) => void, onServer: (message: any) => void }} StreamHandlers */

const stream = {
  /** @type {WebSocket | null} */
  socket: null,
  retryMs: 1000,
  /** @type {ReturnType<typeof setTimeout> | undefined} */
  retryTimer: undefined,
  /** @type {ReturnType<typeof setInterval> | undefined} */
  pollTimer: undefined,
};

const STREAM_PROTOCOL = 'switchboard.v1';

/** How often `/api/status` is polled while the status stream is down. */
const STATUS_POLL_MS = 10_000;

const SYSTEM_PARTS = /** @type {const} */ (['livekit', 'openai', 'mcp', 'database']);

const PART_LABELS = {
  api: 'API',
  livekit: 'LiveKit',
  openai: 'OpenAI',
  mcp: 'MCP',
  database: 'Database',
};

/**
 * Shows one part's pill (made on first use), coloured by its status word, its detail as the tip.
 * @param {string} part `livekit`, `openai`, `mcp`, `database`, or `api` when the API is unreachable
 * @param {{ status: string, detail?: string }} value
 */
function showPart(part, value) {
  const list = byId('system-status');
  let pill = list.querySelector(`[data-part="${part}"]`);
  if (!pill) {
    pill = h('li', { 'data-part': part });
    list.append(pill);
  }
  pill.className = `pill ${tone(value.status)}`;
  pill.setAttribute('title', value.detail ?? '');
  pill.setAttribute('data-status', value.status);
  pill.replaceChildren(
    h('span', { class: 'dot', 'aria-hidden': 'true' }),
    `${PART_LABELS[/** @type {keyof typeof PART_LABELS} */ (part)] ?? part} `,
    h('strong', {}, [value.status]),
  );
}

/**
 * Shows every part of a status answer.
 * @param {any} status the body of `GET /api/status`
 */
function showStatus(status) {
  for (const part of SYSTEM_PARTS) if (status?.[part]) showPart(part, status[part]);
  byId('system-status').hidden = false;
}

/** Reads `GET /api/status` once and shows it; an unreachable API shows as an `API error` pill. */
export async function pollStatus() {
  try {
    showStatus(await api('GET', '/api/status'));
  } catch (error) {
    if (!(error instanceof ApiError && error.status === 401)) showPart('api', { status: 'error' });
  }
}

/**
 * Opens the status stream; while it is down, `/api/status` is polled and the stream retried.
 * @param {StreamHandlers} handlers where the servers' statuses go
 */
export function openStream(handlers) {
  closeStream();
  const url = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/api/status/stream`;
  const socket = new WebSocket(url, [STREAM_PROTOCOL, `bearer.${session.token}`]);
  stream.socket = socket;
  socket.addEventListener('open', () => {
    stream.retryMs = 1000;
    clearInterval(stream.pollTimer);
    stream.pollTimer = undefined;
    byId('system-status').dataset.live = 'true';
  });
  socket.addEventListener('message', (event) => {
    let message;
    try {
      message = JSON.parse(String(event.data));
    } catch {
      return;
    }
    onStreamMessage(message, handlers);
  });
  socket.addEventListener('close', () => {
    if (stream.socket !== socket) return;
    stream.socket = null;
    byId('system-status').dataset.live = 'false';
    if (!session.token) return;
    if (!stream.pollTimer) {
      void pollStatus();
      stream.pollTimer = setInterval(pollStatus, STATUS_POLL_MS);
    }
    stream.retryTimer = setTimeout(() => openStream(handlers), stream.retryMs);
    stream.retryMs = Math.min(stream.retryMs * 2, 30_000);
  });
}

/** Closes the stream and stops polling and retrying (signing out). */
export function closeStream() {
  clearTimeout(stream.retryTimer);
  clearInterval(stream.pollTimer);
  stream.pollTimer = undefined;
  stream.retryMs = 1000;
  const socket = stream.socket;
  stream.socket = null;
  socket?.close();
}

/**
 * @param {any} message one status stream message
 * @param {StreamHandlers} handlers
 */
function onStreamMessage(message, handlers) {
  if (message.type === 'snapshot') {
    showStatus(message.status);
    handlers.onSnapshot(message.servers ?? {});
  } else if (message.type === 'system') {
    showPart(message.part, { status: message.status, detail: message.detail });
  } else if (message.type === 'server') {
    if (message.mcp) showPart('mcp', message.mcp);
    handlers.onServer(message);
  }
}
