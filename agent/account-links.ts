/**
 * Connecting an account from a voice session (issue 13): the session's `connect_account` tool.
 * When one of the user's `oauth` servers needs their account, the model calls it with the
 * server's name; the tool starts an authorization bound to a one-time link and sends that link to
 * the user's screen as a LiveKit data message (topic {@link LINK_TOPIC}, to the user's
 * participant only). The model is told a link is on the screen and never sees the URL, so it
 * cannot read it out. Opening the link (`GET /api/oauth/connect`) binds that browser to the
 * authorization and sends it to the authorization server; when the user approves, the API stores
 * the tokens and the session's live configuration reconnects the server with its tools.
 */
import { llm } from '@livekit/agents';
import { z } from 'zod';
import { findOAuthConnection } from '../shared/db/oauth.js';
import { beginAuthorization, type OAuthAccountDeps } from '../shared/db/oauth-accounts.js';
import type { McpServerRow } from '../shared/db/schema.js';
import { randomBytes } from 'node:crypto';
import { describeError } from '../shared/errors.js';
import type { Logger } from '../shared/logger.js';

/** The data message topic of account links on the user's screen. */
export const LINK_TOPIC = 'switchboard.link';

/** The tool's name, as the model calls it. */
export const CONNECT_ACCOUNT_TOOL = 'connect_account';

/** The message sent on {@link LINK_TOPIC} (JSON, UTF-8). */
export interface AccountLinkMessage {
  type: 'connect_account';
  serverId: number;
  server: string;
  /** `<PUBLIC_URL>/api/oauth/connect?link=…&to=…`, valid 10 minutes, for one sign-in. */
  url: string;
}

/** Shortest time between two links for the same server in one session, in milliseconds. */
export const LINK_INTERVAL_MS = 30_000;

/** Options of {@link accountLinksToolset}. */
export interface AccountLinksOptions extends OAuthAccountDeps {
  /** The user's active servers now (the session's live list). */
  servers: () => Promise<McpServerRow[]>;
  /** Sends a message to the user's participant only (a reliable LiveKit data message). */
  send: (message: AccountLinkMessage) => Promise<void>;
  logger: Logger;
  /**
   * When each server's last link was sent (epoch ms), so that a model told to ask again and
   * again (a prompt injection in a tool result, say) cannot flood the screen; one map per
   * session. Default: a map of this options object's own.
   */
  sentAt?: Map<number, number>;
  /** Clock in epoch milliseconds; default `Date.now`. */
  now?: () => number;
}

/** The tool's description: when the model should call it. */
export function connectAccountDescription(names: readonly string[]): string {
  return (
    'Sends the user a link, on their screen, to sign in to a service so that its tools work. ' +
    `Call it when the user wants something from one of these services whose account is not ` +
    `connected yet, or when a tool says the account must be connected: ${names.join(', ')}. ` +
    'Then tell the user the link is on their screen. Never read out a web address.'
  );
}

/**
 * The session's toolset with the `connect_account` tool, for a user with `oauth` servers.
 *
 * @param names the user's `oauth` servers, for the description.
 * @returns the toolset; its tool answers in words the model can say (never throws to the model).
 */
export function accountLinksToolset(
  options: AccountLinksOptions,
  names: readonly string[],
): llm.Toolset {
  const tool = llm.tool({
    name: CONNECT_ACCOUNT_TOOL,
    description: connectAccountDescription(names),
    parameters: z.object({
      server: z.string().describe('The name of the service, as the user knows it.'),
    }),
    execute: async ({ server }) => sendAccountLink(options, server),
  });
  return llm.Toolset.create({ id: 'switchboard_accounts', tools: [tool] });
}

/**
 * Starts an authorization of the named server's account and sends its link to the user's screen.
 *
 * @param name the server's name (any case).
 * @returns a sentence for the model: the link is on the screen, the account is already
 *   connected, there is no such server, or what failed.
 */
export async function sendAccountLink(options: AccountLinksOptions, name: string): Promise<string> {
  const rows = (await options.servers()).filter((row) => row.auth.type === 'oauth');
  const row = rows.find((candidate) => candidate.name.toLowerCase() === name.trim().toLowerCase());
  if (!row) {
    const known = rows.map((candidate) => candidate.name);
    return known.length > 0
      ? `There is no service named ${name} to connect; the ones that sign in are ${known.join(', ')}.`
      : "None of the user's services needs an account connected.";
  }
  const account = await findOAuthConnection(options.db, options.secrets, row.id);
  if (account?.tokens && !account.reason) {
    return `The ${row.name} account is already connected.`;
  }
  const now = (options.now ?? Date.now)();
  options.sentAt ??= new Map();
  const last = options.sentAt.get(row.id);
  if (last !== undefined && now - last < LINK_INTERVAL_MS) {
    return `A link to connect the ${row.name} account is already on the user's screen; tell them to open it.`;
  }
  // The link's nonce: whoever opens the link first is the browser that may finish the sign-in.
  const link = randomBytes(32).toString('base64url');
  let authorizationUrl: URL;
  try {
    authorizationUrl = await beginAuthorization(options, row, link);
  } catch (error) {
    options.logger.warn({ serverId: row.id, err: error }, 'cannot start an account link');
    return `The ${row.name} sign-in cannot be started right now: ${describeError(error)}`;
  }
  const url = new URL(`${options.publicUrl}/api/oauth/connect`);
  url.searchParams.set('link', link);
  url.searchParams.set('to', authorizationUrl.href);
  await options.send({
    type: 'connect_account',
    serverId: row.id,
    server: row.name,
    url: url.href,
  });
  options.sentAt.set(row.id, now);
  options.logger.info({ serverId: row.id }, 'account link sent to the screen');
  return (
    `A link to connect the ${row.name} account is on the user's screen now. Tell them to open ` +
    'it and sign in; the tools arrive by themselves once they do. Do not read out any address.'
  );
}
