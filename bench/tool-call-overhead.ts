/**
 * Tool-call overhead: the median time of one `echo` call through Switchboard's tool (the
 * `FunctionTool.execute` an agent session runs: McpToolset → SupervisedConnection →
 * McpConnection → SDK `Client`) over the same call through the bare SDK `Client.callTool`, against
 * server-everything. In each comparison the two sides' calls alternate A, B, A, B… after a
 * warm-up, so drift (CPU frequency, GC, other load) hits both alike.
 *
 * The headline `ratio` compares Switchboard's tool with `Client.callTool` on the very same
 * connection (same transport, same server process): on a 2-core machine, which process lands on
 * which core moves a stdio call's median by ±5 % between two identical bare clients with their own
 * server processes (the `separateProcess.bareToBareRatio` beside it shows this run's figure), more
 * than the target allows, so only a same-connection comparison measures Switchboard's own code.
 * The separate-process comparison (a bare client with its own `StdioClientTransport` process or
 * its own HTTP session, as a user of the bare SDK would run it) is reported beside it, over
 * several rounds of fresh processes, together with what handing the runtime's abort signal
 * straight to the SDK costs.
 */
import type { RequestOptions } from '@modelcontextprotocol/sdk/shared/protocol.js';
import type { Logger } from '../shared/logger.js';
import { mcpServerConfigSchema, type McpServerConfigInput } from '../shared/mcp/server-config.js';
import { connectBareClient, type BareClient, type BareTarget } from './bare-client.js';
import { createBenchTool, type BenchTool } from './echo-toolset.js';
import { median, round } from './stats.js';

/** What `toolCallOverhead.<transport>` reports. */
export interface ToolCallOverhead {
  /** switchboardMedianMs / bareMedianMs (same connection). Target ≤ 1.05. */
  ratio: number;
  switchboardMedianMs: number;
  /** Bare `Client.callTool` on the connection Switchboard's tool uses. */
  bareMedianMs: number;
  /** Against a bare SDK client with its own transport (its own stdio process or HTTP session). */
  separateProcess: {
    /** Median of the bare client with its own transport. */
    bareMedianMs: number;
    /** switchboardMedianMs over it. */
    ratio: number;
    /** It over the same-connection bare median: the noise of process placement (ideal 1). */
    bareToBareRatio: number;
    /**
     * What cancellation by the book costs: the separate bare client with the caller's abort
     * signal handed to the SDK, over it without one (Node's `AbortSignal.addEventListener`,
     * which Switchboard's lazy relay avoids on calls that answer within a millisecond).
     */
    bareWithSignalRatio: number;
  };
  /** Measured calls per side, all rounds together (warm-up calls not included). */
  iterations: number;
  /** Rounds, each with fresh connections. */
  rounds: number;
}

/** Options of {@link measureToolCallOverhead}. */
export interface ToolCallOverheadOptions {
  /**
   * The server the sides call: a stdio command (Switchboard and the separate bare client each
   * start their own process of it) or a Streamable HTTP URL (each opens its own session on it).
   */
  target: BareTarget;
  /** Measured calls per side in all. */
  iterations: number;
  /** Default 5. */
  rounds?: number;
  /** Unmeasured calls per side at the start of each round; default 10% of the round's calls. */
  warmupIterations?: number;
  logger: Logger;
}

type Side = (signal: AbortSignal) => Promise<unknown>;

type SideName = 'switchboard' | 'bareSame' | 'bareSeparate' | 'bareSeparateWithSignal';

/**
 * The comparisons, each alternating its two sides. Pairs, not all four in one cycle: a call that
 * follows a call to the same server process is faster than one that follows a call to another
 * process (the server is still on a core), so both sides of a comparison must have the same
 * predecessor.
 */
const PAIRS = [
  ['switchboard', 'bareSame'],
  ['switchboard', 'bareSeparate'],
  ['bareSame', 'bareSeparate'],
  ['bareSeparate', 'bareSeparateWithSignal'],
] as const satisfies readonly (readonly [SideName, SideName])[];

/**
 * Measures the overhead on one transport.
 *
 * @throws Error when a side cannot connect or `echo` does not answer `Echo: <message>`.
 */
export async function measureToolCallOverhead(
  options: ToolCallOverheadOptions,
): Promise<ToolCallOverhead> {
  const rounds = options.rounds ?? 5;
  const perRound = Math.ceil(options.iterations / rounds);
  const warmup = options.warmupIterations ?? Math.ceil(perRound / 10);
  const timings = PAIRS.map(() => [[], []] as [number[], number[]]);
  for (let round = 0; round < rounds; round++) {
    await withSides(options, async (sides) => {
      for (const [index, [a, b]] of PAIRS.entries()) {
        await alternate([sides[a], sides[b]], warmup, perRound, timings[index]!);
      }
    });
  }
  const medians = timings.map(([a, b]) => [median(a), median(b)] as const);
  const pairRatio = (index: number) => round(medians[index]![0] / medians[index]![1]);
  return {
    ratio: pairRatio(0),
    switchboardMedianMs: round(medians[0]![0], 4),
    bareMedianMs: round(medians[0]![1], 4),
    separateProcess: {
      bareMedianMs: round(medians[1]![1], 4),
      ratio: pairRatio(1),
      bareToBareRatio: round(medians[2]![1] / medians[2]![0]),
      bareWithSignalRatio: round(medians[3]![1] / medians[3]![0]),
    },
    iterations: timings[0]![0].length,
    rounds,
  };
}

/**
 * Calls the two sides in turn (A, B, A, B…) `warmup + iterations` times, pushing each side's
 * timings after the warm-up to its array in `into`.
 */
async function alternate(
  sides: readonly [Side, Side],
  warmup: number,
  iterations: number,
  into: readonly [number[], number[]],
): Promise<void> {
  for (let i = 0; i < warmup + iterations; i++) {
    for (const index of [0, 1] as const) {
      // The runtime makes a controller per tool call whatever the tool is: not timed.
      const signal = new AbortController().signal;
      const started = performance.now();
      await sides[index](signal);
      if (i >= warmup) into[index].push(performance.now() - started);
    }
  }
}

/**
 * Connects Switchboard's tool and a separate bare client, checks that `echo` answers on each
 * side, runs `work`, and closes both.
 */
async function withSides(
  options: ToolCallOverheadOptions,
  work: (sides: Record<SideName, Side>) => Promise<void>,
): Promise<void> {
  const config = mcpServerConfigSchema.parse({
    ...options.target,
    timeoutMs: 30_000,
  } satisfies McpServerConfigInput);
  let tool: BenchTool | undefined;
  let client: BareClient | undefined;
  try {
    [tool, client] = await Promise.all([
      createBenchTool(config, 'echo', options.logger),
      connectBareClient(options.target),
    ]);
    const switchboardTool = tool;
    const bareClient = client;
    const separateCall = async (callOptions?: RequestOptions) => {
      const result = await bareClient.callTool('echo', { message: 'x' }, callOptions);
      const first = result.content[0];
      return first?.type === 'text' ? first.text : undefined;
    };
    const sides: Record<SideName, Side> = {
      switchboard: (signal) => switchboardTool.call({ message: 'x' }, signal),
      bareSame: () => switchboardTool.bareCall({ message: 'x' }),
      bareSeparate: () => separateCall(),
      bareSeparateWithSignal: (signal) => separateCall({ signal, timeout: 30_000 }),
    };
    for (const side of Object.values(sides)) {
      const text = await side(new AbortController().signal);
      if (text !== 'Echo: x') throw new Error(`echo answered ${JSON.stringify(text)}`);
    }
    await work(sides);
  } finally {
    await Promise.allSettled([tool?.close(), client?.close()]);
  }
}
