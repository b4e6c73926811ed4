/**
 * Servers an admin set up for a user (DESIGN §9.1): when an admin creates a server for another
 * user (`?userId=`), or changes its connection there, the row is marked `admin_managed`. Its owner
 * may then still enable or disable it, rename it, describe it, change its timeout and delete it,
 * but not change where it connects or with what: the admin may have given it credentials the owner must not be able to
 * redirect or read back through a server of their own.
 *
 * The tool filter, tool policy and tool pinning (`pinTools`) are locked too: an admin who denied a
 * tool, asked for spoken confirmation or kept tools pinned made a decision about what the agent
 * may do with those credentials, which the owner must not undo. (Approving a changed tool stays
 * the owner's to do, as issue 16 asks.)
 */
import { isDeepStrictEqual } from 'node:util';
import type { McpServerRow, User } from '../../shared/db/schema.js';
import { serverAuthSchema } from '../../shared/mcp/server-config.js';
import { HttpError } from '../http/errors.js';

/**
 * The fields of a server that decide where it connects, with what, and which of its tools the
 * agent may use: an admin-managed server's owner may not change them.
 */
export const ADMIN_MANAGED_FIELDS = [
  'transport',
  'url',
  'command',
  'args',
  'cwd',
  'env',
  'sandbox',
  'headers',
  'apiKey',
  'auth',
  'toolFilter',
  'toolPolicy',
  'pinTools',
] as const;

/** 403: the owner of an admin-managed server tried to change a field only an admin may. */
export class AdminManagedProblem extends HttpError {
  override readonly name = 'AdminManagedProblem';
  /** @param fields the locked fields the request changes. */
  constructor(fields: readonly string[]) {
    super(
      403,
      'admin_managed',
      `An admin manages this server's connection, so only an admin may change ` +
        `${fields.join(', ')}. You may still enable or disable, rename, describe or delete it, or ` +
        'change its timeout; ' +
        'ask an admin for any other change.',
      {
        errors: fields.map((field) => ({ path: `body.${field}`, message: 'managed by an admin' })),
      },
    );
  }
}

/** The stored value of a locked field, as an update body would give it. */
function stored(row: McpServerRow, field: (typeof ADMIN_MANAGED_FIELDS)[number]): unknown {
  return row[field];
}

/** True when a given `auth` equals the stored one once the stored secret fills an omitted one. */
function sameAuth(given: unknown, row: McpServerRow): boolean {
  if (given === null) return row.auth.type === 'none';
  if (typeof given !== 'object' || Array.isArray(given)) return false;
  const filled: Record<string, unknown> = { ...(row.auth as Record<string, unknown>), ...given };
  const parsed = serverAuthSchema.safeParse(filled);
  return parsed.success && isDeepStrictEqual(parsed.data, row.auth);
}

/**
 * The locked fields an update body changes: those it sets to a value other than the stored one
 * (a form that sends every field back unchanged changes nothing). An `auth` without its secret
 * counts as unchanged when it is otherwise the stored one.
 *
 * @param row the stored server, secrets opened.
 * @param patch the update body.
 */
export function changedManagedFields(row: McpServerRow, patch: Record<string, unknown>): string[] {
  return ADMIN_MANAGED_FIELDS.filter((field) => {
    const value = patch[field];
    if (value === undefined) return false;
    if (field === 'auth') return !sameAuth(value, row);
    const current = stored(row, field);
    if (value === null) return current !== null && current !== undefined;
    return !isDeepStrictEqual(value, current);
  });
}

/**
 * Refuses an update of an admin-managed server by a non-admin that changes a locked field.
 *
 * @param row the stored server.
 * @param patch the update body.
 * @param caller the authenticated user.
 * @throws AdminManagedProblem (403) naming each locked field the body changes.
 */
export function assertOwnerMayChange(
  row: McpServerRow,
  patch: Record<string, unknown>,
  caller: Pick<User, 'role'>,
): void {
  // A stdio server is stricter still: a non-admin may change nothing of it (safety.ts).
  if (!row.adminManaged || caller.role === 'admin' || row.transport === 'stdio') return;
  const fields = changedManagedFields(row, patch);
  if (fields.length > 0) throw new AdminManagedProblem(fields);
}

/**
 * Whether a server is admin-managed after a create (`row` undefined) or an update by `caller`:
 * it stays so once set, and becomes so when an admin creates it for, or changes a locked field
 * of, another user's server.
 *
 * @param ownerId the user the server belongs to.
 * @param changedFields for an update, what {@link changedManagedFields} found.
 */
export function adminManagedAfter(
  caller: Pick<User, 'id' | 'role'>,
  ownerId: number,
  row?: Pick<McpServerRow, 'adminManaged'>,
  changedFields: readonly string[] = [],
): boolean {
  if (row?.adminManaged) return true;
  if (caller.role !== 'admin' || caller.id === ownerId) return false;
  return row === undefined || changedFields.length > 0;
}
