/**
 * The sentences a failed MCP tool call is reported with (DESIGN §7.4). The model reads them as the
 * tool's output and usually repeats them to the user, so each says, in plain words, what failed
 * and what happens next (was it retried, may it have run, is the server coming back). They are
 * built here, in one place, so the wording stays consistent across the toolset's ordinary,
 * confirmed and background calls.
 */
import { McpConnectionError, describeError } from '../shared/mcp/index.js';

/**
 * The sentence for a call that did not return a result: a `McpConnectionError` by its code
 * (`unavailable` keeps the connection's own message, which says when the next retry is), anything
 * else with its description.
 *
 * @param serverName the server's display name, e.g. `Notes`.
 * @param toolName the tool's original MCP name, e.g. `delete-note`.
 * @param error what the call threw.
 */
export function callFailedSentence(serverName: string, toolName: string, error: unknown): string {
  if (!(error instanceof McpConnectionError)) {
    return `The ${toolName} tool of ${serverName} failed: ${describeError(error)}`;
  }
  switch (error.code) {
    case 'unavailable':
      return error.message;
    case 'request_failed':
      return (
        `The ${serverName} server could not run ${toolName}: ${error.message}. ` +
        `It was not retried.`
      );
    case 'timeout':
      return (
        `The ${serverName} server did not answer ${toolName} in time, so it was cancelled ` +
        `and not retried; the user may try again later.`
      );
    case 'cancelled':
      return `The call of ${toolName} on ${serverName} was cancelled before it finished.`;
    case 'connection_lost':
      return (
        `The connection to the ${serverName} server broke while ${toolName} was running, ` +
        `so it may or may not have run. Reconnecting.`
      );
    default:
      return `The ${serverName} server is unavailable: ${error.message}`;
  }
}

/**
 * The sentence for a call the server answered with an error result (`isError: true`).
 *
 * @param serverName the server's display name.
 * @param toolName the tool's original MCP name.
 * @param text the result's text, already scrubbed of the server's secrets.
 */
export function toolSaidSentence(serverName: string, toolName: string, text: string): string {
  return `The ${toolName} tool of ${serverName} said: ${text}`;
}

/**
 * The result of a background call that failed: after the call has gone non-blocking the runtime
 * only logs a thrown error, so the failure is delivered as the call's result instead.
 *
 * @param serverName the server's display name.
 * @param toolName the tool's original MCP name.
 * @param error what the call threw (its message is used).
 */
export function backgroundFailedSentence(
  serverName: string,
  toolName: string,
  error: unknown,
): string {
  const text = error instanceof Error ? error.message : String(error);
  return `${toolName} on ${serverName} failed: ${text}`;
}
