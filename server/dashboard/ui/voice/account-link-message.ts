/**
 * The sign-in link messages the agent's `connect_account` tool sends (agent/account-links.ts),
 * read as the Voice page shows them. Plain data, so tests can run it directly.
 */

/** The data message topic of account links (agent/account-links.ts). */
export const LINK_TOPIC = 'switchboard.link';

/** A link to show. */
export interface AccountLink {
  serverId: number;
  server: string;
  url: string;
}

/**
 * Reads one link message; undefined for anything else, or a link to another site than this
 * dashboard's API (a participant other than the agent cannot send the user elsewhere).
 */
export function readAccountLink(payload: Uint8Array, origin: string): AccountLink | undefined {
  let message: unknown;
  try {
    message = JSON.parse(new TextDecoder().decode(payload));
  } catch {
    return undefined;
  }
  const link = message as Partial<AccountLink> & { type?: unknown };
  if (link?.type !== 'connect_account' || typeof link.url !== 'string') return undefined;
  if (typeof link.server !== 'string' || typeof link.serverId !== 'number') return undefined;
  if (!URL.canParse(link.url)) return undefined;
  const url = new URL(link.url);
  if (url.origin !== origin || url.pathname !== '/api/oauth/connect') return undefined;
  return { serverId: link.serverId, server: link.server, url: url.href };
}
