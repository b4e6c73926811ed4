/**
 * Migration 0002 replaces the error texts stored before errors were scrubbed (they could quote a
 * secret): a database migrated to 0001 holds such texts, and after 0002 none of them is left.
 * Runs on PGlite, and on Postgres too when `DATABASE_URL` is set.
 */
import { randomBytes } from 'node:crypto';
import { sql } from 'drizzle-orm';
import { afterAll, describe, expect, it } from 'vitest';
import { MIGRATIONS_FOLDER } from '../../../shared/db/open.js';
import {
  migrationTargets,
  migrationsUpTo,
  removeMigrationCopies,
} from '../../helpers/migrations.js';

const SECRET = `quoted-secret-${randomBytes(6).toString('hex')}`;

afterAll(removeMigrationCopies);

describe.each(migrationTargets())('migration 0002 on %s', (_name, open) => {
  it('replaces every stored last_error and tool_calls.error, and leaves empty ones empty', async () => {
    const target = await open();
    try {
      await target.migrate(migrationsUpTo('0001_tool_policy'));
      await target.execute(
        sql`insert into users (name, email, role) values ('u', 'u@test.local', 'user')`,
      );
      await target.execute(sql`
        insert into mcp_servers (user_id, name, transport, url, last_error)
        values (1, 'quoted', 'streamable-http', 'https://a.test/mcp', ${`500: Bearer ${SECRET}`}),
               (1, 'clean', 'streamable-http', 'https://b.test/mcp', null)`);
      await target.execute(sql`
        insert into tool_calls (user_id, server_id, tool_name, started_at, duration_ms, ok, error)
        values (1, 1, 't', now(), 5, false, ${`refused ${SECRET}`}),
               (1, 1, 't', now(), 5, true, null)`);
      const before = await target.execute(
        sql`select last_error as text from mcp_servers union all select error from tool_calls`,
      );
      expect(JSON.stringify(before)).toContain(SECRET);

      await target.migrate(MIGRATIONS_FOLDER);
      const servers = await target.execute(
        sql`select name, last_error, admin_managed from mcp_servers order by id`,
      );
      expect(servers).toEqual([
        {
          name: 'quoted',
          last_error: expect.stringMatching(/removed on upgrade/),
          admin_managed: false,
        },
        { name: 'clean', last_error: null, admin_managed: false },
      ]);
      const calls = await target.execute(sql`select ok, error from tool_calls order by id`);
      expect(calls).toEqual([
        { ok: false, error: expect.stringMatching(/removed on upgrade/) },
        { ok: true, error: null },
      ]);
      expect(JSON.stringify([servers, calls])).not.toContain(SECRET);
    } finally {
      await target.close();
    }
    // Two runs of the migrator on a fresh PGlite take tens of seconds with both cores busy.
  }, 120_000);
});
