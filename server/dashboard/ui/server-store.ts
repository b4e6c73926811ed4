/**
 * The servers the page shows, kept current by the status stream: a small store React reads with
 * `useSyncExternalStore`. Rows follow streamed statuses at once; a row whose status changed is
 * then read again for its tools and latency, which the stream does not carry.
 */
import { api, serversPath, session } from './api.js';
import type { ServerMessage } from './status-stream.js';
import type { Page, Server } from './types.js';

/** How many times, and how far apart (ms), a row is read again until it shows a streamed status. */
const RELOAD_ATTEMPTS = 8;
const RELOAD_GAP_MS = 250;

/** Servers asked for per page: the API's largest page, so most users need one request. */
const PAGE_SIZE = '200';

/** The servers of the caller, or of the user an admin acts for. */
export class ServerStore {
  #servers = new Map<number, Server>();
  #list: Server[] = [];
  #loaded = false;
  #reloading = new Set<number>();
  #listeners = new Set<() => void>();

  /** Subscribes to changes (for `useSyncExternalStore`); returns the unsubscribe. */
  subscribe = (listener: () => void): (() => void) => {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  };

  /** The servers sorted by name; the same array until something changes. */
  list = (): Server[] => this.#list;

  /** Whether the list has been read since the last {@link clear}. */
  loaded = (): boolean => this.#loaded;

  /**
   * Reads the servers again (`GET /api/mcp/servers`), every page of them (following
   * `nextCursor`).
   *
   * @throws ApiError when the API refuses.
   */
  async load(): Promise<void> {
    const actingFor = session.actingFor;
    const rows: Server[] = [];
    let cursor: string | null = null;
    do {
      const params: Record<string, string> = { limit: PAGE_SIZE };
      if (cursor !== null) params.cursor = cursor;
      const page: Page<Server> = await api<Page<Server>>('GET', serversPath('', params));
      rows.push(...page.items);
      cursor = page.nextCursor;
    } while (cursor !== null && session.actingFor === actingFor);
    // An answer for the user shown before a switch is dropped.
    if (session.actingFor !== actingFor) return;
    this.#servers = new Map(rows.map((row) => [row.id, row]));
    this.#loaded = true;
    this.#changed();
  }

  /** Empties the list (signing out, or switching users). */
  clear(): void {
    this.#servers.clear();
    this.#loaded = false;
    this.#changed();
  }

  /** Shows a server as the API answered it (after a save or a toggle). */
  upsert(server: Server): void {
    this.#servers.set(server.id, server);
    this.#changed();
  }

  /** Drops a deleted server. */
  remove(id: number): void {
    this.#servers.delete(id);
    this.#changed();
  }

  /**
   * The stream's first message: the caller's servers' statuses. An admin looking at another
   * user's servers does not get theirs, so nothing is applied then.
   */
  applySnapshot(statuses: Record<string, string>): void {
    if (session.actingFor !== null) return;
    for (const [id, status] of Object.entries(statuses)) this.#setStatus(Number(id), status);
  }

  /** A stream message about a server: a status change, or one added or removed elsewhere. */
  applyServerMessage(message: ServerMessage): void {
    if (session.actingFor !== null) return;
    if (message.status === 'removed' || !this.#servers.has(message.serverId)) {
      void this.load().catch(() => {});
    } else {
      this.#setStatus(message.serverId, message.status, message.lastError);
    }
  }

  #setStatus(id: number, status: string, lastError?: string | null): void {
    const server = this.#servers.get(id);
    if (!server || server.connectionStatus === status) return;
    this.#servers.set(id, {
      ...server,
      connectionStatus: status,
      ...(lastError !== undefined ? { lastError } : {}),
    });
    this.#changed();
    if (status !== 'connecting' && !this.#reloading.has(id)) {
      this.#reloading.add(id);
      this.#reloadRow(id)
        .catch(() => {})
        .finally(() => this.#reloading.delete(id));
    }
  }

  /**
   * Reads one server again. The monitor reports a status before it writes it to the database
   * (server/status/monitor.ts), so the stored row can lag the stream for a moment: the row is
   * read until it shows the streamed status, and the streamed status wins either way.
   */
  async #reloadRow(id: number): Promise<void> {
    for (let attempt = 1; ; attempt += 1) {
      const row = await api<Server>('GET', serversPath(`/${id}`));
      const shown = this.#servers.get(id);
      if (!shown) return;
      const caughtUp = row.connectionStatus === shown.connectionStatus;
      if (caughtUp || attempt >= RELOAD_ATTEMPTS) {
        const streamed = { connectionStatus: shown.connectionStatus, lastError: shown.lastError };
        this.#servers.set(id, caughtUp ? row : { ...row, ...streamed });
        this.#changed();
        return;
      }
      await new Promise((resolve) => setTimeout(resolve, RELOAD_GAP_MS));
    }
  }

  #changed(): void {
    this.#list = [...this.#servers.values()].sort((a, b) => a.name.localeCompare(b.name));
    for (const listener of this.#listeners) listener();
  }
}
