/**
 * Validation of server create and update bodies (DESIGN §4), built on the shared connection
 * config schemas so the API accepts exactly what the connection layer can use.
 */
import { z } from 'zod';
import type { McpServerRow, NewMcpServerRow, ServerAuth } from '../../shared/db/schema.js';
import {
  sseConfigSchema,
  stdioConfigSchema,
  streamableHttpConfigSchema,
  websocketConfigSchema,
} from '../../shared/mcp/server-config.js';
import { BadRequestError } from '../http/errors.js';

const toolNames = z.array(z.string().min(1).max(128)).max(1000);

const serverFields = {
  name: z.string().trim().min(1, 'name is required').max(100, 'name is at most 100 characters'),
  description: z.string().max(2000).default(''),
  isActive: z.boolean().default(true),
  pinTools: z.boolean().default(true),
  toolFilter: z
    .strictObject({ allow: toolNames.optional(), deny: toolNames.optional() })
    .default({}),
  toolPolicy: z
    .strictObject({
      confirm: z
        .enum(['destructive', 'always', 'never'], {
          error: 'confirm must be one of destructive, always, never',
        })
        .optional(),
      longRunning: z.union([z.literal('all'), toolNames], {
        error: 'longRunning must be "all" or a list of tool names',
      }),
      pinned: z.array(z.string().min(1).max(128)).max(128, 'pinned names at most 128 tools'),
    })
    .partial()
    .default({}),
};

/** Body of `POST /api/mcp/servers`: a connection config plus name, description and flags. */
export const createServerBody = z.discriminatedUnion('transport', [
  stdioConfigSchema.extend(serverFields).strict(),
  streamableHttpConfigSchema.extend(serverFields).strict(),
  sseConfigSchema.extend(serverFields).strict(),
  websocketConfigSchema.extend(serverFields).strict(),
]);
export type CreateServerBody = z.infer<typeof createServerBody>;

/**
 * Body of `PUT /api/mcp/servers/:id`: any subset of the create fields. `apiKey: null`,
 * `cwd: null` and `auth: null` clear those; omitted secrets are kept. A given `auth` replaces the
 * stored one, except that an omitted `clientSecret` or `privateKey` is kept when `type` is
 * unchanged. An update that changes where the secrets go must give them again
 * (`secret-binding.ts`), and an admin-managed server's owner may not change its connection
 * (`admin-managed.ts`).
 */
export const updateServerBody = z
  .strictObject({
    name: z.unknown(),
    description: z.unknown(),
    isActive: z.unknown(),
    pinTools: z.unknown(),
    toolFilter: z.unknown(),
    toolPolicy: z.unknown(),
    transport: z.unknown(),
    url: z.unknown(),
    command: z.unknown(),
    args: z.unknown(),
    env: z.unknown(),
    cwd: z.unknown(),
    sandbox: z.unknown(),
    headers: z.unknown(),
    apiKey: z.unknown(),
    auth: z.unknown(),
    timeoutMs: z.unknown(),
  })
  .partial();

/** Body of `POST /api/mcp/servers/:id/test` (optional): a user token for `user-token` servers. */
export const testServerBody = z.strictObject({ userToken: z.string().min(1).max(4096).optional() });

/** `:id` route parameter: a positive integer. */
export const serverIdParam = z.coerce
  .number({ error: 'id must be a positive integer' })
  .int('id must be a positive integer')
  .positive('id must be a positive integer')
  .max(2_147_483_647, 'id is out of range');

/** The columns a validated body writes. Fields of the other transport kind are cleared. */
export function columnsFromBody(body: CreateServerBody): Omit<NewMcpServerRow, 'userId'> {
  const common = {
    name: body.name,
    description: body.description,
    isActive: body.isActive,
    pinTools: body.pinTools,
    toolFilter: body.toolFilter,
    toolPolicy: body.toolPolicy,
    timeoutMs: body.timeoutMs,
    transport: body.transport,
  };
  if (body.transport === 'stdio') {
    return {
      ...common,
      command: body.command,
      args: body.args,
      env: body.env,
      cwd: body.cwd ?? null,
      sandbox: body.sandbox ?? {},
      url: null,
      headers: {},
      apiKey: null,
      auth: { type: 'none' },
    };
  }
  return {
    ...common,
    url: body.url,
    headers: body.headers,
    apiKey: body.apiKey ?? null,
    auth: body.auth ?? { type: 'none' },
    command: null,
    args: [],
    env: {},
    cwd: null,
    sandbox: {},
  };
}

const STDIO_KEYS = ['command', 'args', 'env', 'cwd', 'sandbox'] as const;
const REMOTE_KEYS = ['url', 'headers', 'apiKey', 'auth'] as const;
/** The secret field of each `auth` type that has one. */
const AUTH_SECRETS: Partial<Record<ServerAuth['type'], 'clientSecret' | 'privateKey'>> = {
  'oauth2-client-credentials': 'clientSecret',
  'oauth2-private-key-jwt': 'privateKey',
  oauth: 'clientSecret',
};

/** A new `auth` with the stored secret filled in when it is omitted and the type is unchanged. */
function keepAuthSecret(next: unknown, stored: ServerAuth): unknown {
  if (typeof next !== 'object' || next === null || Array.isArray(next)) return next;
  const patch = next as Record<string, unknown>;
  const secret = AUTH_SECRETS[stored.type];
  if (!secret || patch.type !== stored.type || patch[secret] !== undefined) return next;
  const kept = (stored as Record<string, unknown>)[secret];
  return kept === undefined ? next : { ...patch, [secret]: kept };
}

/**
 * Applies a partial update to a stored server and validates the result as a whole, so a change
 * of transport must bring the fields the new transport needs.
 *
 * @throws BadRequestError naming each failing field.
 */
export function mergeUpdate(row: McpServerRow, patch: z.infer<typeof updateServerBody>) {
  const transport = (patch.transport ?? row.transport) as string;
  const kept: Record<string, unknown> = {
    name: row.name,
    description: row.description,
    isActive: row.isActive,
    pinTools: row.pinTools,
    toolFilter: row.toolFilter,
    toolPolicy: row.toolPolicy,
    timeoutMs: row.timeoutMs,
    transport,
  };
  if (transport === row.transport) {
    const keys = transport === 'stdio' ? STDIO_KEYS : REMOTE_KEYS;
    const current: Record<string, unknown> = { ...row };
    for (const key of keys) {
      if (current[key] !== null && current[key] !== undefined) kept[key] = current[key];
    }
  }
  const merged: Record<string, unknown> = { ...kept, ...patch };
  if (patch.auth !== undefined && kept.auth !== undefined) {
    merged.auth = keepAuthSecret(patch.auth, kept.auth as ServerAuth);
  }
  for (const [key, value] of Object.entries(merged)) if (value === null) delete merged[key];
  const parsed = createServerBody.safeParse(merged);
  if (!parsed.success) throw BadRequestError.fromZod(parsed.error);
  return parsed.data;
}
