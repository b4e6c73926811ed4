/** `GET /api/health` and `GET /api/status` (DESIGN §4, seed 004). */
import { Router } from 'express';
import { currentUser } from '../http/auth.js';
import { requireCachedAuth, type TokenCache } from '../http/token-cache.js';
import type { StatusSnapshot } from '../status/snapshot.js';

/** Dependencies of {@link statusRouter}. */
export interface StatusRouterDeps {
  /** The in-memory snapshot the answer is read from (started by the router if not yet). */
  snapshot: StatusSnapshot;
  /** Token lookups that survive a database outage. */
  tokens: TokenCache;
}

/**
 * The router for `/api/health` (no authentication: liveness only, never touches the database)
 * and `/api/status` (authenticated: it reports the caller's servers).
 *
 * `/api/status` answers `{ livekit, openai, mcp, database, latencyMs, timestamp }` from the
 * {@link StatusSnapshot}: no I/O per request (after the token's first lookup). Top-level
 * `latencyMs` is the time this process took to assemble the answer from memory, in
 * milliseconds; each component's own `latencyMs` is the round trip of its last background
 * check (database `select 1`, LiveKit `ListRooms`, OpenAI `GET /models`), made at its
 * `checkedAt`. `openai.realtime` says whether the OpenAI realtime endpoint accepts a session
 * (`status`, `detail`, `latencyMs`) and so what agent sessions start on (`sessionModel`:
 * `realtime`, or `pipeline` when they fall back to STT-LLM-TTS).
 */
export function statusRouter({ snapshot, tokens }: StatusRouterDeps): Router {
  const router = Router();

  router.get('/health', (_req, res) => {
    res.json({ status: 'ok', timestamp: new Date().toISOString() });
  });

  router.get('/status', requireCachedAuth(tokens), async (_req, res) => {
    if (!snapshot.isReady) await snapshot.ready();
    res.json(snapshot.forUser(currentUser(res).id));
  });

  return router;
}
