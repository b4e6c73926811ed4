/**
 * `GET /metrics` in the Prometheus text format (prom-client), on a registry passed in rather
 * than prom-client's global one (DESIGN §7.3).
 *
 * What the API process can see for itself: HTTP request durations, the status of every active
 * server (`switchboard_mcp_connections{state}`) and the status monitor's reconnects. Tool calls
 * happen in the agent workers, which write one `tool_calls` row each; the API reads new rows
 * every `intervalMs` ({@link ToolCallMetrics}), so the tool call series count the calls of every
 * worker recorded since this API process started. Several API replicas each report those same
 * totals: aggregate them with `max`, not `sum`.
 *
 * Servers are labelled by name (`server`) with their id beside it (`server_id`: names are unique
 * per user only). Cardinality is bounded by what is stored: one reconnect series per server, and
 * one tool call series per server and tool called (a deleted server's calls count under
 * `server="deleted"`).
 */
import { eq, gt, max } from 'drizzle-orm';
import type { RequestHandler } from 'express';
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { Database } from '../../shared/db/open.js';
import { mcpServers, toolCalls } from '../../shared/db/schema.js';
import { CONNECTION_STATUSES, type ConnectionStatus } from '../../shared/mcp/server-config.js';
import type { Logger } from '../../shared/logger.js';
import type { ServerWatcher } from './monitor.js';

/** Buckets for HTTP durations, in seconds (0.5 ms to 10 s). */
const HTTP_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10];
/** Buckets for tool call durations, in seconds (5 ms to 60 s). */
const TOOL_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

/** Options of {@link ApiMetrics}. */
export interface ApiMetricsOptions {
  /** Where the metrics are registered. */
  registry: Registry;
  /** Active servers per connection status, read at each scrape. */
  connectionStates?: () => Record<ConnectionStatus, number>;
}

/** The API process's metrics. */
export class ApiMetrics {
  /** The registry `/metrics` serves. */
  readonly registry: Registry;
  /** `switchboard_http_request_duration_seconds{method,route,status}`. */
  readonly httpDuration: Histogram<'method' | 'route' | 'status'>;
  /**
   * `switchboard_mcp_reconnects_total{server,server_id}`: the monitor connected again to a
   * server whose connection was lost (not one it restarted for a config edit).
   */
  readonly reconnects: Counter<'server' | 'server_id'>;
  /** `switchboard_tool_calls_total{server,server_id,tool}` (from `tool_calls`). */
  readonly toolCalls: Counter<'server' | 'server_id' | 'tool'>;
  /** `switchboard_tool_call_errors_total{server,server_id,tool}` (`tool_calls.ok = false`). */
  readonly toolErrors: Counter<'server' | 'server_id' | 'tool'>;
  /** `switchboard_tool_call_duration_seconds{server,server_id,tool}` (`tool_calls.duration_ms`). */
  readonly toolDuration: Histogram<'server' | 'server_id' | 'tool'>;

  constructor(options: ApiMetricsOptions) {
    const registers = [options.registry];
    this.registry = options.registry;
    this.httpDuration = new Histogram({
      name: 'switchboard_http_request_duration_seconds',
      help: 'Time from a request arriving to its response finishing, in seconds.',
      labelNames: ['method', 'route', 'status'],
      buckets: HTTP_BUCKETS,
      registers,
    });
    this.reconnects = new Counter({
      name: 'switchboard_mcp_reconnects_total',
      help: 'Times the status monitor connected again to a server whose connection was lost.',
      labelNames: ['server', 'server_id'],
      registers,
    });
    const states = options.connectionStates;
    new Gauge({
      name: 'switchboard_mcp_connections',
      help: 'Active MCP servers by connection status, as the status monitor knows them.',
      labelNames: ['state'],
      registers,
      collect() {
        if (!states) return;
        const counts = states();
        for (const state of CONNECTION_STATUSES) this.set({ state }, counts[state]);
      },
    });
    this.toolCalls = new Counter({
      name: 'switchboard_tool_calls_total',
      help: 'Tool calls recorded by agent workers in tool_calls since this process started.',
      labelNames: ['server', 'server_id', 'tool'],
      registers,
    });
    this.toolErrors = new Counter({
      name: 'switchboard_tool_call_errors_total',
      help: 'Failed tool calls recorded in tool_calls since this process started.',
      labelNames: ['server', 'server_id', 'tool'],
      registers,
    });
    this.toolDuration = new Histogram({
      name: 'switchboard_tool_call_duration_seconds',
      help: 'Duration of the tool calls recorded in tool_calls, in seconds.',
      labelNames: ['server', 'server_id', 'tool'],
      buckets: TOOL_BUCKETS,
      registers,
    });
  }

  /**
   * Middleware timing every request until its response finishes. `route` is the matched route
   * pattern (`/api/mcp/servers/:id`), never the raw path, so ids do not multiply the series;
   * an unmatched request is `unmatched`.
   */
  middleware(): RequestHandler {
    return (req, res, next) => {
      const started = performance.now();
      // The router sets `req.route` when a route matches, while `req.baseUrl` is still its
      // mount path (an error leaving the router resets `baseUrl`): note the pattern then.
      let route = 'unmatched';
      let matched: { path?: unknown } | undefined;
      Object.defineProperty(req, 'route', {
        configurable: true,
        enumerable: true,
        get: () => matched,
        set: (value: { path?: unknown } | undefined) => {
          matched = value;
          if (value) route = `${req.baseUrl}${String(value.path)}`;
        },
      });
      res.once('finish', () => {
        this.httpDuration.observe(
          { method: req.method, route, status: String(res.statusCode) },
          (performance.now() - started) / 1000,
        );
      });
      next();
    };
  }

  /**
   * Counts reconnects from the monitor's status events: a server that becomes `connected` after
   * its connection was lost (`error` after `connected`). A server the monitor restarts on
   * purpose (a config edit: `connecting` again, no `error` in between) is not counted.
   *
   * @returns the unsubscriber.
   */
  watch(watcher: Pick<ServerWatcher, 'onChange'>): () => void {
    const state = new Map<number, { connected: boolean; lost: boolean }>();
    return (
      watcher.onChange?.((event) => {
        if (event.status === 'removed' || event.status === 'disconnected') {
          state.delete(event.serverId);
          return;
        }
        const before = state.get(event.serverId) ?? { connected: false, lost: false };
        if (event.status === 'connected') {
          if (before.lost) {
            this.reconnects.inc({ server: event.name, server_id: String(event.serverId) });
          }
          state.set(event.serverId, { connected: true, lost: false });
        } else if (event.status === 'error') {
          state.set(event.serverId, { connected: false, lost: before.connected || before.lost });
        } else if (event.status === 'connecting') {
          state.set(event.serverId, { connected: before.connected, lost: before.lost });
        }
      }) ?? (() => {})
    );
  }
}

/** Options of {@link ToolCallMetrics}. */
export interface ToolCallMetricsOptions {
  db: Database;
  metrics: ApiMetrics;
  logger: Logger;
  /** How often new `tool_calls` rows are read, in milliseconds; default 15000. */
  intervalMs?: number;
  /** Most rows read per round; default 5000. */
  batchSize?: number;
}

/**
 * Feeds the tool call metrics from `tool_calls`, the table every agent worker writes: each
 * round reads the rows after the highest id seen (starting at the table's end when started).
 */
export class ToolCallMetrics {
  readonly #options: ToolCallMetricsOptions;
  #lastId = 0;
  #timer?: NodeJS.Timeout;
  #round?: Promise<void>;

  constructor(options: ToolCallMetricsOptions) {
    this.#options = options;
  }

  /** Notes where the table ends and starts polling (the timer does not keep the process up). */
  async start(): Promise<void> {
    const [row] = await this.#options.db.select({ last: max(toolCalls.id) }).from(toolCalls);
    this.#lastId = row?.last ?? 0;
    this.#timer = setInterval(() => void this.poll(), this.#options.intervalMs ?? 15_000);
    this.#timer.unref();
  }

  /** Stops polling and waits for a round in progress. */
  async stop(): Promise<void> {
    clearInterval(this.#timer);
    await this.#round;
  }

  /** Reads the new rows now and counts them. Never rejects (a failed round is retried later). */
  poll(): Promise<void> {
    this.#round ??= this.#read().finally(() => (this.#round = undefined));
    return this.#round;
  }

  async #read(): Promise<void> {
    const { db, metrics, logger } = this.#options;
    try {
      const rows = await db
        .select({
          id: toolCalls.id,
          serverId: toolCalls.serverId,
          serverName: mcpServers.name,
          toolName: toolCalls.toolName,
          durationMs: toolCalls.durationMs,
          ok: toolCalls.ok,
        })
        .from(toolCalls)
        .leftJoin(mcpServers, eq(mcpServers.id, toolCalls.serverId))
        .where(gt(toolCalls.id, this.#lastId))
        .orderBy(toolCalls.id)
        .limit(this.#options.batchSize ?? 5_000);
      for (const row of rows) {
        const labels = {
          server: row.serverName ?? 'deleted',
          server_id: row.serverId === null ? 'deleted' : String(row.serverId),
          tool: row.toolName,
        };
        metrics.toolCalls.inc(labels);
        if (!row.ok) metrics.toolErrors.inc(labels);
        metrics.toolDuration.observe(labels, row.durationMs / 1000);
        this.#lastId = row.id;
      }
    } catch (error) {
      logger.debug({ err: error }, 'could not read tool_calls for metrics');
    }
  }
}

/**
 * The `GET /metrics` handler. Mount behind an authentication that admits admins only: the series
 * name every tenant's servers and tools.
 */
export function metricsHandler(metrics: ApiMetrics): RequestHandler {
  return async (_req, res) => {
    res.type(metrics.registry.contentType).send(await metrics.registry.metrics());
  };
}
