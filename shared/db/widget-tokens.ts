/**
 * Status widget tokens as stored in `widget_tokens`: read-only tokens that open only the status
 * widget (`GET /api/widget/status` and the `/widget/status` page) for their owner. Generated like
 * API tokens (`api-tokens.ts`) but recognisable by their own `sbw_` prefix and kept in their own
 * table, so a widget token never passes as an API token, nor an API token as a widget token. Only
 * the SHA-256 hash is stored; the token is shown once.
 */
import { randomBytes } from 'node:crypto';
import { and, asc, eq, isNull, lt, or } from 'drizzle-orm';
import { hashToken } from './api-tokens.js';
import type { Database } from './open.js';
import { users, widgetTokens, type User } from './schema.js';

/** Prefix of widget tokens (API tokens start `sb_`). */
export const WIDGET_TOKEN_PREFIX = 'sbw_';

/** How often, at most, a widget token's `last_used_at` is written, in milliseconds: a minute. */
export const WIDGET_TOKEN_TOUCH_INTERVAL_MS = 60_000;

/** A widget token row without its owner or hash. */
export interface WidgetTokenSummary {
  id: number;
  label: string;
  createdAt: Date;
  lastUsedAt: Date | null;
  revokedAt: Date | null;
}

/** A new random widget token: `sbw_` + 32 random bytes in base64url (256 bits). */
export function generateWidgetToken(): string {
  return WIDGET_TOKEN_PREFIX + randomBytes(32).toString('base64url');
}

/** Whether a bearer token is a widget token by its form (`sbw_…`); says nothing of validity. */
export function isWidgetToken(token: string): boolean {
  return token.startsWith(WIDGET_TOKEN_PREFIX);
}

/**
 * Creates a widget token for a user.
 *
 * @param label shown in the list (`GET /api/widget-tokens`), at most 100 characters (checked by
 *   the route).
 * @returns its row and the plain token (show it once; only the hash is written).
 */
export async function createWidgetToken(
  db: Database,
  userId: number,
  label: string,
): Promise<{ id: number; token: string; label: string; createdAt: Date }> {
  const token = generateWidgetToken();
  const [row] = await db
    .insert(widgetTokens)
    .values({ userId, tokenHash: hashToken(token), label })
    .returning({
      id: widgetTokens.id,
      label: widgetTokens.label,
      createdAt: widgetTokens.createdAt,
    });
  return { ...row!, token };
}

/** A user's widget tokens, oldest first, revoked ones included. */
export async function listWidgetTokens(
  db: Database,
  userId: number,
): Promise<WidgetTokenSummary[]> {
  return db
    .select({
      id: widgetTokens.id,
      label: widgetTokens.label,
      createdAt: widgetTokens.createdAt,
      lastUsedAt: widgetTokens.lastUsedAt,
      revokedAt: widgetTokens.revokedAt,
    })
    .from(widgetTokens)
    .where(eq(widgetTokens.userId, userId))
    .orderBy(asc(widgetTokens.id));
}

/**
 * Revokes one of a user's widget tokens; revoking a revoked one keeps its first `revoked_at`.
 *
 * @returns whether the token exists and belongs to the user (false: answer 404).
 */
export async function revokeWidgetToken(
  db: Database,
  userId: number,
  id: number,
): Promise<boolean> {
  const owned = and(eq(widgetTokens.id, id), eq(widgetTokens.userId, userId));
  const [found] = await db.select({ id: widgetTokens.id }).from(widgetTokens).where(owned);
  if (!found) return false;
  await db
    .update(widgetTokens)
    .set({ revokedAt: new Date() })
    .where(and(owned, isNull(widgetTokens.revokedAt)));
  return true;
}

/** A valid widget token and its owner. */
export interface AuthenticatedWidget {
  user: User;
  tokenId: number;
  lastUsedAt: Date | null;
}

/**
 * The owner of a widget token, or `undefined` when the token is not an `sbw_` token, unknown or
 * revoked.
 */
export async function authenticateWidgetToken(
  db: Database,
  token: string,
): Promise<AuthenticatedWidget | undefined> {
  if (!isWidgetToken(token)) return undefined;
  const [row] = await db
    .select({ user: users, tokenId: widgetTokens.id, lastUsedAt: widgetTokens.lastUsedAt })
    .from(widgetTokens)
    .innerJoin(users, eq(users.id, widgetTokens.userId))
    .where(and(eq(widgetTokens.tokenHash, hashToken(token)), isNull(widgetTokens.revokedAt)))
    .limit(1);
  return row;
}

/**
 * Records that a widget token was used, unless already recorded within `intervalMs` (default a
 * minute): skipped without a query when the row read says so, and the condition is in the
 * `where`, so concurrent polls write once.
 */
export async function touchWidgetToken(
  db: Database,
  found: Pick<AuthenticatedWidget, 'tokenId' | 'lastUsedAt'>,
  now: Date = new Date(),
  intervalMs = WIDGET_TOKEN_TOUCH_INTERVAL_MS,
): Promise<void> {
  const threshold = new Date(now.getTime() - intervalMs);
  if (found.lastUsedAt && found.lastUsedAt > threshold) return;
  await db
    .update(widgetTokens)
    .set({ lastUsedAt: now })
    .where(
      and(
        eq(widgetTokens.id, found.tokenId),
        or(isNull(widgetTokens.lastUsedAt), lt(widgetTokens.lastUsedAt, threshold)),
      ),
    );
}
