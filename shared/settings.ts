/**
 * Every setting Switchboard reads from the environment, validated once at start-up
 * (DESIGN §7.5). `.env.example` documents each one.
 */
import path from 'node:path';
import { z } from 'zod';
import {
  SlirpOutboundNetworkProvider,
  type OutboundNetworkProvider,
} from './mcp/sandbox/outbound-network.js';
import { StdioSandbox } from './mcp/sandbox/stdio-sandbox.js';
import type { ConnectionGuards } from './mcp/connection-guards.js';

const optionalString = z
  .string()
  .trim()
  .transform((value) => value || undefined)
  .optional();

const booleanFlag = (fallback: boolean) =>
  z
    .enum(['true', 'false', '1', '0', 'yes', 'no', ''])
    .optional()
    .transform((value) =>
      value === undefined || value === '' ? fallback : ['true', '1', 'yes'].includes(value),
    );

const positiveInt = (fallback: number) => z.coerce.number().int().positive().default(fallback);

/** True when `value` is base64 of exactly 32 bytes (an AES-256 key). */
const isSecretKey = (value: string) =>
  /^[A-Za-z0-9+/]+={0,2}$/.test(value) && Buffer.from(value, 'base64').length === 32;

/** True when `value` parses as a URL with one of `protocols` (e.g. `'wss:'`) and a host. */
const isUrlWithHost = (value: string, protocols: readonly string[]) => {
  try {
    const url = new URL(value);
    return protocols.includes(url.protocol) && url.hostname !== '';
  } catch {
    return false;
  }
};

/** What a valid `LIVEKIT_URL` looks like, as the settings errors say it. */
export const LIVEKIT_URL_RULE =
  'must be a ws://, wss://, http:// or https:// URL with a host, such as ' +
  'wss://<project>.livekit.cloud (LiveKit Cloud) or ws://localhost:7880 (`livekit-server --dev`)';

/** A comma-separated list, trimmed, empty entries dropped. */
const commaList = (fallback: string) =>
  z
    .string()
    .optional()
    .transform((value) =>
      (value ?? fallback)
        .split(',')
        .map((entry) => entry.trim())
        .filter(Boolean),
    );

const settingsSchema = z.object({
  DATABASE_URL: optionalString.refine(
    (value) => value === undefined || /^postgres(ql)?:\/\//.test(value),
    'must be a postgres:// or postgresql:// URL',
  ),
  DATA_DIR: z.string().trim().min(1).default('./data'),
  HOST: z.string().trim().min(1).default('127.0.0.1'),
  PORT: z.coerce.number().int().min(0).max(65535).default(3000),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  ADMIN_TOKEN: optionalString.refine(
    (value) => value === undefined || value.length >= 16,
    'must be at least 16 characters',
  ),
  ADMIN_EMAIL: z.email().default('admin@localhost'),
  SWITCHBOARD_SECRET_KEY: optionalString.refine(
    (value) => value === undefined || isSecretKey(value),
    'must be 32 bytes in base64 (e.g. `openssl rand -base64 32`)',
  ),
  SWITCHBOARD_PREVIOUS_SECRET_KEYS: z
    .string()
    .optional()
    .transform((value) =>
      (value ?? '')
        .split(',')
        .map((key) => key.trim())
        .filter(Boolean),
    )
    .refine(
      (keys) => keys.every(isSecretKey),
      'must be a comma-separated list of 32-byte keys in base64',
    ),
  SEED_DEMO_SERVERS: booleanFlag(true),
  LIVEKIT_URL: optionalString.refine(
    (value) => value === undefined || isUrlWithHost(value, ['ws:', 'wss:', 'http:', 'https:']),
    LIVEKIT_URL_RULE,
  ),
  LIVEKIT_API_KEY: optionalString,
  LIVEKIT_API_SECRET: optionalString,
  OPENAI_API_KEY: optionalString,
  OPENAI_BASE_URL: optionalString
    .refine(
      (value) => value === undefined || isUrlWithHost(value, ['http:', 'https:']),
      'must be an http:// or https:// URL such as https://api.openai.com/v1 (unset: OpenAI itself)',
    )
    .transform((value) => value ?? 'https://api.openai.com/v1'),
  OPENAI_REALTIME_MODEL: z.string().trim().min(1).default('gpt-realtime'),
  OPENAI_VOICE: z.string().trim().min(1).default('marin'),
  OPENAI_TEMPERATURE: z.coerce.number().min(0).max(2).default(0.8),
  OPENAI_STT_MODEL: z.string().trim().min(1).default('gpt-4o-mini-transcribe'),
  OPENAI_LLM_MODEL: z.string().trim().min(1).default('gpt-4.1-mini'),
  OPENAI_TTS_MODEL: z.string().trim().min(1).default('gpt-4o-mini-tts'),
  OPENAI_TTS_VOICE: z.string().trim().min(1).default('coral'),
  AGENT_REALTIME_CHECK_TIMEOUT_MS: positiveInt(3_000),
  AGENT_NAME: z.string().trim().min(1).default('switchboard'),
  AGENT_INSTRUCTIONS: z
    .string()
    .default(
      'You are Switchboard, a helpful voice assistant. Use your tools to look things up and act ' +
        'for the user. Keep answers short and conversational; say plainly when a tool fails.',
    ),
  AGENT_GREETING: z.string().default('Greet the user briefly and offer your help.'),
  MCP_HEALTH_INTERVAL_MS: positiveInt(30_000),
  MCP_HEALTH_TIMEOUT_MS: positiveInt(5_000),
  MONITOR_LEASE_MS: z.coerce.number().int().min(300).default(15_000),
  MCP_FAILURE_THRESHOLD: positiveInt(3),
  MCP_BACKOFF_BASE_MS: positiveInt(1_000),
  MCP_BACKOFF_CAP_MS: positiveInt(60_000),
  MCP_MAX_RESULT_CHARS: positiveInt(8_000),
  MCP_MAX_MESSAGE_BYTES: positiveInt(4 * 1024 * 1024),
  AGENT_TOOLS_DEADLINE_MS: positiveInt(3_000),
  AGENT_FILLER_AFTER_MS: positiveInt(1_500),
  /**
   * How long a question an MCP server asks during a tool call (elicitation) waits for the user
   * after they last spoke, in milliseconds; it is then answered `cancel`. Default 60000.
   */
  AGENT_ELICITATION_TIMEOUT_MS: positiveInt(60_000),
  /**
   * The tool budget of a session: the most function tools it advertises to the model, an integer
   * from 1 to 128 (OpenAI's chat completions refuse more than 128); default 64. A session whose
   * MCP servers offer more advertises a selection (servers in id order, each server's tools in
   * its own order) plus a `find_tools` tool that searches every tool and loads the matches,
   * dropping the least recently used ones (`agent/tool-budget.ts`). `connect_account` counts too.
   */
  AGENT_MAX_TOOLS: z.coerce
    .number({ error: 'must be a whole number from 1 to 128' })
    .int('must be a whole number from 1 to 128')
    .min(1, 'must be a whole number from 1 to 128')
    .max(128, 'must be a whole number from 1 to 128 (OpenAI refuses more than 128 tools)')
    .default(64),
  MCP_MAX_STDIO_PROCESSES: positiveInt(32),
  MCP_MAX_STDIO_PROCESSES_PER_USER: positiveInt(8),
  STATUS_CHECK_TIMEOUT_MS: positiveInt(3_000),
  STATUS_CACHE_MS: z.coerce.number().int().min(0).default(10_000),
  MCP_ALLOW_PRIVATE_NETWORKS: booleanFlag(false),
  MCP_STDIO_ALLOWED_COMMANDS: commaList('node,npx,uvx,python3'),
  MCP_STDIO_SANDBOX: z.enum(['bwrap', 'off']).default('bwrap'),
  MCP_SANDBOX_MEMORY_MB: z.coerce.number().int().min(64).default(4096),
  MCP_SANDBOX_MAX_PROCESSES: positiveInt(256),
  MCP_SANDBOX_MAX_OPEN_FILES: z.coerce.number().int().min(16).default(1024),
  API_RATE_LIMIT_PER_MINUTE: z.coerce.number().int().min(0).default(600),
  API_BODY_LIMIT: z
    .string()
    .trim()
    .regex(/^\d+(b|kb|mb)?$/i, 'must be a size such as 100kb, 1mb or 4096')
    .default('100kb'),
  /**
   * The address people reach the API at (scheme, host, optional port and path prefix), e.g.
   * `https://switchboard.example.com`: OAuth redirects come back to `<PUBLIC_URL>/api/oauth/callback`
   * and Switchboard's Client ID Metadata Document is `<PUBLIC_URL>/oauth/client-metadata.json`.
   * Unset: `http://<HOST>:<PORT>` (enough on this machine; authorization servers that demand
   * HTTPS redirects or fetch the metadata document need a public HTTPS address).
   */
  PUBLIC_URL: z
    .string()
    .trim()
    .optional()
    .refine(
      (value) =>
        value === undefined ||
        value === '' ||
        (URL.canParse(value) &&
          ['http:', 'https:'].includes(new URL(value).protocol) &&
          !new URL(value).search &&
          !new URL(value).hash),
      'must be an http(s) URL without a query or fragment, such as https://switchboard.example.com',
    )
    .transform((value) => (value ? value.replace(/\/+$/, '') : undefined)),
  CORS_ORIGINS: commaList('').refine(
    (origins) => origins.every((origin) => origin === '*' || /^https?:\/\/[^/]+$/.test(origin)),
    'must be * or a comma-separated list of origins such as https://admin.example.com',
  ),
  /**
   * Host names (no port), comma-separated, the MCP gateway at `/mcp` answers to besides
   * `PUBLIC_URL`'s and loopback's (DNS-rebinding protection: any other `Host` gets 403); default
   * none.
   */
  GATEWAY_ALLOWED_HOSTS: commaList(''),
  /** MCP gateway sessions one API process holds at once, all users together; more answer 503. */
  GATEWAY_MAX_SESSIONS: positiveInt(1_000),
  /** MCP gateway sessions one user may hold at once; one more closes the least recently used. */
  GATEWAY_MAX_SESSIONS_PER_USER: positiveInt(16),
  /** Milliseconds without a request after which an MCP gateway session is closed; 30 minutes. */
  GATEWAY_SESSION_IDLE_MS: positiveInt(30 * 60_000),
  /**
   * Who may frame the status widget page `/widget/status`: its CSP `frame-ancestors` sources,
   * comma-separated (`*`, `'self'`, `'none'`, a scheme such as `https:`, or an origin such as
   * `https://wall.example.com` or `https://*.example.com`); default `*`.
   */
  WIDGET_FRAME_ANCESTORS: commaList('*').refine(
    (sources) =>
      sources.length > 0 &&
      sources.every((source) =>
        /^(?:\*|'self'|'none'|https?:|https?:\/\/(?:\*\.)?[A-Za-z0-9.-]+(?::(?:\d{1,5}|\*))?)$/.test(
          source,
        ),
      ) &&
      (!sources.includes("'none'") || sources.length === 1),
    "must be *, 'self', 'none', https:, or comma-separated origins such as https://wall.example.com",
  ),
});

/**
 * The address people reach the API at: `PUBLIC_URL`, else `http://HOST:PORT`. The API and the
 * agent both use it for OAuth (the redirect URI registrations are kept under).
 */
export function publicUrlOf(settings: Pick<Settings, 'PUBLIC_URL' | 'HOST' | 'PORT'>): string {
  return settings.PUBLIC_URL ?? `http://${settings.HOST}:${settings.PORT}`;
}

/** Validated settings, with `DATA_DIR` made absolute. */
export type Settings = z.infer<typeof settingsSchema> & { dataDir: string };

/** Raised when the environment holds invalid settings; `message` names every failing field. */
export class SettingsError extends Error {
  override readonly name = 'SettingsError';
}

/**
 * Reads and validates the settings.
 *
 * @param env the environment to read; default `process.env`.
 * @throws SettingsError naming each invalid field and why.
 */
export function loadSettings(env: NodeJS.ProcessEnv = process.env): Settings {
  const parsed = settingsSchema.safeParse(env);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((issue) => `  ${issue.path.join('.')}: ${issue.message}`);
    throw new SettingsError(`Invalid settings:\n${lines.join('\n')}`);
  }
  return { ...parsed.data, dataDir: path.resolve(parsed.data.DATA_DIR) };
}

/** True when the three LiveKit settings the worker needs are all present. */
export function livekitConfigured(settings: Settings): boolean {
  return Boolean(settings.LIVEKIT_URL && settings.LIVEKIT_API_KEY && settings.LIVEKIT_API_SECRET);
}

/** The MCP health and reconnect policy the settings describe (`MCP_HEALTH_*`, `MCP_BACKOFF_*`). */
export function healthPolicy(settings: Settings) {
  return {
    intervalMs: settings.MCP_HEALTH_INTERVAL_MS,
    pingTimeoutMs: settings.MCP_HEALTH_TIMEOUT_MS,
    failureThreshold: settings.MCP_FAILURE_THRESHOLD,
    backoffBaseMs: settings.MCP_BACKOFF_BASE_MS,
    backoffCapMs: settings.MCP_BACKOFF_CAP_MS,
  };
}

/**
 * The {@link ConnectionGuards} the settings describe, built once per process at its entry point
 * and passed on as one object: the URL policy (`MCP_ALLOW_PRIVATE_NETWORKS`, default false), the
 * stdio allow list (`MCP_STDIO_ALLOWED_COMMANDS`, default `node,npx,uvx,python3`) and the largest
 * message a server may send (`MCP_MAX_MESSAGE_BYTES`, default 4 MiB), with the process's own
 * sandbox and process cap.
 *
 * @param parts.sandbox the process's sandbox, from {@link stdioSandbox} (`MCP_STDIO_SANDBOX`);
 *   default none (unsandboxed).
 * @param parts.stdioLimiter the process's `StdioProcessLimiter` (`MCP_MAX_STDIO_PROCESSES`,
 *   `MCP_MAX_STDIO_PROCESSES_PER_USER`), made by the caller so it can `killOnExit`; default none.
 */
export function connectionGuards(
  settings: Settings,
  parts: Pick<ConnectionGuards, 'sandbox' | 'stdioLimiter'> = {},
): ConnectionGuards {
  return {
    urlPolicy: { allowPrivateNetworks: settings.MCP_ALLOW_PRIVATE_NETWORKS },
    allowedCommands: settings.MCP_STDIO_ALLOWED_COMMANDS,
    maxMessageBytes: settings.MCP_MAX_MESSAGE_BYTES,
    sandbox: parts.sandbox,
    stdioLimiter: parts.stdioLimiter,
  };
}

/**
 * The stdio sandbox the settings describe (`MCP_STDIO_SANDBOX`, default `bwrap`), for
 * `McpConnectionOptions.sandbox`: private directories under `DATA_DIR/sandboxes`, default limits
 * from `MCP_SANDBOX_MEMORY_MB` (MiB, default 4096), `MCP_SANDBOX_MAX_PROCESSES` (default 256) and
 * `MCP_SANDBOX_MAX_OPEN_FILES` (default 1024). Create one per process and pass it on.
 *
 * @param options.outbound connects `network: 'outbound'` servers; default slirp4netns with the
 *   private-address rules (`SlirpOutboundNetworkProvider`).
 * @param options.secretKeyFile the secret key file no mount may expose; default in `DATA_DIR`.
 * @returns undefined when `MCP_STDIO_SANDBOX=off` (stdio servers then run unsandboxed; callers
 *   log a warning at start).
 */
export function stdioSandbox(
  settings: Settings,
  options: { outbound?: OutboundNetworkProvider; secretKeyFile?: string } = {},
): StdioSandbox | undefined {
  if (settings.MCP_STDIO_SANDBOX === 'off') return undefined;
  return new StdioSandbox({
    dataDir: settings.dataDir,
    secretKeyFile: options.secretKeyFile,
    outbound: options.outbound ?? new SlirpOutboundNetworkProvider(),
    limits: {
      memoryMb: settings.MCP_SANDBOX_MEMORY_MB,
      processes: settings.MCP_SANDBOX_MAX_PROCESSES,
      openFiles: settings.MCP_SANDBOX_MAX_OPEN_FILES,
    },
  });
}

/** The warning logged at start when `MCP_STDIO_SANDBOX=off`. */
export const SANDBOX_OFF_WARNING =
  'MCP_STDIO_SANDBOX=off: stdio MCP servers run unsandboxed, with every file and network this process can reach';
