/**
 * The API's cache of server pages (`GET /api/mcp/servers`, issue 14 "lists that stay fast"): the
 * JSON body of each page a user asked for, kept until one of that user's servers changes or
 * {@link ServerPageCacheOptions.ttlMs} passes. Reading 50 servers costs about 1.3 ms of CPU in
 * the driver (21 columns, 7 of them `jsonb`), more than all the rest of the request; a repeated
 * list (the dashboard polls it) then costs a map lookup.
 *
 * What makes a page stale, and how the cache hears of it:
 * - a write in this process: `notifyServerChange` calls {@link onLocalServerChange} before the
 *   write returns, so a read right after a write (same replica) never sees the old page;
 * - a write in another process (another API replica, the CLI, a voice worker): its
 *   `NOTIFY mcp_servers_changed` reaches the cache's `LISTEN` a few milliseconds later;
 * - a monitor's batched status write (`updateServerStatuses`) notifies through SQL, so it reaches
 *   `LISTEN` only; its `last_connected`-only refresh (at most once a minute per server) notifies
 *   nothing, and neither can a notification lost while the `LISTEN` connection reconnects: both
 *   are bounded by the time to live (default 5 s).
 * A load that raced a change is not stored (each user's generation counter is compared before
 * and after the query), so the cache never keeps a page read before a change it heard of.
 * Requests that miss one page at once (it expired while 32 clients poll it) share one load,
 * unless a change was heard since that load started.
 *
 * Until its `LISTEN` is in place (or if it cannot be), the cache stores nothing and every read
 * goes to the database.
 */
import { createHash } from 'node:crypto';
import type { DatabaseHandle } from '../../shared/db/open.js';
import { onLocalServerChange, parseServerChange, SERVERS_CHANNEL } from '../../shared/db/notify.js';
import type { Logger } from '../../shared/logger.js';

/** Default of {@link ServerPageCacheOptions.ttlMs}: 5 s. */
export const DEFAULT_PAGE_TTL_MS = 5_000;
/** Default of {@link ServerPageCacheOptions.maxUsers}. */
export const DEFAULT_PAGE_CACHE_USERS = 1_000;
/** Pages kept per user at most (distinct `limit` and `cursor` pairs); older ones are dropped. */
const PAGES_PER_USER = 16;

/** Options of {@link ServerPageCache}. */
export interface ServerPageCacheOptions {
  database: Pick<DatabaseHandle, 'listen'>;
  logger: Logger;
  /** Milliseconds a page is served without a change notification; default 5000, 0 disables. */
  ttlMs?: number;
  /** Users whose pages are kept (least recently used dropped first); default 1000. */
  maxUsers?: number;
  /** The clock, in milliseconds (tests replace it); default `Date.now`. */
  now?: () => number;
}

/** One page as the cache answers it: the JSON body, ready to send, and its entity tag. */
export interface CachedPage {
  /** The JSON text, UTF-8. */
  body: Buffer;
  /**
   * A strong entity tag of `body` (RFC 9110 §8.8.3): its SHA-1 in base64url, quoted. Computed
   * once per page stored, where Express would hash the 30 KB body again for every response.
   */
  etag: string;
}

interface UserPages {
  /** Bumped by every change to the user's servers. */
  generation: number;
  /** Page key → page and when it was stored. */
  pages: Map<string, { page: CachedPage; storedAt: number }>;
}

/** The {@link CachedPage} of a value (its JSON). */
function pageOf(value: unknown): CachedPage {
  const body = Buffer.from(JSON.stringify(value), 'utf8');
  return { body, etag: `"${createHash('sha1').update(body).digest('base64url')}"` };
}

/** Per-user cache of `GET /api/mcp/servers` bodies; see the module comment for its rules. */
export class ServerPageCache {
  readonly #options: ServerPageCacheOptions;
  readonly #ttlMs: number;
  readonly #maxUsers: number;
  readonly #now: () => number;
  /** userId → pages; Map order is the least recently used first. */
  readonly #users = new Map<number, UserPages>();
  /** Generation of users with no pages stored (so a racing load still sees a change). */
  readonly #generations = new Map<number, number>();
  /** Source of generations: every change takes the next value. */
  #counter = 0;
  /** Generation of a user in neither map: raised when {@link #generations} is emptied. */
  #floor = 0;
  #listening = false;
  #stopped = false;
  #unlisten?: () => Promise<void>;
  #offLocal?: () => void;
  /** Loads in flight by user and page key, with the user's generation when each started. */
  readonly #loading = new Map<string, { generation: number; page: Promise<CachedPage> }>();
  #hits = 0;
  #misses = 0;

  constructor(options: ServerPageCacheOptions) {
    this.#options = options;
    this.#ttlMs = options.ttlMs ?? DEFAULT_PAGE_TTL_MS;
    this.#maxUsers = options.maxUsers ?? DEFAULT_PAGE_CACHE_USERS;
    this.#now = options.now ?? Date.now;
  }

  /**
   * Starts listening for changes (this process's at once, others' through `LISTEN`). Pages are
   * stored only once the `LISTEN` is in place; if it fails, a warning is logged and the cache
   * stays a pass-through. Resolves when the `LISTEN` is in place or has failed.
   */
  async start(): Promise<void> {
    if (this.#ttlMs <= 0 || this.#offLocal) return;
    this.#stopped = false;
    this.#offLocal = onLocalServerChange((change) => this.invalidate(change.userId));
    try {
      const unlisten = await this.#options.database.listen(SERVERS_CHANNEL, (payload) => {
        const change = parseServerChange(payload);
        // A payload that is not ours could be anyone's change: forget everything.
        if (change) this.invalidate(change.userId);
        else this.clear();
      });
      if (this.#stopped) return void (await unlisten().catch(() => {}));
      this.#unlisten = unlisten;
      this.#listening = true;
    } catch (error) {
      this.#options.logger.warn(
        { err: error, component: 'server-pages' },
        'cannot listen for server changes; server lists are read from the database every time',
      );
    }
  }

  /** Stops listening and forgets every page. */
  async stop(): Promise<void> {
    this.#stopped = true;
    this.#listening = false;
    this.#offLocal?.();
    this.#offLocal = undefined;
    this.clear();
    const unlisten = this.#unlisten;
    this.#unlisten = undefined;
    await unlisten?.().catch(() => {});
  }

  /**
   * One page: the stored one if fresh, else `load()`'s answer serialized (and stored unless a
   * change to the user's servers was heard while it loaded). A request that misses while the
   * same page is already loading, with no change heard since, waits for that load instead of
   * calling its own `load`.
   *
   * @param userId whose servers the page lists (the acting user, already authorized).
   * @param key what else selects the page (its `limit` and `cursor`).
   * @param load reads and builds the page; its errors reach the caller and nothing is stored.
   */
  async page(userId: number, key: string, load: () => Promise<unknown>): Promise<CachedPage> {
    const now = this.#now();
    const user = this.#users.get(userId);
    const stored = user?.pages.get(key);
    if (user && stored && now - stored.storedAt < this.#ttlMs) {
      this.#hits++;
      // Most recently used last.
      this.#users.delete(userId);
      this.#users.set(userId, user);
      return stored.page;
    }
    this.#misses++;
    const generation = this.#generation(userId);
    // Requests that miss the same page together share one load (no stampede when a page
    // expires under load: on the embedded PGlite each load holds the event loop).
    const flightKey = `${userId}\n${key}`;
    const flying = this.#loading.get(flightKey);
    if (flying && flying.generation === generation) return flying.page;
    const page = load().then(pageOf);
    const flight = { generation, page };
    this.#loading.set(flightKey, flight);
    try {
      const loaded = await page;
      if (this.#listening && this.#generation(userId) === generation) {
        this.#store(userId, generation, key, loaded, now);
      }
      return loaded;
    } finally {
      if (this.#loading.get(flightKey) === flight) this.#loading.delete(flightKey);
    }
  }

  /** Forgets every page of one user (a change to one of their servers). */
  invalidate(userId: number): void {
    this.#users.delete(userId);
    this.#generations.set(userId, ++this.#counter);
    // Generations only matter while a load may be running; keep the map small. Raising the
    // floor makes every load that started before this point see a change.
    if (this.#generations.size > this.#maxUsers * 4) {
      this.#generations.clear();
      this.#floor = ++this.#counter;
    }
  }

  /** Forgets every page of every user. */
  clear(): void {
    this.#users.clear();
    this.#generations.clear();
    this.#floor = ++this.#counter;
  }

  /** Pages answered from the cache and from the database since the start. */
  get stats(): { hits: number; misses: number; users: number } {
    return { hits: this.#hits, misses: this.#misses, users: this.#users.size };
  }

  #generation(userId: number): number {
    return this.#users.get(userId)?.generation ?? this.#generations.get(userId) ?? this.#floor;
  }

  #store(userId: number, generation: number, key: string, page: CachedPage, now: number): void {
    let user = this.#users.get(userId);
    if (!user) {
      user = { generation, pages: new Map() };
      this.#users.set(userId, user);
      this.#generations.delete(userId);
      if (this.#users.size > this.#maxUsers) {
        const [oldest, pages] = this.#users.entries().next().value!;
        this.#users.delete(oldest);
        this.#generations.set(oldest, pages.generation);
      }
    }
    user.pages.delete(key);
    user.pages.set(key, { page, storedAt: now });
    if (user.pages.size > PAGES_PER_USER) {
      user.pages.delete(user.pages.keys().next().value!);
    }
  }
}
