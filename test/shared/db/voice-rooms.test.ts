/** Room ownership queries (`voice_rooms`) against a real database. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eq } from 'drizzle-orm';
import type { DatabaseHandle } from '../../../shared/db/open.js';
import { voiceRooms, type User } from '../../../shared/db/schema.js';
import { claimVoiceRoom, voiceRoomOwner } from '../../../shared/db/voice-rooms.js';
import { createTestUser, openTestDatabase } from '../../helpers/database.js';

let database: DatabaseHandle;
let alice: User;
let bob: User;

beforeAll(async () => {
  database = await openTestDatabase();
  [alice, bob] = [await createTestUser(database), await createTestUser(database)];
});

afterAll(async () => {
  await database?.close();
});

async function roomRow(name: string) {
  const [row] = await database.db.select().from(voiceRooms).where(eq(voiceRooms.name, name));
  return row;
}

describe(`voice rooms on ${process.env.DATABASE_URL ? 'Postgres' : 'PGlite'}`, () => {
  it('claims a room nobody owns for the first user who asks', async () => {
    const at = new Date('2026-01-02T03:04:05.000Z');

    expect(await claimVoiceRoom(database.db, 'kitchen', alice.id, at)).toBe(true);

    expect(await voiceRoomOwner(database.db, 'kitchen')).toBe(alice.id);
    expect(await roomRow('kitchen')).toMatchObject({
      userId: alice.id,
      createdAt: at,
      lastUsedAt: at,
    });
  });

  it("refuses another user's room and leaves it untouched", async () => {
    const at = new Date('2026-01-02T03:04:05.000Z');
    await claimVoiceRoom(database.db, 'study', alice.id, at);

    expect(await claimVoiceRoom(database.db, 'study', bob.id, new Date(at.getTime() + 1000))).toBe(
      false,
    );

    expect(await roomRow('study')).toMatchObject({ userId: alice.id, lastUsedAt: at });
  });

  it('lets the owner use their room again and records when', async () => {
    const first = new Date('2026-01-02T03:04:05.000Z');
    const again = new Date('2026-01-03T00:00:00.000Z');
    await claimVoiceRoom(database.db, 'garage', alice.id, first);

    expect(await claimVoiceRoom(database.db, 'garage', alice.id, again)).toBe(true);

    expect(await roomRow('garage')).toMatchObject({
      userId: alice.id,
      createdAt: first,
      lastUsedAt: again,
    });
  });

  it('compares names exactly: another case is another room', async () => {
    await claimVoiceRoom(database.db, 'Attic', alice.id);

    expect(await claimVoiceRoom(database.db, 'attic', bob.id)).toBe(true);
    expect(await voiceRoomOwner(database.db, 'Attic')).toBe(alice.id);
    expect(await voiceRoomOwner(database.db, 'attic')).toBe(bob.id);
  });

  it('knows no owner for a room never claimed', async () => {
    expect(await voiceRoomOwner(database.db, 'never-claimed')).toBeUndefined();
  });

  it('gives a room to exactly one of many users claiming it at the same time', async () => {
    const claimants = [
      alice,
      bob,
      ...(await Promise.all([1, 2, 3, 4].map(() => createTestUser(database)))),
    ];

    for (let round = 0; round < 5; round += 1) {
      const name = `contested-${round}`;
      const results = await Promise.all(
        claimants.map((user) => claimVoiceRoom(database.db, name, user.id)),
      );

      const winners = claimants.filter((_, i) => results[i]);
      expect(winners, name).toHaveLength(1);
      expect(await voiceRoomOwner(database.db, name)).toBe(winners[0]!.id);
    }
  });
});
