/**
 * `npm run probe -- <url> | --command CMD [options]`: connects to one MCP server with the agent's
 * connection code, prints what it says about itself and its tools (as the agent would advertise
 * them), and optionally calls one tool. See `PROBE_USAGE` in `args.ts` for the flags.
 *
 * Exit status: 0 on success, 1 when connecting, listing or the call fails, 2 for a bad command
 * line; a failure is one line on stderr.
 */
import { pino } from 'pino';
import { createLogger } from '../../shared/logger.js';
import type { ConnectionGuards } from '../../shared/mcp/connection-guards.js';
import { describeError } from '../../shared/errors.js';
import {
  SANDBOX_OFF_WARNING,
  SettingsError,
  connectionGuards,
  loadSettings,
  stdioSandbox,
} from '../../shared/settings.js';
import { PROBE_USAGE, UsageError, parseProbeArgs, type ProbeCommand } from './args.js';
import { formatProbeReport } from './format.js';
import { runProbe } from './run.js';

/** How long the process may linger after the work is done (open sockets, exiting children). */
const EXIT_GRACE_MS = 2_000;

async function main(argv: readonly string[]): Promise<number> {
  let command: ProbeCommand;
  try {
    command = parseProbeArgs(argv);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    fail(`${error.message} (see --help)`);
    return 2;
  }
  if (command.kind === 'help') {
    process.stdout.write(`${PROBE_USAGE}\n`);
    return 0;
  }
  let guards: ConnectionGuards;
  try {
    const settings = loadSettings();
    // A stdio server probed here runs sandboxed like any other, as `nobody`.
    const sandbox = stdioSandbox(settings);
    if (!sandbox) process.stderr.write(`probe: ${SANDBOX_OFF_WARNING}\n`);
    // The operator's own command line: the URL policy applies, the stdio allow list does not,
    // and one probe needs no process cap.
    guards = { ...connectionGuards(settings, { sandbox }), allowedCommands: undefined };
  } catch (error) {
    if (!(error instanceof SettingsError)) throw error;
    fail(error.message);
    return 2;
  }
  const logger = createLogger({
    level: command.verbose ? 'debug' : 'silent',
    name: 'probe',
    destination: pino.destination(2),
  });
  try {
    // A probed stdio server runs sandboxed as `nobody` with no network (no outbound provider here);
    // MCP_STDIO_SANDBOX=off runs it unsandboxed, with the host's network.
    const config =
      command.config.transport === 'stdio'
        ? { ...command.config, sandbox: command.config.sandbox ?? { network: 'none' as const } }
        : command.config;
    const report = await runProbe(config, {
      logger,
      name: command.name,
      call: command.call,
      guards,
      oauth: command.oauth,
      elicitation: command.elicitation,
      onAuthorizationUrl: (url) =>
        process.stderr.write(`Open this URL to authorize: ${url.href}\n`),
    });
    const output = command.json ? [JSON.stringify(report, null, 2)] : formatProbeReport(report);
    process.stdout.write(`${output.join('\n')}\n`);
    if (report.call?.isError) {
      fail(`${report.call.tool} failed: ${report.call.text}`);
      return 1;
    }
    return 0;
  } catch (error) {
    fail(describeError(error));
    return 1;
  }
}

/** One line on stderr, whatever the message holds. */
function fail(message: string): void {
  process.stderr.write(`probe: ${message.replace(/\s*\n\s*/g, ' | ')}\n`);
}

process.exitCode = await main(process.argv.slice(2));
// Everything is closed by now; do not let a keep-alive socket hold the exit code back.
setTimeout(() => process.exit(), EXIT_GRACE_MS).unref();
