/**
 * Tool-call overhead: the median time of one `echo` call through Switchboard's tool (the
 * `FunctionTool.execute` an agent session runs, made by `loadUserToolsets` with the session's
 * `tool_calls` batcher on a real database and the production logger at `info`: McpToolset →
 * SupervisedConnection → McpConnection → SDK `Client`; see `echo-toolset.ts`) over the same call
 * through the bare SDK `Client.callTool`, against server-everything. In each comparison the two sides' calls alternate A, B, A, B… after a
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
 *
 * Latency hides work done off the caller's path (the audit batch, log lines), so two more figures
 * compare against the bare SDK client with its own transport: the client process's CPU time per
 * call (`process.cpuUsage()`, user + system; the MCP server processes are not counted), and the
 * calls completed per second with 16 calls in flight. Each is also reported for the bare client
 * on Switchboard's own connection, whose server process is the same one. Both are measured in
 * blocks of calls that alternate between the sides (A B B A…); a Switchboard block ends when its
 * `tool_calls` rows are written, so their cost is charged to it. That end is a drain a steady
 * stream of calls never waits for (the last batch or two written while no call runs), so a
 * throughput block is long enough to span a few of the batcher's 100 ms intervals: with 16 in
 * flight, blocks of 200 stdio calls lasted 20–30 ms and their drain (3.5–10 ms) was 11 % of
 * their time; in blocks of 2,000 it was 1 %.
 */
import type { RequestOptions } from '@modelcontextprotocol/sdk/shared/protocol.js';
import { connectBareClient, type BareClient, type BareTarget } from './bare-client.js';
import { createBenchTool, type BenchTool } from './echo-toolset.js';
import { median, round } from './stats.js';

/** Calls in flight at once in the throughput blocks. */
export const THROUGHPUT_CONCURRENCY = 16;

/**
 * Default calls in one throughput block: at 16 in flight a block of Switchboard's stdio calls
 * lasts about 250 ms, a few of the `tool_calls` batcher's 100 ms intervals, so the drain at its
 * end weighs about 1 % (see the module's docstring).
 */
export const THROUGHPUT_BLOCK_CALLS = 2_000;

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
  /**
   * Client-process CPU time (user + system) per call, Switchboard over the bare SDK client with
   * its own transport. Target ≤ 2 on stdio.
   */
  cpuPerCallRatio: number;
  /** The CPU figures behind it, in microseconds per call. */
  cpuPerCall: {
    switchboardUs: number;
    /** The bare SDK client with its own transport. */
    bareUs: number;
    /** Bare `Client.callTool` on Switchboard's own connection (its transport included). */
    bareSameConnectionUs: number;
    /** Calls per side the figures are made of. */
    calls: number;
  };
  /**
   * Calls completed per second with {@link THROUGHPUT_CONCURRENCY} in flight, Switchboard over
   * the bare SDK client with its own transport. Target ≥ 0.8.
   */
  throughput16Ratio: number;
  /** The throughput figures behind it, in calls per second. */
  throughput16: {
    switchboardPerSecond: number;
    barePerSecond: number;
    /**
     * Bare `Client.callTool` on Switchboard's own connection: the same server process, so the
     * two processes' placement on the cores does not differ between the sides (for comparison).
     */
    bareSameConnectionPerSecond: number;
    calls: number;
  };
  /**
   * Where the session's `tool_calls` rows were written: `postgres` (another process, as an agent
   * worker writes them) or the embedded `pglite` (in this process: its engine's CPU time counts
   * as the client's).
   */
  database: 'postgres' | 'pglite';
  /**
   * The same-connection comparison once the code is warm (see
   * {@link ToolCallOverheadOptions.warmCalls}); absent when not measured.
   */
  warm?: { ratio: number; switchboardMedianMs: number; bareMedianMs: number; calls: number };
  /** Measured calls per side, all rounds together (warm-up calls not included). */
  iterations: number;
  /** Rounds, each with fresh connections. */
  rounds: number;
  /**
   * The lowest and highest same-connection ratio of a single round (median over median): how far
   * one round's process placement and compilation state move the figure.
   */
  roundRatioRange: [number, number];
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
  /**
   * Calls in one CPU block; default 200. Each round has enough blocks for twice its share of
   * `iterations` per side (at least one).
   */
  blockCalls?: number;
  /**
   * Calls in one throughput block (16 in flight); default {@link THROUGHPUT_BLOCK_CALLS}. Each
   * round has enough blocks for twice its share of `iterations` per side (at least one).
   */
  throughputBlockCalls?: number;
  /**
   * Where the session's `tool_calls` rows go: a `postgres://` URL (a database of the bench's own
   * is made there), or the embedded PGlite database when absent.
   */
  databaseUrl?: string;
  /**
   * Calls per side of a last comparison on the last round's connection, Switchboard's tool and
   * the bare `Client.callTool` in turn, after half as many unmeasured ones: the overhead once
   * V8 has compiled both paths (it settles after about 2,500 calls, longer than a round).
   * Default 0: not measured.
   */
  warmCalls?: number;
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
  const blockCalls = options.blockCalls ?? 200;
  // Twice as many calls as each latency side: a sum of 1,000 calls moved by up to half between
  // two runs on a 2-core VM (one major GC, or compilation finishing, in one block weighs on it),
  // 4,000 by about a fifth; the blocks are fast, so the run stays short.
  const blocks = Math.max(1, Math.ceil((perRound * 2) / blockCalls));
  const throughputBlockCalls = options.throughputBlockCalls ?? THROUGHPUT_BLOCK_CALLS;
  const throughputBlocks = Math.max(1, Math.ceil((perRound * 2) / throughputBlockCalls));
  // A B C, then C B A: each side as often first as last, across rounds when a round has one block.
  const inTurn = (round: number, block: number) => {
    const order = (['switchboard', 'bareSeparate', 'bareSame'] as const).slice();
    return (round + block) % 2 === 1 ? order.reverse() : order;
  };
  const timings = PAIRS.map(() => [[], []] as [number[], number[]]);
  const roundRatios: number[] = [];
  const cpu = { switchboard: new Block(), bareSeparate: new Block(), bareSame: new Block() };
  const throughput = { switchboard: new Block(), bareSeparate: new Block(), bareSame: new Block() };
  const warmCalls = options.warmCalls ?? 0;
  const warmTimings: [number[], number[]] = [[], []];
  for (let round = 0; round < rounds; round++) {
    await withSides(options, async (sides, flush) => {
      for (const [index, [a, b]] of PAIRS.entries()) {
        const measured = timings[index]!;
        const from = measured[0].length;
        await alternate([sides[a], sides[b]], warmup, perRound, measured);
        if (index === 0) {
          roundRatios.push(median(measured[0].slice(from)) / median(measured[1].slice(from)));
        }
      }
      const after = { switchboard: flush, bareSeparate: undefined, bareSame: undefined };
      for (let block = 0; block < blocks; block++) {
        for (const name of inTurn(round, block)) {
          await cpu[name].add(() => callSerially(sides[name], blockCalls), blockCalls, after[name]);
        }
      }
      for (let block = 0; block < throughputBlocks; block++) {
        for (const name of inTurn(round, block)) {
          await throughput[name].add(
            () => callConcurrently(sides[name], throughputBlockCalls, THROUGHPUT_CONCURRENCY),
            throughputBlockCalls,
            after[name],
          );
        }
      }
      if (round === rounds - 1 && warmCalls > 0) {
        const sidesInTurn = [sides.switchboard, sides.bareSame] as const;
        await alternate(sidesInTurn, Math.ceil(warmCalls / 2), warmCalls, warmTimings);
      }
    });
  }
  const cpuUs = (block: Block) => round(block.cpuMicros / block.calls, 1);
  const perSecond = (block: Block) => round((block.calls * 1000) / block.wallMs, 0);
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
    cpuPerCallRatio: round(cpu.switchboard.cpuMicros / cpu.bareSeparate.cpuMicros),
    cpuPerCall: {
      switchboardUs: cpuUs(cpu.switchboard),
      bareUs: cpuUs(cpu.bareSeparate),
      bareSameConnectionUs: cpuUs(cpu.bareSame),
      calls: cpu.switchboard.calls,
    },
    throughput16Ratio: round(throughput.bareSeparate.wallMs / throughput.switchboard.wallMs),
    throughput16: {
      switchboardPerSecond: perSecond(throughput.switchboard),
      barePerSecond: perSecond(throughput.bareSeparate),
      bareSameConnectionPerSecond: perSecond(throughput.bareSame),
      calls: throughput.switchboard.calls,
    },
    ...(warmCalls > 0 && {
      warm: {
        ratio: round(median(warmTimings[0]) / median(warmTimings[1])),
        switchboardMedianMs: round(median(warmTimings[0]), 4),
        bareMedianMs: round(median(warmTimings[1]), 4),
        calls: warmTimings[0].length,
      },
    }),
    database: options.databaseUrl ? 'postgres' : 'pglite',
    iterations: timings[0]![0].length,
    rounds,
    roundRatioRange: [round(Math.min(...roundRatios)), round(Math.max(...roundRatios))],
  };
}

/** Sums of one side's measured blocks. */
class Block {
  calls = 0;
  /** Client-process CPU time, user + system, in microseconds. */
  cpuMicros = 0;
  wallMs = 0;

  /**
   * Runs `work` (which makes `calls` calls), then `after` (a Switchboard block's audit write),
   * and adds the CPU and wall time of both.
   */
  async add(
    work: () => Promise<void>,
    calls: number,
    after: (() => Promise<void>) | undefined,
  ): Promise<void> {
    const cpu = process.cpuUsage();
    const started = performance.now();
    await work();
    await after?.();
    this.wallMs += performance.now() - started;
    const used = process.cpuUsage(cpu);
    this.cpuMicros += used.user + used.system;
    this.calls += calls;
  }
}

/** Makes `calls` calls one after another, each with a fresh signal (as the runtime does). */
async function callSerially(side: Side, calls: number): Promise<void> {
  for (let i = 0; i < calls; i++) await side(new AbortController().signal);
}

/** Makes `calls` calls with `concurrency` of them in flight until the last ones. */
async function callConcurrently(side: Side, calls: number, concurrency: number): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < calls) {
      next += 1;
      await side(new AbortController().signal);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
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
 * side, runs `work` (with a function that writes the session's buffered `tool_calls` rows), checks
 * that every Switchboard call was recorded, and closes both.
 *
 * @throws Error when the database holds another number of `tool_calls` rows than Switchboard's
 *   tool made calls.
 */
async function withSides(
  options: ToolCallOverheadOptions,
  work: (sides: Record<SideName, Side>, flush: () => Promise<void>) => Promise<void>,
): Promise<void> {
  let tool: BenchTool | undefined;
  let client: BareClient | undefined;
  try {
    [tool, client] = await Promise.all([
      createBenchTool({
        target: options.target,
        toolName: 'echo',
        databaseUrl: options.databaseUrl,
      }),
      connectBareClient(options.target),
    ]);
    const switchboardTool = tool;
    const bareClient = client;
    const separateCall = async (callOptions?: RequestOptions) => {
      const result = await bareClient.callTool('echo', { message: 'x' }, callOptions);
      const first = result.content[0];
      return first?.type === 'text' ? first.text : undefined;
    };
    let switchboardCalls = 0;
    const sides: Record<SideName, Side> = {
      switchboard: (signal) => {
        switchboardCalls += 1;
        return switchboardTool.call({ message: 'x' }, signal);
      },
      bareSame: () => switchboardTool.bareCall({ message: 'x' }),
      bareSeparate: () => separateCall(),
      bareSeparateWithSignal: (signal) => separateCall({ signal, timeout: 30_000 }),
    };
    for (const side of Object.values(sides)) {
      const text = await side(new AbortController().signal);
      if (text !== 'Echo: x') throw new Error(`echo answered ${JSON.stringify(text)}`);
    }
    await work(sides, () => switchboardTool.flushRecords());
    await switchboardTool.flushRecords();
    const recorded = await switchboardTool.recordedCalls();
    if (recorded !== switchboardCalls) {
      throw new Error(`${switchboardCalls} calls made but ${recorded} tool_calls rows written`);
    }
  } finally {
    await Promise.allSettled([tool?.close(), client?.close()]);
  }
}
