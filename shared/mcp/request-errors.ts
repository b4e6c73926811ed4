/**
 * What a failed MCP request means, as an {@link McpConnectionError} whose code tells the caller
 * whether the request may have run, and whether the connection it went over can still be
 * trusted: a session the server forgot (Streamable HTTP 404, MCP spec "Session Management") or a
 * transport that broke means the connection is lost and must be made again.
 */
import { StreamableHTTPError } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { ErrorCode, McpError } from '@modelcontextprotocol/sdk/types.js';
import { describeError } from '../errors.js';
import { McpConnectionError, type McpErrorCode, type UrlElicitation } from './errors.js';
import { messageTooLarge, type McpMessageTooLargeError } from './message-limit.js';

/** The request and connection a failure is judged in. */
export interface RequestErrorContext {
  /** The request, as messages name it, e.g. `tools/call search`. */
  what: string;
  /** The server's name in messages. */
  label: string;
  /** The caller's signal: when aborted, the failure is a cancellation. */
  signal?: AbortSignal;
  /** A message over the size limit the connection already refused, if any. */
  tooLarge?: McpMessageTooLargeError;
  /** Whether the connection still has a live client. */
  connected: boolean;
  /** Scrubs the server's secrets from the text of the underlying error. */
  scrub: (text: string) => string;
}

/** A classified request failure. */
export interface RequestFailure {
  /** The error to throw (not yet scrubbed as a whole: the connection does that). */
  error: McpConnectionError;
  /** True when the connection can no longer be trusted and should be dropped. */
  lost: boolean;
}

/**
 * Classifies a failed request: an `McpConnectionError` as it is; a message over the size limit,
 * a forgotten session or a broken transport as lost (`connection_lost`, `session_expired`);
 * the caller's abort as `cancelled`; the SDK's timeout as `timeout`; anything else the server
 * answered as `request_failed`.
 */
export function classifyRequestError(error: unknown, context: RequestErrorContext): RequestFailure {
  const { what, label } = context;
  if (error instanceof McpConnectionError) return { error, lost: false };
  const tooLarge = messageTooLarge(error) ?? context.tooLarge;
  if (tooLarge) {
    const failure = new McpConnectionError(
      'connection_lost',
      `${what} on ${label} failed: ${tooLarge.message}`,
      { cause: error },
    );
    return { error: failure, lost: true };
  }
  if (context.signal?.aborted) {
    const failure = new McpConnectionError('cancelled', `${what} on ${label} was cancelled`, {
      cause: error,
    });
    return { error: failure, lost: false };
  }
  const message = `${what} on ${label} failed: ${describeError(error, context.scrub)}`;
  if (error instanceof McpError && error.code === ErrorCode.RequestTimeout) {
    return { error: new McpConnectionError('timeout', message, { cause: error }), lost: false };
  }
  const urlElicitations = urlElicitationsOf(error, context.scrub);
  if (urlElicitations) {
    return {
      error: new McpConnectionError('request_failed', message, { cause: error, urlElicitations }),
      lost: false,
    };
  }
  let code: McpErrorCode = 'request_failed';
  if (isSessionExpired(error)) code = 'session_expired';
  else if (!context.connected || isNetworkError(error)) code = 'connection_lost';
  return {
    error: new McpConnectionError(code, message, { cause: error }),
    lost: code !== 'request_failed',
  };
}

/**
 * The URL-mode requests of a "URL elicitation required" error (MCP 2025-11-25, JSON-RPC error
 * -32042 with `data.elicitations`), their text scrubbed; `undefined` for any other error. Entries
 * that are not URL-mode requests with a string `url` are left out; at most 10 are kept.
 */
export function urlElicitationsOf(
  error: unknown,
  scrub: (text: string) => string = (text) => text,
): UrlElicitation[] | undefined {
  if (!(error instanceof McpError) || error.code !== ErrorCode.UrlElicitationRequired) {
    return undefined;
  }
  const listed = (error.data as { elicitations?: unknown } | undefined)?.elicitations;
  if (!Array.isArray(listed)) return undefined;
  const found: UrlElicitation[] = [];
  for (const entry of listed.slice(0, 10)) {
    const { mode, url, message, elicitationId } = (entry ?? {}) as Record<string, unknown>;
    if (mode !== 'url' || typeof url !== 'string') continue;
    found.push({
      url: scrub(url),
      message: typeof message === 'string' ? scrub(message) : '',
      elicitationId: typeof elicitationId === 'string' ? elicitationId : '',
    });
  }
  return found.length > 0 ? found : undefined;
}

/** True for a failure to reach an HTTP server at all (fetch's TypeError, a refused or reset socket). */
export function isNetworkError(error: unknown): boolean {
  for (let current = error; current instanceof Error; current = current.cause) {
    const code = (current as { code?: unknown }).code;
    if (code === 'ECONNREFUSED' || code === 'ECONNRESET' || code === 'EPIPE') return true;
    if (current instanceof TypeError && current.message === 'fetch failed') return true;
  }
  return false;
}

/**
 * True when a Streamable HTTP server no longer knows our session. The spec's answer is 404
 * ("Session Management"); servers built on the SDK's examples, server-everything among them,
 * answer 400 "No valid session ID provided" instead, so that is recognised too.
 */
export function isSessionExpired(error: unknown): boolean {
  if (!(error instanceof StreamableHTTPError)) return false;
  return error.code === 404 || (error.code === 400 && /session/i.test(error.message));
}
