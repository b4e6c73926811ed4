/**
 * How a stored server appears in API responses: camelCase fields, and secrets (env values,
 * header values, the API key, the OAuth client secret and private key) shown only as set, with
 * their last 4 characters (DESIGN §3). The result is typed by the response schema
 * (`serverResource`, derived from the table), so the serializer and the documented answer cannot
 * drift.
 */
import type { z } from 'zod';
import type { McpServerRow, ServerAuth } from '../../shared/db/schema.js';
import type { serverResource } from '../api/schemas.js';

/** The API form of a server, as `serverResource` documents it. */
export type ServerResource = z.output<typeof serverResource>;

/** A secret as the API shows it. */
export interface MaskedSecret {
  set: true;
  /** The last 4 characters; empty for a secret under 12 characters, where 4 would say too much. */
  last4: string;
}

/** Masks one secret value. */
export function maskSecret(value: string): MaskedSecret {
  return { set: true, last4: value.length >= 12 ? value.slice(-4) : '' };
}

function maskRecord(record: Record<string, string>): Record<string, MaskedSecret> {
  return Object.fromEntries(Object.entries(record).map(([key, value]) => [key, maskSecret(value)]));
}

/** A server's `auth` with its secret (`clientSecret` or `privateKey`) masked. */
export function maskAuth(auth: ServerAuth) {
  if (auth.type === 'oauth2-client-credentials') {
    return { ...auth, clientSecret: maskSecret(auth.clientSecret) };
  }
  if (auth.type === 'oauth2-private-key-jwt') {
    return { ...auth, privateKey: maskSecret(auth.privateKey) };
  }
  if (auth.type === 'oauth' && auth.clientSecret !== undefined) {
    return { ...auth, clientSecret: maskSecret(auth.clientSecret) };
  }
  return auth;
}

/**
 * The API form of a server row: dates as ISO 8601 strings, secrets masked ({@link maskSecret}).
 *
 * @param row a stored server, secrets opened.
 */
export function serializeServer(row: McpServerRow): ServerResource {
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
    env: maskRecord(row.env),
    headers: maskRecord(row.headers),
    apiKey: row.apiKey ? maskSecret(row.apiKey) : null,
    auth: maskAuth(row.auth),
    timeoutMs: row.timeoutMs,
    toolFilter: row.toolFilter,
    toolPolicy: row.toolPolicy,
    isActive: row.isActive,
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
