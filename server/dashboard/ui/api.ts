/**
 * The dashboard's client of the Switchboard REST API (README, "REST API"): bearer-token requests,
 * problem+json errors as {@link ApiError}, and paths for the user an admin acts for (`?userId=`).
 */

/** Who the page speaks for. */
export const session = {
  /** The API token signed in with; empty when signed out. */
  token: '',
  /** The user an admin is acting for; null for the caller. */
  actingFor: null as number | null,
  /** Called when the API refuses the token (401), with the API's detail. */
  onUnauthorized: (_detail: string): void => {},
};

/** One refused field of a problem+json answer. */
export interface FieldIssue {
  path: string;
  message: string;
}

/** A failed API request; `message` is the problem+json detail. */
export class ApiError extends Error {
  /**
   * @param status the HTTP status.
   * @param detail the problem+json `detail` (or title, or status line).
   * @param errors the refused fields, when the API names them.
   */
  constructor(
    readonly status: number,
    detail: string,
    readonly errors: FieldIssue[] = [],
  ) {
    super(detail);
  }

  /** One line per refused field (`url: must be …`), or the detail when no field is named. */
  lines(): string[] {
    if (this.errors.length === 0) return [this.message];
    return this.errors.map((e) => `${e.path.replace(/^body\./, '')}: ${e.message}`);
  }
}

/**
 * Calls the API with the signed-in token.
 *
 * @param method HTTP method.
 * @param path path and query, e.g. `/api/mcp/servers`.
 * @param body sent as JSON when given.
 * @returns the JSON answer, or null for 204.
 * @throws ApiError for any answer that is not 2xx (401 also calls `session.onUnauthorized`).
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- the API's JSON, shaped by the caller
export async function api<T = any>(method: string, path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = { authorization: `Bearer ${session.token}` };
  if (body !== undefined) headers['content-type'] = 'application/json';
  const response = await fetch(path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (response.status === 204) return null as T;
  const data = await response.json().catch(() => null);
  if (!response.ok) {
    const error = new ApiError(
      response.status,
      data?.detail ?? data?.title ?? `${response.status} ${response.statusText}`,
      Array.isArray(data?.errors) ? data.errors : [],
    );
    if (response.status === 401) session.onUnauthorized(error.message);
    throw error;
  }
  return data as T;
}

/**
 * A path under `/api/mcp/servers`, for the caller or for the user an admin acts for.
 *
 * @param suffix e.g. `/3/test`; default none.
 * @param params more query parameters.
 */
export function serversPath(suffix = '', params: Record<string, string> = {}): string {
  const query = new URLSearchParams(params);
  if (session.actingFor !== null) query.set('userId', String(session.actingFor));
  const search = query.toString();
  return `/api/mcp/servers${suffix}${search ? `?${search}` : ''}`;
}

/** The message of anything thrown, for people. */
export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
