/**
 * The answer of `GET /api/widget/status`: system health and one user's servers in a form meant to
 * be shown on a wall or read by an uptime poller. It names no URL, command, header, secret or
 * error text: the parts' details are fixed sentences (the checks' own details can quote hosts and
 * error messages) and a server shows only its name, status, tool count, latency and last
 * connection.
 */
import { asc, eq } from 'drizzle-orm';
import type { z } from 'zod';
import type { Database } from '../../shared/db/open.js';
import { mcpServers } from '../../shared/db/schema.js';
import type { widgetServer, widgetStatusResource } from '../api/schemas.js';
import { summarizeMcp } from './checks.js';
import type { CheckedStatus, SystemPart } from './snapshot.js';

/** The body of `GET /api/widget/status`. */
export type WidgetStatus = z.output<typeof widgetStatusResource>;

/** One server of {@link WidgetStatus}. */
export type WidgetServer = z.output<typeof widgetServer>;

const PART_DETAILS: Record<SystemPart, Record<CheckedStatus['status'], string>> = {
  database: {
    connected: 'The database answers.',
    unconfigured: 'The database answers.',
    error: 'The database does not answer.',
  },
  livekit: {
    connected: 'LiveKit answers.',
    unconfigured: 'LiveKit is not configured.',
    error: 'LiveKit does not answer.',
  },
  openai: {
    connected: 'OpenAI accepts the API key.',
    unconfigured: 'OpenAI is not configured.',
    error: 'OpenAI does not answer or refuses the key.',
  },
};

/**
 * A user's servers as the widget shows them, by name (case-insensitive): disabled ones have the
 * status `disabled`.
 */
export async function widgetServers(db: Database, userId: number): Promise<WidgetServer[]> {
  const rows = await db
    .select({
      name: mcpServers.name,
      isActive: mcpServers.isActive,
      status: mcpServers.connectionStatus,
      lastConnected: mcpServers.lastConnected,
      metadata: mcpServers.metadata,
    })
    .from(mcpServers)
    .where(eq(mcpServers.userId, userId))
    .orderBy(asc(mcpServers.id));
  return rows
    .map((row): WidgetServer => ({
      name: row.name,
      status: row.isActive ? row.status : 'disabled',
      toolCount: typeof row.metadata.toolCount === 'number' ? row.metadata.toolCount : null,
      latencyMs: typeof row.metadata.latencyMs === 'number' ? row.metadata.latencyMs : null,
      lastConnected: row.lastConnected?.toISOString() ?? null,
    }))
    .sort((a, b) => a.name.localeCompare(b.name, 'en', { sensitivity: 'base' }));
}

/**
 * Builds the widget answer.
 *
 * Overall `status`: `down` when the database, LiveKit or OpenAI check is in `error`, or when the
 * user has enabled servers and every one is in `error`; `degraded` when some enabled server is
 * not `connected`, or OpenAI's realtime endpoint refuses sessions (they fall back to the
 * pipeline); `ok` otherwise. `unconfigured` parts and disabled servers do not count: they are
 * choices, not failures.
 *
 * @param system the snapshot's system parts (`StatusSnapshot.system()`).
 * @param servers the user's servers ({@link widgetServers}).
 * @param now the answer's time; default now.
 */
export function widgetStatus(
  system: Readonly<Record<SystemPart, CheckedStatus>>,
  servers: readonly WidgetServer[],
  now: Date = new Date(),
): WidgetStatus {
  const part = (name: SystemPart) => {
    const status = system[name].status;
    return { status, detail: PART_DETAILS[name][status] };
  };
  const database = part('database');
  const enabled = servers.flatMap((server) =>
    server.status === 'disabled' ? [] : [server.status],
  );
  const mcp = summarizeMcp(enabled);
  const parts = {
    // The database check is never `unconfigured`; treat the word as not answering if it ever were.
    database: { ...database, status: database.status === 'connected' ? 'connected' : 'error' },
    livekit: part('livekit'),
    openai: part('openai'),
    mcp: { status: mcp.status, detail: mcp.detail },
  } satisfies WidgetStatus['parts'];

  const failing = (['database', 'livekit', 'openai'] as const).filter(
    (name) => parts[name].status === 'error',
  );
  const erroring = enabled.filter((status) => status === 'error').length;
  const notConnected = enabled.filter((status) => status !== 'connected').length;
  let status: WidgetStatus['status'] = 'ok';
  let detail = 'Everything configured is working.';
  if (failing.length > 0) {
    status = 'down';
    detail = `Failing: ${failing.map((name) => PART_NAMES[name]).join(', ')}.`;
  } else if (enabled.length > 0 && erroring === enabled.length) {
    status = 'down';
    detail = `None of the ${enabled.length} MCP servers can connect.`;
  } else if (notConnected > 0) {
    status = 'degraded';
    detail = `${enabled.length - notConnected} of ${enabled.length} MCP servers are connected.`;
  } else if (system.openai.realtime?.status === 'error') {
    status = 'degraded';
    detail = 'The OpenAI realtime endpoint refuses sessions; the agent falls back to the pipeline.';
  }
  return { status, detail, checkedAt: now.toISOString(), parts, servers: [...servers] };
}

const PART_NAMES: Record<SystemPart, string> = {
  database: 'database',
  livekit: 'LiveKit',
  openai: 'OpenAI',
};
