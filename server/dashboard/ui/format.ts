/**
 * Words and colours for what the API reports: times for people and the colour of a status word.
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
