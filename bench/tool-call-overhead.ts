/**
 * Tool-call overhead: the median time of one `echo` call through Switchboard's tool (the
 * `FunctionTool.execute` an agent session runs: McpToolset → SupervisedConnection →
 * McpConnection → SDK `Client`) over the same call through a bare SDK `Client.callTool`, both
 * against server-everything of the same kind. Calls alternate A, B, A, B… after a warm-up, so
 * drift (CPU frequency, GC, other load) hits both sides alike. The run is split into rounds, each
 * with a fresh pair of connections (for stdio, a fresh pair of server processes), so neither side
 * keeps the luckier process placement on a small machine.
 *
 * A second alternation on the bare client alone, with and without the call options Switchboard
 * passes to the SDK, tells how much of the overhead those SDK features (cancellation, progress)
 * account for. It runs on one connection so both halves see the same process placement.
 */
import type { RequestOptions } from '@modelcontextprotocol/sdk/shared/protocol.js';
import type { Logger } from '../shared/logger.js';
import { mcpServerConfigSchema, type McpServerConfigInput } from '../shared/mcp/server-config.js';
import { connectBareClient, type BareClient, type BareTarget } from './bare-client.js';
import { createBenchTool, type BenchTool } from './echo-toolset.js';
import { median, round } from './stats.js';

/** What `toolCallOverhead.<transport>` reports. */
export interface ToolCallOverhead {
  /** switchboardMedianMs / bareMedianMs. */
  ratio: number;
  switchboardMedianMs: number;
  bareMedianMs: number;
  /**
   * The part of `ratio` that is the SDK's: the bare client with the options Switchboard's calls
   * carry (an abort signal, a progress token with `resetTimeoutOnProgress`) over the bare client
   * without them, alternating on the same connection and server process. `ratio /
   * sdkCallOptionsRatio` is roughly what Switchboard's own layers add.
   */
  sdkCallOptionsRatio: number;
  /** Measured calls per side, all rounds together (warm-up calls not included). */
  iterations: number;
  /** Rounds, each with fresh connections. */
  rounds: number;
}

/** Options of {@link measureToolCallOverhead}. */
export interface ToolCallOverheadOptions {
  /**
   * The server both sides call: a stdio command (each side starts its own process of it) or a
   * Streamable HTTP URL (each side opens its own session on it).
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
  const main = { switchboard: [] as number[], bare: [] as number[] };
  const sdk = { plain: [] as number[], withOptions: [] as number[] };
  for (let round = 0; round < rounds; round++) {
    await withSides(options, async (sides) => {
      await alternate([sides.switchboard, sides.bare], warmup, perRound, [
        main.switchboard,
        main.bare,
      ]);
      await alternate([sides.bare, sides.bareWithCallOptions], warmup, perRound, [
        sdk.plain,
        sdk.withOptions,
      ]);
    });
  }
  const switchboardMedianMs = median(main.switchboard);
  const bareMedianMs = median(main.bare);
  return {
    ratio: round(switchboardMedianMs / bareMedianMs),
    switchboardMedianMs: round(switchboardMedianMs, 4),
    bareMedianMs: round(bareMedianMs, 4),
    sdkCallOptionsRatio: round(median(sdk.withOptions) / median(sdk.plain)),
    iterations: main.switchboard.length,
    rounds,
  };
}

/**
 * Calls the sides in turn (A, B, A, B…) `warmup + iterations` times, pushing each side's timings
 * after the warm-up to its array in `into`.
 */
async function alternate(
  sides: readonly Side[],
  warmup: number,
  iterations: number,
  into: readonly number[][],
): Promise<void> {
  for (let i = 0; i < warmup + iterations; i++) {
    for (let index = 0; index < sides.length; index++) {
      // The runtime makes a controller per tool call whatever the tool is: not timed.
      const signal = new AbortController().signal;
      const started = performance.now();
      await sides[index]!(signal);
      if (i >= warmup) into[index]!.push(performance.now() - started);
    }
  }
}

interface Sides {
  switchboard: Side;
  bare: Side;
  /** The bare client with what McpConnection.callTool passes to the SDK. */
  bareWithCallOptions: Side;
}

/**
 * Connects Switchboard's tool and a bare client, checks that `echo` answers on each side, runs
 * `work`, and closes both.
 */
async function withSides(
  options: ToolCallOverheadOptions,
  work: (sides: Sides) => Promise<void>,
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
    const switchboard: Side = (signal) => switchboardTool.call({ message: 'x' }, signal);
    const bareCall = async (callOptions?: RequestOptions) => {
      const result = await bareClient.callTool('echo', { message: 'x' }, callOptions);
      const first = result.content[0];
      return first?.type === 'text' ? first.text : undefined;
    };
    const bare: Side = () => bareCall();
    // What McpConnection.callTool passes to the SDK (progress token, signal, timeout).
    const bareWithCallOptions: Side = (signal) =>
      bareCall({ signal, timeout: 30_000, onprogress: () => {}, resetTimeoutOnProgress: true });
    const sides = { switchboard, bare, bareWithCallOptions };
    for (const side of Object.values(sides)) {
      const text = await side(new AbortController().signal);
      if (text !== 'Echo: x') throw new Error(`echo answered ${JSON.stringify(text)}`);
    }
    await work(sides);
  } finally {
    await Promise.allSettled([tool?.close(), client?.close()]);
  }
}
