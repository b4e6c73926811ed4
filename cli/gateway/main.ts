/**
 * `npm run gateway --silent -- [--token <token>] [--url <url>]`: serves Switchboard's MCP endpoint
 * (`<url>/mcp`, Streamable HTTP, MCP 2025-11-25) over stdio for MCP clients that can only launch a
 * process (see `startGateway` in `bridge.ts`, and `GATEWAY_USAGE` in `args.ts` for the flags and
 * their environment variables, `SWITCHBOARD_TOKEN` and `SWITCHBOARD_URL`). Desktop clients, which
 * start it from any working directory, run `node <repo>/cli/gateway/bin.mjs` instead.
 *
 * stdout carries JSON-RPC only; diagnostics go to stderr, one `gateway: ` line each.
 * Exit status: 0 when stdin ends or on SIGTERM/SIGINT (the HTTP session is ended first), 2 for a
 * bad command line (the reason and the usage on stderr).
 */
import { GATEWAY_USAGE, GatewayUsageError, parseGatewayArgs } from './args.js';
import { startGateway } from './bridge.js';

/** How long the process may linger once closed (keep-alive sockets of `fetch`). */
const EXIT_GRACE_MS = 1_000;

function main(argv: readonly string[]): Promise<number> | number {
  let command;
  try {
    command = parseGatewayArgs(argv);
  } catch (error) {
    if (!(error instanceof GatewayUsageError)) throw error;
    process.stderr.write(`gateway: ${error.message}\n\n${GATEWAY_USAGE}\n`);
    return 2;
  }
  if (command.kind === 'help') {
    process.stdout.write(`${GATEWAY_USAGE}\n`);
    return 0;
  }
  const gateway = startGateway({
    endpoint: command.endpoint,
    token: command.token,
    log: (line) => process.stderr.write(`gateway: ${line.replace(/\s*\n\s*/g, ' | ')}\n`),
  });
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.once(signal, () => void gateway.close());
  }
  return gateway.closed.then(() => 0);
}

process.exitCode = await main(process.argv.slice(2));
setTimeout(() => process.exit(), EXIT_GRACE_MS).unref();
