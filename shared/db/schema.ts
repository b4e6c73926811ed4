/**
 * The drizzle schema of Switchboard's tables (DESIGN §3): `users`, `api_tokens`, `widget_tokens`,
 * `mcp_servers`, `tool_pins`, `tool_calls`, `voice_rooms`, and the OAuth tables `oauth_clients`,
 * `oauth_connections` and `oauth_flows`, and the API replicas' `monitor_replicas` and
 * `monitor_leases`. Migrations are generated from this file with
 * `npm run db:generate` (drizzle-kit) and committed under `shared/db/migrations`.
 */
import { sql } from 'drizzle-orm';
import {
  boolean,
  index,
  integer,
  jsonb,
  pgTable,
  primaryKey,
  serial,
  text,
  timestamp,
  uniqueIndex,
} from 'drizzle-orm/pg-core';
import {
  CONNECTION_STATUSES,
  TRANSPORTS,
  type SandboxConfig,
  type ServerAuth,
  type ToolFilter,
  type ToolPolicy,
  type TransportKind,
} from '../mcp/server-config.js';
import type { PinnedToolDefinition } from '../mcp/tool-pinning.js';
import type { SecretHints } from './server-secrets.js';

/** Roles a user can hold: an admin may act for any user, a user only for themself. */
export const USER_ROLES = ['admin', 'user'] as const;
export type UserRole = (typeof USER_ROLES)[number];

/** People who talk to the agent or administer servers. */
export const users = pgTable('users', {
  id: serial('id').primaryKey(),
  name: text('name').notNull(),
  email: text('email').notNull().unique(),
  role: text('role', { enum: USER_ROLES }).notNull().default('user'),
  createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
});

/**
 * What an API token may open (issue 15), the entries of `api_tokens.scopes`: `api` the REST API,
 * the status endpoints, the status stream and `/metrics`; `gateway` the MCP gateway (`/mcp`);
 * `server:<id>` limits the gateway to those of the owner's servers. Read with the helpers of
 * `shared/db/api-tokens.ts`; the API validates them (`createTokenBody`).
 */
export const TOKEN_SCOPE_WORDS = ['api', 'gateway'] as const;

/**
 * API bearer tokens; only the SHA-256 hash of a token is stored. `scopes` null: the token opens
 * everything (the REST API and the gateway), as every token made before scopes existed does;
 * otherwise a non-empty list of {@link TOKEN_SCOPE_WORDS} and `server:<id>` entries.
 */
export const apiTokens = pgTable(
  'api_tokens',
  {
    id: serial('id').primaryKey(),
    userId: integer('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    tokenHash: text('token_hash').notNull(),
    label: text('label').notNull().default(''),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    lastUsedAt: timestamp('last_used_at', { withTimezone: true }),
    revokedAt: timestamp('revoked_at', { withTimezone: true }),
    scopes: text('scopes').array(),
  },
  (t) => [uniqueIndex('api_tokens_token_hash_idx').on(t.tokenHash)],
);

/**
 * Read-only status widget tokens (`sbw_…`): they open `GET /api/widget/status` and the embeddable
 * `/widget/status` page for their owner, and nothing else. Only the SHA-256 hash is stored.
 */
export const widgetTokens = pgTable(
  'widget_tokens',
  {
    id: serial('id').primaryKey(),
    userId: integer('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    tokenHash: text('token_hash').notNull(),
    label: text('label').notNull().default(''),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    lastUsedAt: timestamp('last_used_at', { withTimezone: true }),
    revokedAt: timestamp('revoked_at', { withTimezone: true }),
  },
  (t) => [
    uniqueIndex('widget_tokens_token_hash_idx').on(t.tokenHash),
    index('widget_tokens_user_idx').on(t.userId),
  ],
);

/**
 * Authentication of a remote MCP server (DESIGN §3), the type of the `auth` column: derived from
 * the zod schema that validates it (`serverAuthSchema`), so the two cannot drift. A static bearer
 * token is the `apiKey` column. Its secret parts are sealed (`server-secrets.ts`).
 */
export type { ServerAuth };

/**
 * How a stdio server is sandboxed, the type of the `sandbox` column (DESIGN §9.3): its network,
 * what of the host it may see beyond the defaults, and its resource limits. Derived from the zod
 * schema that validates it (`sandboxConfigSchema`).
 */
export type { SandboxConfig };

/** What the status monitor learned about a server the last time it connected. */
export interface ServerMetadata {
  serverInfo?: { name: string; version: string; title?: string };
  protocolVersion?: string;
  capabilities?: Record<string, unknown>;
  instructions?: string;
  /** Tools the agent gets: those the server lists that pass the server's tool filter. */
  toolCount?: number;
  /** Their MCP names. */
  toolNames?: string[];
  /** Tools the server lists before the filter, when the filter leaves some out. */
  serverToolCount?: number;
  latencyMs?: number;
  /** The transport in use (`sse` when a `streamable-http` server fell back). */
  transport?: TransportKind;
  checkedAt?: string;
}

/**
 * The MCP servers each user has configured. A user's server names are unique regardless of case
 * (`mcp_servers_user_lower_name_idx` on `(user_id, lower(name))`): `everything` and `Everything`
 * would both become the tool prefix `everything__`, so the second is refused (409) rather than
 * given a hash-suffixed prefix.
 */
export const mcpServers = pgTable(
  'mcp_servers',
  {
    id: serial('id').primaryKey(),
    userId: integer('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    name: text('name').notNull(),
    description: text('description').notNull().default(''),
    transport: text('transport', { enum: TRANSPORTS }).notNull(),
    url: text('url'),
    command: text('command'),
    args: jsonb('args').$type<string[]>().notNull().default([]),
    cwd: text('cwd'),
    sandbox: jsonb('sandbox').$type<SandboxConfig>().notNull().default({}),
    env: jsonb('env').$type<Record<string, string>>().notNull().default({}),
    headers: jsonb('headers').$type<Record<string, string>>().notNull().default({}),
    apiKey: text('api_key'),
    auth: jsonb('auth').$type<ServerAuth>().notNull().default({ type: 'none' }),
    /**
     * What the API shows of each secret (its last 4 characters, or nothing for a short one),
     * computed when the secrets are written (`secretHintsOf` in `server-secrets.ts`) so that
     * listing servers opens no secret (issue 14). Null for a row written before the column
     * existed: the API fills it the first time it reads the row (`withSecretHints`).
     */
    secretHints: jsonb('secret_hints').$type<SecretHints>(),
    timeoutMs: integer('timeout_ms').notNull().default(30000),
    toolFilter: jsonb('tool_filter').$type<ToolFilter>().notNull().default({}),
    toolPolicy: jsonb('tool_policy').$type<ToolPolicy>().notNull().default({}),
    isActive: boolean('is_active').notNull().default(true),
    /**
     * Tool pinning (issue 16): when true (the default), each tool's definition is pinned the first
     * time the server's tools are seen (`tool_pins`), and a tool whose definition changed since,
     * or a tool that appeared since, is withheld from voice sessions and the gateway until the
     * owner or an admin approves it. When false nothing is withheld and no pins are recorded
     * (pins recorded before are kept, and apply again when it is turned back on).
     */
    pinTools: boolean('pin_tools').notNull().default(true),
    /**
     * When the server's tools were first pinned (trust on first use, `shared/db/tool-pins.ts`);
     * null until then. Set once, by whichever trusted path lists the tools first (a voice
     * session, the gateway, the status monitor, the Test button, the tool list), in the same
     * transaction as the pins, so two of them cannot pin different sets. Not configuration: it is
     * not part of a session's fingerprint of the server.
     */
    toolsPinnedAt: timestamp('tools_pinned_at', { withTimezone: true }),
    /**
     * True when an admin set the server up for another user (or changed its connection there):
     * its owner may then enable, disable, rename or delete it, but not change where it connects
     * or with which secrets (DESIGN §9.1).
     */
    adminManaged: boolean('admin_managed').notNull().default(false),
    connectionStatus: text('connection_status', { enum: CONNECTION_STATUSES })
      .notNull()
      .default('disconnected'),
    lastConnected: timestamp('last_connected', { withTimezone: true }),
    /**
     * When the owner last connected or disconnected their account on this `oauth` server (issue
     * 13); null otherwise. It is part of a session's fingerprint of the server, so connecting
     * the account mid-session reconnects the server with the new tokens (a token refresh does
     * not change it).
     */
    accountChangedAt: timestamp('account_changed_at', { withTimezone: true }),
    lastError: text('last_error'),
    metadata: jsonb('metadata').$type<ServerMetadata>().notNull().default({}),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    /** Set when the configuration changes; status writes leave it alone. */
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    uniqueIndex('mcp_servers_user_lower_name_idx').on(t.userId, sql`lower(${t.name})`),
    index('mcp_servers_active_idx').on(t.isActive),
    // Keyset pagination of one user's servers, oldest first (`listServerPage`).
    index('mcp_servers_user_id_idx').on(t.userId, t.id),
  ],
);

/**
 * The pinned definition of a tool as stored in `tool_pins.definition` (defined with the code that
 * hashes and compares it, `shared/mcp/tool-pinning.ts`).
 */
export type { PinnedToolDefinition };

/**
 * Tool pins (issue 16): the approved definition of each tool of a server, by its MCP name. A
 * tool whose current definition hashes differently is `changed`, a tool with no row is `new`;
 * both are withheld from voice sessions and the gateway while the server's `pin_tools` is on.
 * Rows are written on first use (`approved_by` null: trusted on first use) and by approvals
 * (`POST /api/mcp/servers/:id/tools/approve`, `approved_by` the approving user).
 */
export const toolPins = pgTable(
  'tool_pins',
  {
    serverId: integer('server_id')
      .notNull()
      .references(() => mcpServers.id, { onDelete: 'cascade' }),
    /** The tool's MCP name (as the server lists it, before any renaming for the model). */
    toolName: text('tool_name').notNull(),
    /** SHA-256 (hex) of the canonical JSON of {@link PinnedToolDefinition} (`toolHash`). */
    hash: text('hash').notNull(),
    /** The pinned definition, to show what changed against it. */
    definition: jsonb('definition').$type<PinnedToolDefinition>().notNull(),
    approvedAt: timestamp('approved_at', { withTimezone: true }).notNull().defaultNow(),
    /** Who approved it; null for a pin made on first use. */
    approvedBy: integer('approved_by').references(() => users.id, { onDelete: 'set null' }),
  },
  (t) => [primaryKey({ name: 'tool_pins_pkey', columns: [t.serverId, t.toolName] })],
);

/**
 * Who made a tool call: `agent` a voice session, `gateway` an MCP client through the gateway
 * (`/mcp`, issue 15) with one of the user's API tokens.
 */
export const TOOL_CALL_SOURCES = ['agent', 'gateway'] as const;
export type ToolCallSource = (typeof TOOL_CALL_SOURCES)[number];

/**
 * One row per tool call an agent session or the MCP gateway made; arguments are never stored.
 * `token_label` is the label of the API token a gateway call was made with (null for the agent).
 */
export const toolCalls = pgTable(
  'tool_calls',
  {
    id: serial('id').primaryKey(),
    userId: integer('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    serverId: integer('server_id').references(() => mcpServers.id, { onDelete: 'set null' }),
    toolName: text('tool_name').notNull(),
    roomName: text('room_name'),
    sessionId: text('session_id'),
    startedAt: timestamp('started_at', { withTimezone: true }).notNull(),
    durationMs: integer('duration_ms').notNull(),
    ok: boolean('ok').notNull(),
    error: text('error'),
    source: text('source', { enum: TOOL_CALL_SOURCES }).notNull().default('agent'),
    tokenLabel: text('token_label'),
  },
  (t) => [
    // A server's calls newest first, paged by (started_at, id) (`listToolCalls`).
    index('tool_calls_server_started_idx').on(t.serverId, t.startedAt, t.id),
    // The Voice page polls one room's calls after an id (`listRoomToolCalls`).
    index('tool_calls_room_id_idx').on(t.roomName, t.id),
  ],
);

/**
 * LiveKit rooms and the user each belongs to (DESIGN §9.5): a room belongs to the user it was
 * first minted for, and `POST /api/livekit/token` for a room owned by another user answers 404.
 */
export const voiceRooms = pgTable(
  'voice_rooms',
  {
    name: text('name').primaryKey(),
    userId: integer('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    lastUsedAt: timestamp('last_used_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [index('voice_rooms_user_idx').on(t.userId)],
);

/**
 * Client registrations with OAuth authorization servers made by Dynamic Client Registration
 * (RFC 7591), keyed by the authorization server's issuer and the redirect URI registered: a
 * registration is never used with another authorization server (MCP 2026-07-28, SEP-2352), and a
 * new `PUBLIC_URL` registers again. `client_information` is the sealed JSON of the registration
 * (it may hold a client secret).
 */
export const oauthClients = pgTable(
  'oauth_clients',
  {
    id: serial('id').primaryKey(),
    issuer: text('issuer').notNull(),
    redirectUri: text('redirect_uri').notNull(),
    clientInformation: text('client_information').notNull(),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [uniqueIndex('oauth_clients_issuer_redirect_idx').on(t.issuer, t.redirectUri)],
);

/**
 * A user's connected account on an `oauth` server (issue 13): the tokens (sealed JSON), when the
 * access token expires, the issuer they came from, and the discovery result (public metadata).
 * `reason` is set when the tokens can no longer be used (a refresh refused, more consent
 * needed): the server then shows `needs_authorization` with it.
 */
export const oauthConnections = pgTable('oauth_connections', {
  serverId: integer('server_id')
    .primaryKey()
    .references(() => mcpServers.id, { onDelete: 'cascade' }),
  userId: integer('user_id')
    .notNull()
    .references(() => users.id, { onDelete: 'cascade' }),
  issuer: text('issuer'),
  tokens: text('tokens'),
  expiresAt: timestamp('expires_at', { withTimezone: true }),
  discovery: jsonb('discovery'),
  reason: text('reason'),
  connectedAt: timestamp('connected_at', { withTimezone: true }),
  updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
});

/**
 * Authorizations under way: one row per `POST /api/mcp/servers/:id/oauth/start`, found by the
 * SHA-256 of its `state`, used once by the callback (deleted as it is read) and valid for 10
 * minutes. It binds the state to the user, the server, the issuer discovered, the PKCE verifier
 * (sealed) and the browser that started it (the SHA-256 of a nonce kept in an HttpOnly cookie),
 * so a link sent to someone else cannot finish it.
 */
export const oauthFlows = pgTable(
  'oauth_flows',
  {
    stateHash: text('state_hash').primaryKey(),
    userId: integer('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    serverId: integer('server_id')
      .notNull()
      .references(() => mcpServers.id, { onDelete: 'cascade' }),
    issuer: text('issuer'),
    codeVerifier: text('code_verifier').notNull(),
    redirectUri: text('redirect_uri').notNull(),
    browserHash: text('browser_hash').notNull(),
    expiresAt: timestamp('expires_at', { withTimezone: true }).notNull(),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [index('oauth_flows_expires_idx').on(t.expiresAt)],
);

/**
 * The API processes (replicas) sharing this database's status monitoring, each with the time its
 * heartbeat runs out (`server/status/leases.ts`): a replica whose row expired is presumed dead. The
 * live ones divide the active servers between them.
 */
export const monitorReplicas = pgTable('monitor_replicas', {
  /** `<host>:<pid>:<random>`, new for each process. */
  id: text('id').primaryKey(),
  expiresAt: timestamp('expires_at', { withTimezone: true }).notNull(),
});

/**
 * Which replica watches which server: at most one row per server, held by `holder` (a
 * `monitor_replicas.id`) until `expires_at`, renewed by its holder every third of the lease. An
 * expired lease may be taken by another replica (`server/status/leases.ts`).
 */
export const monitorLeases = pgTable(
  'monitor_leases',
  {
    serverId: integer('server_id')
      .primaryKey()
      .references(() => mcpServers.id, { onDelete: 'cascade' }),
    holder: text('holder').notNull(),
    expiresAt: timestamp('expires_at', { withTimezone: true }).notNull(),
  },
  (t) => [index('monitor_leases_holder_idx').on(t.holder)],
);

export type User = typeof users.$inferSelect;
export type ApiToken = typeof apiTokens.$inferSelect;
export type WidgetToken = typeof widgetTokens.$inferSelect;
export type McpServerRow = typeof mcpServers.$inferSelect;
export type NewMcpServerRow = typeof mcpServers.$inferInsert;
export type ToolPinRow = typeof toolPins.$inferSelect;
export type ToolCallRow = typeof toolCalls.$inferSelect;
export type VoiceRoomRow = typeof voiceRooms.$inferSelect;
export type OAuthClientRow = typeof oauthClients.$inferSelect;
export type OAuthConnectionRow = typeof oauthConnections.$inferSelect;
export type OAuthFlowRow = typeof oauthFlows.$inferSelect;
