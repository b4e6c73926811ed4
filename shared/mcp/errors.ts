/**
 * Errors of the MCP connection layer. Each carries a `code` so the API can map it to a status
 * word and the agent to a sentence the model can read.
 */

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

/** One page a server's "URL elicitation required" error (-32042) asks the user to open. */
export interface UrlElicitation {
  /** The page, as the server gave it. */
  url: string;
  /** Why, in the server's words (for the screen, never the model). */
  message: string;
  /** The server's id of the request (its later `notifications/elicitation/complete` names it). */
  elicitationId: string;
}

/** A failure to reach or use an MCP server; `message` is written for an admin to read. */
export class McpConnectionError extends Error {
  override readonly name = 'McpConnectionError';
  readonly code: McpErrorCode;
  /**
   * For a `request_failed` the server answered with "URL elicitation required" (MCP 2025-11-25,
   * error -32042): the pages the user must open before the request can succeed, as the server
   * gave them (the connection's secrets scrubbed). Kept here because the cause a connection
   * keeps is a scrubbed copy without the error's data.
   */
  readonly urlElicitations?: readonly UrlElicitation[];

  /**
   * @param code machine-readable reason.
   * @param message what failed and why, in one sentence.
   * @param options.cause the underlying error, kept for logs.
   * @param options.urlElicitations see {@link McpConnectionError.urlElicitations}.
   */
  constructor(
    code: McpErrorCode,
    message: string,
    options: { cause?: unknown; urlElicitations?: readonly UrlElicitation[] } = {},
  ) {
    super(message, { cause: options.cause });
    this.code = code;
    if (options.urlElicitations) this.urlElicitations = options.urlElicitations;
  }
}
