/**
 * The command line of `npm run gateway`: `--token` and `--url` (parsed with `node:util`
 * `parseArgs`), each with an environment variable behind it, `SWITCHBOARD_TOKEN` and
 * `SWITCHBOARD_URL`. The environment is the better place for the token: a flag shows in the
 * process list (`ps`), the environment of another user's process does not.
 */
import { parseArgs } from 'node:util';

/** Where the gateway looks for Switchboard when neither `--url` nor `SWITCHBOARD_URL` is given. */
export const DEFAULT_SWITCHBOARD_URL = 'http://127.0.0.1:3000';

/** How to run the gateway; printed by `--help` and, on stderr, after a usage error. */
export const GATEWAY_USAGE = `Usage:
  SWITCHBOARD_TOKEN=<token> npm run gateway --silent [-- --url URL]
  npm run gateway --silent -- --token <token> [--url URL]

Serves Switchboard's MCP endpoint (<url>/mcp) over stdio, for MCP clients that can only launch
a process: JSON-RPC on stdin and stdout, diagnostics on stderr. A URL ending in
/mcp/servers/<id> serves that one server under its own tool names.

  --token T    an API token with the gateway scope (or SWITCHBOARD_TOKEN, which is preferred:
               a flag is visible in the process list). Make one in the dashboard
               (Access → API tokens) or with POST /api/tokens
               {"label": "...", "scopes": ["gateway"]}.
  --url URL    where Switchboard's API listens (or SWITCHBOARD_URL;
               default ${DEFAULT_SWITCHBOARD_URL})
  -h, --help   this text

Exit status: 0 when stdin ends or on SIGTERM/SIGINT, 2 for a bad command line.`;

/** A command line the gateway cannot run with; it exits with status 2. */
export class GatewayUsageError extends Error {
  override readonly name = 'GatewayUsageError';
}

/** What the command line asks for. */
export type GatewayCommand =
  | { kind: 'help' }
  | {
      kind: 'gateway';
      /** The API token, sent as `Authorization: Bearer <token>`. */
      token: string;
      /**
       * The MCP endpoint: the given URL with `/mcp` appended (kept when already there, as is a
       * per-server `/mcp/servers/<id>`).
       */
      endpoint: URL;
    };

const OPTIONS = {
  token: { type: 'string' },
  url: { type: 'string' },
  help: { type: 'boolean', short: 'h', default: false },
} as const;

/**
 * Parses the gateway's arguments (without `node` and the script); a flag wins over its
 * environment variable.
 *
 * @param argv the arguments after `npm run gateway --`.
 * @param env where `SWITCHBOARD_TOKEN` and `SWITCHBOARD_URL` are read; default `process.env`.
 * @returns `help`, or the token and the MCP endpoint URL (`<url>/mcp`).
 * @throws GatewayUsageError for an unknown flag or positional argument, a missing or empty token,
 *   or a URL that is not an absolute http(s) URL. The message never holds the token.
 */
export function parseGatewayArgs(
  argv: readonly string[],
  env: NodeJS.ProcessEnv = process.env,
): GatewayCommand {
  let values: { token?: string; url?: string; help: boolean };
  try {
    ({ values } = parseArgs({ args: [...argv], options: OPTIONS, strict: true }));
  } catch (error) {
    // parseArgs throws TypeErrors with a code (ERR_PARSE_ARGS_*) naming the flag, never a value.
    throw new GatewayUsageError(error instanceof Error ? error.message : String(error));
  }
  if (values.help) return { kind: 'help' };
  const token = (values.token ?? env.SWITCHBOARD_TOKEN ?? '').trim();
  if (!token) {
    throw new GatewayUsageError('give an API token: set SWITCHBOARD_TOKEN (preferred) or --token');
  }
  const url = values.url ?? (env.SWITCHBOARD_URL || DEFAULT_SWITCHBOARD_URL);
  return { kind: 'gateway', token, endpoint: mcpEndpoint(url) };
}

/**
 * The MCP endpoint of a Switchboard API URL: `http://host:3000` and `http://host:3000/` give
 * `http://host:3000/mcp`; a URL that already ends in `/mcp`, or in a per-server endpoint's
 * `/mcp/servers/<id>`, is kept.
 *
 * @throws GatewayUsageError when `url` is not an absolute http or https URL.
 */
export function mcpEndpoint(url: string): URL {
  const parsed = URL.canParse(url) ? new URL(url) : undefined;
  if (parsed?.protocol !== 'http:' && parsed?.protocol !== 'https:') {
    throw new GatewayUsageError(
      `the Switchboard URL must be an absolute http(s) URL, e.g. ${DEFAULT_SWITCHBOARD_URL}`,
    );
  }
  parsed.search = '';
  parsed.hash = '';
  const path = parsed.pathname.replace(/\/+$/, '');
  parsed.pathname = /\/mcp(\/servers\/[1-9][0-9]*)?$/.test(path) ? path : `${path}/mcp`;
  return parsed;
}
