/**
 * The client under test of the MCP conformance suite (`@modelcontextprotocol/conformance`
 * `client --command`): the suite runs this with the scenario's server URL as the last argument,
 * the scenario's name in `MCP_CONFORMANCE_SCENARIO` and its credentials, if any, in
 * `MCP_CONFORMANCE_CONTEXT` (JSON). It turns them into `npm run probe` flags, runs the probe, and
 * plays the user's browser: it opens each authorization URL the probe prints (the suite's
 * authorization server approves at once) and delivers the redirect to the probe's loopback
 * listener. The probe itself has no test-only behaviour.
 *
 * `PROBE_ROOT` runs another checkout's probe (e.g. main, for a baseline); `PROBE_LEGACY=1` leaves
 * out the flags an older probe does not know (`--oauth`, `--client-metadata-url`,
 * `--elicitation`).
 *
 * Run by `bench/conformance.ts`, not by hand.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const PROMPT = 'Open this URL to authorize: ';
/** The suite's Client ID Metadata Document URL (its `auth/basic-cimd` expects this client id). */
const CLIENT_METADATA_URL = 'https://conformance-test.local/client-metadata.json';
const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

interface ConformanceContext {
  client_id?: string;
  client_secret?: string;
  private_key_pem?: string;
  signing_algorithm?: string;
}

/** The probe's flags for a scenario, besides the URL. */
function probeFlags(scenario: string, context: ConformanceContext, scratch: string): string[] {
  const legacy = process.env.PROBE_LEGACY === '1';
  if (scenario === 'tools_call') return ['--call', 'add_numbers', '--args', '{"a":5,"b":3}'];
  if (scenario === 'sse-retry') return ['--call', 'test_reconnection'];
  // The suite's server asks for input with a default for every field (SEP-1034).
  if (scenario === 'elicitation-sep1034-client-defaults') {
    const call = ['--call', 'test_client_elicitation_defaults'];
    return legacy ? call : [...call, '--elicitation', 'accept-defaults'];
  }
  if (!scenario.startsWith('auth/')) return [];
  if (scenario.startsWith('auth/client-credentials-')) {
    const flags = ['--client-id', context.client_id ?? ''];
    if (context.private_key_pem) {
      const keyFile = path.join(scratch, 'client.pem');
      writeFileSync(keyFile, context.private_key_pem);
      flags.push('--private-key-file', keyFile);
      if (context.signing_algorithm) flags.push('--signing-algorithm', context.signing_algorithm);
    } else {
      flags.push('--client-secret', context.client_secret ?? '');
    }
    return flags;
  }
  const flags = legacy ? [] : ['--oauth', '--client-metadata-url', CLIENT_METADATA_URL];
  if (context.client_id) flags.push('--client-id', context.client_id);
  if (context.client_secret) flags.push('--client-secret', context.client_secret);
  // A tool call: where the suite's server asks for more scope (auth/scope-step-up).
  return [...flags, '--call', 'test-tool'];
}

/** Opens an authorization URL as a browser would, following redirects to the probe's listener. */
async function openInBrowser(url: string): Promise<void> {
  let next = url;
  for (let hops = 0; hops < 10; hops++) {
    const response = await fetch(next, { redirect: 'manual' });
    await response.text();
    const location = response.headers.get('location');
    if (response.status < 300 || response.status > 399 || !location) return;
    next = new URL(location, next).href;
  }
}

async function main(): Promise<number> {
  const url = process.argv.at(-1);
  if (!url) throw new Error('usage: conformance-client.ts <server url>');
  const scenario = process.env.MCP_CONFORMANCE_SCENARIO ?? '';
  const context = JSON.parse(process.env.MCP_CONFORMANCE_CONTEXT ?? '{}') as ConformanceContext;
  const scratch = mkdtempSync(path.join(tmpdir(), 'switchboard-conformance-'));
  try {
    const root = process.env.PROBE_ROOT ?? REPO_ROOT;
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', 'cli/probe/main.ts', url, ...probeFlags(scenario, context, scratch)],
      {
        cwd: root,
        stdio: ['ignore', 'inherit', 'pipe'], // The suite's servers listen on localhost.
        env: { ...process.env, DATA_DIR: scratch, MCP_ALLOW_PRIVATE_NETWORKS: 'true' },
      },
    );
    const browsing: Promise<void>[] = [];
    let pending = '';
    child.stderr.on('data', (chunk: Buffer) => {
      process.stderr.write(chunk);
      pending += chunk.toString('utf8');
      const lines = pending.split('\n');
      pending = lines.pop()!;
      for (const line of lines) {
        if (line.startsWith(PROMPT)) browsing.push(openInBrowser(line.slice(PROMPT.length)));
      }
    });
    const code = await new Promise<number>((resolve) =>
      child.once('close', (status) => resolve(status ?? 1)),
    );
    await Promise.allSettled(browsing);
    return code;
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

process.exitCode = await main();
