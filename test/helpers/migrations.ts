/**
 * Databases for testing a migration on data written before it: a copy of the migrations folder
 * that stops at a given migration, and fresh PGlite and (when `DATABASE_URL` is set) Postgres
 * targets to run the migrator on, step by step.
 */
import { randomBytes } from 'node:crypto';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import type { sql } from 'drizzle-orm';
import { drizzle as drizzlePglite } from 'drizzle-orm/pglite';
import { migrate as migratePglite } from 'drizzle-orm/pglite/migrator';
import { drizzle as drizzlePostgres } from 'drizzle-orm/postgres-js';
import { migrate as migratePostgres } from 'drizzle-orm/postgres-js/migrator';
import postgres from 'postgres';
import { MIGRATIONS_FOLDER } from '../../shared/db/open.js';

const folders: string[] = [];

/** Removes the folders {@link migrationsUpTo} made; call it in `afterAll`. */
export function removeMigrationCopies(): void {
  for (const folder of folders.splice(0)) rmSync(folder, { recursive: true, force: true });
}

/**
 * A copy of the migrations folder whose journal ends with `lastTag` (e.g. `0003_sandbox`).
 *
 * @throws Error when no migration has that tag.
 */
export function migrationsUpTo(lastTag: string): string {
  const folder = mkdtempSync(path.join(tmpdir(), 'switchboard-migrations-'));
  folders.push(folder);
  cpSync(MIGRATIONS_FOLDER, folder, { recursive: true });
  const journalPath = path.join(folder, 'meta', '_journal.json');
  const journal = JSON.parse(readFileSync(journalPath, 'utf8')) as { entries: { tag: string }[] };
  const last = journal.entries.findIndex((entry) => entry.tag === lastTag);
  if (last < 0) throw new Error(`no migration is tagged ${lastTag}`);
  journal.entries = journal.entries.slice(0, last + 1);
  writeFileSync(journalPath, JSON.stringify(journal));
  return folder;
}

/** An empty database to migrate: raw SQL in, rows out. */
export interface MigrationTarget {
  execute(query: ReturnType<typeof sql>): Promise<Record<string, unknown>[]>;
  /** Applies the pending migrations of `folder`. */
  migrate(folder: string): Promise<void>;
  /** Closes it (a Postgres database is dropped). */
  close(): Promise<void>;
}

async function pgliteTarget(): Promise<MigrationTarget> {
  const client = new PGlite();
  const db = drizzlePglite(client);
  return {
    execute: async (query) => (await db.execute(query)).rows as Record<string, unknown>[],
    migrate: (folder) => migratePglite(db, { migrationsFolder: folder }),
    close: () => client.close(),
  };
}

async function postgresTarget(baseUrl: string): Promise<MigrationTarget> {
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

/**
 * The databases to test a migration on, for `describe.each`: an in-memory PGlite always, and a
 * new Postgres database (created from `DATABASE_URL`, dropped on close) when that is set.
 */
export function migrationTargets(): [string, () => Promise<MigrationTarget>][] {
  const targets: [string, () => Promise<MigrationTarget>][] = [['PGlite', pgliteTarget]];
  const baseUrl = process.env.DATABASE_URL;
  if (baseUrl) targets.push(['Postgres', () => postgresTarget(baseUrl)]);
  return targets;
}
