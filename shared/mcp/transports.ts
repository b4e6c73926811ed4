/**
 * The client transports an `McpConnection` talks over (MCP spec 2025-11-25, "Transports"):
 * a stdio server's process (`stdio-transport.ts`), or a remote server's Streamable HTTP,
 * HTTP+SSE or WebSocket transport, each sending only through a `GuardedNetwork` so every address
 * it reaches is checked against the URL policy. The connection chooses the kind (falling back
 * from Streamable HTTP to HTTP+SSE) and owns, and closes, what is built here.
 */
import { statSync } from 'node:fs';
import type { OAuthClientProvider } from '@modelcontextprotocol/sdk/client/auth.js';
import { SSEClientTransport } from '@modelcontextprotocol/sdk/client/sse.js';
import {
  StreamableHTTPClientTransport,
  StreamableHTTPError,
} from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import type { Logger } from '../logger.js';
import { authHeaders } from './auth.js';
import { AuthorizationCodeProvider } from './oauth/authorization-code-provider.js';
import type { GuardedNetwork } from './guarded-network.js';
import { singleAnswerFetch } from './single-answer.js';
import { boundedFetch, type McpMessageTooLargeError } from './message-limit.js';
import type { StdioSandbox } from './sandbox/stdio-sandbox.js';
import type { RemoteServerConfig, StdioServerConfig } from './server-config.js';
import type { StderrLog } from './stderr-log.js';
import type { StdioProcessAdmission } from './stdio-process-limiter.js';
import { StdioProcessTransport } from './stdio-transport.js';
import { WebSocketClientTransport } from './websocket-transport.js';

/** What a stdio server's transport is started with, besides the server's config. */
export interface StdioTransportOptions {
  /** The absolute path of the command to spawn (`resolveStdioCommand` found it). */
  command: string;
  /** The server's name in logs and errors. */
  label: string;
  logger: Logger;
  /** Largest message accepted from the server, in bytes. */
  maxMessageBytes: number;
  /** Where the server's stderr goes: bounded log lines, and the tail quoted in errors. */
  stderr: StderrLog;
  /** Grace before SIGTERM and SIGKILL (see `StdioProcessTransport`); default its own. */
  killGraceMs?: number;
  /** Caps and tracks stdio server processes; default none. */
  limiter?: StdioProcessAdmission;
  /** Runs the server in this sandbox, with the config's `sandbox`; default a plain child process. */
  sandbox?: StdioSandbox;
  /** The stored server's id, which names its sandbox's private directory and host uid. */
  serverId?: number;
}

/**
 * The transport of a stdio server, its stderr wired to `options.stderr`. The process starts when
 * the transport does.
 *
 * @throws Error when the config's `cwd` is not a directory (checked only without a sandbox, where
 *   `cwd` is a host path).
 */
export function createStdioTransport(
  config: StdioServerConfig,
  options: StdioTransportOptions,
): StdioProcessTransport {
  // spawn() reports a missing cwd as ENOENT of the command ("command not found: node"),
  // which sends the admin after the wrong field.
  if (
    !options.sandbox &&
    config.cwd !== undefined &&
    !statSync(config.cwd, { throwIfNoEntry: false })?.isDirectory()
  ) {
    throw new Error(`working directory does not exist: ${config.cwd}`);
  }
  const transport = new StdioProcessTransport({
    command: options.command,
    args: config.args,
    env: config.env,
    cwd: config.cwd,
    killGraceMs: options.killGraceMs,
    limiter: options.limiter,
    label: options.label,
    logger: options.logger,
    maxMessageBytes: options.maxMessageBytes,
    sandbox: options.sandbox,
    sandboxConfig: config.sandbox,
    serverId: options.serverId,
  });
  const stderr = options.stderr;
  transport.stderr.on('data', (chunk: Buffer) => stderr.write(chunk));
  transport.stderr.on('end', () => stderr.flush());
  return transport;
}

/** What a remote server's transport is built with, besides the server's config. */
export interface RemoteTransportOptions {
  /** The checked lookup and fetch every connection of the transport goes through. */
  network: GuardedNetwork;
  /** The session user's token, for `auth: { type: 'user-token' }`. */
  userToken?: string;
  /** The OAuth provider of an OAuth `auth` (HTTP transports only). */
  authProvider?: OAuthClientProvider;
  /** Largest message accepted from the server, in bytes. */
  maxMessageBytes: number;
  /** Called when an HTTP answer is over `maxMessageBytes` (see `boundedFetch`). */
  onTooLarge: (error: McpMessageTooLargeError) => void;
}

/**
 * The transport of a remote server over `kind`: the config's own transport, or `sse` when a
 * `streamable-http` server falls back.
 *
 * @throws Error when the server wants the user's token and there is none (`authHeaders`).
 */
export function createRemoteTransport(
  config: RemoteServerConfig,
  kind: RemoteServerConfig['transport'],
  options: RemoteTransportOptions,
): Transport {
  const url = new URL(config.url);
  const headers = { ...remoteHeaders(config), ...authHeaders(config.auth, options.userToken) };
  if (kind === 'websocket') {
    return new WebSocketClientTransport(url, {
      headers,
      lookup: options.network.lookup,
      maxMessageBytes: options.maxMessageBytes,
    });
  }
  const fetch = boundedFetch(options.network.fetch, {
    maxBytes: options.maxMessageBytes,
    onTooLarge: options.onTooLarge,
  });
  const authProvider = options.authProvider;
  const httpOptions = {
    requestInit: { headers },
    authProvider,
    // Step-up after 403 insufficient_scope needs a new authorization, not a refresh.
    fetch:
      authProvider instanceof AuthorizationCodeProvider ? authProvider.observeFetch(fetch) : fetch,
  };
  if (kind === 'sse') return new SSEClientTransport(url, httpOptions);
  // A request answered by a stream of one event reaches the SDK as the JSON it amounts to.
  return new StreamableHTTPClientTransport(url, {
    ...httpOptions,
    fetch: singleAnswerFetch(httpOptions.fetch),
  });
}

/** Headers for a remote server: its custom headers plus `Authorization: Bearer <apiKey>`. */
export function remoteHeaders(config: RemoteServerConfig): Record<string, string> {
  const headers = { ...config.headers };
  if (config.apiKey) headers['Authorization'] = `Bearer ${config.apiKey}`;
  return headers;
}

/**
 * True when a Streamable HTTP server's refusal means it may speak only the older HTTP+SSE
 * transport: a 4xx answer other than 401 and 403 (MCP spec, "Backwards Compatibility").
 */
export function shouldFallBackToSse(error: unknown): boolean {
  if (!(error instanceof StreamableHTTPError) || typeof error.code !== 'number') return false;
  return error.code >= 400 && error.code < 500 && error.code !== 401 && error.code !== 403;
}
