/**
 * The shapes of the API's JSON the dashboard reads (README, "REST API"; the OpenAPI document at
 * `/api/openapi.json` is the full contract). Only the fields the page uses are typed.
 */

/** A stored secret as the API shows it: never the value. */
export interface MaskedSecret {
  set: boolean;
  last4: string;
}

/** A server's authentication as the API shows it (secrets masked). */
export interface ServerAuth {
  type: string;
  clientId?: string;
  tokenUrl?: string;
  scopes?: string[];
  algorithm?: string;
  tokenEndpointAuthMethod?: string;
  clientSecret?: MaskedSecret;
  privateKey?: MaskedSecret;
  [key: string]: unknown;
}

/** An MCP server of a user (`GET /api/mcp/servers`). */
export interface Server {
  id: number;
  name: string;
  description: string | null;
  transport: 'stdio' | 'streamable-http' | 'sse' | 'websocket';
  command?: string | null;
  args?: string[] | null;
  cwd?: string | null;
  env?: Record<string, MaskedSecret> | null;
  url?: string | null;
  headers?: Record<string, MaskedSecret> | null;
  apiKey?: MaskedSecret | null;
  auth?: ServerAuth | null;
  timeoutMs?: number;
  isActive: boolean;
  /** Tool pinning: changed and new tools wait for approval (default true). */
  pinTools?: boolean;
  adminManaged?: boolean;
  connectionStatus: string;
  lastError?: string | null;
  lastConnected?: string | null;
  toolFilter?: { allow?: string[]; deny?: string[] } | null;
  toolPolicy?: { confirm?: string; longRunning?: string[] | 'all' } | null;
  metadata?: { toolCount?: number; serverToolCount?: number; latencyMs?: number } | null;
}

/** A text before and after, with its word diff (`TextChange` in the API). */
export interface TextChange {
  before: string | null;
  after: string | null;
  diff: Array<{ op: 'same' | 'added' | 'removed'; text: string }>;
}

/** What changed in a tool's input or output schema (`SchemaChanges` in the API). */
export interface SchemaChanges {
  presence?: 'added' | 'removed';
  added: string[];
  removed: string[];
  changed: string[];
  requiredAdded: string[];
  requiredRemoved: string[];
  otherKeywords: string[];
}

/** What changed in a tool against its pin (`ToolChanges` in the API). */
export interface ToolChanges {
  title?: TextChange;
  description?: TextChange;
  inputSchema?: SchemaChanges;
  outputSchema?: SchemaChanges;
  annotations?: { before: Record<string, unknown> | null; after: Record<string, unknown> | null };
}

/** A tool as a session advertises it (`GET /api/mcp/servers/:id/tools`, `/test`). */
export interface Tool {
  name: string;
  originalName?: string;
  description?: string;
  needsConfirmation?: boolean;
  /** Tool pinning (issue 16), from `GET …/tools` only. */
  pinState?: 'pinned' | 'changed' | 'new' | 'off';
  withheld?: boolean;
  hash?: string;
  changes?: ToolChanges;
}

/** The answer of `POST /api/mcp/servers/:id/test`. */
export interface TestResult {
  status: 'connected' | 'error';
  transport?: string;
  latencyMs?: number;
  serverInfo?: { name: string; title?: string; version?: string };
  toolCount?: number;
  tools: Tool[];
  truncated?: boolean;
  error?: string;
}

/**
 * One page of a paginated list (`GET /api/mcp/servers`, `GET /api/mcp/servers/:id/calls`): pass
 * `nextCursor` back as `cursor` for the next page; null on the last one.
 */
export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

/** One audited tool call (`GET /api/mcp/servers/:id/calls`). */
export interface ToolCall {
  id: number;
  toolName: string;
  roomName: string | null;
  startedAt: string;
  durationMs: number | null;
  ok: boolean;
  error: string | null;
  /** Who made it: a voice session (`agent`) or an MCP client through the gateway. */
  source: 'agent' | 'gateway';
  /** For a gateway call: the label of the API token it was made with. */
  tokenLabel: string | null;
}

/** A part of the system status (`GET /api/status`). */
export interface PartStatus {
  status: string;
  detail?: string;
}

/** A user (`GET /api/users`, admins). */
export interface User {
  id: number;
  name: string;
  email: string;
  role: 'admin' | 'user';
  createdAt: string;
}

/** An API token (`GET /api/tokens`), never its value. */
export interface ApiToken {
  id: number;
  label: string | null;
  createdAt: string;
  lastUsedAt: string | null;
  revokedAt: string | null;
  /**
   * What an API token opens: null for everything, else `api`, `gateway` and `server:<id>`
   * entries. Absent for widget tokens, which open only the status widget.
   */
  scopes?: string[] | null;
}

/** A LiveKit room token (`POST /api/livekit/token`). */
export interface LivekitToken {
  token: string;
  url: string;
  room: string;
}

/** A tool call made in a room (`GET /api/livekit/rooms/:room/calls`). */
export interface RoomToolCall {
  id: number;
  serverId: number | null;
  serverName: string | null;
  toolName: string;
  roomName: string | null;
  sessionId: string | null;
  startedAt: string;
  durationMs: number;
  ok: boolean;
  error: string | null;
}
