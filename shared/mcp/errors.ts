/**
 * Errors of the MCP connection layer. Each carries a `code` so the API can map it to a status
 * word and the agent to a sentence the model can read.
 */
import { OAuthError } from '@modelcontextprotocol/sdk/server/auth/errors.js';

/** Why an MCP operation failed. */
export type McpErrorCode =
  /** The connection or `initialize` failed. */
  | 'connect_failed'
  /** `initialize` did not complete within the server's `timeoutMs`. */
  | 'connect_timeout'
  /** No connection: nothing was sent, so the request may be sent after a reconnect. */
  | 'not_connected'
  /** The connection broke while a request was out: it may or may not have run. */
  | 'connection_lost'
  /** The server no longer knows the session (Streamable HTTP 404): nothing ran; re-initialize. */
  | 'session_expired'
  /** The server did not answer within the timeout (the SDK sent `notifications/cancelled`). */
  | 'timeout'
  /** The caller aborted the request (the SDK sent `notifications/cancelled`). */
  | 'cancelled'
  /** The server answered the request with a JSON-RPC error. */
  | 'request_failed'
  /** The server is down and being retried; the request was not sent (circuit breaker open). */
  | 'unavailable';

/** A failure to reach or use an MCP server; `message` is written for an admin to read. */
export class McpConnectionError extends Error {
  override readonly name = 'McpConnectionError';
  readonly code: McpErrorCode;

  /**
   * @param code machine-readable reason.
   * @param message what failed and why, in one sentence.
   * @param options.cause the underlying error, kept for logs.
   */
  constructor(code: McpErrorCode, message: string, options: { cause?: unknown } = {}) {
    super(message, { cause: options.cause });
    this.code = code;
  }
}

/**
 * A short, readable description of any thrown value. An authorization server's refusal (the SDK's
 * `OAuthError`, RFC 6749 §5.2) names its error code, e.g. `invalid_client` for a wrong secret.
 *
 * @param scrub applied to the server's text before it is cut short, so a secret the cut would
 *   split is still found whole (see `SecretScrubber`); default none.
 */
export function describeError(
  error: unknown,
  scrub: (text: string) => string = (text) => text,
): string {
  if (error instanceof OAuthError) {
    // A token endpoint that is not one answers with a whole HTML page, which the SDK quotes.
    const message = scrub(error.message);
    const text = message.length > 200 ? `${message.slice(0, 200)}…` : message;
    const detail = text ? ` (${text})` : '';
    return `OAuth authorization failed: the authorization server answered ${error.errorCode}${detail}`;
  }
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    if (code === 'ENOENT' && 'path' in error) {
      return `command not found: ${String((error as { path: unknown }).path)}`;
    }
    if (code === 'EACCES' && 'path' in error) {
      return `command is not executable: ${String((error as { path: unknown }).path)}`;
    }
    // A write to a stdio server whose process has just died fails before the pipe's close is
    // seen; say what happened rather than the bare `write EPIPE`.
    if (code === 'EPIPE') return 'the connection was closed (the server stopped reading: EPIPE)';
    const cause = error.cause instanceof Error ? ` (${error.cause.message})` : '';
    return scrub(`${error.message}${cause}`);
  }
  return scrub(String(error));
}
