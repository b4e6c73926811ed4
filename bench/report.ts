/** The benchmark's results as written to the JSON file, and their readable summary. */
import type { ApiThroughput } from './api-throughput.js';
import type { GatewayBench } from './gateway.js';
import type { HealthLoop } from './health-loop.js';
import type { SandboxStart } from './sandbox-start.js';
import type { ScaleSessions } from './scale-sessions.js';
import type { ScaleTools } from './scale-tools.js';
import type { ReplicasBench } from './replicas.js';
import type { ScaleMonitor } from './scale-monitor.js';
import type { SessionStart } from './session-start.js';
import { round } from './stats.js';
import { formatTable } from './table.js';
import type { ToolCallOverhead } from './tool-call-overhead.js';

/** Targets the summary compares against. */
export const TARGETS = {
  toolCallOverheadRatio: 1.05,
  /** Client CPU per call over the bare SDK's, on stdio. */
  toolCallCpuPerCallRatio: 2,
  /** Calls per second with 16 in flight, over the bare SDK's. */
  toolCallThroughput16Ratio: 0.8,
  sessionStartRatio: 1.2,
  apiRatio: 0.8,
  apiStatusP99Ms: 5,
  apiListServersP99Ms: 50,
  sandboxStartRatio: 1.3,
  scaleSessionsConfigChangeP95Ms: 3000,
  /** Most tools a session advertises (`AGENT_MAX_TOOLS` default); its payload ≤ that many tools' worth. */
  scaleToolsAdvertised: 64,
  scaleFindToolsMs: 5,
  monitorRssPerServerMb: 0.5,
  monitorCpuPerServerPercent: 0.05,
  /** `last_connected` is refreshed at most once a minute (`LAST_CONNECTED_REFRESH_MS`). */
  monitorStatusWritesPerServerPerSec: 1 / 60,
  /** A `tools/call` through the MCP gateway over the same call made to the upstream directly. */
  gatewayToolCallOverheadRatio: 1.25,
  /** Failed `tools/call`s in the gateway's throughput rounds. */
  gatewayRpsFailures: 0,
} as const;

/** Everything one run measured; a part is absent when it was not run (`--only`). */
export interface BenchResults {
  toolCallOverhead?: { stdio: ToolCallOverhead; streamableHttp: ToolCallOverhead };
  sessionStart?: SessionStart;
  healthLoop?: HealthLoop;
  /** `api.listServers` and `api.status`: ours beside a bare Express handler. */
  api?: ApiThroughput;
  /** A stdio server's start, sandboxed against unsandboxed. */
  sandbox?: SandboxStart;
  /**
   * Costs that grow with users: `sessions`, many sessions on one Postgres; `tools`, a session of
   * 10 servers × 50 tools under the tool budget; `monitor`, the status monitor per watched server.
   */
  scale?: { sessions?: ScaleSessions; tools?: ScaleTools; monitor?: ScaleMonitor };
  /** Shared rate-limit counts and lease passes (Postgres only). */
  replicas?: ReplicasBench;
  /** The MCP gateway (`/mcp`): a call's overhead and `tools/call` throughput, against direct. */
  gateway?: GatewayBench;
  machine: {
    cpus: number;
    cpuModel: string;
    node: string;
    platform: string;
    totalMemMb: number;
    /** 1-minute load average when the run started and ended (other work on the machine). */
    loadAverage: { start: number; end: number };
  };
  /** ISO 8601 time the run finished. */
  timestamp: string;
}

/** The results as a table of metric, value, target and a note, plus the setup lines. */
export function formatBenchResults(results: BenchResults): string[] {
  const rows: (string | number)[][] = [];
  const mark = (ok: boolean) => (ok ? 'ok' : 'MISSED');
  const overhead = results.toolCallOverhead;
  if (overhead) {
    for (const [name, result] of Object.entries(overhead)) {
      rows.push([
        `toolCallOverhead.${name}.ratio`,
        result.ratio,
        `≤ ${TARGETS.toolCallOverheadRatio} ${mark(result.ratio <= TARGETS.toolCallOverheadRatio)}`,
        `median ${result.switchboardMedianMs} ms vs bare SDK on the same connection ` +
          `${result.bareMedianMs} ms, ` +
          `${result.iterations} calls each in ${result.rounds} rounds ` +
          `(one round: ${result.roundRatioRange[0]}–${result.roundRatioRange[1]})`,
      ]);
      const separate = result.separateProcess;
      rows.push(
        [
          `  separate process`,
          separate.ratio,
          '',
          `vs a bare client with its own ${name === 'stdio' ? 'server process' : 'session'}: ` +
            `median ${separate.bareMedianMs} ms; bare vs bare ${separate.bareToBareRatio} ` +
            `(process placement)`,
        ],
        [
          `  bare SDK with a signal`,
          separate.bareWithSignalRatio,
          '',
          'bare client with vs without an abort signal handed to the SDK (for comparison)',
        ],
      );
      if (result.warm) {
        rows.push([
          `  warm`,
          result.warm.ratio,
          '',
          `same connection once compiled (after ${result.warm.calls / 2} more calls): median ` +
            `${result.warm.switchboardMedianMs} ms vs bare ${result.warm.bareMedianMs} ms, ` +
            `${result.warm.calls} calls each`,
        ]);
      }
      const cpu = result.cpuPerCall;
      // The CPU target is set for stdio; on HTTP the figure is reported for comparison.
      const cpuTarget = name === 'stdio' ? TARGETS.toolCallCpuPerCallRatio : undefined;
      const throughput = result.throughput16;
      rows.push(
        [
          `toolCallOverhead.${name}.cpuPerCallRatio`,
          result.cpuPerCallRatio,
          cpuTarget === undefined
            ? ''
            : `≤ ${cpuTarget} ${mark(result.cpuPerCallRatio <= cpuTarget)}`,
          `client CPU ${cpu.switchboardUs} µs/call vs bare SDK ${cpu.bareUs} µs ` +
            `(bare on our connection ${cpu.bareSameConnectionUs} µs), ${cpu.calls} calls each; ` +
            `tool_calls on ${result.database}`,
        ],
        [
          `toolCallOverhead.${name}.throughput16Ratio`,
          result.throughput16Ratio,
          `≥ ${TARGETS.toolCallThroughput16Ratio} ` +
            mark(result.throughput16Ratio >= TARGETS.toolCallThroughput16Ratio),
          `16 in flight: ${throughput.switchboardPerSecond} calls/s vs bare SDK ` +
            `${throughput.barePerSecond} calls/s (bare on our connection ` +
            `${throughput.bareSameConnectionPerSecond} calls/s), ${throughput.calls} calls each`,
        ],
      );
    }
  }
  const session = results.sessionStart;
  if (session) {
    const ratioOk = session.ratioToSlowestHealthy <= TARGETS.sessionStartRatio;
    rows.push(
      [
        'sessionStart.parallelMs',
        session.parallelMs,
        '',
        `loadUserToolsets, 6 servers: all connectable tools ready; it returned at ` +
          `${session.sessionReturnedMs} ms (start deadline)`,
      ],
      ['sessionStart.serialMs', session.serialMs, '', 'one after another'],
      [
        'sessionStart.ratioToSlowestHealthy',
        session.ratioToSlowestHealthy,
        `≤ ${TARGETS.sessionStartRatio} ${mark(ratioOk)}`,
        `slowest connectable server alone: ${session.slowestHealthyMs} ms`,
      ],
      [
        'sessionStart.waitedOnDeadServer',
        String(session.waitedOnDeadServer),
        `false ${mark(!session.waitedOnDeadServer)}`,
        `dead server timeout ${session.deadServerTimeoutMs} ms, failed at ` +
          `${session.deadServerFailedMs ?? '?'} ms`,
      ],
    );
  }
  const health = results.healthLoop;
  if (health) {
    rows.push([
      'healthLoop.cpuPercent',
      health.cpuPercent,
      '',
      `${health.connections} connections every ${health.intervalMs} ms: ${health.pings} pings ` +
        `in ${Math.round(health.durationMs)} ms, ${health.cpuMsPerPing} CPU ms each, ` +
        `${health.unhealthy} unhealthy`,
    ]);
  }
  const api = results.api;
  if (api) {
    for (const [name, result] of [
      ['listServers', api.listServers],
      ['status', api.status],
    ] as const) {
      rows.push([
        `api.${name}.ratio`,
        result.ratio,
        `≥ ${TARGETS.apiRatio} ${mark(result.ratio >= TARGETS.apiRatio)}`,
        `${result.switchboard.requestsPerSecond} req/s (p99 ${result.switchboard.p99Ms} ms) vs ` +
          `bare ${result.bare.requestsPerSecond} req/s (p99 ${result.bare.p99Ms} ms); ` +
          `${result.switchboard.failures + result.bare.failures} failures`,
      ]);
    }
    rows.push([
      'api.listServers.p99Ms',
      api.listServers.switchboard.p99Ms,
      `≤ ${TARGETS.apiListServersP99Ms} ${mark(api.listServers.switchboard.p99Ms <= TARGETS.apiListServersP99Ms)}`,
      `at concurrency ${api.connections}, ${api.storedServers} servers stored`,
    ]);
    rows.push([
      'api.status.p99Ms',
      api.status.switchboard.p99Ms,
      `≤ ${TARGETS.apiStatusP99Ms} ${mark(api.status.switchboard.p99Ms <= TARGETS.apiStatusP99Ms)}`,
      `at concurrency ${api.connections}`,
    ]);
  }
  const sandbox = results.sandbox;
  if (sandbox) {
    rows.push([
      'sandbox.startRatio',
      sandbox.startRatio,
      `≤ ${TARGETS.sandboxStartRatio} ${mark(sandbox.startRatio <= TARGETS.sandboxStartRatio)}`,
      `server-everything (stdio) spawn to initialize: ${sandbox.sandboxedMs} ms sandboxed vs ` +
        `${sandbox.unsandboxedMs} ms, medians of ${sandbox.rounds} interleaved starts`,
    ]);
  }
  const sessions = results.scale?.sessions;
  if (sessions) {
    const headroom = sessions.peakConnections < sessions.maxConnections;
    rows.push(
      [
        'scale.sessions.peakConnections',
        sessions.peakConnections,
        `< max_connections ${sessions.maxConnections} ${mark(headroom)}`,
        `${sessions.sessions} sessions, API and worker hub included; ` +
          `${sessions.steadyConnections} while all ran (median)`,
      ],
      [
        'scale.sessions.configChangeP95Ms',
        sessions.configChangeP95Ms,
        `≤ ${TARGETS.scaleSessionsConfigChangeP95Ms} ` +
          mark(sessions.configChangeP95Ms <= TARGETS.scaleSessionsConfigChangeP95Ms),
        `p50 ${sessions.configChangeP50Ms} ms over ${sessions.configChanges} edits through the ` +
          `API (its answer: ${sessions.putP50Ms} ms p50)`,
      ],
      [
        'scale.sessions.errors',
        sessions.errors,
        `0 ${mark(sessions.errors === 0)}`,
        `${sessions.auditRows} of ${sessions.toolCalls} audited calls stored` +
          (sessions.firstErrors[0] ? `; first: ${sessions.firstErrors[0].slice(0, 120)}` : ''),
      ],
    );
  }
  const tools = results.scale?.tools;
  if (tools) {
    const fits = tools.advertisedTools <= TARGETS.scaleToolsAdvertised;
    rows.push(
      [
        'scale.tools.advertisedTools',
        tools.advertisedTools,
        `≤ ${TARGETS.scaleToolsAdvertised} ${mark(fits)}`,
        `of ${tools.totalTools} tools (${tools.servers} servers × ${tools.toolsPerServer}), ` +
          `budget ${tools.maxTools}, find_tools included`,
      ],
      [
        'scale.tools.sessionUpdateBytes',
        tools.sessionUpdateBytes,
        `≤ ${tools.budgetBytes} ${mark(tools.sessionUpdateBytes <= tools.budgetBytes)}`,
        `realtime session.update tools; ${tools.unbudgetedSessionUpdateBytes} B for all ` +
          `${tools.totalTools}; target: the ${tools.maxTools} largest tools' worth`,
      ],
      [
        'scale.tools.findToolsMs',
        tools.findToolsMs,
        `≤ ${TARGETS.scaleFindToolsMs} ${mark(tools.findToolsMs <= TARGETS.scaleFindToolsMs)}`,
        `median of ${tools.searches} searches (MiniSearch) with selection; ` +
          `index build ${tools.indexBuildMs} ms`,
      ],
    );
  }
  const replicas = results.replicas;
  if (replicas) {
    rows.push(
      [
        'replicas.sharedIncrementP99Ms',
        replicas.sharedIncrementP99Ms,
        '',
        `one shared rate-limit count (Postgres) at concurrency 50: ` +
          `${replicas.sharedIncrementsPerSecond}/s; MemoryStore p99 ` +
          `${replicas.memoryIncrementP99Ms} ms, ${replicas.memoryIncrementsPerSecond}/s; ` +
          `medians of ${replicas.rounds} interleaved rounds of ${replicas.incrementsPerRound}`,
      ],
      [
        'replicas.batchedIncrementP99Ms',
        replicas.batchedIncrementP99Ms,
        `≤ ${TARGETS.apiStatusP99Ms} ${mark(replicas.batchedIncrementP99Ms <= TARGETS.apiStatusP99Ms)}`,
        `the same batched every 100 ms (the per-request limit): ` +
          `${replicas.batchedIncrementsPerSecond}/s`,
      ],
      [
        'replicas.leasePassMs',
        replicas.leasePassMs,
        '',
        `one lease pass (heartbeat, renewals, counts) holding ${replicas.leasedServers} servers`,
      ],
    );
  }
  const monitor = results.scale?.monitor;
  if (monitor) {
    const t = TARGETS;
    rows.push(
      [
        'scale.monitor.rssPerServerMb',
        monitor.rssPerServerMb,
        `≤ ${t.monitorRssPerServerMb} ${mark(monitor.rssPerServerMb <= t.monitorRssPerServerMb)}`,
        `one more server: ${monitor.servers} servers ${monitor.loaded.rssMb} MB vs ` +
          `${monitor.fewerServers} ${monitor.fewer.rssMb} MB (median RSS over ` +
          `${monitor.windowSeconds} s); ${monitor.bare.rssMb} MB watching none: ` +
          `${monitor.rssOverBarePerServerMb} MB a server over it, ${monitor.rssFixedMb} MB ` +
          `fixed for watching any`,
      ],
      [
        'scale.monitor.cpuPerServerPercent',
        monitor.cpuPerServerPercent,
        `≤ ${t.monitorCpuPerServerPercent} ` +
          mark(monitor.cpuPerServerPercent <= t.monitorCpuPerServerPercent),
        `${monitor.loaded.cpuPercent} % vs ${monitor.bare.cpuPercent} % of a core, ` +
          `${monitor.intervalMs} ms health interval, ${monitor.connectedAtEnd} connected at end`,
      ],
      [
        'scale.monitor.statusWritesPerServerPerSec',
        monitor.statusWritesPerServerPerSec,
        `≤ ${round(t.monitorStatusWritesPerServerPerSec, 4)} ` +
          mark(monitor.statusWritesPerServerPerSec <= t.monitorStatusWritesPerServerPerSec),
        `rows of mcp_servers updated; ${monitor.statusStatementsPerSec} UPDATE statements/s ` +
          `in all (${monitor.database})`,
      ],
    );
  }
  const gateway = results.gateway;
  if (gateway) {
    const t = TARGETS;
    const { toolCallOverhead: overhead, rps, audit } = gateway;
    rows.push(
      [
        'gateway.toolCallOverhead.ratio',
        overhead.ratio,
        `≤ ${t.gatewayToolCallOverheadRatio} ${mark(overhead.ratio <= t.gatewayToolCallOverheadRatio)}`,
        `median ${overhead.gatewayMs} ms through /mcp vs ${overhead.directMs} ms direct ` +
          `(Streamable HTTP upstream), ${overhead.iterations} serial calls each in ` +
          `${overhead.rounds} rounds`,
      ],
      [
        '  bare SDK proxy',
        overhead.proxyRatio,
        '',
        `median ${overhead.proxyMs} ms through an MCP proxy of the bare SDK (no auth, audit, ` +
          `logging): the second hop's own cost`,
      ],
      [
        'gateway.rps.value',
        rps.value,
        '',
        `tools/call/s at ${rps.clients} clients, p99 ${rps.p99Ms} ms; direct ${rps.direct}/s ` +
          `(p99 ${rps.directP99Ms} ms), ratio ${rps.ratio}; bare SDK proxy ${rps.proxy}/s ` +
          `(p99 ${rps.proxyP99Ms} ms)`,
      ],
      [
        'gateway.rps.failures',
        rps.failures,
        `${t.gatewayRpsFailures} ${mark(rps.failures <= t.gatewayRpsFailures)}`,
        `${audit.rows} of ${audit.calls} gateway calls audited (${gateway.database})` +
          (rps.firstError ? `; first: ${rps.firstError.slice(0, 120)}` : ''),
      ],
    );
  }
  const machine = results.machine;
  const lines = formatTable(['metric', 'value', 'target', 'note'], rows);
  if (session) {
    lines.push('', 'sessionStart servers (serial run, own connect + tools/list):');
    for (const server of session.serial) {
      const outcome = server.error ? `failed: ${server.error}` : `${server.toolCount} tools`;
      lines.push(
        `  ${server.name} (${server.kind}, ${server.transport}): ${server.ms} ms, ${outcome}`,
      );
    }
  }
  if (health) lines.push('', `healthLoop: ${health.setup}`);
  if (api) lines.push('', `api: ${api.setup}`);
  if (monitor) lines.push('', `scale.monitor: ${monitor.setup}`);
  if (gateway) lines.push('', `gateway: ${gateway.setup}`);
  lines.push(
    '',
    `machine: ${machine.cpus} × ${machine.cpuModel}, ${machine.totalMemMb} MB, node ` +
      `${machine.node} on ${machine.platform}, load average ${machine.loadAverage.start} → ` +
      `${machine.loadAverage.end}; ${results.timestamp}`,
  );
  return lines;
}
