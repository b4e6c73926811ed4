// @ts-check
/**
 * The dashboard's client of the Switchboard REST API (README, "REST API"): bearer-token requests,
 * problem+json errors as {@link ApiError}, and paths for the user an admin acts for (`?userId=`).
 */

/** Who the page speaks for. */
export const session = {
  /** The API token signed in with; empty when signed out. */
  token: '',
  /** @type {number | null} the user an admin is acting for; null for the caller */
  actingFor: null,
  /** @type {(detail: string) => void} called when the API refuses the token (401) */
  onUnauthorized: () => {},
};

/** A failed API request; `detail` is the problem+json detail. */
export class ApiError extends Error {
  /**
   * @param {number} status
   * @param {string} detail
   * @param {{ path: string, message: string }[]} [errors]
   */
  constructor(status, detail, errors = []) {
    super(detail);
    this.status = status;
    this.errors = errors;
  }

  /** One line per refused field (`url: must be …`), or the detail when no field is named. */
  lines() {
    if (this.errors.length === 0) return [this.message];
    return this.errors.map((e) => `${e.path.replace(/^body\./, '')}: ${e.message}`);
  }
}

/**
 * Calls the API with the signed-in token.
 * @param {string} method
 * @param {string} path
 * @param {unknown} [body] sent as JSON
 * @returns {Promise<any>} the JSON answer, or null for 204
 * @throws {ApiError} for any answer that is not 2xx (401 also calls `session.onUnauthorized`)
 */
export async function api(method, path, body) {
  /** @type {Record<string, string>} */
  const headers = { authorization: `Bearer ${session.token}` };
  if (body !== undefined) headers['content-type'] = 'application/json';
  const response = await fetch(path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (response.status === 204) return null;
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
  return data;
}

/**
 * A path under `/api/mcp/servers`, for the caller or for the user an admin acts for.
 * @param {string} [suffix] e.g. `/3/test`
 * @param {Record<string, string>} [params] more query parameters
 */
export function serversPath(suffix = '', params = {}) {
  const query = new URLSearchParams(params);
  if (session.actingFor !== null) query.set('userId', String(session.actingFor));
  const search = query.toString();
  return `/api/mcp/servers${suffix}${search ? `?${search}` : ''}`;
}
