/**
 * Words and colours for what the API reports: times for people, the colour of a status word, what
 * a token opens and who made a tool call.
 */

/**
 * A time for people: `12 s ago`, `5 min ago`, then the local date and time; `never` for none.
 *
 * @param iso an ISO 8601 time from the API.
 */
export function when(iso: string | null | undefined): string {
  if (!iso) return 'never';
  const date = new Date(iso);
  const seconds = Math.round((Date.now() - date.getTime()) / 1000);
  if (seconds < 60) return `${Math.max(seconds, 0)} s ago`;
  if (seconds < 3600) return `${Math.round(seconds / 60)} min ago`;
  return date.toLocaleString();
}

/** A status colour class: green, amber, red, blue or grey. */
export type Tone = 'good' | 'wait' | 'bad' | 'auth' | 'idle';

/**
 * A status word's colour (DESIGN §5): green connected, amber connecting or degraded, red error,
 * blue needs authorization, grey disconnected, disabled, unconfigured, or an MCP with no active
 * servers (`ready`).
 *
 * @param status a server or system status word.
 */
export function tone(status: string): Tone {
  if (status === 'connected' || status === 'ok') return 'good';
  if (status === 'connecting' || status === 'degraded') return 'wait';
  if (status === 'error') return 'bad';
  if (status === 'needs_authorization') return 'auth';
  return 'idle';
}

/** The words shown for a status, where the raw word would mislead (`ready` reads like a warning). */
export function statusLabel(part: string, status: string): string {
  if (part === 'mcp' && status === 'ready') return 'no active servers';
  if (status === 'needs_authorization') return 'needs authorization';
  return status;
}

/**
 * What an API token opens, in words: `full access` (scopes null, or both `api` and `gateway`),
 * `API only`, `MCP gateway only`, or `MCP gateway only: servers 3, 7` when `server:<id>` scopes
 * limit it.
 *
 * @param scopes the token's `scopes` from `GET /api/tokens`.
 */
export function scopeWords(scopes: readonly string[] | null): string {
  if (scopes === null) return 'full access';
  const api = scopes.includes('api');
  const gateway = scopes.includes('gateway');
  const servers = scopes
    .filter((scope) => scope.startsWith('server:'))
    .map((scope) => scope.slice('server:'.length));
  if (api && gateway) return 'full access';
  if (api) return 'API only';
  if (!gateway) return 'no access';
  return servers.length > 0
    ? `MCP gateway only: server${servers.length > 1 ? 's' : ''} ${servers.join(', ')}`
    : 'MCP gateway only';
}

/**
 * Who made a tool call, in words: `voice` for a voice session, `gateway (<token label>)` for an
 * MCP client through the gateway (`gateway (no label)` when its token has none).
 */
export function callSourceWords(call: { source: string; tokenLabel: string | null }): string {
  if (call.source !== 'gateway') return 'voice';
  return `gateway (${call.tokenLabel || 'no label'})`;
}
