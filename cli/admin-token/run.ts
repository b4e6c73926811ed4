/**
 * What `npm run admin-token` does: gets an operator who lost the admin's API token back in. On
 * the host, with the database the API uses, it mints a new token for an admin (the first admin,
 * or the one `--email` names; when there is no admin yet it creates one as the first start
 * would, without the demo servers), stores only its hash, and prints it once. The entry point is
 * `cli/admin-token/main.ts`; tests call these functions.
 *
 * Access to the host (its `DATA_DIR` or `DATABASE_URL`) is what authorises this, as it does for
 * `ADMIN_TOKEN`: whoever can write the database can already do anything.
 */
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { asc } from 'drizzle-orm';
import { generateToken, storeToken } from '../../shared/db/api-tokens.js';
import { DATA_DIR_LOCK_FILE, DataDirLockedError } from '../../shared/db/data-dir-lock.js';
import { openDatabase, type Database, type DatabaseHandle } from '../../shared/db/open.js';
import { users, type User } from '../../shared/db/schema.js';
import { SecretBox } from '../../shared/secrets.js';
import type { Settings } from '../../shared/settings.js';

/** A failure the operator can act on; its message says what to do. */
export class AdminTokenError extends Error {
  override readonly name = 'AdminTokenError';
}

/** Thrown by {@link parseAdminTokenArgs} for arguments it does not understand (exit status 2). */
export class AdminTokenUsageError extends Error {
  override readonly name = 'AdminTokenUsageError';
}

/** The usage text of `npm run admin-token`. */
export const ADMIN_TOKEN_USAGE =
  'usage: npm run admin-token [-- --email <admin email>]\n\n' +
  'Mints a new API token for the first admin (or the admin with that email) and prints it once.\n' +
  'With no admin yet it creates one, with that email or ADMIN_EMAIL. With the embedded database\n' +
  '(no DATABASE_URL) stop the API first.\n';

/** The parsed command line of `npm run admin-token`. */
export interface AdminTokenArgs {
  /** `--email <e>` (or `--email=<e>`): whose token to mint; absent means the first admin. */
  email?: string;
  /** `--help` or `-h`. */
  help: boolean;
}

/**
 * Parses the arguments after `npm run admin-token --`.
 *
 * @param argv the arguments, without node and the script.
 * @throws AdminTokenUsageError on an unknown argument, or `--email` without a value.
 */
export function parseAdminTokenArgs(argv: readonly string[]): AdminTokenArgs {
  const args: AdminTokenArgs = { help: false };
  for (let i = 0; i < argv.length; i += 1) {
    const arg = argv[i]!;
    if (arg === '--help' || arg === '-h') {
      args.help = true;
    } else if (arg === '--email' || arg.startsWith('--email=')) {
      const value = arg === '--email' ? argv[(i += 1)] : arg.slice('--email='.length);
      if (!value?.trim()) throw new AdminTokenUsageError('--email needs an email address');
      args.email = value.trim();
    } else {
      throw new AdminTokenUsageError(`unknown argument ${JSON.stringify(arg)}`);
    }
  }
  return args;
}

/** Options of {@link mintAdminToken}. */
export interface MintAdminTokenOptions {
  /** The admin to mint for, by email (compared regardless of case); default the first admin. */
  email?: string;
  /** Email of the admin to create when there is no admin at all and `email` is absent. */
  adminEmail: string;
  /** The token's label, as `GET /api/tokens` lists it. */
  label: string;
}

/** What {@link mintAdminToken} did. */
export interface MintedAdminToken {
  admin: User;
  /** True when no admin existed and this call created one. */
  created: boolean;
  /** The new token's `api_tokens` id. */
  tokenId: number;
  /** The plain token; only its hash is stored. Show it once. */
  token: string;
}

const listed = (admins: User[]) => admins.map((a) => `${a.email} (user ${a.id})`).join(', ');

/**
 * Mints a new API token for an admin, in one transaction: the admin `email` names, else the
 * first admin (lowest id). When no admin exists it creates one (named "Admin", with `email` or
 * else `adminEmail`) as the first start would, but without demo servers. The admin's other
 * tokens stay valid.
 *
 * @throws AdminTokenError when `email` is a user who is not an admin, or names nobody while
 *   admins exist (the message lists them), or when the admin to create would take the email of
 *   an existing user; nothing is written then.
 */
export async function mintAdminToken(
  db: Database,
  options: MintAdminTokenOptions,
): Promise<MintedAdminToken> {
  return db.transaction(async (tx) => {
    const all = await tx.select().from(users).orderBy(asc(users.id));
    const admins = all.filter((user) => user.role === 'admin');
    const email = options.email ?? options.adminEmail;
    const holder = all.find((user) => user.email.toLowerCase() === email.toLowerCase());
    let admin = options.email === undefined ? admins[0] : holder;
    if (admin && admin.role !== 'admin') {
      throw new AdminTokenError(
        `${admin.email} (user ${admin.id}) is not an admin. ` +
          (admins.length > 0
            ? `The admins are ${listed(admins)}: pass one of them with --email, or leave ` +
              '--email out for the first.'
            : 'There is no admin yet: pass an email no user has with --email to create one.'),
      );
    }
    if (!admin && admins.length > 0) {
      throw new AdminTokenError(
        `no user has the email ${email}. The admins are ${listed(admins)}: pass one of them ` +
          'with --email, or leave --email out for the first.',
      );
    }
    let created = false;
    if (!admin) {
      if (holder) {
        throw new AdminTokenError(
          `there is no admin, and ${email} (ADMIN_EMAIL) is already user ${holder.id}, who is ` +
            'not an admin. Pass an email no user has with --email to create the admin with it.',
        );
      }
      [admin] = await tx.insert(users).values({ name: 'Admin', email, role: 'admin' }).returning();
      created = true;
    }
    const token = generateToken();
    const tokenId = await storeToken(tx, admin!.id, token, options.label);
    return { admin: admin!, created, tokenId, token };
  });
}

/** Options of {@link runAdminToken}. */
export interface AdminTokenOptions {
  /** The validated settings: `DATABASE_URL` or `DATA_DIR`, `ADMIN_EMAIL`, `HOST` and `PORT`. */
  settings: Settings;
  /** `--email`: the admin to mint for; default the first admin. */
  email?: string;
  /** The time in the token's label; default now. */
  now?: Date;
  /** Where the token and how to use it go; default standard output. A terminal only. */
  write?: (text: string) => void;
}

/**
 * Opens the database the API uses (`DATABASE_URL`, else the embedded PGlite in `DATA_DIR`,
 * applying pending migrations as the API would), mints a token ({@link mintAdminToken}) labelled
 * `admin-token <ISO time>`, and prints it once with how to use it.
 *
 * With the embedded database the API must be stopped first: PGlite serves one process only.
 *
 * @throws AdminTokenError when the embedded database is in use by another process (the API: the
 *   message says to stop it), or as {@link mintAdminToken} does; otherwise when the database
 *   cannot be opened.
 */
export async function runAdminToken(options: AdminTokenOptions): Promise<MintedAdminToken> {
  const { settings } = options;
  const write = options.write ?? ((text: string) => process.stdout.write(text));
  const label = `admin-token ${(options.now ?? new Date()).toISOString()}`;
  let database: DatabaseHandle;
  try {
    database = await openDatabase({
      databaseUrl: settings.DATABASE_URL,
      pgliteDir: path.join(settings.dataDir, 'pglite'),
      lockFile: path.join(settings.dataDir, DATA_DIR_LOCK_FILE),
      // No server secret is read or written here: a throwaway key, so no key file is made.
      secretBox: new SecretBox(randomBytes(32)),
    });
  } catch (error) {
    if (!(error instanceof DataDirLockedError)) throw error;
    throw new AdminTokenError(
      `the embedded database in ${settings.dataDir} is in use by PID ${error.pid} (the API?), ` +
        'and it serves one process only. Stop the API, run npm run admin-token again, then ' +
        'start the API.',
      { cause: error },
    );
  }
  let minted: MintedAdminToken;
  try {
    minted = await mintAdminToken(database.db, {
      email: options.email,
      adminEmail: settings.ADMIN_EMAIL,
      label,
    });
  } finally {
    await database.close();
  }
  const { admin, token } = minted;
  const api = `http://${settings.HOST}:${settings.PORT}`;
  write(
    (minted.created ? `Created the admin ${admin.email} (user ${admin.id}).\n` : '') +
      `New API token for the admin ${admin.email} (user ${admin.id}), labelled "${label}" ` +
      '(shown once; store it now):\n\n' +
      `  ${token}\n\n` +
      'Send it as the bearer token (or sign in to the dashboard with it), e.g.\n\n' +
      `  curl -H "Authorization: Bearer ${token}" ${api}/api/tokens\n\n` +
      "The admin's other tokens still work: that list shows them, and DELETE /api/tokens/<id> " +
      'revokes a lost one.\n',
  );
  return minted;
}
