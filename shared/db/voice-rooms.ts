/**
 * Who owns each LiveKit room (`voice_rooms`, DESIGN §9.5): a room belongs to the user it was
 * first minted for, and only that user gets tokens for it afterwards.
 */
import { eq } from 'drizzle-orm';
import type { Database } from './open.js';
import { voiceRooms } from './schema.js';

/**
 * Claims `name` for `userId` if nobody owns it yet, or confirms that `userId` already owns it,
 * and records the use (`last_used_at`). One statement, `INSERT … ON CONFLICT (name) DO UPDATE …
 * WHERE user_id = <userId>` (PostgreSQL "INSERT › ON CONFLICT Clause"): of two concurrent first
 * claims one inserts, and the other waits for it and then finds the row taken, so two users can
 * never both be told they own a room.
 *
 * @param db the database.
 * @param name the LiveKit room name, compared exactly (LiveKit room names are case-sensitive).
 * @param userId the user asking for the room.
 * @param now when it is used; default the current time.
 * @returns `true` when the room now belongs to `userId` (new or already theirs), `false` when
 *   another user owns it (nothing is changed then).
 */
export async function claimVoiceRoom(
  db: Database,
  name: string,
  userId: number,
  now: Date = new Date(),
): Promise<boolean> {
  const rows = await db
    .insert(voiceRooms)
    .values({ name, userId, createdAt: now, lastUsedAt: now })
    .onConflictDoUpdate({
      target: voiceRooms.name,
      set: { lastUsedAt: now },
      setWhere: eq(voiceRooms.userId, userId),
    })
    .returning({ name: voiceRooms.name });
  return rows.length > 0;
}

/**
 * The id of the user who owns room `name`, or `undefined` when nobody has claimed it.
 *
 * @param db the database.
 * @param name the LiveKit room name, compared exactly.
 */
export async function voiceRoomOwner(db: Database, name: string): Promise<number | undefined> {
  const [row] = await db
    .select({ userId: voiceRooms.userId })
    .from(voiceRooms)
    .where(eq(voiceRooms.name, name))
    .limit(1);
  return row?.userId;
}
