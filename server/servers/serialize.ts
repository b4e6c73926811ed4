/**
 * How a stored server appears in API responses: camelCase fields, and secrets (env values,
 * header values, the API key, the OAuth client secret and private key) shown only as set, with
 * their last 4 characters (DESIGN §3). What is shown of the secrets comes from their hints
 * (`SecretHints`, the `secret_hints` column, computed when the secrets are written), never from
 * the secrets themselves, so serializing a stored row opens no secret (issue 14). The result is
 * typed by the response schema (`serverResource`, derived from the table), so the serializer and
 * the documented answer cannot drift.
 */
import type { z } from 'zod';
import type { McpServerRow, ServerAuth } from '../../shared/db/schema.js';
import { allSecretHints, type SecretHints } from '../../shared/db/server-secrets.js';
import type { DisplayServerRow } from '../../shared/db/servers.js';
import type { serverResource } from '../api/schemas.js';

/** The API form of a server, as `serverResource` documents it. */
export type ServerResource = z.output<typeof serverResource>;

/** A secret as the API shows it. */
export interface MaskedSecret {
  set: true;
  /** The last 4 characters; empty for a secret under 12 characters, where 4 would say too much. */
  last4: string;
}

function masked(hint: string): MaskedSecret {
  return { set: true, last4: hint };
}

function maskRecord(hints: Record<string, string>): Record<string, MaskedSecret> {
  return Object.fromEntries(Object.entries(hints).map(([key, hint]) => [key, masked(hint)]));
}

/**
 * A server's `auth` with its secret (`clientSecret` or `privateKey`) replaced by its mask.
 *
 * @param auth the stored `auth` (its secret plain or sealed: it is not read).
 * @param hint the secret's hint (`SecretHints.auth`); `''` when unknown.
 */
export function maskAuth(auth: ServerAuth, hint: string | null = '') {
  const last4 = hint ?? '';
  if (auth.type === 'oauth2-client-credentials') {
    return { ...auth, clientSecret: masked(last4) };
  }
  if (auth.type === 'oauth2-private-key-jwt') {
    return { ...auth, privateKey: masked(last4) };
  }
  if (auth.type === 'oauth' && auth.clientSecret !== undefined) {
    return { ...auth, clientSecret: masked(last4) };
  }
  return auth;
}

/**
 * The API form of a server row: dates as ISO 8601 strings, secrets masked from their hints.
 *
 * @param row a stored server, with or without its `env`, `headers` and `apiKey` (they are not
 *   read: the names of `env` and `headers` come from the hints) and with `auth` plain or sealed
 *   (only its other fields are shown).
 * @param hints the hints of its secrets: `row.secretHints` for a row read for display
 *   (`listServerPage`, `getHintedServer`); for a row whose secrets were just opened or written,
 *   {@link hintsOfPlainRow}.
 */
export function serializeServer(
  row: Omit<DisplayServerRow, 'secretHints'>,
  hints: SecretHints,
): ServerResource {
  return {
    id: row.id,
    userId: row.userId,
    name: row.name,
    description: row.description,
    transport: row.transport,
    url: row.url,
    command: row.command,
    args: row.args,
    cwd: row.cwd,
    sandbox: row.sandbox,
    env: maskRecord(hints.env),
    headers: maskRecord(hints.headers),
    apiKey: hints.apiKey === null ? null : masked(hints.apiKey),
    auth: maskAuth(row.auth, hints.auth),
    timeoutMs: row.timeoutMs,
    toolFilter: row.toolFilter,
    toolPolicy: row.toolPolicy,
    isActive: row.isActive,
    pinTools: row.pinTools,
    toolsPinnedAt: row.toolsPinnedAt?.toISOString() ?? null,
    adminManaged: row.adminManaged,
    connectionStatus: row.connectionStatus,
    lastConnected: row.lastConnected?.toISOString() ?? null,
    accountChangedAt: row.accountChangedAt?.toISOString() ?? null,
    lastError: row.lastError,
    // A copy, typed as a plain object (the `ServerMetadata` interface has no index signature).
    metadata: { ...row.metadata },
    createdAt: row.createdAt.toISOString(),
    updatedAt: row.updatedAt.toISOString(),
  };
}

/**
 * The hints of a row whose secrets are plain (as `createServer`, `updateServer` and `getServer`
 * return it): computed from the values in hand, which costs no decryption.
 */
export function hintsOfPlainRow(row: McpServerRow): SecretHints {
  return allSecretHints(row);
}
