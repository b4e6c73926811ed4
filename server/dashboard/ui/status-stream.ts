/**
 * The status stream (`GET /api/status/stream`, README "Status"): a WebSocket whose first message
 * is a snapshot of the system and the caller's servers, then one message per change. When it
 * drops, `/api/status` is read at once and then every 10 s, and the stream is reopened with
 * backoff (1 s doubling to 30 s), so the page keeps showing the truth while the API restarts.
 */
import { api, ApiError, session } from './api.js';
import type { PartStatus } from './types.js';

/** A message about one of the caller's servers. */
export interface ServerMessage {
  type: 'server';
  serverId: number;
  status: string;
  lastError?: string | null;
  mcp?: PartStatus;
}

/** Where the stream's news goes. */
export interface StreamHandlers {
  /** A part of the system (`database`, `livekit`, `openai`, `mcp`, or `api` when unreachable). */
  onPart(part: string, value: PartStatus): void;
  /** The snapshot's server statuses, by server id. */
  onSnapshot(servers: Record<string, string>): void;
  /** A server changed, was added or removed (`status: 'removed'`). */
  onServer(message: ServerMessage): void;
  /** Whether the stream is open. */
  onLive(live: boolean): void;
}

const STREAM_PROTOCOL = 'switchboard.v1';
/** How often `/api/status` is polled while the status stream is down, in ms. */
const STATUS_POLL_MS = 10_000;
const SYSTEM_PARTS = ['livekit', 'openai', 'mcp', 'database'] as const;

/** One status stream with its polling fallback; {@link close} stops all of it. */
export class StatusStream {
  #socket: WebSocket | null = null;
  #retryMs = 1000;
  #retryTimer: ReturnType<typeof setTimeout> | undefined;
  #pollTimer: ReturnType<typeof setInterval> | undefined;
  #closed = false;

  /** @param handlers where the news goes. */
  constructor(private readonly handlers: StreamHandlers) {}

  /** Reads `/api/status` once, then opens the stream. */
  start(): void {
    void this.#poll();
    this.#open();
  }

  /** Closes the stream and stops polling and retrying. */
  close(): void {
    this.#closed = true;
    clearTimeout(this.#retryTimer);
    clearInterval(this.#pollTimer);
    const socket = this.#socket;
    this.#socket = null;
    socket?.close();
  }

  async #poll(): Promise<void> {
    try {
      const status = await api<Record<string, PartStatus>>('GET', '/api/status');
      if (this.#closed) return;
      for (const part of SYSTEM_PARTS) if (status[part]) this.handlers.onPart(part, status[part]);
    } catch (error) {
      if (!this.#closed && !(error instanceof ApiError && error.status === 401)) {
        this.handlers.onPart('api', { status: 'error', detail: 'The API does not answer.' });
      }
    }
  }

  #open(): void {
    const url = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/api/status/stream`;
    const socket = new WebSocket(url, [STREAM_PROTOCOL, `bearer.${session.token}`]);
    this.#socket = socket;
    socket.addEventListener('open', () => {
      this.#retryMs = 1000;
      clearInterval(this.#pollTimer);
      this.#pollTimer = undefined;
      this.handlers.onLive(true);
    });
    socket.addEventListener('message', (event) => {
      let message;
      try {
        message = JSON.parse(String(event.data));
      } catch {
        return;
      }
      this.#onMessage(message);
    });
    socket.addEventListener('close', () => {
      if (this.#socket !== socket) return;
      this.#socket = null;
      this.handlers.onLive(false);
      if (this.#closed) return;
      if (!this.#pollTimer) {
        void this.#poll();
        this.#pollTimer = setInterval(() => void this.#poll(), STATUS_POLL_MS);
      }
      this.#retryTimer = setTimeout(() => this.#open(), this.#retryMs);
      this.#retryMs = Math.min(this.#retryMs * 2, 30_000);
    });
  }

  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- one stream message, checked by type
  #onMessage(message: any): void {
    if (message?.type === 'snapshot') {
      for (const part of SYSTEM_PARTS) {
        if (message.status?.[part]) this.handlers.onPart(part, message.status[part]);
      }
      this.handlers.onSnapshot(message.servers ?? {});
    } else if (message?.type === 'system') {
      this.handlers.onPart(message.part, { status: message.status, detail: message.detail });
    } else if (message?.type === 'server') {
      if (message.mcp) this.handlers.onPart('mcp', message.mcp);
      this.handlers.onServer(message);
    }
  }
}
