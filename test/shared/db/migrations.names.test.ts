/**
 * Migration 0004 makes a user's server names unique regardless of case: a database migrated to
 * 0003 that already holds `everything` and `Everything` for one user migrates without failing
 * (the later one is renamed `Everything (2)`), and afterwards the index refuses such a pair.
 * Runs on PGlite, and on Postgres too when `DATABASE_URL` is set.
 */
import { sql } from 'drizzle-orm';
import { afterAll, describe, expect, it } from 'vitest';
import { MIGRATIONS_FOLDER } from '../../../shared/db/open.js';
import { isUniqueViolation } from '../../../shared/db/servers.js';
import {
  migrationTargets,
  migrationsUpTo,
  removeMigrationCopies,
} from '../../helpers/migrations.js';

afterAll(removeMigrationCopies);

describe.each(migrationTargets())('migration 0004 on %s', (_name, open) => {
  it('renames the later of names that differ only in case, then refuses such names', async () => {
    const target = await open();
    try {
      await target.migrate(migrationsUpTo('0003_sandbox'));
      await target.execute(sql`
        insert into users (name, email, role)
        values ('a', 'a@test.local', 'admin'), ('b', 'b@test.local', 'user')`);
      // The exact input, plus a third spelling, a name its rename would take, and the
      // same name for another user (which stays as it is).
      await target.execute(sql`
        insert into mcp_servers (user_id, name, transport, url)
        values (1, 'everything', 'streamable-http', 'https://a.test/mcp'),
               (1, 'Everything', 'streamable-http', 'https://a.test/mcp'),
               (1, 'everything (2)', 'streamable-http', 'https://a.test/mcp'),
               (1, 'EVERYTHING', 'streamable-http', 'https://a.test/mcp'),
               (2, 'Everything', 'streamable-http', 'https://a.test/mcp')`);

      await target.migrate(MIGRATIONS_FOLDER);

      const rows = await target.execute(sql`select id, user_id, name from mcp_servers order by id`);
      expect(rows).toEqual([
        { id: 1, user_id: 1, name: 'everything' },
        { id: 2, user_id: 1, name: 'Everything (3)' },
        { id: 3, user_id: 1, name: 'everything (2)' },
        { id: 4, user_id: 1, name: 'EVERYTHING (4)' },
        { id: 5, user_id: 2, name: 'Everything' },
      ]);
      const duplicate = target.execute(sql`
        insert into mcp_servers (user_id, name, transport, url)
        values (2, 'EVERYthing', 'streamable-http', 'https://a.test/mcp')`);
      await expect(duplicate).rejects.toSatisfy(isUniqueViolation);
    } finally {
      await target.close();
    }
    // Two runs of the migrator on a fresh PGlite take tens of seconds with both cores busy.
  }, 120_000);
});
