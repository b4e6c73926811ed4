/**
 * Whose data a request acts on (DESIGN §4): the caller's own, or, for an admin who sends
 * `?userId=`, that user's. A non-admin who names another user gets a 403 rather than their own
 * data, so a mistaken client fails loudly instead of showing the wrong user's servers.
 */
import { eq } from 'drizzle-orm';
import type { RequestHandler, Response } from 'express';
import type { Database } from '../../shared/db/open.js';
import { users } from '../../shared/db/schema.js';
import { currentUser } from './auth.js';
import { ForbiddenError, NotFoundError } from './errors.js';

/**
 * The id of the user a request acts for.
 *
 * @param userId the validated `?userId=`, if any.
 * @throws ForbiddenError (403) when a non-admin names another user.
 * @throws NotFoundError (404) when an admin names a user that does not exist.
 */
export async function actingUserId(
  db: Database,
  res: Response,
  userId: number | undefined,
): Promise<number> {
  const caller = currentUser(res);
  if (userId === undefined || userId === caller.id) return caller.id;
  if (caller.role !== 'admin') {
    throw new ForbiddenError('Only an admin may act for another user with ?userId=.');
  }
  const [found] = await db.select({ id: users.id }).from(users).where(eq(users.id, userId));
  if (!found) throw new NotFoundError(`User ${userId} does not exist.`);
  return found.id;
}

/**
 * Middleware that lets only admins through; mount after `requireAuth` or `requireCachedAuth`
 * (either puts the caller in `res.locals.user`).
 *
 * @param action what the route does, finishing the 403's detail "Only an admin may <action>.";
 *   default `do this`.
 * @throws UnauthorizedError (401) when no caller was authenticated.
 * @throws ForbiddenError (403) for anyone but an admin.
 */
export function requireAdmin(action = 'do this'): RequestHandler {
  const detail = `Only an admin may ${action}.`;
  return (_req, res, next) => {
    if (currentUser(res).role !== 'admin') throw new ForbiddenError(detail);
    next();
  };
}
