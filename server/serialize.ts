/**
 * How a stored server appears in API responses: camelCase fields, and secrets (env values,
 * header values, the API key, the OAuth client secret and private key) shown only as set, with
 * their last 4 characters (DESIGN §3).
 */
import type { McpServerRow, ServerAuth } from '../shared/db/schema.js';

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
  return auth;
}

/** The API form of a server row. */
export function serializeServer(row: McpServerRow) {
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
    lastError: row.lastError,
    metadata: row.metadata,
    createdAt: row.createdAt.toISOString(),
    updatedAt: row.updatedAt.toISOString(),
  };
}

/** The API form of a server. */
export type ServerResource = ReturnType<typeof serializeServer>;
