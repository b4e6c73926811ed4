/**
 * What `npm run rotate-key` does: re-seals every secret of every MCP server, and every OAuth
 * registration, token and PKCE verifier, under a new key in one transaction, then says what the operator must set. The entry point is
 * `cli/rotate-key/main.ts`; tests call these functions.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { asc, eq } from 'drizzle-orm';
import { DATA_DIR_LOCK_FILE } from '../../shared/db/data-dir-lock.js';
import { openDatabase, type Database } from '../../shared/db/open.js';
import { resealOAuthSecrets } from '../../shared/db/oauth.js';
import { mcpServers } from '../../shared/db/schema.js';
import {
  allSecretHints,
  openServerSecrets,
  sealServerSecrets,
  type ServerSecretColumns,
} from '../../shared/db/server-secrets.js';
import {
  SECRET_KEY_BYTES,
  SecretBox,
  SecretError,
  decodeSecretKey,
  keyFilePath,
  keyId,
  loadSecretKey,
} from '../../shared/secrets.js';
import type { Settings } from '../../shared/settings.js';

/** What {@link resealServerSecrets} rewrote. */
export interface ResealResult {
  /** Servers whose secret columns were rewritten (every server row). */
  servers: number;
  /**
   * Secret values re-sealed (env and header values, API keys, OAuth secrets and keys, OAuth
   * registrations, tokens and verifiers).
   */
  secrets: number;
}

/**
 * Re-seals the secrets of every `mcp_servers` row with `box`'s current key, in one transaction
 * that locks the rows (`SELECT … FOR UPDATE`): each value is opened with any key the box holds
 * (plain values stored before sealing are taken as they are) and sealed again, and its
 * `secret_hints` are written from the plain values (the same hints, or the first ones for a row
 * stored before the column existed). `updated_at` is left alone: the configurations do not
 * change. Either every row is rewritten or none is.
 *
 * @param box the new key as current, and the old key(s) as previous.
 * @throws SecretError when a value cannot be opened with any of the box's keys; nothing is written.
 */
export async function resealServerSecrets(db: Database, box: SecretBox): Promise<ResealResult> {
  return db.transaction(async (tx) => {
    const rows = await tx
      .select({
        id: mcpServers.id,
        userId: mcpServers.userId,
        env: mcpServers.env,
        headers: mcpServers.headers,
        apiKey: mcpServers.apiKey,
        auth: mcpServers.auth,
      })
      .from(mcpServers)
      .orderBy(asc(mcpServers.id))
      .for('update');
    let secrets = 0;
    for (const row of rows) {
      const plain = openServerSecrets(row, box);
      const { env, headers, apiKey, auth } = sealServerSecrets(plain, row.userId, box);
      secrets += countSecrets(plain);
      // The plain values are in hand: the hints of a row that has none yet are filled here too.
      await tx
        .update(mcpServers)
        .set({ env, headers, apiKey, auth, secretHints: allSecretHints(plain) })
        .where(eq(mcpServers.id, row.id));
    }
    // The OAuth registrations, connected accounts' tokens and PKCE verifiers (issue 13).
    secrets += await resealOAuthSecrets(tx, box);
    return { servers: rows.length, secrets };
  });
}

function countSecrets(row: ServerSecretColumns): number {
  const oauth =
    row.auth.type === 'oauth2-client-credentials' ||
    row.auth.type === 'oauth2-private-key-jwt' ||
    (row.auth.type === 'oauth' && row.auth.clientSecret !== undefined);
  return (
    Object.keys(row.env).length +
    Object.keys(row.headers).length +
    (row.apiKey === null ? 0 : 1) +
    (oauth ? 1 : 0)
  );
}

/** Options of {@link runRotateKey}. */
export interface RotateKeyOptions {
  /** The validated settings: `DATABASE_URL` or `DATA_DIR`, and the current key settings. */
  settings: Settings;
  /** The new key; default 32 random bytes. */
  newKey?: Buffer;
  /** Where the report goes; default standard output. It holds the new key: a terminal only. */
  write?: (text: string) => void;
}

/** What {@link runRotateKey} did. */
export interface RotateKeyResult extends ResealResult {
  /** Id (8 hex digits) of the key the secrets are now sealed with. */
  newKeyId: string;
  /** Id of the key they were sealed with before. */
  oldKeyId: string;
  /** The key file rewritten with the new key, when the key came from `DATA_DIR`. */
  keyFile?: string;
}

/**
 * Rotates the secret key: takes the current key (`SWITCHBOARD_SECRET_KEY`, or the key file in
 * `DATA_DIR`) and `SWITCHBOARD_PREVIOUS_SECRET_KEYS`, re-seals every server secret under a new
 * key ({@link resealServerSecrets}), then tells the operator what to set. When the key came from
 * the key file, the file is replaced with the new key (written 0600, renamed into place after the
 * transaction committed; the old one is kept beside it as `secret.key.<old key id>`).
 *
 * Run it with the API and the workers stopped: a process still holding only the old key cannot
 * open what is sealed under the new one (and embedded PGlite serves one process only).
 *
 * @throws SecretError when there is no current key, a key is malformed, or a stored value does
 *   not open with the known keys (then nothing was changed); or when the key file cannot be
 *   replaced after the commit (the new key is then written out for the operator to set).
 */
export async function runRotateKey(options: RotateKeyOptions): Promise<RotateKeyResult> {
  const { settings } = options;
  const write = options.write ?? ((text: string) => process.stdout.write(text));
  const fromFile = !settings.SWITCHBOARD_SECRET_KEY;
  const oldKey = loadSecretKey({
    base64Key: settings.SWITCHBOARD_SECRET_KEY,
    dataDir: settings.dataDir,
    generate: false,
  });
  const previous = settings.SWITCHBOARD_PREVIOUS_SECRET_KEYS.map((key) =>
    decodeSecretKey(key, 'SWITCHBOARD_PREVIOUS_SECRET_KEYS'),
  );
  const newKey = options.newKey ?? randomBytes(SECRET_KEY_BYTES);
  const box = new SecretBox(newKey, [oldKey, ...previous]);

  const database = await openDatabase({
    databaseUrl: settings.DATABASE_URL,
    pgliteDir: path.join(settings.dataDir, 'pglite'),
    lockFile: path.join(settings.dataDir, DATA_DIR_LOCK_FILE),
    secretBox: box,
  });
  let result: ResealResult;
  try {
    result = await resealServerSecrets(database.db, box);
  } finally {
    await database.close();
  }

  const encoded = newKey.toString('base64');
  const outcome: RotateKeyResult = { ...result, newKeyId: keyId(newKey), oldKeyId: keyId(oldKey) };
  write(
    `Re-sealed ${result.secrets} secrets of ${result.servers} MCP servers under key ` +
      `${outcome.newKeyId} (was ${outcome.oldKeyId}).\n\n`,
  );
  if (fromFile) {
    const file = keyFilePath(settings.dataDir);
    const backup = `${file}.${outcome.oldKeyId}`;
    try {
      const temporary = `${file}.new`;
      writeFileSync(temporary, `${encoded}\n`, { mode: 0o600 });
      if (!existsSync(backup)) renameSync(file, backup);
      renameSync(temporary, file);
    } catch (error) {
      write(`The secrets are sealed under the new key, but the key file could not be replaced.\n`);
      write(`Set it yourself (shown once):\n\n  SWITCHBOARD_SECRET_KEY=${encoded}\n\n`);
      throw new SecretError(`cannot replace the key file ${file}: ${(error as Error).message}`, {
        cause: error,
      });
    }
    outcome.keyFile = file;
    write(
      `The key file ${file} now holds the new key (the old one is kept in ${backup}; delete it ` +
        'once you no longer need it). Nothing to set: start the API again.\n' +
        'A worker on another machine needs the new key as SWITCHBOARD_SECRET_KEY:\n\n' +
        `  SWITCHBOARD_SECRET_KEY=${encoded}\n\n`,
    );
  } else {
    write(
      'Set this on the API and on every worker, then start them (shown once; store it now):\n\n' +
        `  SWITCHBOARD_SECRET_KEY=${encoded}\n\n` +
        'The old key is no longer needed: remove it from SWITCHBOARD_PREVIOUS_SECRET_KEYS ' +
        '(keep it there only while a process that has not restarted may still write with it).\n',
    );
  }
  return outcome;
}
