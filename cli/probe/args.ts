/**
 * The command line of `npm run probe`: parsed with `node:util` `parseArgs`, turned into a server
 * config and validated with the same zod schema the API uses (`mcpServerConfigSchema`), so a bad
 * flag reads like a bad API body.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { mcpServerConfigSchema, type McpServerConfig } from '../../shared/mcp/server-config.js';
import { describeIssues } from '../../shared/errors.js';
import { ELICITATION_MODES, type ElicitationMode } from './elicitation.js';

/** How to run the probe; printed by `--help`. */
export const PROBE_USAGE = `Usage:
  npm run probe -- <url> [options]            a remote server
  npm run probe -- --command CMD [options]    a stdio server

Remote server:
  --transport T             streamable-http (default; falls back to sse), sse, websocket
                            (default for ws:// and wss:// URLs)
  --header NAME=VALUE       an HTTP header; repeatable
  --bearer TOKEN            send Authorization: Bearer TOKEN
  --client-id ID            OAuth 2 client id, with one of:
    --client-secret S         client credentials grant
    --private-key-file PEM    private_key_jwt client authentication
    --signing-algorithm ALG   JWT signing algorithm (e.g. ES256, RS256)
  --token-url URL           OAuth token endpoint (default: discovered)
  --scope S                 an OAuth scope; repeatable
  --oauth                   connect your account: OAuth authorization code flow with PKCE, the
                            probe acting as a native app (RFC 8252); prints the URL to open on
                            stderr and waits for the browser at http://127.0.0.1:<port>/callback.
                            Registers itself (dynamic registration, or --client-metadata-url)
                            unless --client-id [--client-secret] names a registered client;
                            --scope is asked for when the server names none. Tokens stay in memory.
  --client-metadata-url URL with --oauth: HTTPS URL of a client ID metadata document, used as the
                            client id where the authorization server supports it
  --oauth-timeout-ms MS     with --oauth: how long to wait for the browser (default 120000)

Stdio server:
  --command CMD             the executable
  --arg A                   one argument; repeatable, in order (--arg=-x for a leading dash)
  --env NAME=VALUE          an environment variable; repeatable
  --cwd DIR                 working directory

Both:
  --call TOOL               call a tool (its MCP name or advertised name) after listing
  --args JSON               the call's arguments as a JSON object (default {})
  --timeout MS              connect and request timeout in milliseconds (default 30000)
  --elicitation MODE        how to answer a server that asks for input during the call
                            (elicitation; the probe declares it, as a voice session does):
                            decline (default), accept-defaults (a form with each field's
                            default; a link is declined), prompt (ask on the terminal; without
                            one on stdin, decline)
  --name NAME               display name whose slug prefixes advertised tool names
                            (default: the server's own name)
  --json                    print the report as JSON
  --verbose                 connection logs on stderr
  -h, --help                this text

Exit status: 0 success, 1 connection or call failure, 2 usage error.`;

/** A command line that cannot be run; the probe exits with status 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/** A tool call asked for with `--call` and `--args`. */
export interface ProbeCall {
  /** The tool's MCP name or advertised name. */
  tool: string;
  args: Record<string, unknown>;
}

/** The authorization code flow asked for with `--oauth`. */
export interface ProbeOAuth {
  /** A pre-registered client; default dynamic registration or the metadata document. */
  clientId?: string;
  clientSecret?: string;
  clientMetadataUrl?: string;
  /** Space-separated scopes for when the server names none. */
  scope?: string;
  /** How long to wait for the redirect back, in milliseconds. */
  timeoutMs: number;
}

/** Default of `--oauth-timeout-ms`. */
export const DEFAULT_OAUTH_TIMEOUT_MS = 120_000;

/** What the command line asks for. */
export type ProbeCommand =
  | { kind: 'help' }
  | {
      kind: 'probe';
      config: McpServerConfig;
      call?: ProbeCall;
      /** The authorization code flow (`--oauth`). */
      oauth?: ProbeOAuth;
      /** Display name for advertised tool names; default the server's own name. */
      name?: string;
      /** How to answer the server's elicitation requests (`--elicitation`); default `decline`. */
      elicitation: ElicitationMode;
      json: boolean;
      verbose: boolean;
    };

const OPTIONS = {
  transport: { type: 'string' },
  header: { type: 'string', multiple: true },
  bearer: { type: 'string' },
  'client-id': { type: 'string' },
  'client-secret': { type: 'string' },
  'private-key-file': { type: 'string' },
  'signing-algorithm': { type: 'string' },
  'token-url': { type: 'string' },
  scope: { type: 'string', multiple: true },
  oauth: { type: 'boolean', default: false },
  'client-metadata-url': { type: 'string' },
  'oauth-timeout-ms': { type: 'string' },
  command: { type: 'string' },
  arg: { type: 'string', multiple: true },
  env: { type: 'string', multiple: true },
  cwd: { type: 'string' },
  call: { type: 'string' },
  args: { type: 'string' },
  timeout: { type: 'string' },
  name: { type: 'string' },
  elicitation: { type: 'string' },
  json: { type: 'boolean', default: false },
  verbose: { type: 'boolean', default: false },
  help: { type: 'boolean', short: 'h', default: false },
} as const;

type Values = ReturnType<typeof parseArgs<{ options: typeof OPTIONS; allowPositionals: true }>>;
type Flags = Values['values'];

const OAUTH_DETAILS = [
  'client-secret',
  'private-key-file',
  'signing-algorithm',
  'token-url',
  'scope',
] as const;
const REMOTE_ONLY = [
  'transport',
  'header',
  'bearer',
  'client-id',
  'client-metadata-url',
  'oauth-timeout-ms',
  ...OAUTH_DETAILS,
] as const;
/** Flags of the client credentials and private key JWT grants, which `--oauth` does not use. */
const NOT_WITH_OAUTH = ['bearer', 'private-key-file', 'signing-algorithm', 'token-url'] as const;
const STDIO_ONLY = ['arg', 'env', 'cwd'] as const;

/**
 * Parses the probe's arguments (without `node` and the script).
 *
 * @returns `help`, or a validated server config with what to do with it.
 * @throws UsageError naming the bad flag, or the failing config fields as the API would.
 */
export function parseProbeArgs(argv: readonly string[]): ProbeCommand {
  const { values, positionals } = parseFlags(argv);
  if (values.help) return { kind: 'help' };
  const oauth = authorizationCodeFlow(values);
  const config = validateConfig(configInput(values, positionals));
  if (oauth && config.transport === 'websocket') {
    throw new UsageError('--oauth needs a Streamable HTTP or SSE server, not websocket');
  }
  return {
    kind: 'probe',
    config,
    call: probeCall(values),
    ...(oauth && { oauth }),
    name: values.name,
    elicitation: elicitationMode(values.elicitation),
    json: values.json,
    verbose: values.verbose,
  };
}

function parseFlags(argv: readonly string[]): Values {
  try {
    return parseArgs({ args: [...argv], options: OPTIONS, allowPositionals: true, strict: true });
  } catch (error) {
    // parseArgs throws TypeErrors with a code (ERR_PARSE_ARGS_*) and a message naming the flag.
    throw new UsageError(error instanceof Error ? error.message : String(error));
  }
}

/**
 * The server config the arguments describe, before validation: a plain object in the API's shape
 * (`transport`, `url`, `headers`, `apiKey`, `auth`, `timeoutMs`, or `command`, `args`, `env`,
 * `cwd`). Reads `--private-key-file`.
 *
 * @throws UsageError for flags that are unknown, malformed or contradict each other.
 */
export function probeConfigInput(argv: readonly string[]): object {
  const { values, positionals } = parseFlags(argv);
  return configInput(values, positionals);
}

/**
 * The `--oauth` flow's options, or undefined without `--oauth`.
 *
 * @throws UsageError for `--oauth` with a stdio server or with flags of the other grants, and
 *   for `--client-metadata-url` or `--oauth-timeout-ms` without `--oauth`.
 */
function authorizationCodeFlow(flags: Flags): ProbeOAuth | undefined {
  if (!flags.oauth) {
    for (const flag of ['client-metadata-url', 'oauth-timeout-ms'] as const) {
      if (flags[flag] !== undefined) throw new UsageError(`--${flag} needs --oauth`);
    }
    return undefined;
  }
  if (flags.command !== undefined) throw new UsageError('--oauth applies to a remote server only');
  for (const flag of NOT_WITH_OAUTH) {
    if (flags[flag] !== undefined) throw new UsageError(`--${flag} cannot be used with --oauth`);
  }
  if (flags['client-secret'] !== undefined && flags['client-id'] === undefined) {
    throw new UsageError('--client-secret needs --client-id');
  }
  const metadataUrl = flags['client-metadata-url'];
  if (metadataUrl !== undefined) {
    const parsed = URL.canParse(metadataUrl) ? new URL(metadataUrl) : undefined;
    if (parsed?.protocol !== 'https:' || parsed.pathname === '/') {
      throw new UsageError('--client-metadata-url must be an https URL with a path');
    }
  }
  const timeout = flags['oauth-timeout-ms'];
  const timeoutMs =
    timeout === undefined ? DEFAULT_OAUTH_TIMEOUT_MS : wholeNumber('--oauth-timeout-ms', timeout);
  if (timeoutMs < 1) throw new UsageError('--oauth-timeout-ms must be at least 1');
  return {
    timeoutMs,
    ...(flags['client-id'] !== undefined && { clientId: flags['client-id'] }),
    ...(flags['client-secret'] !== undefined && { clientSecret: flags['client-secret'] }),
    ...(metadataUrl !== undefined && { clientMetadataUrl: metadataUrl }),
    ...(flags.scope !== undefined && { scope: flags.scope.join(' ') }),
  };
}

function configInput(flags: Flags, positionals: readonly string[]): object {
  const timeoutMs =
    flags.timeout === undefined ? undefined : wholeNumber('--timeout', flags.timeout);
  if (flags.command !== undefined) {
    rejectFlags(flags, REMOTE_ONLY, 'a remote server (a URL)');
    if (positionals.length > 0) {
      throw new UsageError(
        `unexpected argument "${positionals[0]}" with --command: pass each argument with --arg`,
      );
    }
    return {
      transport: 'stdio',
      command: flags.command,
      args: flags.arg ?? [],
      env: pairs('--env', flags.env),
      ...(flags.cwd !== undefined && { cwd: flags.cwd }),
      ...(timeoutMs !== undefined && { timeoutMs }),
    };
  }
  rejectFlags(flags, STDIO_ONLY, 'a stdio server (--command)');
  const [url, extra] = positionals;
  if (url === undefined) throw new UsageError('give a server URL or --command');
  if (extra !== undefined) throw new UsageError(`unexpected argument "${extra}" after the URL`);
  // With --oauth, --client-id and --scope belong to the authorization code flow.
  const auth = flags.oauth ? undefined : oauthConfig(flags);
  if (auth && flags.bearer !== undefined) {
    throw new UsageError('use either --bearer or the OAuth flags, not both');
  }
  return {
    transport: flags.transport ?? defaultTransport(url),
    url,
    headers: pairs('--header', flags.header),
    ...(flags.bearer !== undefined && { apiKey: flags.bearer }),
    ...(auth && { auth }),
    ...(timeoutMs !== undefined && { timeoutMs }),
  };
}

/**
 * The `auth` field of a remote config for the OAuth flags (DESIGN §3): client credentials with
 * `--client-secret`, private key JWT with `--private-key-file`; undefined without `--client-id`.
 */
function oauthConfig(flags: Flags): Record<string, unknown> | undefined {
  if (flags['client-id'] === undefined) {
    const stray = OAUTH_DETAILS.find((flag) => flags[flag] !== undefined);
    if (stray) throw new UsageError(`--${stray} needs --client-id`);
    return undefined;
  }
  const secret = flags['client-secret'];
  const keyFile = flags['private-key-file'];
  if ((secret === undefined) === (keyFile === undefined)) {
    throw new UsageError('--client-id needs exactly one of --client-secret or --private-key-file');
  }
  if (secret !== undefined && flags['signing-algorithm'] !== undefined) {
    throw new UsageError('--signing-algorithm applies to --private-key-file only');
  }
  const common = {
    clientId: flags['client-id'],
    ...(flags['token-url'] !== undefined && { tokenUrl: flags['token-url'] }),
    ...(flags.scope !== undefined && { scopes: flags.scope }),
  };
  if (secret !== undefined) {
    return { type: 'oauth2-client-credentials', ...common, clientSecret: secret };
  }
  return {
    type: 'oauth2-private-key-jwt',
    ...common,
    privateKey: readKeyFile(keyFile!),
    ...(flags['signing-algorithm'] !== undefined && { algorithm: flags['signing-algorithm'] }),
  };
}

/**
 * Validates the config with the API's schema.
 *
 * @throws UsageError with the API's wording (`Invalid config: url: url must be an absolute URL`),
 *   or when OAuth flags were given but the schema has no `auth` field to carry them.
 */
function validateConfig(input: object): McpServerConfig {
  const result = mcpServerConfigSchema.safeParse(input);
  if (!result.success) {
    throw new UsageError(describeIssues(result.error.issues, 'config').detail);
  }
  // zod drops unknown keys: without an `auth` field in the schema the server would be reached
  // without the credentials the user asked for.
  if ('auth' in input && !('auth' in result.data)) {
    throw new UsageError('OAuth is not supported by this version of the server config yet');
  }
  return result.data;
}

function probeCall(flags: Flags): ProbeCall | undefined {
  if (flags.call === undefined) {
    if (flags.args !== undefined) throw new UsageError('--args needs --call TOOL');
    return undefined;
  }
  if (flags.args === undefined) return { tool: flags.call, args: {} };
  let args: unknown;
  try {
    args = JSON.parse(flags.args);
  } catch (error) {
    throw new UsageError(`--args is not valid JSON: ${(error as Error).message}`);
  }
  if (typeof args !== 'object' || args === null || Array.isArray(args)) {
    throw new UsageError('--args must be a JSON object, e.g. \'{"message":"hi"}\'');
  }
  return { tool: flags.call, args: args as Record<string, unknown> };
}

function elicitationMode(value: string | undefined): ElicitationMode {
  if (value === undefined) return 'decline';
  if ((ELICITATION_MODES as readonly string[]).includes(value)) return value as ElicitationMode;
  throw new UsageError(`--elicitation must be one of ${ELICITATION_MODES.join(', ')}`);
}

function defaultTransport(url: string): string {
  return /^wss?:/i.test(url) ? 'websocket' : 'streamable-http';
}

function rejectFlags(flags: Flags, names: readonly (keyof Flags)[], appliesTo: string): void {
  const given = names.find((name) => flags[name] !== undefined);
  if (given) throw new UsageError(`--${given} applies to ${appliesTo} only`);
}

/** `NAME=VALUE` pairs into a record (split at the first `=`); later pairs win. */
function pairs(flag: string, items: readonly string[] = []): Record<string, string> {
  const record: Record<string, string> = {};
  for (const item of items) {
    const at = item.indexOf('=');
    if (at <= 0) throw new UsageError(`${flag} expects NAME=VALUE, got "${item}"`);
    record[item.slice(0, at)] = item.slice(at + 1);
  }
  return record;
}

function wholeNumber(flag: string, text: string): number {
  if (!/^\d+$/.test(text)) throw new UsageError(`${flag} must be a whole number of milliseconds`);
  return Number(text);
}

function readKeyFile(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
    throw new UsageError(`cannot read --private-key-file ${file}: ${code}`);
  }
}
