/**
 * The link messages the agent sends to the screen, read as the Voice page shows them: sign-in
 * links of its `connect_account` tool (agent/account-links.ts) and the links an MCP server asks
 * the user to open (URL-mode elicitation, agent/elicitation.ts). Plain data, so tests can run it
 * directly.
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

/** A link an MCP server asks the user to open (URL-mode elicitation). */
export interface ServerLink {
  serverId: number;
  server: string;
  /** An http or https URL on any site: the server's own page. */
  url: string;
  /** The host the button names, so the user sees where it goes before opening it. */
  host: string;
  /** Why the server asks, in its words, cut to 300 characters. */
  message: string;
}

/** Longest server message shown with a link, in characters. */
const MESSAGE_CHARS = 300;

/**
 * Reads one elicitation link message (`type: "elicitation"`); undefined for anything else or a
 * link that is not http or https.
 */
export function readServerLink(payload: Uint8Array): ServerLink | undefined {
  let message: unknown;
  try {
    message = JSON.parse(new TextDecoder().decode(payload));
  } catch {
    return undefined;
  }
  const link = message as Partial<ServerLink> & { type?: unknown };
  if (link?.type !== 'elicitation' || typeof link.url !== 'string') return undefined;
  if (typeof link.server !== 'string' || typeof link.serverId !== 'number') return undefined;
  if (!URL.canParse(link.url)) return undefined;
  const url = new URL(link.url);
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return undefined;
  const text = typeof link.message === 'string' ? link.message : '';
  return {
    serverId: link.serverId,
    server: link.server,
    url: url.href,
    host: url.host,
    message: text.length > MESSAGE_CHARS ? `${text.slice(0, MESSAGE_CHARS - 1)}…` : text,
  };
}
