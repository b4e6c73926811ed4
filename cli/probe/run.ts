/**
 * What `npm run probe` does with a server: connects with the agent's own connection code
 * (`McpConnection`), lists its tools as the agent would advertise them, optionally calls one, and
 * closes the connection (ending a stdio server's process) whatever happens.
 *
 * With `--oauth` it first acts as a native app in the OAuth authorization code flow (RFC 8252):
 * an `AuthorizationCodeProvider` over an in-memory store, a loopback redirect listener, and the
 * authorization URL handed to the user; when the server asks for authorization (401, or 403
 * `insufficient_scope` for more scope) the probe waits for the redirect, completes the
 * authorization and starts over, at most {@link MAX_AUTHORIZATIONS} times. Tokens never leave
 * the process.
 */
import type { Implementation, ServerCapabilities } from '@modelcontextprotocol/sdk/types.js';
import type { Logger } from '../../shared/logger.js';
import { advertiseTools } from '../../shared/mcp/advertised-tools.js';
import { McpConnection } from '../../shared/mcp/connection.js';
import type { ConnectionGuards } from '../../shared/mcp/connection-guards.js';
import { GuardedNetwork } from '../../shared/mcp/guarded-network.js';
import { AuthorizationCodeProvider, InMemoryOAuthFlowStore } from '../../shared/mcp/oauth/index.js';
import { SecretScrubber } from '../../shared/mcp/secret-scrubber.js';
import type { McpServerConfig } from '../../shared/mcp/server-config.js';
import { toolResultToText } from '../../shared/mcp/tool-result.js';
import type { ProbeCall, ProbeOAuth } from './args.js';
import {
  probeElicitationHandler,
  type ElicitationMode,
  type ProbeElicitation,
  type PromptTerminal,
} from './elicitation.js';
import { LoopbackRedirectListener } from './loopback-redirect.js';

/**
 * Most authorizations one probe asks the user for: the first, and step-ups for more scope. A
 * server that keeps asking (a scope it never grants) fails the probe instead of looping.
 */
export const MAX_AUTHORIZATIONS = 3;

/** One tool of the probed server. */
export interface ProbeTool {
  /** Name the agent advertises to the model, e.g. `everything__echo`. */
  name: string;
  /** Name the server knows the tool by. */
  originalName: string;
  description: string;
}

/** Everything the probe learned; {@link formatProbeReport} prints it. */
export interface ProbeReport {
  /** The URL, or the command line of a stdio server. */
  target: string;
  /** The transport asked for. */
  requestedTransport: McpServerConfig['transport'];
  /** The transport used: `sse` when a `streamable-http` server only spoke HTTP+SSE. */
  transport: McpServerConfig['transport'];
  serverInfo?: Implementation;
  /** The negotiated MCP protocol version. */
  protocolVersion?: string;
  capabilities?: ServerCapabilities;
  instructions?: string;
  /** Time to a completed `initialize`, in milliseconds. */
  connectMs: number;
  tools: ProbeTool[];
  call?: ProbeCallResult;
  /** What the server asked for (elicitation) and how the probe answered, in order. */
  elicitations: ProbeElicitation[];
}

/** The outcome of `--call`. */
export interface ProbeCallResult {
  /** The tool's MCP name. */
  tool: string;
  args: Record<string, unknown>;
  /** The result as the agent hands it to the model (`toolResultToText`). */
  text: string;
  /** True when the server answered `isError: true`. */
  isError: boolean;
  durationMs: number;
}

/** Options of {@link runProbe}. */
export interface RunProbeOptions {
  logger: Logger;
  /** Display name whose slug prefixes advertised names; default the server's own name. */
  name?: string;
  /** A tool to call after listing. */
  call?: ProbeCall;
  /**
   * The guards the connection is made under (`connectionGuards` of the settings, in
   * `cli/probe/main.ts`); default none (`{}`: private networks allowed, any command,
   * unsandboxed).
   */
  guards?: ConnectionGuards;
  /** Run the OAuth authorization code flow (`--oauth`); remote servers only. */
  oauth?: ProbeOAuth;
  /** Shows the user an authorization URL to open; required with `oauth`. */
  onAuthorizationUrl?: (url: URL) => void;
  /** How to answer the server's elicitation requests (`--elicitation`); default `decline`. */
  elicitation?: ElicitationMode;
  /** Where `--elicitation prompt` asks; default stdin and stderr. */
  terminal?: PromptTerminal;
}

/**
 * Connects, lists the tools, runs the call if asked, and closes.
 *
 * @returns the report; a call answered with `isError: true` is reported, not thrown.
 * @throws McpConnectionError when connecting, listing or calling fails; Error when `call.tool` is
 *   not one of the server's tools.
 */
export async function runProbe(
  config: McpServerConfig,
  options: RunProbeOptions,
): Promise<ProbeReport> {
  if (!options.oauth) return probeOnce(config, options);
  if (config.transport === 'stdio' || config.transport === 'websocket') {
    throw new Error('--oauth needs a Streamable HTTP or SSE server');
  }
  const oauth = options.oauth;
  const listener = await LoopbackRedirectListener.start();
  const network = new GuardedNetwork(options.guards?.urlPolicy ?? { allowPrivateNetworks: true });
  // Every connection of the probe scrubs the tokens obtained so far from its errors.
  const scrubber = new SecretScrubber();
  let asks = 0;
  let asked = false;
  const provider = new AuthorizationCodeProvider({
    serverUrl: config.url,
    store: new InMemoryOAuthFlowStore(),
    redirectUrl: listener.redirectUrl,
    applicationType: 'native',
    clientName: 'Switchboard probe',
    ...(oauth.clientId !== undefined && {
      client: { clientId: oauth.clientId, clientSecret: oauth.clientSecret },
    }),
    clientMetadataUrl: oauth.clientMetadataUrl,
    scope: oauth.scope,
    fetchFn: network.fetch,
    onTokens: (tokens) => {
      scrubber.add(tokens.access_token);
      scrubber.add(tokens.refresh_token);
    },
    onRedirect: (url) => {
      // Refused before the URL is shown, so the authorization server sees at most this many.
      if (asks === MAX_AUTHORIZATIONS) {
        throw new Error(
          `the server still asks for authorization after ${MAX_AUTHORIZATIONS} authorizations`,
        );
      }
      asks++;
      asked = true;
      options.onAuthorizationUrl?.(url);
    },
  });
  try {
    for (;;) {
      asked = false;
      try {
        return await probeOnce(config, { ...options, scrubber }, provider);
      } catch (error) {
        if (!asked) throw error;
      }
      await provider.completeAuthorization(await listener.next(oauth.timeoutMs));
    }
  } finally {
    await Promise.all([listener.close(), network.close()]);
  }
}

async function probeOnce(
  config: McpServerConfig,
  options: RunProbeOptions & { scrubber?: SecretScrubber },
  authProvider?: AuthorizationCodeProvider,
): Promise<ProbeReport> {
  const elicitations: ProbeElicitation[] = [];
  const connection = new McpConnection(config, {
    ...options.guards,
    logger: options.logger,
    authProvider,
    scrubber: options.scrubber,
    onElicitation: probeElicitationHandler(
      options.elicitation ?? 'decline',
      elicitations,
      options.terminal,
    ),
  });
  try {
    const info = await connection.connect();
    const mcpTools = await connection.listTools();
    const serverName = options.name ?? info.serverInfo?.name ?? 'server';
    const tools = advertiseTools(serverName, mcpTools).map(
      ({ name, originalName, description }) => ({ name, originalName, description }),
    );
    const report: ProbeReport = {
      target: describeTarget(config),
      requestedTransport: config.transport,
      transport: info.transport,
      serverInfo: info.serverInfo,
      protocolVersion: info.protocolVersion,
      capabilities: info.capabilities,
      instructions: info.instructions,
      connectMs: info.latencyMs,
      tools,
      elicitations,
    };
    if (options.call) report.call = await callTool(connection, tools, options.call);
    return report;
  } finally {
    await connection.close();
  }
}

async function callTool(
  connection: McpConnection,
  tools: readonly ProbeTool[],
  call: ProbeCall,
): Promise<ProbeCallResult> {
  const tool = tools.find((t) => t.originalName === call.tool || t.name === call.tool);
  if (!tool) {
    const names = tools.map((t) => t.originalName);
    const listed = names.length > 20 ? `${names.slice(0, 20).join(', ')}, …` : names.join(', ');
    throw new Error(
      `unknown tool "${call.tool}": the server has ${names.length === 0 ? 'no tools' : listed}`,
    );
  }
  const started = performance.now();
  const result = await connection.callTool(tool.originalName, call.args);
  const durationMs = Math.round((performance.now() - started) * 10) / 10;
  return { tool: tool.originalName, args: call.args, ...toolResultToText(result), durationMs };
}

function describeTarget(config: McpServerConfig): string {
  if (config.transport !== 'stdio') return config.url;
  return [config.command, ...config.args].map(quoteIfNeeded).join(' ');
}

function quoteIfNeeded(word: string): string {
  return /^[\w./:=@%+-]+$/.test(word) ? word : JSON.stringify(word);
}
