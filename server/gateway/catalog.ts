/**
 * What a gateway session shows of a user's servers (issue 15), after a {@link GatewayNaming}:
 *
 * - the aggregate endpoint (`/mcp`, {@link AGGREGATE_NAMING}) shows every server the token may
 *   use, their tools named exactly as a voice session names them (`<server slug>__<tool>`,
 *   DESIGN §4, `advertisedToolNames`), their prompts named the same way, their resources under
 *   URIs that carry the server;
 * - a per-server endpoint (`/mcp/servers/<id>`, {@link singleServerNaming}) shows that one server
 *   as it is: its own tool and prompt names, its own resource URIs;
 *
 * in both, less the tools withheld until approved (tool pinning, issue 16); and the opaque
 * cursors the gateway pages its lists with (MCP 2025-11-25, "Pagination").
 */
import { ErrorCode, McpError, type Tool } from '@modelcontextprotocol/sdk/types.js';
import { toolPassesFilter } from '../../shared/mcp/advertised-tools.js';
import { advertisedToolNames } from '../../shared/mcp/tool-names.js';
import {
  pinStatusOf,
  toolHash,
  type PinState,
  type ToolChanges,
} from '../../shared/mcp/tool-pinning.js';
import type { Upstream } from './upstreams.js';

/**
 * How a session names what it serves: which servers, and the names and URIs its client sees for
 * theirs (the aggregate endpoint's namespacing, or a per-server endpoint's own names).
 */
export interface GatewayNaming {
  /** The one server the session serves; `null` for every server its token may use. */
  readonly serverId: number | null;
  /**
   * The names the client sees for one server's tools (or prompts).
   *
   * @param serverName the server's name (its slug prefixes aggregate names).
   * @param originals the names the server gave, in its order.
   * @param taken names given so far to the user's servers before this one, in server id order;
   *   the names returned are added to it.
   * @returns one name per original, in the same order.
   */
  names(serverName: string, originals: readonly string[], taken: Set<string>): string[];
  /** The URI the client sees for a server's resource URI (or URI template). */
  resourceUri(serverId: number, uri: string): string;
  /**
   * The server and its own URI behind a URI the client sent; `undefined` for a URI the session
   * did not give out.
   */
  parseResourceUri(uri: string): { serverId: number; uri: string } | undefined;
}

/**
 * The aggregate endpoint's naming (`/mcp`): every server the token may use; tools and prompts
 * `<server slug>__<name>` (`advertisedToolNames`, as a voice session names them); resources
 * `switchboard://server/<id>/<uri>` ({@link gatewayResourceUri}).
 */
export const AGGREGATE_NAMING: GatewayNaming = {
  serverId: null,
  names: (serverName, originals, taken) => advertisedToolNames(serverName, originals, taken),
  resourceUri: (serverId, uri) => gatewayResourceUri(serverId, uri),
  parseResourceUri: (uri) => parseGatewayResourceUri(uri),
};

/**
 * A per-server endpoint's naming (`/mcp/servers/<id>`): that server only, everything under the
 * server's own names and URIs (nothing rewritten), as a client configured for that server alone
 * expects.
 *
 * @param serverId the served server's id.
 */
export function singleServerNaming(serverId: number): GatewayNaming {
  return {
    serverId,
    names: (_serverName, originals) => [...originals],
    resourceUri: (_serverId, uri) => uri,
    parseResourceUri: (uri) => (uri ? { serverId, uri } : undefined),
  };
}

/** One tool as a gateway client sees it, and where it goes. */
export interface GatewayTool {
  /** The name the client calls, e.g. `everything__echo`. */
  name: string;
  upstream: Upstream;
  /** The tool as its server listed it (original name, schemas and annotations). */
  tool: Tool;
}

/** A tool the gateway does not offer until it is approved (issue 16), and why. */
export interface WithheldGatewayTool extends GatewayTool {
  state: Exclude<PinState, 'pinned'>;
  changes?: ToolChanges;
}

/** Hashes of the tool objects the connections listed (they are never changed once listed). */
const hashes = new WeakMap<Tool, string>();

function hashOf(tool: Tool): string {
  let hash = hashes.get(tool);
  if (hash === undefined) hashes.set(tool, (hash = toolHash(tool)));
  return hash;
}

/**
 * Every tool of `upstreams` a session's token may use, offered or withheld: each server's tools
 * after its tool filter, named by `naming` over all of the user's servers in server id order
 * (aggregate names as a voice session gives them, withheld tools included, so a tool has the same
 * name in both), then limited to `allowed` (and to the naming's one server, if it has one). A
 * tool of a server with `pinTools` on that does not match its pin (`Upstream.pins`) is withheld.
 */
function catalogOf(
  upstreams: readonly Upstream[],
  allowed: ReadonlySet<number> | null,
  naming: GatewayNaming,
): { offered: GatewayTool[]; withheld: WithheldGatewayTool[] } {
  const taken = new Set<string>();
  const offered: GatewayTool[] = [];
  const withheld: WithheldGatewayTool[] = [];
  for (const upstream of upstreams) {
    if (naming.serverId !== null && upstream.row.id !== naming.serverId) continue;
    const kept = upstream.connection.tools.filter((tool) =>
      toolPassesFilter(tool.name, upstream.row.toolFilter),
    );
    const names = naming.names(
      upstream.row.name,
      kept.map((tool) => tool.name),
      taken,
    );
    if (allowed && !allowed.has(upstream.row.id)) continue;
    kept.forEach((tool, index) => {
      const entry = { name: names[index]!, upstream, tool };
      if (!upstream.row.pinTools) return void offered.push(entry);
      const status = pinStatusOf(tool, upstream.pins, hashOf(tool));
      if (status.state === 'pinned') offered.push(entry);
      else withheld.push({ ...entry, state: status.state, changes: status.changes });
    });
  }
  return { offered, withheld };
}

/**
 * The tools of `upstreams` a session may see and call (see {@link catalogOf}): withheld tools
 * (changed since approved, or new, issue 16) are left out.
 *
 * @param upstreams the user's served servers, in server id order.
 * @param allowed the server ids the session's token may use; `null` for all.
 * @param naming the session's naming; default {@link AGGREGATE_NAMING}.
 */
export function gatewayTools(
  upstreams: readonly Upstream[],
  allowed: ReadonlySet<number> | null,
  naming: GatewayNaming = AGGREGATE_NAMING,
): GatewayTool[] {
  return catalogOf(upstreams, allowed, naming).offered;
}

/**
 * The tools of `upstreams` the gateway withholds until they are approved (see
 * {@link catalogOf}), so a call of one can say why it is refused.
 *
 * @param upstreams the user's served servers, in server id order.
 * @param allowed the server ids the session's token may use; `null` for all.
 * @param naming the session's naming; default {@link AGGREGATE_NAMING}.
 */
export function withheldGatewayTools(
  upstreams: readonly Upstream[],
  allowed: ReadonlySet<number> | null,
  naming: GatewayNaming = AGGREGATE_NAMING,
): WithheldGatewayTool[] {
  return catalogOf(upstreams, allowed, naming).withheld;
}

/**
 * The tool as the gateway lists it: the server's own definition (title, description, input and
 * output schemas untouched, annotations, icons) under its gateway name. `execution` is dropped:
 * the gateway runs a task-only tool's task itself and answers the call with its result.
 */
export function listedTool({ name, tool }: GatewayTool): Tool {
  const { execution, ...rest } = tool as Tool & { execution?: unknown };
  void execution;
  return { ...rest, name };
}

/** The scheme and authority that start every resource URI the gateway shows. */
export const RESOURCE_URI_PREFIX = 'switchboard://server/';

/**
 * The gateway's URI of a server's resource (or template): `switchboard://server/<id>/<uri>`,
 * the server's own URI kept whole after the id, so a template's variables still expand.
 *
 * @param serverId the server's id.
 * @param uri the resource URI or URI template the server gave.
 */
export function gatewayResourceUri(serverId: number, uri: string): string {
  return `${RESOURCE_URI_PREFIX}${serverId}/${uri}`;
}

/**
 * The server and its own URI behind a gateway resource URI; `undefined` for a URI the gateway
 * did not give out.
 */
export function parseGatewayResourceUri(
  uri: string,
): { serverId: number; uri: string } | undefined {
  if (!uri.startsWith(RESOURCE_URI_PREFIX)) return undefined;
  const rest = uri.slice(RESOURCE_URI_PREFIX.length);
  const slash = rest.indexOf('/');
  if (slash <= 0) return undefined;
  const id = rest.slice(0, slash);
  if (!/^[1-9][0-9]{0,9}$/.test(id)) return undefined;
  const original = rest.slice(slash + 1);
  return original ? { serverId: Number(id), uri: original } : undefined;
}

/** Entries per page of the gateway's lists. */
export const PAGE_SIZE = 100;

/**
 * One page of `items` from an opaque cursor the gateway gave out (its offset, base64url).
 *
 * @throws McpError `InvalidParams` for a cursor the gateway did not give out (MCP: "invalid
 *   cursors SHOULD result in an error with code -32602").
 */
export function pageOf<T>(
  items: readonly T[],
  cursor: string | undefined,
  pageSize = PAGE_SIZE,
): { items: T[]; nextCursor?: string } {
  let offset = 0;
  if (cursor !== undefined) {
    const decoded = /^[A-Za-z0-9_-]{1,16}$/.test(cursor)
      ? Buffer.from(cursor, 'base64url').toString('utf8')
      : '';
    const match = /^o:(0|[1-9][0-9]{0,8})$/.exec(decoded);
    if (!match) throw new McpError(ErrorCode.InvalidParams, `Invalid cursor: ${cursor}`);
    offset = Number(match[1]);
  }
  const page = items.slice(offset, offset + pageSize);
  const next = offset + pageSize;
  return next < items.length
    ? { items: page, nextCursor: Buffer.from(`o:${next}`, 'utf8').toString('base64url') }
    : { items: page };
}
