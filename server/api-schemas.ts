/**
 * Zod schemas of the API's payloads that are not server configurations (those live in
 * `routes/server-input.ts`): users, tokens, tool calls, query strings and the response shapes.
 * The routers validate with them and `openapi.ts` documents them, so the two cannot drift.
 */
import { z } from 'zod';
import { CONNECTION_STATUSES, TRANSPORTS, USER_ROLES } from '../shared/db/schema.js';
import { serverIdParam } from './routes/server-input.js';
import { sandboxConfigSchema } from '../shared/mcp/server-config.js';

const isoDate = z.string().meta({ format: 'date-time' });

/** A positive 32-bit integer in a path or query string, e.g. `:id` or `?userId=`. */
export const idString = serverIdParam;

/** `:id` of a server or token route. */
export const idParams = z.object({ id: serverIdParam });

/**
 * `?userId=` on the servers routes: an admin acts for that user. A non-admin may name only
 * themself; naming someone else is a 403.
 */
export const scopeQuery = z.object({
  userId: serverIdParam.optional().meta({
    description: 'Act for this user (admins only; anyone may name themself).',
  }),
});

/** Query of `GET /api/mcp/servers/:id/calls`: the scope and `limit` (1–200, default 50). */
export const callsQuery = scopeQuery.extend({
  limit: z.coerce
    .number({ error: 'limit must be an integer from 1 to 200' })
    .int('limit must be an integer from 1 to 200')
    .min(1, 'limit must be an integer from 1 to 200')
    .max(200, 'limit must be an integer from 1 to 200')
    .default(50)
    .meta({ description: 'How many calls, newest first (1–200).' }),
});

/** Body of `POST /api/users`. */
export const createUserBody = z.strictObject({
  name: z.string().trim().min(1, 'name is required').max(200, 'name is at most 200 characters'),
  email: z
    .email('email must be an email address')
    .max(320, 'email is at most 320 characters')
    .transform((email) => email.toLowerCase()),
  role: z.enum(USER_ROLES).default('user'),
});

/** Body of `POST /api/tokens` (optional). */
export const createTokenBody = z.strictObject({
  label: z.string().trim().max(100, 'label is at most 100 characters').default(''),
});

/** What a LiveKit room name may be: 1 to 128 letters, digits, `_`, `.` and `-`. */
export const LIVEKIT_ROOM_NAME = /^[A-Za-z0-9_.-]{1,128}$/;

const ROOM_NAME_RULE = 'room must be 1 to 128 characters, each a letter, digit, _, . or -';

/** Body of `POST /api/livekit/token` (optional): the room to join; default a fresh one. */
export const livekitTokenBody = z.strictObject({
  room: z
    .string({ error: ROOM_NAME_RULE })
    .regex(LIVEKIT_ROOM_NAME, ROOM_NAME_RULE)
    .optional()
    .meta({ description: 'The room to join; omitted: a fresh `switchboard-<random>` room.' }),
});

/** Answer of `POST /api/livekit/token`: a LiveKit access token and where to use it. */
export const livekitTokenResource = z.object({
  token: z.string().meta({
    description:
      'A LiveKit access token (JWT) to join `room`, dispatching the agent with the caller ' +
      'as its user when the join creates the room.',
  }),
  url: z.string().meta({ description: 'The LiveKit server to connect to (`LIVEKIT_URL`).' }),
  room: z.string().meta({ description: 'The room the token joins.' }),
});

/** A user as the API shows it. */
export const userResource = z.object({
  id: z.number().int(),
  name: z.string(),
  email: z.string(),
  role: z.enum(USER_ROLES),
  createdAt: isoDate,
});

/** A token as `GET /api/tokens` lists it: never the token itself. */
export const tokenResource = z.object({
  id: z.number().int(),
  label: z.string(),
  createdAt: isoDate,
  lastUsedAt: isoDate.nullable().meta({ description: 'Kept to the minute.' }),
  revokedAt: isoDate.nullable(),
});

/** Answer of `POST /api/tokens`: the new token, shown this once. */
export const createdToken = z.object({
  id: z.number().int(),
  token: z.string().meta({ description: 'The bearer token. Shown once; only its hash is kept.' }),
  label: z.string(),
  createdAt: isoDate,
});

/** Answer of `POST /api/users`: the user and their first token, shown this once. */
export const createdUser = z.object({
  user: userResource,
  token: z.string().meta({ description: "The new user's API token. Shown once." }),
});

/** One row of `GET /api/mcp/servers/:id/calls`. Arguments are never stored. */
export const toolCallResource = z.object({
  id: z.number().int(),
  serverId: z.number().int().nullable(),
  toolName: z.string().meta({ description: 'The MCP name of the tool.' }),
  roomName: z.string().nullable(),
  sessionId: z.string().nullable(),
  startedAt: isoDate,
  durationMs: z.number().int(),
  ok: z.boolean(),
  error: z.string().nullable(),
});

/** A secret as responses show it. */
export const maskedSecret = z.object({
  set: z.literal(true),
  last4: z.string().meta({ description: 'Empty for secrets under 12 characters.' }),
});

/** A stored MCP server as the API shows it (secrets masked). */
export const serverResource = z.object({
  id: z.number().int(),
  userId: z.number().int(),
  name: z.string(),
  description: z.string(),
  transport: z.enum(TRANSPORTS),
  url: z.string().nullable(),
  command: z.string().nullable(),
  args: z.array(z.string()),
  cwd: z.string().nullable(),
  sandbox: sandboxConfigSchema.meta({
    description:
      "A stdio server's sandbox: `network` (`none`, `outbound` (default) or `host`), " +
      '`allowDomains`, `mounts` of host folders (`hostPath`, `path`, `writable`) and `limits` ' +
      '(`memoryMb`, `processes`, `openFiles`). `{}` for remote servers.',
  }),
  env: z.record(z.string(), maskedSecret),
  headers: z.record(z.string(), maskedSecret),
  apiKey: maskedSecret.nullable(),
  auth: z.looseObject({ type: z.string() }),
  timeoutMs: z.number().int(),
  toolFilter: z.object({ allow: z.array(z.string()), deny: z.array(z.string()) }).partial(),
  toolPolicy: z
    .object({
      confirm: z.enum(['destructive', 'always', 'never']),
      longRunning: z.union([z.literal('all'), z.array(z.string())]),
    })
    .partial()
    .meta({
      description:
        'How the agent treats the tools: `confirm` (default `destructive`) says which calls need ' +
        "the user's spoken yes; `longRunning` names tools (MCP names) that run in the background.",
    }),
  isActive: z.boolean(),
  adminManaged: z.boolean().meta({
    description:
      'An admin set up or changed this server for its owner: the owner may enable, disable, ' +
      'rename, describe, time out or delete it, but not change its connection, secrets, tool ' +
      'filter or tool policy (403).',
  }),
  connectionStatus: z.enum(CONNECTION_STATUSES),
  lastConnected: isoDate.nullable(),
  lastError: z.string().nullable(),
  metadata: z.record(z.string(), z.unknown()),
  createdAt: isoDate,
  updatedAt: isoDate,
});

/** A tool as the agent advertises it to the model. */
export const advertisedTool = z.object({
  name: z.string().meta({ description: 'The name the model calls, `<server>__<tool>`.' }),
  originalName: z.string(),
  description: z.string(),
  parameters: z.record(z.string(), z.unknown()),
});

/** Answer of `POST /api/mcp/servers/:id/test`. */
export const testResult = z.discriminatedUnion('status', [
  z.object({
    status: z.literal('connected'),
    serverInfo: z.object({ name: z.string(), version: z.string() }).optional(),
    transport: z.string(),
    toolCount: z.number().int(),
    tools: z.array(advertisedTool),
    truncated: z.boolean(),
    latencyMs: z.number(),
  }),
  z.object({ status: z.literal('error'), error: z.string(), latencyMs: z.number() }),
]);

const componentStatus = z.looseObject({
  status: z.string(),
  detail: z.string(),
  latencyMs: z.number().optional(),
});

/** Answer of `GET /api/health`. */
export const healthResource = z.object({ status: z.literal('ok'), timestamp: isoDate });

/** Answer of `GET /api/status`. */
export const statusResource = z.object({
  livekit: componentStatus,
  openai: componentStatus,
  mcp: componentStatus,
  database: componentStatus,
  latencyMs: z.number().meta({ description: 'Milliseconds this server took to answer.' }),
  timestamp: isoDate,
});

/** An RFC 9457 problem document, the body of every error. */
export const problemResource = z
  .looseObject({
    type: z.string(),
    title: z.string(),
    status: z.number().int(),
    code: z.string(),
    detail: z.string(),
    instance: z.string(),
    errors: z.array(z.object({ path: z.string(), message: z.string() })).optional(),
  })
  .meta({
    // The OpenAPI document's `components.schemas.Problem`, which every error response refers to.
    id: 'Problem',
  });
