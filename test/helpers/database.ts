/**
 * A fresh database for one test file: a new Postgres database when `DATABASE_URL` is set
 * (created from that URL, dropped on close), otherwise an in-memory PGlite.
 */
import { randomBytes } from 'node:crypto';
import postgres from 'postgres';
import { openDatabase, type DatabaseHandle } from '../../shared/db/open.js';
import { users, type User, type UserRole } from '../../shared/db/schema.js';
import { SecretBox } from '../../shared/secrets.js';

/** A box with a fresh random key, for a test database's sealed secrets. */
export function testSecretBox(): SecretBox {
  return new SecretBox(randomBytes(32));
}

/**
 * Opens an empty, migrated database that no other test file shares.
 *
 * @param secretBox seals its servers' secrets; default a box with a fresh random key.
 */
export async function openTestDatabase(
  secretBox: SecretBox = testSecretBox(),
): Promise<DatabaseHandle> {
  const baseUrl = process.env.DATABASE_URL;
  if (!baseUrl) return openDatabase({ secretBox });

  const name = `switchboard_test_${randomBytes(6).toString('hex')}`;
  const admin = postgres(baseUrl, { max: 1, onnotice: () => {} });
  await admin.unsafe(`create database ${name}`);
  const url = new URL(baseUrl);
  url.pathname = `/${name}`;
  const handle = await openDatabase({ databaseUrl: url.toString(), maxConnections: 5, secretBox });
  return {
    ...handle,
    close: async () => {
      await handle.close();
      await admin.unsafe(`drop database if exists ${name} with (force)`);
      await admin.end();
    },
  };
}

let userCounter = 0;

/** Inserts a user with a unique email. */
export async function createTestUser(
  handle: DatabaseHandle,
  role: UserRole = 'user',
): Promise<User> {
  userCounter += 1;
  const [user] = await handle.db
    .insert(users)
    .values({
      name: `Test ${role} ${userCounter}`,
      email: `${role}${userCounter}-${randomBytes(3).toString('hex')}@test.local`,
      role,
    })
    .returning();
  return user!;
}
