/**
 * The secret columns of `mcp_servers` (DESIGN §3) sealed and opened with a {@link SecretBox}:
 * every `env` value, every `headers` value, `api_key`, and `auth.clientSecret` /
 * `auth.privateKey`. The queries in `servers.ts` seal on the way in and open on the way out, so
 * the rest of the code only ever sees plain values and the database only ever holds sealed ones.
 *
 * Each value is sealed with the owner's id and the field it belongs to as associated data
 * (`mcp_servers:<userId>:env.<NAME>`, `…:headers.<Name>`, `…:apiKey`, `…:auth.clientSecret`,
 * `…:auth.privateKey`), so a sealed value copied to another field or another user's row does not
 * open. (The server id is not part of it: it is unknown until the row is inserted.)
 *
 * A stored value without the `sb:v1:` prefix is plain text and is read as it is; the next write of
 * the field, or `npm run rotate-key`, seals it.
 *
 * What the API shows of the secrets (their last 4 characters) is kept beside them in the
 * `secret_hints` column ({@link SecretHints}), computed from the plain values whenever they are
 * written, so that listing servers opens none of them (issue 14).
 */
import { isSealed, SecretError, type SecretBox } from '../secrets.js';
import type { ServerAuth } from '../mcp/server-config.js';

/** The secret-bearing columns of a server row, as stored or as plain values. */
export interface ServerSecretColumns {
  env: Record<string, string>;
  headers: Record<string, string>;
  apiKey: string | null;
  auth: ServerAuth;
}

/**
 * What the API shows of a server's secrets, stored in `mcp_servers.secret_hints`: for each
 * secret its hint ({@link secretHint}: the last 4 characters, or `''` for a secret under 12
 * characters). `env` and `headers` have exactly the names of the stored records; `apiKey` is null
 * when there is no API key and `auth` is null when the `auth` column holds no secret (no
 * `clientSecret` or `privateKey`).
 */
export interface SecretHints {
  env: Record<string, string>;
  headers: Record<string, string>;
  apiKey: string | null;
  auth: string | null;
}

/** Secrets shorter than this show no characters at all: 4 of them would say too much. */
const MIN_HINTED_LENGTH = 12;

/**
 * The hint of one plain secret: its last 4 characters, or `''` when it is under 12 characters.
 */
export function secretHint(plain: string): string {
  return plain.length >= MIN_HINTED_LENGTH ? plain.slice(-4) : '';
}

/** The secret inside a server's `auth` (`clientSecret` or `privateKey`), if it holds one. */
export function authSecret(auth: ServerAuth): string | undefined {
  if (auth.type === 'oauth2-client-credentials') return auth.clientSecret;
  if (auth.type === 'oauth2-private-key-jwt') return auth.privateKey;
  if (auth.type === 'oauth') return auth.clientSecret;
  return undefined;
}

function hintRecord(record: Record<string, string>): Record<string, string> {
  return Object.fromEntries(
    Object.entries(record).map(([name, value]) => [name, secretHint(value)]),
  );
}

/**
 * The hints of the secret columns present among `columns` (plain values): a partial update gives
 * the hints of the columns it writes, and the stored hints of the others stay as they are (see
 * `updateServer`, which merges them with jsonb `||`).
 *
 * @param columns plain `env`, `headers`, `apiKey` and `auth`, each optional.
 * @returns one key per secret column present in `columns`.
 */
export function secretHintsOf(columns: Partial<ServerSecretColumns>): Partial<SecretHints> {
  const hints: Partial<SecretHints> = {};
  if (columns.env) hints.env = hintRecord(columns.env);
  if (columns.headers) hints.headers = hintRecord(columns.headers);
  if (columns.apiKey !== undefined) {
    // An empty API key is no API key (the API shows null for it).
    hints.apiKey = columns.apiKey ? secretHint(columns.apiKey) : null;
  }
  if (columns.auth) {
    const secret = authSecret(columns.auth);
    hints.auth = secret === undefined ? null : secretHint(secret);
  }
  return hints;
}

/**
 * The hints of a whole row's secrets (plain values); a column that is absent counts as its
 * default (`env` and `headers` `{}`, no API key, `auth` `{ type: 'none' }`), as on an insert.
 */
export function allSecretHints(columns: Partial<ServerSecretColumns>): SecretHints {
  return { env: {}, headers: {}, apiKey: null, auth: null, ...secretHintsOf(columns) };
}

/** Which way {@link transformSecrets} maps each value. */
type Mapper = (value: string, context: string) => string;

/** The associated data a field of one user's server is sealed with. */
export function secretContext(userId: number, field: string): string {
  return `mcp_servers:${userId}:${field}`;
}

function mapRecord(
  record: Record<string, string>,
  prefix: string,
  map: (value: string, field: string) => string,
): Record<string, string> {
  return Object.fromEntries(
    Object.entries(record).map(([name, value]) => [name, map(value, `${prefix}.${name}`)]),
  );
}

/**
 * Applies `map` to every secret among the given columns; columns that are absent (a partial
 * update) stay absent, and every other property is copied as is.
 */
function transformSecrets<T extends Partial<ServerSecretColumns>>(
  columns: T,
  userId: number,
  mapper: Mapper,
): T {
  const map = (value: string, field: string) => mapper(value, secretContext(userId, field));
  const out: T = { ...columns };
  if (columns.env) out.env = mapRecord(columns.env, 'env', map);
  if (columns.headers) out.headers = mapRecord(columns.headers, 'headers', map);
  if (typeof columns.apiKey === 'string') out.apiKey = map(columns.apiKey, 'apiKey');
  const auth = columns.auth;
  if (auth?.type === 'oauth2-client-credentials') {
    out.auth = { ...auth, clientSecret: map(auth.clientSecret, 'auth.clientSecret') };
  } else if (auth?.type === 'oauth2-private-key-jwt') {
    out.auth = { ...auth, privateKey: map(auth.privateKey, 'auth.privateKey') };
  } else if (auth?.type === 'oauth' && auth.clientSecret !== undefined) {
    out.auth = { ...auth, clientSecret: map(auth.clientSecret, 'auth.clientSecret') };
  }
  return out;
}

/**
 * Seals the secrets among `values` (a new row or a partial update of one) for storage. A value
 * that is already sealed is sealed again as a string like any other: callers pass plain values.
 *
 * @param values row columns; `env`, `headers`, `apiKey` and `auth` are sealed when present.
 * @param userId the owner of the row, bound into each value's associated data.
 * @returns a copy of `values` with every secret in the `sb:v1:` format.
 */
export function sealServerSecrets<T extends Partial<ServerSecretColumns>>(
  values: T,
  userId: number,
  box: SecretBox,
): T {
  return transformSecrets(values, userId, (value, context) => box.seal(value, context));
}

/**
 * Opens the secrets of a stored row. A value without the `sb:v1:` prefix is plain and is returned
 * unchanged.
 *
 * @param row a row as read from the database (it needs `id` and `userId` besides the columns).
 * @returns a copy of `row` with plain secrets.
 * @throws SecretError naming the server and field when a value was sealed with a key the box
 *   does not hold (set `SWITCHBOARD_PREVIOUS_SECRET_KEYS`), for another field or user, or altered.
 */
export function openServerSecrets<T extends ServerSecretColumns & { id: number; userId: number }>(
  row: T,
  box: SecretBox,
): T {
  return transformSecrets(row, row.userId, (value, context) => {
    if (!isSealed(value)) return value;
    try {
      return box.open(value, context);
    } catch (error) {
      const field = context.slice(secretContext(row.userId, '').length);
      throw new SecretError(
        `cannot open the secret ${field} of MCP server ${row.id}: ${(error as Error).message}`,
        { cause: error },
      );
    }
  });
}

/**
 * True when any secret of a stored row is plain (no `sb:v1:` prefix) or sealed with a key
 * other than the box's current one, i.e. `npm run rotate-key` would rewrite it.
 */
export function serverSecretsNeedSealing(row: ServerSecretColumns, box: SecretBox): boolean {
  let stale = false;
  transformSecrets(row, 0, (value) => {
    if (!isSealed(value) || box.needsResealing(value)) stale = true;
    return value;
  });
  return stale;
}
