/**
 * The OAuth tables' queries (issue 13): client registrations by issuer, each user's connected
 * account on an `oauth` server, and the authorizations under way. Every secret (a registration,
 * the tokens, a PKCE verifier) is sealed with the {@link SecretBox} and a context naming its row,
 * so a sealed value cannot be moved to another row; shared by the API (start, callback,
 * disconnect, Test), the agent (sessions refresh and store tokens) and `npm run rotate-key`.
 */
import { createHash } from 'node:crypto';
import { and, asc, eq, isNotNull, lt } from 'drizzle-orm';
import type { SecretBox } from '../secrets.js';
import type { Database } from './open.js';
import { oauthClients, oauthConnections, oauthFlows } from './schema.js';

/** How long an authorization may take from start to callback: 10 minutes (issue 13). */
export const OAUTH_FLOW_TTL_MS = 10 * 60_000;

/**
 * Hex SHA-256 of an OAuth `state` or a browser nonce, the forms stored in `oauth_flows`
 * (`state_hash`, `browser_hash`).
 */
export function hashState(state: string): string {
  return createHash('sha256').update(state, 'utf8').digest('hex');
}

const clientContext = (issuer: string, redirectUri: string) =>
  `oauth_clients:${issuer}:${redirectUri}`;
const tokensContext = (serverId: number, userId: number) =>
  `oauth_connections:${serverId}:${userId}:tokens`;
const verifierContext = (stateHash: string) => `oauth_flows:${stateHash}:code_verifier`;

/**
 * The registration stored for an authorization server and redirect URI, opened.
 *
 * @returns the registration's JSON as stored, or undefined when there is none.
 * @throws SecretError when the stored value cannot be opened (another key, altered).
 */
export async function findClientRegistration(
  db: Database,
  box: SecretBox,
  issuer: string,
  redirectUri: string,
): Promise<unknown> {
  const [row] = await db
    .select({ clientInformation: oauthClients.clientInformation })
    .from(oauthClients)
    .where(and(eq(oauthClients.issuer, issuer), eq(oauthClients.redirectUri, redirectUri)));
  if (!row) return undefined;
  return JSON.parse(box.open(row.clientInformation, clientContext(issuer, redirectUri)));
}

/**
 * Stores (or replaces) the registration for an authorization server and redirect URI.
 *
 * @param information the registration response (RFC 7591 §3.2.1), sealed as JSON.
 */
export async function saveClientRegistration(
  db: Database,
  box: SecretBox,
  issuer: string,
  redirectUri: string,
  information: unknown,
): Promise<void> {
  const sealed = box.seal(JSON.stringify(information), clientContext(issuer, redirectUri));
  await db
    .insert(oauthClients)
    .values({ issuer, redirectUri, clientInformation: sealed })
    .onConflictDoUpdate({
      target: [oauthClients.issuer, oauthClients.redirectUri],
      set: { clientInformation: sealed, createdAt: new Date() },
    });
}

/** Forgets the registration for an authorization server (it was refused there). */
export async function deleteClientRegistration(
  db: Database,
  issuer: string,
  redirectUri: string,
): Promise<void> {
  await db
    .delete(oauthClients)
    .where(and(eq(oauthClients.issuer, issuer), eq(oauthClients.redirectUri, redirectUri)));
}

/** A user's connected account on a server, opened. */
export interface OAuthConnection {
  serverId: number;
  userId: number;
  /** The authorization server the tokens came from. */
  issuer: string | null;
  /** The tokens (RFC 6749 §5.1 response), or null when none are stored. */
  tokens: Record<string, unknown> | null;
  /** When the access token expires, if the server said. */
  expiresAt: Date | null;
  /** The SDK's discovery state (public metadata), to skip discovery next time. */
  discovery: unknown;
  /** Why the account must be connected again; null while the tokens are usable. */
  reason: string | null;
  connectedAt: Date | null;
}

/**
 * The connected account of a server's owner, opened; undefined when never connected.
 *
 * @throws SecretError when the tokens cannot be opened.
 */
export async function findOAuthConnection(
  db: Database,
  box: SecretBox,
  serverId: number,
): Promise<OAuthConnection | undefined> {
  const [row] = await db
    .select()
    .from(oauthConnections)
    .where(eq(oauthConnections.serverId, serverId));
  if (!row) return undefined;
  return {
    serverId: row.serverId,
    userId: row.userId,
    issuer: row.issuer,
    tokens: row.tokens
      ? (JSON.parse(box.open(row.tokens, tokensContext(row.serverId, row.userId))) as Record<
          string,
          unknown
        >)
      : null,
    expiresAt: row.expiresAt,
    discovery: row.discovery,
    reason: row.reason,
    connectedAt: row.connectedAt,
  };
}

/**
 * Stores new tokens for a server's owner (after the code exchange or a refresh) and clears any
 * `reason`.
 *
 * @param tokens the token response; `expires_in` (seconds) sets `expiresAt` from `now`.
 * @param now the time the tokens were issued; default now.
 */
export async function saveOAuthTokens(
  db: Database,
  box: SecretBox,
  connection: {
    serverId: number;
    userId: number;
    issuer?: string | null;
    tokens: Record<string, unknown>;
    discovery?: unknown;
  },
  now = new Date(),
): Promise<void> {
  const { serverId, userId } = connection;
  const sealed = box.seal(JSON.stringify(connection.tokens), tokensContext(serverId, userId));
  const expiresIn = connection.tokens.expires_in;
  const expiresAt =
    typeof expiresIn === 'number' && Number.isFinite(expiresIn)
      ? new Date(now.getTime() + expiresIn * 1000)
      : null;
  const values = {
    tokens: sealed,
    expiresAt,
    reason: null,
    connectedAt: now,
    updatedAt: now,
    ...(connection.issuer !== undefined ? { issuer: connection.issuer } : {}),
    ...(connection.discovery !== undefined ? { discovery: connection.discovery } : {}),
  };
  await db
    .insert(oauthConnections)
    .values({ serverId, userId, ...values })
    .onConflictDoUpdate({ target: oauthConnections.serverId, set: values });
}

/** Stores the discovery state of a server's authorization (public metadata, not sealed). */
export async function saveOAuthDiscovery(
  db: Database,
  serverId: number,
  userId: number,
  discovery: unknown,
): Promise<void> {
  await db
    .insert(oauthConnections)
    .values({ serverId, userId, discovery })
    .onConflictDoUpdate({
      target: oauthConnections.serverId,
      set: { discovery, updatedAt: new Date() },
    });
}

/**
 * Marks a connected account as needing authorization again, keeping nothing usable: the tokens
 * are dropped and `reason` says why.
 */
export async function markNeedsAuthorization(
  db: Database,
  serverId: number,
  userId: number,
  reason: string,
): Promise<void> {
  const values = { tokens: null, expiresAt: null, reason, updatedAt: new Date() };
  await db
    .insert(oauthConnections)
    .values({ serverId, userId, ...values })
    .onConflictDoUpdate({ target: oauthConnections.serverId, set: values });
}

/** Deletes a server's connected account (disconnect). */
export async function deleteOAuthConnection(db: Database, serverId: number): Promise<void> {
  await db.delete(oauthConnections).where(eq(oauthConnections.serverId, serverId));
}

/** An authorization under way, opened. */
export interface OAuthFlow {
  userId: number;
  serverId: number;
  /** The authorization server the request went to (its URL as discovered). */
  issuer: string | null;
  codeVerifier: string;
  redirectUri: string;
  /** SHA-256 (hex) of the nonce in the cookie of the browser that started it. */
  browserHash: string;
  expiresAt: Date;
}

/**
 * Records an authorization under way, found later by its `state`, and deletes the ones that
 * expired before `now`.
 *
 * @param ttlMs how long the callback may take; default {@link OAUTH_FLOW_TTL_MS}.
 */
export async function createOAuthFlow(
  db: Database,
  box: SecretBox,
  flow: Omit<OAuthFlow, 'expiresAt' | 'browserHash'> & { state: string; browserNonce: string },
  ttlMs = OAUTH_FLOW_TTL_MS,
  now = new Date(),
): Promise<void> {
  const stateHash = hashState(flow.state);
  // Authorizations nobody finished are cleared as new ones start (indexed by expiry), so the
  // table holds at most ten minutes' worth.
  await deleteExpiredOAuthFlows(db, now);
  await db.insert(oauthFlows).values({
    stateHash,
    userId: flow.userId,
    serverId: flow.serverId,
    issuer: flow.issuer,
    codeVerifier: box.seal(flow.codeVerifier, verifierContext(stateHash)),
    redirectUri: flow.redirectUri,
    browserHash: hashState(flow.browserNonce),
    expiresAt: new Date(now.getTime() + ttlMs),
  });
}

/**
 * Takes an authorization under way by its `state`, once: the row is deleted as it is read, so a
 * replayed state finds nothing. An expired one is taken too, and returned as undefined.
 *
 * @returns the flow, or undefined when the state is unknown, used already or expired.
 */
export async function takeOAuthFlow(
  db: Database,
  box: SecretBox,
  state: string,
  now = new Date(),
): Promise<OAuthFlow | undefined> {
  const stateHash = hashState(state);
  const [row] = await db.delete(oauthFlows).where(eq(oauthFlows.stateHash, stateHash)).returning();
  if (!row || row.expiresAt.getTime() <= now.getTime()) return undefined;
  return {
    userId: row.userId,
    serverId: row.serverId,
    issuer: row.issuer,
    codeVerifier: box.open(row.codeVerifier, verifierContext(stateHash)),
    redirectUri: row.redirectUri,
    browserHash: row.browserHash,
    expiresAt: row.expiresAt,
  };
}

/**
 * The server of an authorization under way bound to the browser nonce `browserNonce` and still
 * valid, without using it up (the callback takes it). Used by a link sent to the user's screen,
 * which gives its browser the nonce before sending it to the authorization server.
 *
 * @returns the server id, or undefined when no such authorization is under way.
 */
export async function flowServerOfBrowser(
  db: Database,
  state: string,
  browserNonce: string,
  now = new Date(),
): Promise<number | undefined> {
  const [row] = await db
    .select({
      serverId: oauthFlows.serverId,
      browserHash: oauthFlows.browserHash,
      expiresAt: oauthFlows.expiresAt,
    })
    .from(oauthFlows)
    .where(eq(oauthFlows.stateHash, hashState(state)));
  const valid =
    row !== undefined &&
    row.expiresAt.getTime() > now.getTime() &&
    row.browserHash === hashState(browserNonce);
  return valid ? row.serverId : undefined;
}

/** Deletes the authorizations that expired before `now`; returns how many. */
export async function deleteExpiredOAuthFlows(db: Database, now = new Date()): Promise<number> {
  const rows = await db
    .delete(oauthFlows)
    .where(lt(oauthFlows.expiresAt, now))
    .returning({ stateHash: oauthFlows.stateHash });
  return rows.length;
}

/**
 * Re-seals every OAuth secret (registrations, tokens, PKCE verifiers) with `box`'s current key,
 * for `npm run rotate-key`; call it inside the rotation's transaction. Rows are locked
 * (`SELECT … FOR UPDATE`) while they are rewritten.
 *
 * @param db the rotation's transaction (or a database).
 * @param box the new key as current, the old ones as previous.
 * @returns how many values were re-sealed.
 * @throws SecretError when a value does not open with any of the box's keys.
 */
export async function resealOAuthSecrets(
  db: Pick<Database, 'select' | 'update'>,
  box: SecretBox,
): Promise<number> {
  let count = 0;
  const clients = await db.select().from(oauthClients).orderBy(asc(oauthClients.id)).for('update');
  for (const row of clients) {
    const context = clientContext(row.issuer, row.redirectUri);
    const sealed = box.seal(box.open(row.clientInformation, context), context);
    await db
      .update(oauthClients)
      .set({ clientInformation: sealed })
      .where(eq(oauthClients.id, row.id));
    count += 1;
  }
  const connections = await db
    .select()
    .from(oauthConnections)
    .where(isNotNull(oauthConnections.tokens))
    .orderBy(asc(oauthConnections.serverId))
    .for('update');
  for (const row of connections) {
    const context = tokensContext(row.serverId, row.userId);
    const sealed = box.seal(box.open(row.tokens!, context), context);
    await db
      .update(oauthConnections)
      .set({ tokens: sealed })
      .where(eq(oauthConnections.serverId, row.serverId));
    count += 1;
  }
  const flows = await db.select().from(oauthFlows).orderBy(asc(oauthFlows.stateHash)).for('update');
  for (const row of flows) {
    const context = verifierContext(row.stateHash);
    const sealed = box.seal(box.open(row.codeVerifier, context), context);
    await db
      .update(oauthFlows)
      .set({ codeVerifier: sealed })
      .where(eq(oauthFlows.stateHash, row.stateHash));
    count += 1;
  }
  return count;
}
