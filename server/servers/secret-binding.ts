/**
 * A secret is bound to its destination (DESIGN §9.1): an update that changes where a server's
 * stored secrets would be sent must give those secrets again, or clear them, in the same request.
 * Otherwise whoever may edit the server (its owner, for a server an admin set up with the
 * admin's credentials) could point it at a host of their own and receive the secrets there.
 *
 * The destination is, for a remote server, the origin of `url` (scheme, host and port; another
 * path on the same origin is the same destination) and the origin of `auth.tokenUrl` (or its
 * absence: the token endpoint is then discovered from `url`); for a stdio server, `command`,
 * `args` and `cwd` (a relative path in `args` is resolved in `cwd`). A change of `transport` keeps
 * nothing of the old connection settings (see `mergeUpdate`), so no secret follows it either.
 */
import type { McpServerRow } from '../../shared/db/schema.js';
import { HttpError } from '../http/errors.js';

/** A field and why it must be sent again. */
interface MissingSecret {
  path: string;
  message: string;
}

/**
 * 422: the update moves the server's secrets to a new destination without giving them again.
 * `errors` names each secret field to resend or clear.
 */
export class SecretsNotResentProblem extends HttpError {
  override readonly name = 'SecretsNotResentProblem';
  /**
   * @param changed what moved, e.g. `url origin`.
   * @param missing the secret fields the request must give again or clear.
   */
  constructor(changed: readonly string[], missing: readonly MissingSecret[]) {
    super(
      422,
      'secrets_required',
      `This update changes where the server's secrets are sent (${changed.join(', ')}), so the ` +
        `stored secrets are not carried over: give ${missing.map((m) => m.path).join(', ')} ` +
        'again in the same request, or clear them (apiKey: null, headers: {}, env: {}, auth: null ' +
        'or a new auth). Nothing was changed.',
      { errors: missing },
    );
  }
}

function originOf(url: string | null | undefined): string | null {
  if (!url) return null;
  return URL.canParse(url) ? new URL(url).origin : url;
}

function recordOf(value: unknown): Record<string, unknown> | undefined {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : undefined;
}

/** What about the destination the patch changes, for a server whose transport stays. */
function destinationChanges(row: McpServerRow, patch: Record<string, unknown>): string[] {
  const changed: string[] = [];
  if (row.transport === 'stdio') {
    if (patch.command !== undefined && patch.command !== row.command) changed.push('command');
    if (patch.args !== undefined && JSON.stringify(patch.args) !== JSON.stringify(row.args)) {
      changed.push('args');
    }
    if (patch.cwd !== undefined && (patch.cwd ?? null) !== row.cwd) changed.push('cwd');
    // The sandbox decides what the server can reach (network, host folders) with its env.
    if (
      patch.sandbox !== undefined &&
      JSON.stringify(patch.sandbox) !== JSON.stringify(row.sandbox)
    ) {
      changed.push('sandbox');
    }
    return changed;
  }
  if (patch.url !== undefined && originOf(patch.url as string) !== originOf(row.url)) {
    changed.push('url origin');
  }
  const auth = recordOf(patch.auth);
  if (auth && auth.type === row.auth.type && 'tokenUrl' in row.auth) {
    const before = originOf(row.auth.tokenUrl);
    const after = originOf(typeof auth.tokenUrl === 'string' ? auth.tokenUrl : undefined);
    if (before !== after) changed.push('auth.tokenUrl');
  }
  return changed;
}

/**
 * Refuses an update that would send the stored secrets somewhere new without the caller giving
 * them again. A secret counts as given again when the patch sets its field (`apiKey`, `headers`,
 * `env`, or `auth` with its `clientSecret` / `privateKey`), and as cleared when the patch sets
 * it to null or empty or replaces `auth` with another type.
 *
 * @param row the stored server, secrets opened.
 * @param patch the validated update body (`updateServerBody`).
 * @throws SecretsNotResentProblem (422) naming each secret field to give again.
 */
export function assertSecretsFollowDestination(
  row: McpServerRow,
  patch: Record<string, unknown>,
): void {
  if (patch.transport !== undefined && patch.transport !== row.transport) return;
  const changed = destinationChanges(row, patch);
  if (changed.length === 0) return;
  const missing: MissingSecret[] = [];
  const require = (path: string, what: string) =>
    missing.push({ path, message: `${what} must be given again (or cleared) with this change` });
  if (row.transport === 'stdio') {
    if (Object.keys(row.env).length > 0 && patch.env === undefined) require('body.env', 'env');
  } else {
    if (row.apiKey && patch.apiKey === undefined) require('body.apiKey', 'apiKey');
    if (Object.keys(row.headers).length > 0 && patch.headers === undefined) {
      require('body.headers', 'the header values');
    }
    // An authorization-code client secret goes to the authorization server the URL's origin
    // discovers, so it follows the URL too.
    const secretField =
      row.auth.type === 'oauth2-client-credentials' ||
      (row.auth.type === 'oauth' && row.auth.clientSecret !== undefined)
        ? 'clientSecret'
        : row.auth.type === 'oauth2-private-key-jwt'
          ? 'privateKey'
          : undefined;
    if (secretField) {
      const auth = recordOf(patch.auth);
      const keeps =
        patch.auth === undefined ||
        (auth?.type === row.auth.type && auth[secretField] === undefined);
      if (keeps) require(`body.auth.${secretField}`, `auth.${secretField}`);
    }
  }
  if (missing.length > 0) throw new SecretsNotResentProblem(changed, missing);
}
