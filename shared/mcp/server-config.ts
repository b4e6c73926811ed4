/**
 * How to reach one MCP server: a zod discriminated union on `transport` (MCP spec,
 * "Transports"): a local `stdio` command, or a remote `streamable-http`, `sse` or `websocket`
 * URL with optional headers, API key and `auth` (OAuth 2.0 client credentials or the session
 * user's token; MCP spec 2025-11-25, "Authorization"). The same schema validates API input and
 * rows read back from the database.
 */
import { createPrivateKey, type KeyObject } from 'node:crypto';
import { isIP } from 'node:net';
import { z } from 'zod';
import { commandFormProblem } from './command-guard.js';
import { envNameRefusal } from './stdio-environment.js';

/** Default per-request timeout of an MCP server, in milliseconds. */
export const DEFAULT_TIMEOUT_MS = 30_000;

/** MCP transports a server can be reached over (MCP spec, "Transports"). */
export const TRANSPORTS = ['stdio', 'streamable-http', 'sse', 'websocket'] as const;
export type TransportKind = (typeof TRANSPORTS)[number];

/**
 * Connection statuses of an MCP server (DESIGN §5). `needs_authorization`: an `oauth` server
 * whose user has not connected their account, or whose tokens can no longer be refreshed.
 */
export const CONNECTION_STATUSES = [
  'disconnected',
  'connecting',
  'connected',
  'degraded',
  'error',
  'needs_authorization',
] as const;
export type ConnectionStatus = (typeof CONNECTION_STATUSES)[number];

/** Allow list or deny list of MCP tool names (original names, before prefixing). */
export interface ToolFilter {
  allow?: string[];
  deny?: string[];
}

/**
 * How the agent treats a server's tools. Tool names are the server's original MCP names.
 *
 * - `confirm`: which calls need the user's spoken yes first. `destructive` (the default): tools
 *   whose MCP annotations say `destructiveHint: true` and not `readOnlyHint: true`; `always`:
 *   every tool; `never`: none.
 * - `longRunning`: tools that run in the background (the conversation goes on, the result is
 *   spoken when it arrives, the user can cancel by voice); `all` for every tool. Tools whose
 *   `execution.taskSupport` is `optional` or `required` count as long-running too.
 * - `pinned`: tools a session advertises before all others and drops last when the user's tools
 *   exceed `AGENT_MAX_TOOLS` (`agent/tool-budget.ts`); names that match no tool are ignored.
 */
export interface ToolPolicy {
  confirm?: 'destructive' | 'always' | 'never';
  longRunning?: string[] | 'all';
  pinned?: string[];
}

const timeoutMs = z
  .number()
  .int()
  .min(100, 'timeoutMs must be at least 100 ms')
  .max(600_000, 'timeoutMs must be at most 600000 ms (10 minutes)')
  .default(DEFAULT_TIMEOUT_MS);

/** Error map of a required string: `missing` when absent, zod's own message otherwise. */
function requiredString(missing: string) {
  return (issue: { input?: unknown }) => (issue.input === undefined ? missing : undefined);
}

/**
 * A record of strings whose keys must match `namePattern`. A bad key is reported at its own path
 * with `rule` and the key itself (zod's own record-key issue only says "Invalid key in record").
 */
function namedStringRecord(namePattern: RegExp, rule: string) {
  return z.record(z.string(), z.string()).superRefine((record, ctx) => {
    for (const name of Object.keys(record)) {
      if (!namePattern.test(name)) {
        ctx.addIssue({ code: 'custom', path: [name], message: `${rule}: ${JSON.stringify(name)}` });
      }
    }
  });
}

/**
 * Control characters no HTTP field value may hold (RFC 9110 §5.5: a field value is visible
 * characters, spaces and horizontal tabs): CR and LF would split the header, NUL and the others
 * are refused by HTTP clients only when the request is made, far from where they were typed.
 */
// eslint-disable-next-line no-control-regex -- finding control characters is the point
const FIELD_VALUE_CONTROL = /[\x00-\x08\x0A-\x1F\x7F]/;

/** RFC 9110 §5.1 field names: `token` characters only; values without control characters. */
const headerRecord = namedStringRecord(
  /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/,
  "header names must be HTTP tokens (letters, digits and !#$%&'*+-.^_`|~)",
).superRefine((headers, ctx) => {
  for (const [name, value] of Object.entries(headers)) {
    if (FIELD_VALUE_CONTROL.test(value)) {
      ctx.addIssue({
        code: 'custom',
        path: [name],
        message:
          'header values must not contain line breaks or other control characters (tab is allowed)',
      });
    }
  }
});

/**
 * A stdio server's `env`: shell-safe names, none that changes how programs are found or loaded
 * (`envNameRefusal`: `PATH`, `NODE_OPTIONS`, `LD_PRELOAD`, …), and values without NUL (execve
 * strings end at it). Rows read back are checked too, so a stored refused name never starts.
 */
const envRecord = namedStringRecord(
  /^[A-Za-z_][A-Za-z0-9_]*$/,
  'env names must be shell-safe (letters, digits and _, not starting with a digit)',
).superRefine((env, ctx) => {
  for (const [name, value] of Object.entries(env)) {
    const refusal = envNameRefusal(name);
    if (refusal) {
      ctx.addIssue({
        code: 'custom',
        path: [name],
        message: `env ${name} is refused: ${refusal}; remove it (Switchboard sets PATH, HOME and the locale itself)`,
      });
    }
    if (value.includes('\0')) {
      ctx.addIssue({ code: 'custom', path: [name], message: 'env values must not contain NUL' });
    }
  }
});

/** Networks a sandboxed stdio server can be given (DESIGN §9.3). */
export const SANDBOX_NETWORKS = ['none', 'outbound', 'host'] as const;
export type SandboxNetwork = (typeof SANDBOX_NETWORKS)[number];

const absolutePath = z
  .string()
  .min(1)
  .max(4096)
  .refine((value) => value.startsWith('/'), 'must be an absolute path')
  .refine((value) => !value.includes('\0'), 'must not contain NUL');

/** A host directory or file an admin grants a sandboxed stdio server. */
export const sandboxMountSchema = z.strictObject({
  /** The path on the host. */
  hostPath: absolutePath,
  /** Where it appears inside the sandbox; default the same path. */
  path: absolutePath.optional(),
  /** Whether the server may write to it; default read-only. */
  writable: z.boolean().default(false),
});
export type SandboxMount = z.infer<typeof sandboxMountSchema>;

/** One DNS label of a host name (RFC 1123 §2.1), lower case: letters, digits, inner hyphens. */
const HOST_LABEL = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

/**
 * Why `value` is not a valid `allowDomains` entry, or `undefined` when it is one. An entry is one
 * fully qualified host name as DNS spells it (RFC 1123 §2.1): lower-case labels of letters,
 * digits and inner hyphens, 1 to 63 characters each, at least two of them, joined by dots, at
 * most 253 characters, the last label not all digits. No scheme, port, path, user, trailing dot,
 * wildcard (`*.example.com`: list each host name instead) or IP address (the allow-list is of
 * names; an address is reached only as what a listed name resolves to).
 *
 * @param value the entry as given.
 * @returns e.g. `write the host name only: "example.com", not "https://example.com/"`.
 */
export function allowDomainProblem(value: string): string | undefined {
  const example = `write a host name such as "example.com"`;
  if (value === '') return `an entry is empty: ${example}`;
  // First, so the patterns below never see a long string.
  if (value.length > 253) return `"${value.slice(0, 40)}…" is longer than 253 characters`;
  if (value.includes('://') || /[/?#@]/.test(value)) {
    const host = /^(?:[a-z][a-z0-9+.-]*:\/\/)?(?:[^@/?#]*@)?([^:/?#]+)/i.exec(value)?.[1];
    return `write the host name only: "${host?.toLowerCase() ?? 'example.com'}", not "${value}"`;
  }
  if (value.includes('*')) {
    return `wildcards are not supported: list each host name (e.g. "api.example.com") instead of "${value}"`;
  }
  const bracketed = /^\[(.*)\](?::\d*)?$/.exec(value)?.[1];
  if (isIP(bracketed ?? value) || isIP(value.replace(/:\d*$/, ''))) {
    return `IP addresses are not allowed, only host names: ${example} instead of "${value}"`;
  }
  if (/:\d*$/.test(value)) {
    return `leave out the port: "${value.replace(/:\d*$/, '')}", not "${value}" (every port of an allowed host is open)`;
  }
  if (value !== value.toLowerCase())
    return `write host names in lower case: "${value.toLowerCase()}"`;
  if (value.endsWith('.')) return `leave out the trailing dot: "${value.replace(/\.+$/, '')}"`;
  const labels = value.split('.');
  if (labels.length < 2) {
    return `"${value}" is not a fully qualified host name (it has no dot): ${example}`;
  }
  if (!labels.every((label) => HOST_LABEL.test(label))) {
    return `"${value}" is not a host name: ${example} (lower-case letters, digits, hyphens and dots)`;
  }
  if (/^\d+$/.test(labels.at(-1)!)) {
    return `IP addresses are not allowed, only host names: ${example} instead of "${value}"`;
  }
  return undefined;
}

/**
 * How a stdio server is sandboxed (DESIGN §9.3), the `sandbox` column: `network` (`none`: its
 * own empty network namespace; `outbound`: the internet but never the host's loopback or private
 * addresses, optionally only `allowDomains`; `host`: the host's network, explicit), `mounts` the
 * admin grants beyond what running the command needs, and resource `limits` (unset ones take the
 * settings' defaults). Every field is optional: `{}` is the default sandbox.
 *
 * `allowDomains` (host names, see {@link allowDomainProblem}) limits network `outbound` (the
 * default) to the addresses those names resolve to; it is refused with network `none` or `host`.
 * An empty list means no limit.
 */
export const sandboxConfigSchema = z
  .strictObject({
    network: z.enum(SANDBOX_NETWORKS).optional(),
    allowDomains: z
      .array(
        z.string().superRefine((value, ctx) => {
          const problem = allowDomainProblem(value);
          if (problem) ctx.addIssue({ code: 'custom', message: `allowDomains: ${problem}` });
        }),
      )
      .max(100)
      .optional(),
    mounts: z.array(sandboxMountSchema).max(32).optional(),
    limits: z
      .strictObject({
        /** Address space per process, in MiB. */
        memoryMb: z.int().min(64).max(1_048_576).optional(),
        /** Processes (and threads) the server may run at once. */
        processes: z.int().min(1).max(65_536).optional(),
        /** Open files per process. */
        openFiles: z.int().min(16).max(1_048_576).optional(),
      })
      .optional(),
  })
  .superRefine((sandbox, ctx) => {
    const network = sandbox.network ?? 'outbound';
    if (network !== 'outbound' && sandbox.allowDomains && sandbox.allowDomains.length > 0) {
      ctx.addIssue({
        code: 'custom',
        path: ['allowDomains'],
        message: `allowDomains applies only to network "outbound": with network "${network}" remove allowDomains, or set network "outbound" to allow only those domains`,
      });
    }
  });
export type SandboxConfig = z.infer<typeof sandboxConfigSchema>;

/** A local server started as a child process speaking JSON-RPC over stdin/stdout. */
export const stdioConfigSchema = z.object({
  transport: z.literal('stdio'),
  command: z
    .string({ error: requiredString('command is required for a stdio server') })
    .trim()
    .min(1, 'command is required for a stdio server')
    .superRefine((command, ctx) => {
      const problem = commandFormProblem(command);
      if (problem) ctx.addIssue({ code: 'custom', message: problem });
    }),
  args: z.array(z.string()).default([]),
  env: envRecord.default({}),
  cwd: z.string().min(1).optional(),
  /** How the server is sandboxed (`MCP_STDIO_SANDBOX=bwrap`); absent is the default sandbox. */
  sandbox: sandboxConfigSchema.optional(),
  timeoutMs,
});

/**
 * Why `value` is not an absolute URL, for field `field`; a value that looks like a host and
 * path without its scheme (`mcp.example.com/mcp`) gets the `https://` form to use.
 */
function absoluteUrlProblem(field: string, value: string): string {
  const withScheme = `https://${value}`;
  return /^[a-z0-9.-]+\.[a-z]{2,}(?::\d+)?(?:\/|$)/i.test(value) && URL.canParse(withScheme)
    ? `${field} must be an absolute URL with its scheme, such as ${JSON.stringify(withScheme)}`
    : `${field} must be an absolute URL, such as "https://mcp.example.com/mcp"`;
}

function remoteUrl(protocols: readonly string[]) {
  return z
    .string({ error: requiredString('url is required for a remote server') })
    .trim()
    .superRefine((value, ctx) => {
      if (!URL.canParse(value))
        ctx.addIssue({ code: 'custom', message: absoluteUrlProblem('url', value) });
    })
    .refine(
      (value) => !URL.canParse(value) || protocols.includes(new URL(value).protocol),
      `url must use ${protocols.map((p) => p.replace(':', '')).join(' or ')}`,
    );
}

/**
 * JWS algorithms a `private_key_jwt` client assertion may be signed with (RFC 7518 §3.1), with
 * the key each needs. These are the asymmetric ones the SDK's `createPrivateKeyJwtAuth` signs.
 */
export const JWT_ALGORITHMS = {
  RS256: { keyType: 'rsa' },
  RS384: { keyType: 'rsa' },
  RS512: { keyType: 'rsa' },
  PS256: { keyType: 'rsa' },
  PS384: { keyType: 'rsa' },
  PS512: { keyType: 'rsa' },
  ES256: { keyType: 'ec', curve: 'prime256v1' },
  ES384: { keyType: 'ec', curve: 'secp384r1' },
  ES512: { keyType: 'ec', curve: 'secp521r1' },
} as const satisfies Record<string, { keyType: string; curve?: string }>;
export type JwtAlgorithm = keyof typeof JWT_ALGORITHMS;

/** RFC 6749 §3.3 `scope-token`: printable ASCII without space, `"` or `\`. */
const scopeToken = z
  .string()
  .regex(
    /^[\x21\x23-\x5B\x5D-\x7E]+$/,
    'each scope must be one OAuth scope token (printable ASCII without spaces, quotes or backslashes)',
  );

const oauthFields = {
  clientId: z
    .string({ error: requiredString('clientId is required for OAuth') })
    .trim()
    .min(1, 'clientId is required for OAuth'),
  tokenUrl: z
    .string()
    .trim()
    .superRefine((value, ctx) => {
      if (!URL.canParse(value)) {
        ctx.addIssue({ code: 'custom', message: absoluteUrlProblem('tokenUrl', value) });
      }
    })
    .refine(
      (value) => !URL.canParse(value) || ['http:', 'https:'].includes(new URL(value).protocol),
      'tokenUrl must use http or https',
    )
    .optional(),
  scopes: z.array(scopeToken).optional(),
};

/** No authentication beyond `headers` and `apiKey`. */
export const noAuthSchema = z.strictObject({ type: z.literal('none') });

/**
 * OAuth 2.0 client credentials grant (RFC 6749 §4.4) with a client secret, sent as HTTP Basic
 * (`client_secret_basic`, the default) or in the form body (`client_secret_post`), RFC 6749
 * §2.3.1. Without `tokenUrl` the token endpoint is discovered (RFC 9728, then RFC 8414).
 */
export const clientCredentialsAuthSchema = z.strictObject({
  type: z.literal('oauth2-client-credentials'),
  ...oauthFields,
  clientSecret: z
    .string({ error: requiredString('clientSecret is required for oauth2-client-credentials') })
    .min(1, 'clientSecret is required for oauth2-client-credentials'),
  tokenEndpointAuthMethod: z
    .enum(['client_secret_basic', 'client_secret_post'])
    .default('client_secret_basic'),
});

/**
 * OAuth 2.0 client credentials grant authenticated with a JWT signed by the client's private key
 * (`private_key_jwt`, RFC 7523 §2.2). `privateKey` is a PKCS#8 PEM whose type fits `algorithm`.
 */
export const privateKeyJwtAuthSchema = z
  .strictObject({
    type: z.literal('oauth2-private-key-jwt'),
    ...oauthFields,
    privateKey: z
      .string({ error: requiredString('privateKey is required for oauth2-private-key-jwt') })
      .min(1, 'privateKey is required for oauth2-private-key-jwt'),
    algorithm: z.enum(Object.keys(JWT_ALGORITHMS) as [JwtAlgorithm, ...JwtAlgorithm[]], {
      error: `algorithm must be one of ${Object.keys(JWT_ALGORITHMS).join(', ')}`,
    }),
  })
  .superRefine((auth, ctx) => {
    const problem = privateKeyProblem(auth.privateKey, auth.algorithm);
    if (problem) ctx.addIssue({ code: 'custom', path: ['privateKey'], message: problem });
  });

/**
 * OAuth 2.1 authorization code with PKCE (MCP authorization, 2025-11-25 and later): each user
 * connects their own account in the browser, and their tokens are kept per user and server (not
 * in this config). The client is, in the spec's order of preference: the pre-registered
 * `clientId` (with `clientSecret` for a confidential client) when given; else Switchboard's
 * Client ID Metadata Document when the authorization server supports it; else Dynamic Client
 * Registration (RFC 7591). `scopes` overrides the spec's scope choice (the `WWW-Authenticate`
 * scope, else the resource's `scopes_supported`).
 */
export const authorizationCodeAuthSchema = z
  .strictObject({
    type: z.literal('oauth'),
    clientId: z.string().trim().min(1, 'clientId must not be empty').max(500).optional(),
    clientSecret: z.string().min(1, 'clientSecret must not be empty').optional(),
    tokenEndpointAuthMethod: z
      .enum(['client_secret_basic', 'client_secret_post', 'none'], {
        error: 'tokenEndpointAuthMethod must be client_secret_basic, client_secret_post or none',
      })
      .optional(),
    scopes: z.array(scopeToken).optional(),
  })
  .superRefine((auth, ctx) => {
    if (auth.clientSecret !== undefined && auth.clientId === undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['clientId'],
        message:
          'clientId is required with clientSecret: a client secret belongs to a pre-registered client',
      });
    }
    if (auth.tokenEndpointAuthMethod?.startsWith('client_secret_') && !auth.clientSecret) {
      ctx.addIssue({
        code: 'custom',
        path: ['clientSecret'],
        message: `clientSecret is required for tokenEndpointAuthMethod ${auth.tokenEndpointAuthMethod}`,
      });
    }
  });

/**
 * The user of the agent session is the one who authenticates: their token is sent as
 * `Authorization: Bearer <token>` and `X-User-Token: <token>` (seed 003, "MCP Auth Utils").
 */
export const userTokenAuthSchema = z.strictObject({ type: z.literal('user-token') });

/** How Switchboard authenticates to a remote server, discriminated on `type`. */
export const serverAuthSchema = z.discriminatedUnion('type', [
  noAuthSchema,
  clientCredentialsAuthSchema,
  privateKeyJwtAuthSchema,
  authorizationCodeAuthSchema,
  userTokenAuthSchema,
]);

/** The `auth` of a remote server as stored in the `auth` column (DESIGN §3). */
export type ServerAuth = z.infer<typeof serverAuthSchema>;
/** The two OAuth client credentials variants of {@link ServerAuth}. */
export type OAuthServerAuth = Extract<ServerAuth, { type: `oauth2-${string}` }>;
/** The authorization code variant of {@link ServerAuth}: each user connects their account. */
export type AuthorizationCodeAuth = Extract<ServerAuth, { type: 'oauth' }>;

/** Why a PEM cannot sign `algorithm` assertions, or undefined when it can. */
function privateKeyProblem(pem: string, algorithm: JwtAlgorithm): string | undefined {
  // The SDK imports the key with jose's importPKCS8, which takes PKCS#8 PEM only.
  if (!pem.includes('-----BEGIN PRIVATE KEY-----')) {
    return 'privateKey must be an unencrypted PKCS#8 PEM (-----BEGIN PRIVATE KEY-----)';
  }
  let key: KeyObject;
  try {
    key = createPrivateKey(pem);
  } catch {
    return 'privateKey is not a readable PEM private key';
  }
  const wanted: { keyType: string; curve?: string } = JWT_ALGORITHMS[algorithm];
  const keyType = key.asymmetricKeyType === 'rsa-pss' ? 'rsa' : key.asymmetricKeyType;
  if (
    keyType !== wanted.keyType ||
    (wanted.curve && key.asymmetricKeyDetails?.namedCurve !== wanted.curve)
  ) {
    const curve = wanted.curve ? ` on curve ${wanted.curve}` : '';
    return `privateKey must be an ${wanted.keyType.toUpperCase()} key${curve} to sign ${algorithm}`;
  }
  return undefined;
}

/**
 * Checks that a remote server's `auth` fits the rest of its config: OAuth needs a transport the
 * SDK can authorize (not WebSocket), and an `auth` that sets `Authorization` excludes `apiKey`
 * and a custom `Authorization` header (custom headers would win over the token, silently).
 */
function checkRemoteAuth(
  config: {
    transport: string;
    auth?: ServerAuth;
    apiKey?: string;
    headers: Record<string, string>;
  },
  ctx: z.RefinementCtx,
): void {
  const type = config.auth?.type ?? 'none';
  if (type === 'none') return;
  if (config.transport === 'websocket' && type.startsWith('oauth')) {
    ctx.addIssue({
      code: 'custom',
      path: ['auth', 'type'],
      message: `${type} is not supported over websocket: the MCP SDK authorizes only HTTP transports; use streamable-http or sse, or user-token, headers or apiKey`,
    });
  }
  if (config.apiKey !== undefined) {
    ctx.addIssue({
      code: 'custom',
      path: ['apiKey'],
      message: `apiKey cannot be combined with auth ${type}: both set the Authorization header`,
    });
  }
  const authorization = Object.keys(config.headers).find((name) => /^authorization$/i.test(name));
  if (authorization) {
    ctx.addIssue({
      code: 'custom',
      path: ['headers', authorization],
      message: `an Authorization header cannot be combined with auth ${type}, which sets it`,
    });
  }
}

const remoteFields = {
  headers: headerRecord.default({}),
  /** Sent as `Authorization: Bearer <apiKey>`, so it is a header value too. */
  apiKey: z
    .string()
    .min(1)
    .refine(
      (value) => !FIELD_VALUE_CONTROL.test(value),
      'apiKey must not contain line breaks or other control characters: it is sent in the Authorization header',
    )
    .optional(),
  /** Authentication beyond `headers`/`apiKey`; absent means `{ type: 'none' }`. */
  auth: serverAuthSchema.optional(),
  timeoutMs,
};

/** A remote server over Streamable HTTP (falls back to HTTP+SSE for older servers). */
export const streamableHttpConfigSchema = z
  .object({
    transport: z.literal('streamable-http'),
    url: remoteUrl(['http:', 'https:']),
    ...remoteFields,
  })
  .superRefine(checkRemoteAuth);

/** A remote server over the older HTTP+SSE transport (protocol version 2024-11-05). */
export const sseConfigSchema = z
  .object({
    transport: z.literal('sse'),
    url: remoteUrl(['http:', 'https:']),
    ...remoteFields,
  })
  .superRefine(checkRemoteAuth);

/** A remote server over WebSocket with the `mcp` subprotocol. */
export const websocketConfigSchema = z
  .object({
    transport: z.literal('websocket'),
    url: remoteUrl(['ws:', 'wss:']),
    ...remoteFields,
  })
  .superRefine(checkRemoteAuth);

/** Any server config, discriminated on `transport`. */
export const mcpServerConfigSchema = z.discriminatedUnion('transport', [
  stdioConfigSchema,
  streamableHttpConfigSchema,
  sseConfigSchema,
  websocketConfigSchema,
]);

export type StdioServerConfig = z.infer<typeof stdioConfigSchema>;
export type RemoteServerConfig =
  | z.infer<typeof streamableHttpConfigSchema>
  | z.infer<typeof sseConfigSchema>
  | z.infer<typeof websocketConfigSchema>;
export type McpServerConfig = z.infer<typeof mcpServerConfigSchema>;
/** A config as a caller may write it, with defaults still to be filled. */
export type McpServerConfigInput = z.input<typeof mcpServerConfigSchema>;

/** The columns of a stored server that make up its connection config. */
export interface ServerConfigColumns {
  transport: McpServerConfig['transport'];
  url: string | null;
  command: string | null;
  args: string[];
  cwd: string | null;
  env: Record<string, string>;
  headers: Record<string, string>;
  apiKey: string | null;
  /** The `auth` column; absent or `{ type: 'none' }` for no authentication. */
  auth?: ServerAuth;
  timeoutMs: number;
  /** The `sandbox` column of a stdio server; absent is `{}`. */
  sandbox?: SandboxConfig;
}

/**
 * Builds the connection config of a stored server.
 *
 * @throws ZodError when the stored columns do not form a valid config (e.g. a remote server
 *   without a URL); callers report it as the server's connection error.
 */
export function configFromColumns(row: ServerConfigColumns): McpServerConfig {
  if (row.transport === 'stdio') {
    return mcpServerConfigSchema.parse({
      transport: 'stdio',
      command: row.command ?? '',
      args: row.args,
      env: row.env,
      cwd: row.cwd ?? undefined,
      sandbox: row.sandbox,
      timeoutMs: row.timeoutMs,
    });
  }
  return mcpServerConfigSchema.parse({
    transport: row.transport,
    url: row.url ?? '',
    headers: row.headers,
    apiKey: row.apiKey ?? undefined,
    auth: row.auth,
    timeoutMs: row.timeoutMs,
  });
}
