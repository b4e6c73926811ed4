/**
 * Migration 0002 replaces the error texts stored before errors were scrubbed (they could quote a
 * secret): a database migrated to 0001 holds such texts, and after 0002 none of them is left.
 * Runs on PGlite, and on Postgres too when `DATABASE_URL` is set.
 */
import { randomBytes } from 'node:crypto';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { sql } from 'drizzle-orm';
import { drizzle as drizzlePglite } from 'drizzle-orm/pglite';
import { migrate as migratePglite } from 'drizzle-orm/pglite/migrator';
import { drizzle as drizzlePostgres } from 'drizzle-orm/postgres-js';
import { migrate as migratePostgres } from 'drizzle-orm/postgres-js/migrator';
import postgres from 'postgres';
import { afterAll, describe, expect, it } from 'vitest';
import { MIGRATIONS_FOLDER } from '../../../shared/db/open.js';

const SECRET = `quoted-secret-${randomBytes(6).toString('hex')}`;
const folders: string[] = [];

afterAll(() => {
  for (const folder of folders) rmSync(folder, { recursive: true, force: true });
});

/** A copy of the migrations folder whose journal ends with `lastTag`. */
function migrationsUpTo(lastTag: string): string {
  const folder = mkdtempSync(path.join(tmpdir(), 'switchboard-migrations-'));
  folders.push(folder);
  cpSync(MIGRATIONS_FOLDER, folder, { recursive: true });
  const journalPath = path.join(folder, 'meta', '_journal.json');
  const journal = JSON.parse(readFileSync(journalPath, 'utf8')) as { entries: { tag: string }[] };
  const last = journal.entries.findIndex((entry) => entry.tag === lastTag);
  expect(last).toBeGreaterThanOrEqual(0);
  journal.entries = journal.entries.slice(0, last + 1);
  writeFileSync(journalPath, JSON.stringify(journal));
  return folder;
}

interface Target {
  execute(query: ReturnType<typeof sql>): Promise<Record<string, unknown>[]>;
  migrate(folder: string): Promise<void>;
  close(): Promise<void>;
}

async function pgliteTarget(): Promise<Target> {
  const client = new PGlite();
  const db = drizzlePglite(client);
  return {
    execute: async (query) => (await db.execute(query)).rows as Record<string, unknown>[],
    migrate: (folder) => migratePglite(db, { migrationsFolder: folder }),
    close: () => client.close(),
  };
}

async function postgresTarget(baseUrl: string): Promise<Target> {
  const name = `switchboard_test_${randomBytes(6).toString('hex')}`;
  const admin = postgres(baseUrl, { max: 1, onnotice: () => {} });
  await admin.unsafe(`create database ${name}`);
  const url = new URL(baseUrl);
  url.pathname = `/${name}`;
  const client = postgres(url.toString(), { max: 1, onnotice: () => {} });
  const db = drizzlePostgres(client);
  return {
    execute: async (query) => [...(await db.execute(query))] as Record<string, unknown>[],
    migrate: (folder) => migratePostgres(db, { migrationsFolder: folder }),
    close: async () => {
      await client.end();
      await admin.unsafe(`drop database if exists ${name} with (force)`);
      await admin.end();
    },
  };
}

const targets: [string, () => Promise<Target>][] = [['PGlite', pgliteTarget]];
if (process.env.DATABASE_URL) {
  const baseUrl = process.env.DATABASE_URL;
  targets.push(['Postgres', () => postgresTarget(baseUrl)]);
}

describe.each(targets)('migration 0002 on %s', (_name, open) => {
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
