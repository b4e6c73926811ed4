/**
 * Turning any thrown value into one readable line, for logs, status fields and answers that an
 * admin or the model reads. Every layer uses it (the MCP connection layer, the API, the agent and
 * the command-line scripts), so it sits at the bottom of `shared/`, importing nothing of ours.
 */
import { OAuthError } from '@modelcontextprotocol/sdk/server/auth/errors.js';

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

/** One failed field of a validation, as the API's problem documents list it. */
export interface FieldError {
  /** Where the field is, dotted from the input's name, e.g. `body.url` or `config.args.0`. */
  path: string;
  message: string;
}

/**
 * One failed field as a phrase: a message that starts with the field's own name says it once
 * with the whole path (`body.url must be an absolute URL`), any other follows the path
 * (`body.timeoutMs: Too small: expected number to be >=100`).
 */
function fieldSentence({ path, message }: FieldError): string {
  const name = path.slice(path.lastIndexOf('.') + 1);
  return message.startsWith(`${name} `)
    ? `${path}${message.slice(name.length)}`
    : `${path}: ${message}`;
}

/**
 * The fields a zod validation refused, and one line naming each, e.g.
 * `Invalid body: body.url must be an absolute URL`.
 *
 * @param issues the `issues` of a zod `ZodError`.
 * @param where the input's name, the first part of every path (`body`, `query`, `config`).
 */
export function describeIssues(
  issues: readonly { path: readonly PropertyKey[]; message: string }[],
  where: string,
): { errors: FieldError[]; detail: string } {
  const errors = issues.map((issue) => ({
    path: [where, ...issue.path.map(String)].join('.'),
    message: issue.message,
  }));
  return {
    errors,
    detail: `Invalid ${where}: ${errors.map(fieldSentence).join('; ')}`,
  };
}
