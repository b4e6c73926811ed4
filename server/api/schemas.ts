/**
 * Zod schemas of the API's payloads that are not server configurations (those live in
 * `servers/input.ts`): users, tokens, tool calls, query strings and the response shapes.
 * The routers validate with them and `openapi.ts` documents them, so the two cannot drift.
 *
 * A response that shows a table's rows is derived from the table with drizzle-zod's
 * `createSelectSchema`, so its columns and their types come from `shared/db/schema.ts`; only
 * what the API shows differently is restated: dates as ISO 8601 strings, secrets masked, JSON
 * columns with their shapes, and descriptions. Each response schema has an `id`, its name under
 * `components.schemas` in the OpenAPI document, where the operations refer to it.
 */
import { createSelectSchema } from 'drizzle-zod';
import { z } from 'zod';
import {
  USER_ROLES,
  apiTokens,
  mcpServers,
  toolCalls,
  users,
  widgetTokens,
} from '../../shared/db/schema.js';
import { serverIdParam } from '../servers/input.js';
import { CONNECTION_STATUSES, sandboxConfigSchema } from '../../shared/mcp/server-config.js';
import { MAX_SERVER_PAGE } from '../../shared/db/servers.js';
import { cursorParam, decodeCallCursor, decodeServerCursor } from './cursor.js';

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

/** Default page size of the paginated lists (`GET /api/mcp/servers` and `…/:id/calls`). */
export const DEFAULT_PAGE_SIZE = 50;

/** Largest page of the paginated lists (`MAX_SERVER_PAGE`, 200). */
export const MAX_PAGE_SIZE = MAX_SERVER_PAGE;

/** `?limit=` of a paginated list: 1–{@link MAX_PAGE_SIZE}, default {@link DEFAULT_PAGE_SIZE}. */
function pageLimit(what: string) {
  const rule = `limit must be an integer from 1 to ${MAX_PAGE_SIZE}`;
  return z.coerce
    .number({ error: rule })
    .int(rule)
    .min(1, rule)
    .max(MAX_PAGE_SIZE, rule)
    .default(DEFAULT_PAGE_SIZE)
    .meta({
      description: `How many ${what} at most in this page (1–${MAX_PAGE_SIZE}, default ${DEFAULT_PAGE_SIZE}).`,
    });
}

const CURSOR_DESCRIPTION =
  'Where the page starts: the `nextCursor` of the previous page, passed back as it is (opaque). ' +
  'Leave it out for the first page.';

/**
 * Query of `GET /api/mcp/servers`: the scope, `limit` (1–200, default 50) and `cursor` (the
 * previous page's `nextCursor`).
 */
export const serversQuery = scopeQuery.extend({
  limit: pageLimit('servers'),
  cursor: cursorParam(decodeServerCursor, CURSOR_DESCRIPTION),
});

/**
 * Query of `GET /api/mcp/servers/:id/calls`: the scope, `limit` (1–200, default 50) and `cursor`
 * (the previous page's `nextCursor`).
 */
export const callsQuery = scopeQuery.extend({
  limit: pageLimit('calls'),
  cursor: cursorParam(decodeCallCursor, CURSOR_DESCRIPTION),
});

const NEXT_CURSOR_DESCRIPTION =
  'Pass it as `cursor` to get the next page; null when this page is the last.';

/** Body of `POST /api/users`. */
export const createUserBody = z.strictObject({
  name: z.string().trim().min(1, 'name is required').max(200, 'name is at most 200 characters'),
  email: z
    .email('email must be an email address')
    .max(320, 'email is at most 320 characters')
    .transform((email) => email.toLowerCase()),
  role: z.enum(USER_ROLES).default('user'),
});

/** A token's label: trimmed, at most 100 characters, default empty. */
const tokenLabel = z.string().trim().max(100, 'label is at most 100 characters').default('');

/** One entry of `scopes`: `api`, `gateway` or `server:<id>` (a positive id, no leading zero). */
const SCOPE_PATTERN = /^(?:api|gateway|server:[1-9][0-9]{0,9})$/;

/** A scope as an error message quotes it: JSON, cut to 40 characters. */
function quoteScope(scope: string): string {
  return JSON.stringify(scope.length > 40 ? `${scope.slice(0, 40)}…` : scope);
}

/**
 * `scopes` of `POST /api/tokens` (issue 15): a non-empty list of `api` (the REST API, status
 * endpoints, status stream, metrics), `gateway` (the MCP gateway, `/mcp`) and `server:<id>`
 * (limits the gateway to those servers; needs `gateway`, and excludes `api`, whose REST API
 * reaches every server). Duplicates are dropped, the first of each kept in place. Whether each
 * named server is the caller's is checked by the route (422).
 */
export const tokenScopes = z
  .array(z.string({ error: 'each scope must be a string' }), {
    error: 'scopes must be a list of strings, e.g. ["gateway"]',
  })
  .min(1, 'scopes must not be empty: leave it out for an unrestricted token')
  .max(100, 'scopes holds at most 100 entries')
  .superRefine((scopes, ctx) => {
    scopes.forEach((scope, index) => {
      if (!SCOPE_PATTERN.test(scope)) {
        ctx.addIssue({
          code: 'custom',
          path: [index],
          message: `unknown scope ${quoteScope(scope)}: a scope is "api", "gateway" or "server:<id>" (e.g. "server:12")`,
        });
      }
    });
    const servers = scopes.filter(
      (scope) => SCOPE_PATTERN.test(scope) && scope.startsWith('server:'),
    );
    if (servers.length === 0) return;
    if (!scopes.includes('gateway')) {
      ctx.addIssue({
        code: 'custom',
        message:
          `scopes names servers (${servers.join(', ')}) but not "gateway": server scopes ` +
          'limit the MCP gateway, so add "gateway"',
      });
    }
    if (scopes.includes('api')) {
      ctx.addIssue({
        code: 'custom',
        message:
          'scopes cannot combine "api" with server scopes: the REST API reaches all your ' +
          'servers, so a token limited to some servers must be gateway-only (drop "api")',
      });
    }
  })
  .transform((scopes) => [...new Set(scopes)])
  .meta({
    description:
      'What the token opens; leave it out for an unrestricted token (the REST API and the MCP ' +
      'gateway). `api`: the REST API, the status endpoints and stream, and `/metrics`. ' +
      '`gateway`: the MCP gateway (`/mcp`). `server:<id>`: limits the gateway to these of your ' +
      'servers (needs `gateway`; not with `api`). A server that is not yours is a 422. ' +
      'Duplicates are dropped.',
    example: ['gateway'],
  });

/** Body of `POST /api/tokens` (optional): a label, and the scopes (default unrestricted). */
export const createTokenBody = z.strictObject({
  label: tokenLabel,
  scopes: tokenScopes.optional(),
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

/** `:room` of a LiveKit room route. */
export const roomParams = z.object({
  room: z.string({ error: ROOM_NAME_RULE }).regex(LIVEKIT_ROOM_NAME, ROOM_NAME_RULE),
});

const AFTER_RULE = 'after must be an integer from 0 to 2147483647';

/**
 * Query of `GET /api/livekit/rooms/:room/calls`: the scope, `after` (the last call id seen;
 * default 0) and `limit` (1–200, default 100).
 */
export const roomCallsQuery = scopeQuery.extend({
  after: z.coerce
    .number({ error: AFTER_RULE })
    .int(AFTER_RULE)
    .min(0, AFTER_RULE)
    .max(2147483647, AFTER_RULE)
    .default(0)
    .meta({ description: 'Only calls with a greater id: the last id already seen.' }),
  limit: z.coerce
    .number({ error: 'limit must be an integer from 1 to 200' })
    .int('limit must be an integer from 1 to 200')
    .min(1, 'limit must be an integer from 1 to 200')
    .max(200, 'limit must be an integer from 1 to 200')
    .default(100)
    .meta({ description: 'How many calls, oldest first (1–200).' }),
});

/** Answer of `POST /api/livekit/token`: a LiveKit access token and where to use it. */
export const livekitTokenResource = z
  .object({
    token: z.string().meta({
      description:
        'A LiveKit access token (JWT) to join `room`, dispatching the agent with the caller ' +
        'as its user when the join creates the room.',
    }),
    url: z.string().meta({ description: 'The LiveKit server to connect to (`LIVEKIT_URL`).' }),
    room: z.string().meta({ description: 'The room the token joins.' }),
  })
  .meta({ id: 'LivekitToken' });

/** A user as the API shows it: a `users` row. */
export const userResource = createSelectSchema(users, { createdAt: isoDate }).meta({ id: 'User' });

/** A token as `GET /api/tokens` lists it: an `api_tokens` row without its owner or hash. */
export const tokenResource = createSelectSchema(apiTokens, {
  createdAt: isoDate,
  lastUsedAt: isoDate.nullable().meta({ description: 'Kept to the minute.' }),
  revokedAt: isoDate.nullable(),
  scopes: z
    .array(z.string())
    .nullable()
    .meta({
      description:
        'What the token opens: null for everything (the REST API and the MCP gateway); else ' +
        '`api` (the REST API and status endpoints), `gateway` (the MCP gateway, `/mcp`) and ' +
        '`server:<id>` (the gateway limited to those servers).',
    }),
})
  .omit({ userId: true, tokenHash: true })
  .meta({ id: 'Token' });

/** Answer of `POST /api/tokens`: the new token, shown this once. */
export const createdToken = tokenResource
  .pick({ id: true, label: true, createdAt: true, scopes: true })
  .extend({
    token: z.string().meta({ description: 'The bearer token. Shown once; only its hash is kept.' }),
  })
  .meta({ id: 'CreatedToken' });

/** Body of `POST /api/widget-tokens` (optional): a label for the list. */
export const createWidgetTokenBody = z.strictObject({ label: tokenLabel });

/** A widget token as `GET /api/widget-tokens` lists it: a row without its owner or hash. */
export const widgetTokenResource = createSelectSchema(widgetTokens, {
  createdAt: isoDate,
  lastUsedAt: isoDate.nullable().meta({ description: 'Kept to the minute.' }),
  revokedAt: isoDate.nullable(),
})
  .omit({ userId: true, tokenHash: true })
  .meta({ id: 'WidgetToken' });

/** Answer of `POST /api/widget-tokens`: the new widget token, shown this once. */
export const createdWidgetToken = widgetTokenResource
  .pick({ id: true, label: true, createdAt: true })
  .extend({
    token: z.string().meta({
      description:
        'The read-only widget token (`sbw_…`). Shown once; only its hash is kept. It opens ' +
        '`GET /api/widget/status` and `/widget/status#token=…`, and no other route.',
    }),
  })
  .meta({ id: 'CreatedWidgetToken' });

/** Answer of `POST /api/users`: the user and their first token, shown this once. */
export const createdUser = z
  .object({
    user: userResource,
    token: z.string().meta({ description: "The new user's API token. Shown once." }),
  })
  .meta({ id: 'CreatedUser' });

/** One row of `GET /api/mcp/servers/:id/calls`: a `tool_calls` row. Arguments are never stored. */
export const toolCallResource = createSelectSchema(toolCalls, {
  toolName: (name) => name.meta({ description: 'The MCP name of the tool.' }),
  startedAt: isoDate,
  source: (source) =>
    source.meta({
      description:
        'Who made the call: `agent` (a voice session) or `gateway` (an MCP client through the ' +
        'MCP gateway, `/mcp`).',
    }),
  tokenLabel: (label) =>
    label.meta({
      description: 'For a gateway call: the label of the API token it was made with; else null.',
    }),
})
  .omit({ userId: true })
  .meta({ id: 'ToolCall' });

/** One row of `GET /api/livekit/rooms/:room/calls`: a tool call and its server's name. */
export const roomToolCallResource = toolCallResource
  .extend({
    serverName: z
      .string()
      .nullable()
      .meta({ description: "The server's name now; null when it was deleted." }),
  })
  .meta({ id: 'RoomToolCall' });

/**
 * A secret as responses show it. Without an id: the generator writes a nullable reference as
 * `allOf` with `null`, which no `null` satisfies, so it stays inline.
 */
export const maskedSecret = z.object({
  set: z.literal(true),
  last4: z.string().meta({ description: 'Empty for secrets under 12 characters.' }),
});

/**
 * A stored MCP server as the API shows it: an `mcp_servers` row with its secrets (`env` and
 * `headers` values, `apiKey`, the `auth` secret) masked.
 */
export const serverResource = createSelectSchema(mcpServers, {
  args: z.array(z.string()),
  sandbox: sandboxConfigSchema.meta({
    description:
      "A stdio server's sandbox: `network` (`none`, `outbound` (default) or `host`), " +
      '`allowDomains` (with `outbound` only: host names such as `example.com`, no scheme, port, ' +
      'path, wildcard or IP address; the server then reaches only what they resolve to, and ' +
      'resolves no other name), `mounts` of host folders (`hostPath`, `path`, `writable`) and `limits` ' +
      '(`memoryMb`, `processes`, `openFiles`). `{}` for remote servers.',
  }),
  env: z.record(z.string(), maskedSecret),
  headers: z.record(z.string(), maskedSecret),
  apiKey: maskedSecret.nullable(),
  auth: z.looseObject({ type: z.string() }),
  toolFilter: z.object({ allow: z.array(z.string()), deny: z.array(z.string()) }).partial(),
  toolPolicy: z
    .object({
      confirm: z.enum(['destructive', 'always', 'never']),
      longRunning: z.union([z.literal('all'), z.array(z.string())]),
      pinned: z.array(z.string()),
    })
    .partial()
    .meta({
      description:
        'How the agent treats the tools: `confirm` (default `destructive`) says which calls need ' +
        "the user's spoken yes; `longRunning` names tools (MCP names) that run in the background; " +
        '`pinned` names tools a session advertises first and keeps when the tool budget ' +
        '(`AGENT_MAX_TOOLS`) makes it choose.',
    }),
  adminManaged: (flag) =>
    flag.meta({
      description:
        'An admin set up or changed this server for its owner: the owner may enable, disable, ' +
        'rename, describe, time out or delete it, but not change its connection, secrets, tool ' +
        'filter, tool policy or `pinTools` (403).',
    }),
  pinTools: (flag) =>
    flag.meta({
      description:
        "Tool pinning (default true): each tool is pinned the first time the server's tools are " +
        'seen; a tool whose definition changed since, or a new tool, is withheld from voice ' +
        'sessions and the gateway until approved (`POST /api/mcp/servers/:id/tools/approve`). ' +
        'False: nothing is withheld and no pins are recorded (earlier pins are kept).',
    }),
  toolsPinnedAt: isoDate.nullable().meta({
    description: "When the server's tools were first pinned; null until they are.",
  }),
  lastConnected: isoDate.nullable(),
  accountChangedAt: isoDate.nullable().meta({
    description:
      'For an `oauth` server: when its owner last connected or disconnected their account.',
  }),
  metadata: z.record(z.string(), z.unknown()).meta({
    description:
      'What the status monitor learned the last time it connected: `serverInfo`, ' +
      '`protocolVersion`, `capabilities`, `instructions`, `toolCount` and `toolNames` (the ' +
      "tools the agent gets, after the server's tool filter), `serverToolCount` (before the " +
      'filter, when it leaves tools out), `latencyMs`, `transport` and `checkedAt`.',
  }),
  createdAt: isoDate,
  updatedAt: isoDate,
})
  // The stored hints are shown inside the masked secrets, not as a column of their own.
  .omit({ secretHints: true })
  .meta({ id: 'Server' });

/** Answer of `GET /api/mcp/servers`: one page of servers, oldest first. */
export const serverPage = z
  .object({
    items: z.array(serverResource),
    nextCursor: z.string().nullable().meta({ description: NEXT_CURSOR_DESCRIPTION }),
  })
  .meta({ id: 'ServerPage' });

/** Answer of `GET /api/mcp/servers/:id/calls`: one page of tool calls, newest first. */
export const toolCallPage = z
  .object({
    items: z.array(toolCallResource),
    nextCursor: z.string().nullable().meta({ description: NEXT_CURSOR_DESCRIPTION }),
  })
  .meta({ id: 'ToolCallPage' });

/** A tool as the agent advertises it to the model. */
export const advertisedTool = z
  .object({
    name: z.string().meta({ description: 'The name the model calls, `<server>__<tool>`.' }),
    originalName: z.string(),
    description: z.string(),
    parameters: z.record(z.string(), z.unknown()),
  })
  .meta({ id: 'AdvertisedTool' });

/** A text before and after, with its word diff (`TextChange` in `tool-pinning.ts`). */
const textChange = z
  .object({
    before: z
      .string()
      .nullable()
      .meta({ description: 'The pinned text; null when there was none.' }),
    after: z.string().nullable().meta({ description: 'The text now; null when there is none.' }),
    diff: z
      .array(z.object({ op: z.enum(['same', 'added', 'removed']), text: z.string() }))
      .meta({ description: 'Runs of words kept, removed and added, in order.' }),
  })
  .meta({ id: 'TextChange' });

/** What changed in a tool's input or output schema (`SchemaChanges` in `tool-pinning.ts`). */
const schemaChanges = z
  .object({
    presence: z.enum(['added', 'removed']).optional().meta({
      description: '`added`: the tool had no such schema before; `removed`: it has none now.',
    }),
    added: z.array(z.string()).meta({ description: 'Properties added.' }),
    removed: z.array(z.string()).meta({ description: 'Properties removed.' }),
    changed: z.array(z.string()).meta({ description: 'Properties whose schema changed.' }),
    requiredAdded: z.array(z.string()),
    requiredRemoved: z.array(z.string()),
    otherKeywords: z
      .array(z.string())
      .meta({ description: 'Other top-level keywords whose value changed.' }),
  })
  .meta({ id: 'SchemaChanges' });

/** What changed in a tool against its pin (`ToolChanges` in `tool-pinning.ts`). */
export const toolChanges = z
  .object({
    title: textChange.optional(),
    description: textChange.optional(),
    inputSchema: schemaChanges.optional(),
    outputSchema: schemaChanges.optional(),
    annotations: z
      .object({
        before: z.record(z.string(), z.unknown()).nullable(),
        after: z.record(z.string(), z.unknown()).nullable(),
      })
      .optional(),
  })
  .meta({ id: 'ToolChanges', description: 'Only the parts that changed are present.' });

/** A tool as `GET /api/mcp/servers/:id/tools` lists it. */
export const sessionTool = advertisedTool
  .extend({
    needsConfirmation: z.boolean().meta({
      description: "True when a call waits for the user's spoken yes (the server's tool policy).",
    }),
    pinState: z
      .enum(['pinned', 'changed', 'new', 'off'])
      .optional()
      .meta({
        description:
          'How the tool stands against its pin: `pinned` (the approved definition), `changed` ' +
          "(it differs: see `changes`), `new` (it appeared after the server's tools were pinned), " +
          "or `off` (the server's `pinTools` is false). Absent on the tools Switchboard adds " +
          'itself (`<server>__confirm_action`, `<server>__withheld_tools`, and the resource ' +
          'tools `<server>__list_resources`, `…__list_resource_templates`, `…__read_resource`).',
      }),
    withheld: z
      .boolean()
      .optional()
      .meta({
        description:
          'True when voice sessions and the gateway do not offer the tool until it is approved ' +
          '(`changed` or `new` with `pinTools` on).',
      }),
    hash: z
      .string()
      .optional()
      .meta({
        description:
          "SHA-256 of the tool's definition as it is now; give it with the name to `approve` to " +
          'approve exactly this definition.',
      }),
    changes: toolChanges.optional(),
  })
  .meta({ id: 'SessionTool' });

/** Body of `POST /api/mcp/servers/:id/tools/approve`. */
export const approveToolsBody = z.strictObject({
  tools: z
    .array(
      z.union([
        z.string().min(1).max(128),
        z.strictObject({
          name: z.string().min(1).max(128),
          hash: z
            .string()
            .regex(/^[0-9a-f]{64}$/, 'hash must be 64 lower-case hex digits (SHA-256)'),
        }),
      ]),
    )
    .min(1, 'name at least one tool')
    .max(1000, 'at most 1000 tools at once')
    .meta({
      description:
        'MCP names of the tools to approve as they are now, or `{name, hash}` to approve only ' +
        'the definition with that `hash` (as `GET …/tools` showed it): 409 when it changed again.',
    }),
  userToken: z
    .string()
    .min(1)
    .max(4096)
    .optional()
    .meta({
      description:
        "A user's token to list the tools of a `user-token` server with (required for one: " +
        'Switchboard holds no token of its own for it). Never stored.',
    }),
});

/** Answer of `POST /api/mcp/servers/:id/test`. */
export const testResult = z
  .discriminatedUnion('status', [
    z.object({
      status: z.literal('connected'),
      serverInfo: z.object({ name: z.string(), version: z.string() }).optional(),
      transport: z.string(),
      toolCount: z
        .number()
        .int()
        .meta({ description: "Tools the agent gets, after the server's tool filter." }),
      tools: z.array(advertisedTool),
      truncated: z.boolean(),
      latencyMs: z.number(),
    }),
    z.object({ status: z.literal('error'), error: z.string(), latencyMs: z.number() }),
  ])
  .meta({ id: 'TestResult' });

const componentStatus = z.looseObject({
  status: z.string(),
  detail: z.string(),
  latencyMs: z.number().optional(),
});

/** Answer of `GET /api/health`. */
export const healthResource = z
  .object({ status: z.literal('ok'), timestamp: isoDate })
  .meta({ id: 'Health' });

/** Answer of `GET /api/status`. */
export const statusResource = z
  .object({
    livekit: componentStatus,
    openai: componentStatus,
    mcp: componentStatus,
    database: componentStatus,
    latencyMs: z.number().meta({ description: 'Milliseconds this server took to answer.' }),
    timestamp: isoDate,
  })
  .meta({ id: 'Status' });

/** Overall words of `GET /api/widget/status`. */
export const WIDGET_OVERALL = ['ok', 'degraded', 'down'] as const;

const widgetPart = (statuses: readonly [string, ...string[]]) =>
  z.object({
    status: z.enum(statuses),
    detail: z.string().meta({ description: 'A fixed short sentence; never an error text.' }),
  });

/** One server as the widget shows it: no URL, command, headers, secret or error text. */
export const widgetServer = z
  .object({
    name: z.string(),
    status: z.enum([...CONNECTION_STATUSES, 'disabled']).meta({
      description: 'The connection status (DESIGN §5), or `disabled` for a server turned off.',
    }),
    toolCount: z.number().int().nullable().meta({ description: 'Tools the agent gets.' }),
    latencyMs: z
      .number()
      .nullable()
      .meta({ description: 'Round trip of the last check, in milliseconds.' }),
    lastConnected: isoDate.nullable(),
  })
  .meta({ id: 'WidgetServer' });

/** Answer of `GET /api/widget/status`. */
export const widgetStatusResource = z
  .object({
    status: z.enum(WIDGET_OVERALL).meta({
      description:
        '`down` (HTTP 503): the database, LiveKit or OpenAI check fails, or every enabled MCP ' +
        'server is in `error`. `degraded` (200): some enabled server is not `connected`, or ' +
        'the OpenAI realtime endpoint refuses sessions (they fall back to the pipeline). `ok` ' +
        '(200): otherwise. Unconfigured parts and disabled servers do not count.',
    }),
    detail: z.string().meta({ description: 'One sentence saying why.' }),
    checkedAt: isoDate,
    parts: z.object({
      database: widgetPart(['connected', 'error']),
      livekit: widgetPart(['connected', 'unconfigured', 'error']),
      openai: widgetPart(['connected', 'unconfigured', 'error']),
      mcp: widgetPart(['connected', 'degraded', 'disconnected', 'ready']),
    }),
    servers: z.array(widgetServer).meta({ description: "The token owner's servers, by name." }),
  })
  .meta({ id: 'WidgetStatus' });

/** The answer of `POST /api/mcp/servers/:id/oauth/start`. */
export const oauthStartResource = z
  .object({
    authorizationUrl: z.string().meta({
      description:
        "The authorization server's page to send the browser to; it comes back to " +
        '`<PUBLIC_URL>/api/oauth/callback`.',
    }),
  })
  .meta({ id: 'OAuthStart' });

/** The answer of `DELETE /api/mcp/servers/:id/oauth`. */
export const oauthDisconnectResource = z
  .object({
    revoked: z.boolean().meta({
      description: 'Whether the authorization server confirmed the revocation (RFC 7009).',
    }),
    detail: z.string().meta({ description: 'What happened, in words.' }),
  })
  .meta({ id: 'OAuthDisconnect' });

/** The query of `GET /api/oauth/callback` (RFC 6749 §4.1.2, RFC 9207). */
export const oauthCallbackQuery = z.looseObject({
  code: z.string().max(4096).optional(),
  state: z.string().max(512).optional(),
  iss: z.string().max(2048).optional(),
  error: z.string().max(256).optional(),
  error_description: z.string().max(2048).optional(),
});

/** The query of `GET /api/oauth/connect`: the link's nonce and the authorization URL. */
export const oauthConnectQuery = z.object({
  link: z.string().min(20).max(200),
  to: z.string().min(1).max(8192),
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
