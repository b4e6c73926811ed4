/**
 * `npm run admin-token` as a child process (`node --import tsx cli/admin-token/main.ts`) on the
 * database the API uses: a temporary `DATA_DIR` with the embedded PGlite, and a new Postgres
 * database when `DATABASE_URL` is set. The printed token authenticates against the API (built
 * on the same database), is stored only as its hash, and the admin's other tokens keep working;
 * with PGlite held by another process it says to stop the API. Plus the argument parsing.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { eq } from 'drizzle-orm';
import postgres from 'postgres';
import { afterAll, describe, expect, it } from 'vitest';
import { AdminTokenUsageError, parseAdminTokenArgs } from '../../../cli/admin-token/run.js';
import { hashToken } from '../../../shared/db/api-tokens.js';
import { DATA_DIR_LOCK_FILE, acquireDataDirLock } from '../../../shared/db/data-dir-lock.js';
import { openDatabase, type DatabaseHandle } from '../../../shared/db/open.js';
import { apiTokens, users } from '../../../shared/db/schema.js';
import { createLogger } from '../../../shared/logger.js';
import { testSecretBox } from '../../helpers/database.js';
import { serve } from '../../helpers/http.js';
import { REPO_ROOT } from '../../helpers/mcp-processes.js';
import { sandboxedApp } from '../../helpers/sandboxed.js';

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs the CLI to completion with `env` over this process's environment (a key set to
 * `undefined` is removed); killed after 150 s, so a hung run fails the test.
 */
function adminToken(
  args: readonly string[],
  env: Record<string, string | undefined>,
): Promise<Run> {
  return new Promise((resolve, reject) => {
    const merged: NodeJS.ProcessEnv = { ...process.env, ...env };
    for (const [key, value] of Object.entries(env)) if (value === undefined) delete merged[key];
    const child = spawn(process.execPath, ['--import', 'tsx', 'cli/admin-token/main.ts', ...args], {
      cwd: REPO_ROOT,
      env: merged,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    const timer = setTimeout(() => child.kill('SIGKILL'), 150_000);
    child.once('error', reject);
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** The token a successful run printed (the indented `sb_…` line). */
function printedToken(run: Run): string {
  const token = /^ {2}(sb_[A-Za-z0-9_-]+)$/m.exec(run.stdout)?.[1];
  expect(token, run.stdout + run.stderr).toBeDefined();
  return token!;
}

/** Where a run's database lives: the child's environment, and how the test opens it too. */
interface Target {
  env: Record<string, string | undefined>;
  open(): Promise<DatabaseHandle>;
  dispose(): Promise<void>;
}

const dataDirs: string[] = [];
afterAll(() => dataDirs.forEach((dir) => rmSync(dir, { recursive: true, force: true })));

function tempDataDir(): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'switchboard-admin-token-'));
  dataDirs.push(dir);
  return dir;
}

async function pgliteTarget(): Promise<Target> {
  const dataDir = tempDataDir();
  return {
    env: { DATA_DIR: dataDir, DATABASE_URL: undefined },
    // With its lock, as the API opens it: the CLI must have released it.
    open: () =>
      openDatabase({
        pgliteDir: path.join(dataDir, 'pglite'),
        lockFile: path.join(dataDir, DATA_DIR_LOCK_FILE),
        secretBox: testSecretBox(),
      }),
    dispose: async () => {},
  };
}

async function postgresTarget(baseUrl: string): Promise<Target> {
  const name = `switchboard_test_${randomBytes(6).toString('hex')}`;
  const admin = postgres(baseUrl, { max: 1, onnotice: () => {} });
  await admin.unsafe(`create database ${name}`);
  const url = new URL(baseUrl);
  url.pathname = `/${name}`;
  return {
    env: { DATA_DIR: tempDataDir(), DATABASE_URL: url.toString() },
    open: () =>
      openDatabase({ databaseUrl: url.toString(), maxConnections: 2, secretBox: testSecretBox() }),
    dispose: async () => {
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

describe.each(targets)('npm run admin-token on %s', (_name, makeTarget) => {
  it('creates the admin when there is none, and its printed token works on the API, stored hashed', async () => {
    const target = await makeTarget();
    try {
      const env = { ...target.env, ADMIN_EMAIL: 'owner@example.test' };
      const first = await adminToken([], env);
      expect(first.code, first.stderr).toBe(0);
      expect(first.stderr).toBe('');
      expect(first.stdout).toMatch(/^Created the admin owner@example\.test \(user \d+\)\./);
      expect(first.stdout).toMatch(/shown once/);
      const token = printedToken(first);
      expect(first.stdout).toContain(`Authorization: Bearer ${token}`);

      // A later run (the token lost again) mints another for the same admin; an email that is
      // not an admin's is refused and writes nothing.
      const second = await adminToken(['--email', 'OWNER@example.test'], env);
      expect(second.code, second.stderr).toBe(0);
      expect(second.stdout).not.toMatch(/Created the admin/);
      const again = printedToken(second);
      expect(again).not.toBe(token);
      const unknown = await adminToken(['--email', 'nobody@example.test'], env);
      expect(unknown.code).toBe(1);
      expect(unknown.stdout).toBe('');
      expect(unknown.stderr).toBe(
        'admin-token: no user has the email nobody@example.test. The admins are ' +
          'owner@example.test (user 1): pass one of them with --email, or leave --email out ' +
          'for the first.\n',
      );

      const database = await target.open();
      try {
        const rows = await database.db.select().from(apiTokens);
        expect(rows).toHaveLength(2);
        const stored = JSON.stringify([rows, await database.db.select().from(users)]);
        expect(stored).not.toContain(token);
        expect(stored).not.toContain(again);
        const [row] = await database.db
          .select()
          .from(apiTokens)
          .where(eq(apiTokens.tokenHash, hashToken(token)));
        expect(row!.label).toMatch(/^admin-token \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);

        const api = await serve(
          sandboxedApp({ database, logger: createLogger({ level: 'silent' }) }),
        );
        try {
          for (const bearer of [token, again]) {
            const listed = await api.request('GET', '/api/tokens', { token: bearer });
            expect(listed.status).toBe(200);
            expect(listed.body).toHaveLength(2);
            // An admin-only route: the token is the admin's.
            const everyone = await api.request('GET', '/api/users', { token: bearer });
            expect(everyone.status).toBe(200);
            expect(everyone.body).toMatchObject([{ email: 'owner@example.test', role: 'admin' }]);
          }
          expect((await api.request('GET', '/api/tokens', { token: `${token}x` })).status).toBe(
            401,
          );
        } finally {
          await api.close();
        }
      } finally {
        await database.close();
      }
    } finally {
      await target.dispose();
    }
    // Three runs, each migrating the database, with both cores busy.
  }, 400_000);
});

describe('npm run admin-token while the API holds the embedded database', () => {
  it('says to stop the API', async () => {
    const dataDir = tempDataDir();
    const lock = acquireDataDirLock(path.join(dataDir, DATA_DIR_LOCK_FILE));
    try {
      const run = await adminToken([], { DATA_DIR: dataDir, DATABASE_URL: undefined });
      expect(run.code).toBe(1);
      expect(run.stdout).toBe('');
      expect(run.stderr).toMatch(
        new RegExp(`^admin-token: the embedded database in .* is in use by PID ${process.pid} `),
      );
      expect(run.stderr).toMatch(/Stop the API, run npm run admin-token again, then start the API/);
    } finally {
      lock.release();
    }
  }, 180_000);

  it('answers a usage error with exit status 2 and the usage', async () => {
    const run = await adminToken(['--emial', 'a@b.test'], { DATABASE_URL: undefined });
    expect(run.code).toBe(2);
    expect(run.stdout).toBe('');
    expect(run.stderr).toMatch(
      /^admin-token: unknown argument "--emial"\nusage: npm run admin-token/,
    );
  }, 180_000);
});

describe('parseAdminTokenArgs', () => {
  it('reads --email in both forms and --help', () => {
    expect(parseAdminTokenArgs([])).toEqual({ help: false });
    expect(parseAdminTokenArgs(['--email', 'a@b.test'])).toEqual({
      help: false,
      email: 'a@b.test',
    });
    expect(parseAdminTokenArgs(['--email=a@b.test', '-h'])).toEqual({
      help: true,
      email: 'a@b.test',
    });
  });

  it('refuses unknown arguments and a missing email', () => {
    expect(() => parseAdminTokenArgs(['extra'])).toThrow(AdminTokenUsageError);
    expect(() => parseAdminTokenArgs(['--email'])).toThrow(/--email needs an email address/);
    expect(() => parseAdminTokenArgs(['--email='])).toThrow(AdminTokenUsageError);
  });
});
