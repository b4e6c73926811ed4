/**
 * `mintAdminToken`, the core of `npm run admin-token`, on a test database: which admin it picks,
 * when it creates one, and the refusals that say what to pass instead (writing nothing).
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AdminTokenError, mintAdminToken } from '../../../cli/admin-token/run.js';
import { hashToken } from '../../../shared/db/api-tokens.js';
import type { DatabaseHandle } from '../../../shared/db/open.js';
import { apiTokens, users } from '../../../shared/db/schema.js';
import { createTestUser, openTestDatabase } from '../../helpers/database.js';

let database: DatabaseHandle;

beforeEach(async () => {
  database = await openTestDatabase();
});
afterEach(async () => {
  await database?.close();
});

const options = { adminEmail: 'admin@localhost', label: 'admin-token test' };

async function counts() {
  return {
    users: (await database.db.select().from(users)).length,
    tokens: (await database.db.select().from(apiTokens)).length,
  };
}

describe('mintAdminToken', () => {
  it('mints for the first admin by id, or the admin --email names (any case)', async () => {
    await createTestUser(database, 'user');
    const first = await createTestUser(database, 'admin');
    const second = await createTestUser(database, 'admin');

    const minted = await mintAdminToken(database.db, options);
    expect(minted).toMatchObject({ created: false, admin: { id: first.id } });
    const [row] = await database.db.select().from(apiTokens);
    expect(row).toMatchObject({
      id: minted.tokenId,
      userId: first.id,
      tokenHash: hashToken(minted.token),
      label: 'admin-token test',
    });

    const named = await mintAdminToken(database.db, {
      ...options,
      email: second.email.toUpperCase(),
    });
    expect(named.admin.id).toBe(second.id);
  });

  it('creates the admin with ADMIN_EMAIL, or with --email, when there is none', async () => {
    const minted = await mintAdminToken(database.db, options);
    expect(minted).toMatchObject({
      created: true,
      admin: { name: 'Admin', email: 'admin@localhost', role: 'admin' },
    });
    expect(await counts()).toEqual({ users: 1, tokens: 1 });
  });

  it('refuses a user who is not an admin, listing the admins, and writes nothing', async () => {
    const user = await createTestUser(database, 'user');
    const admin = await createTestUser(database, 'admin');
    const before = await counts();

    await expect(mintAdminToken(database.db, { ...options, email: user.email })).rejects.toThrow(
      new AdminTokenError(
        `${user.email} (user ${user.id}) is not an admin. The admins are ${admin.email} ` +
          `(user ${admin.id}): pass one of them with --email, or leave --email out for the first.`,
      ),
    );
    expect(await counts()).toEqual(before);
  });

  it('refuses to create the admin with an email a user already has', async () => {
    const user = await createTestUser(database, 'user');

    await expect(
      mintAdminToken(database.db, { ...options, adminEmail: user.email }),
    ).rejects.toThrow(
      /there is no admin, and .* is already user \d+, who is not an admin\. Pass an email no user has with --email/,
    );
    await expect(mintAdminToken(database.db, { ...options, email: user.email })).rejects.toThrow(
      /There is no admin yet: pass an email no user has with --email to create one\./,
    );
    expect(await counts()).toEqual({ users: 1, tokens: 0 });
    const created = await mintAdminToken(database.db, { ...options, email: 'new@example.test' });
    expect(created).toMatchObject({ created: true, admin: { email: 'new@example.test' } });
  });
});
