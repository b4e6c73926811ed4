/**
 * `npm run probe` as a child process (`node --import tsx cli/probe/main.ts`) against real servers:
 * server-everything over stdio, SSE and Streamable HTTP, and the WebSocket test server; plus its
 * argument parsing and report formatting on their own.
 */
import { spawn } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LATEST_PROTOCOL_VERSION } from '@modelcontextprotocol/sdk/types.js';
import { parseProbeArgs, probeConfigInput, UsageError } from '../../../cli/probe/args.js';
import { formatProbeReport } from '../../../cli/probe/format.js';
import type { ProbeReport } from '../../../cli/probe/run.js';
import {
  EVERYTHING_BIN,
  freePort,
  REPO_ROOT,
  startEverythingHttpServer,
  type EverythingHttpServer,
} from '../../helpers/mcp-processes.js';
import { startOAuthMcpServer, type OAuthMcpServer } from '../../helpers/oauth-mcp-server.js';
import {
  WEBSOCKET_TEST_SERVER_NAME,
  startWebSocketMcpServer,
  type WebSocketMcpTestServer,
} from '../../helpers/websocket-mcp-server.js';
import { fileSandboxDataDir } from '../../helpers/sandboxed.js';

const EVERYTHING_NAME = 'mcp-servers/everything';
const ECHO_HI = ['--call', 'echo', '--args', '{"message":"hi"}'];
const STDIO_EVERYTHING = ['--command', process.execPath, '--arg', EVERYTHING_BIN, '--arg', 'stdio'];

interface ProbeRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the CLI to completion (killed after 25 s, so a hung probe fails the test). */
function probe(args: readonly string[]): Promise<ProbeRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'cli/probe/main.ts', ...args], {
      cwd: REPO_ROOT,
      // The probed stdio server runs sandboxed (the default); its folders go to a temporary
      // DATA_DIR, not the repository's ./data.
      env: { ...process.env, DATA_DIR: fileSandboxDataDir() },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    const timer = setTimeout(() => child.kill('SIGKILL'), 25_000);
    child.once('error', reject);
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** Asserts a failure: the exit status, nothing on stdout, one `probe:` line on stderr. */
function expectFailure(run: ProbeRun, code: number, message: RegExp): void {
  expect(run.code).toBe(code);
  expect(run.stdout).toBe('');
  const lines = run.stderr.trimEnd().split('\n');
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatch(/^probe: /);
  expect(lines[0]).toMatch(message);
}

function field(stdout: string, label: string): string | undefined {
  const line = stdout.split('\n').find((l) => l.startsWith(`${label} `));
  return line?.slice(label.length).trim();
}

describe('npm run probe against real servers', () => {
  let sseServer: EverythingHttpServer;
  let streamableServer: EverythingHttpServer;
  let wsServer: WebSocketMcpTestServer;

  beforeAll(async () => {
    [sseServer, streamableServer, wsServer] = await Promise.all([
      startEverythingHttpServer('sse'),
      startEverythingHttpServer('streamableHttp'),
      startWebSocketMcpServer({ authorization: 'Bearer probe-token', 'x-tenant': 'acme' }),
    ]);
  });

  afterAll(async () => {
    await Promise.all([sseServer?.stop(), streamableServer?.stop(), wsServer?.close()]);
  });

  it('probes a stdio server, lists its tools and prints the echo result', async () => {
    const run = await probe([...STDIO_EVERYTHING, '--name', 'Everything', ...ECHO_HI]);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(field(run.stdout, 'Server')).toMatch(new RegExp(`^${EVERYTHING_NAME} \\S+`));
    expect(field(run.stdout, 'Transport')).toBe('stdio');
    expect(field(run.stdout, 'Protocol')).toBe(LATEST_PROTOCOL_VERSION);
    expect(field(run.stdout, 'Capabilities')).toMatch(/\btools \(listChanged\)/);
    expect(run.stdout).toMatch(/^ {2}everything__echo +echo +Echoes back the input string$/m);
    expect(run.stdout).toMatch(/^Call +echo \{"message":"hi"\}: ok in [\d.]+ ms\nEcho: hi$/m);
  });

  it('probes a Streamable HTTP server and calls echo', async () => {
    const run = await probe([`${streamableServer.origin}/mcp`, ...ECHO_HI]);
    expect(run.code).toBe(0);
    expect(field(run.stdout, 'Transport')).toBe('streamable-http');
    expect(run.stdout).toMatch(/^Echo: hi$/m);
  });

  it('probes an SSE server with --transport sse', async () => {
    const run = await probe([`${sseServer.origin}/sse`, '--transport', 'sse', ...ECHO_HI]);
    expect(run.code).toBe(0);
    expect(field(run.stdout, 'Transport')).toBe('sse');
    expect(run.stdout).toMatch(/^Echo: hi$/m);
  });

  it('says so when a streamable-http URL only speaks HTTP+SSE and it fell back', async () => {
    const run = await probe([`${sseServer.origin}/sse`]);
    expect(run.code).toBe(0);
    expect(field(run.stdout, 'Transport')).toBe(
      'sse (the server refused streamable-http; fell back to HTTP+SSE)',
    );
  });

  it('probes a WebSocket server, sending --bearer and --header', async () => {
    const run = await probe([
      wsServer.url,
      '--bearer',
      'probe-token',
      '--header',
      'X-Tenant=acme',
      ...ECHO_HI,
    ]);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(field(run.stdout, 'Server')).toMatch(new RegExp(`^${WEBSOCKET_TEST_SERVER_NAME} `));
    expect(field(run.stdout, 'Transport')).toBe('websocket');
    expect(run.stdout).toMatch(/^Echo: hi$/m);
  });

  it('prints the report as JSON with --json', async () => {
    const run = await probe([`${streamableServer.origin}/mcp`, '--json', ...ECHO_HI]);
    expect(run.code).toBe(0);
    const report = JSON.parse(run.stdout) as ProbeReport;
    expect(report.serverInfo?.name).toBe(EVERYTHING_NAME);
    expect(report.tools.map((tool) => tool.originalName)).toContain('echo');
    expect(report.call).toMatchObject({ tool: 'echo', text: 'Echo: hi', isError: false });
  });

  it('exits 1 with one line when nothing listens at the port', async () => {
    expectFailure(
      await probe([`http://127.0.0.1:${await freePort()}/mcp`]),
      1,
      /Could not connect .*ECONNREFUSED/,
    );
  });

  it('exits 1 naming the tools when the tool does not exist', async () => {
    const run = await probe([`${streamableServer.origin}/mcp`, '--call', 'no-such-tool']);
    expectFailure(run, 1, /unknown tool "no-such-tool": the server has echo, /);
  });

  it('exits 1 when the tool answers with an error, after printing the result', async () => {
    const run = await probe([`${streamableServer.origin}/mcp`, '--call', 'get-sum']);
    expect(run.code).toBe(1);
    expect(run.stdout).toMatch(/^Call +get-sum \{\}: the server reported an error in/m);
    expect(run.stderr).toMatch(/^probe: get-sum failed: .*Invalid arguments/);
    expect(run.stderr.trimEnd().split('\n')).toHaveLength(1);
  });

  it('exits 1 when a stdio command does not exist', async () => {
    const run = await probe(['--command', 'switchboard-probe-no-such-command']);
    expectFailure(run, 1, /command not found: switchboard-probe-no-such-command/);
  });

  it('exits 1 when initialize does not finish within --timeout', async () => {
    // A TCP server that accepts the connection and never answers.
    const silent = createServer(() => {});
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const port = (silent.address() as AddressInfo).port;
    try {
      const run = await probe([`http://127.0.0.1:${port}/mcp`, '--timeout', '500']);
      expectFailure(run, 1, /did not complete initialize within 500 ms/);
    } finally {
      silent.close();
    }
  });
});

describe('npm run probe against an OAuth-protected server', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'switchboard-probe-oauth-'));
  const keys = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const keyFile = path.join(dir, 'client.pem');
  let server: OAuthMcpServer;

  beforeAll(async () => {
    writeFileSync(keyFile, keys.privateKey.export({ type: 'pkcs8', format: 'pem' }));
    server = await startOAuthMcpServer({
      clients: [
        { clientId: 'probe-secret', clientSecret: 'probe-client-secret' },
        { clientId: 'probe-jwt', publicKey: keys.publicKey },
      ],
    });
  });

  afterAll(async () => {
    await server?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('gets a token by client credentials found through discovery and calls a tool', async () => {
    const run = await probe([
      server.mcpUrl,
      ...['--client-id', 'probe-secret', '--client-secret', 'probe-client-secret'],
      ...['--scope', 'mcp:read'],
      ...ECHO_HI,
    ]);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^Echo: hi$/m);
    expect(server.metadataRequests.some((p) => p.includes('oauth-protected-resource'))).toBe(true);
    expect(server.tokenRequests.at(-1)).toMatchObject({
      grantType: 'client_credentials',
      clientId: 'probe-secret',
      scope: 'mcp:read',
      status: 200,
    });
  });

  it('signs a private_key_jwt assertion with --private-key-file and an explicit --token-url', async () => {
    const run = await probe([
      server.mcpUrl,
      ...['--client-id', 'probe-jwt', '--private-key-file', keyFile],
      ...['--signing-algorithm', 'ES256', '--token-url', server.tokenUrl],
      ...ECHO_HI,
    ]);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(server.tokenRequests.at(-1)).toMatchObject({
      authMethod: 'private_key_jwt',
      clientId: 'probe-jwt',
      status: 200,
    });
  });

  it('exits 1 with the OAuth error when the secret is wrong', async () => {
    const run = await probe([
      server.mcpUrl,
      ...['--client-id', 'probe-secret', '--client-secret', 'wrong'],
    ]);
    expect(run.code).toBe(1);
    expect(run.stdout).toBe('');
    expect(run.stderr).toMatch(/invalid_client/);
  });
});

describe('npm run probe usage errors exit 2', () => {
  it.each([
    [[], /give a server URL or --command/],
    [['not a url'], /Invalid config: config\.url must be an absolute URL, such as/],
    [['ftp://example.com/mcp'], /url must use http or https/],
    [['http://x/mcp', '--transport', 'carrier-pigeon'], /config\.transport/],
    [['http://x/mcp', '--bogus'], /Unknown option '--bogus'/],
    [['http://x/mcp', '--args', '{}'], /--args needs --call TOOL/],
    [['http://x/mcp', '--call', 'echo', '--args', '{nope'], /--args is not valid JSON/],
    [['http://x/mcp', '--call', 'echo', '--args', '[1]'], /--args must be a JSON object/],
    [['http://x/mcp', '--header', 'NoEquals'], /--header expects NAME=VALUE/],
    [['http://x/mcp', '--timeout', 'soon'], /--timeout must be a whole number/],
    [['http://x/mcp', '--timeout', '5'], /timeoutMs must be at least 100 ms/],
    [
      ['http://x/mcp', '--client-id', 'abc'],
      /exactly one of --client-secret or --private-key-file/,
    ],
    [['http://x/mcp', '--scope', 'read'], /--scope needs --client-id/],
    [['--command', 'node', '--header', 'A=b'], /--header applies to a remote server/],
    [['http://x/mcp', '--arg', 'x'], /--arg applies to a stdio server/],
  ])('%j', async (args, message) => {
    expectFailure(await probe(args), 2, message);
  });

  it('prints the usage with --help and exits 0', async () => {
    const run = await probe(['--help']);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^Usage:/);
    expect(run.stdout).toMatch(/--private-key-file PEM/);
  });
});

describe('parseProbeArgs', () => {
  it('builds a stdio config with its arguments in order, env and cwd', () => {
    const command = parseProbeArgs([
      '--command',
      'node',
      '--arg',
      'server.js',
      '--arg=--verbose',
      '--env',
      'TOKEN=a=b',
      '--cwd',
      REPO_ROOT,
      '--timeout',
      '1500',
    ]);
    expect(command).toMatchObject({
      kind: 'probe',
      config: {
        transport: 'stdio',
        command: 'node',
        args: ['server.js', '--verbose'],
        env: { TOKEN: 'a=b' },
        cwd: REPO_ROOT,
        timeoutMs: 1500,
      },
      json: false,
    });
  });

  it('defaults to websocket for ws:// URLs and streamable-http otherwise', () => {
    const ws = parseProbeArgs(['ws://127.0.0.1:1/mcp']);
    const http = parseProbeArgs(['https://example.com/mcp', '--bearer', 'tok']);
    expect(ws.kind === 'probe' && ws.config.transport).toBe('websocket');
    expect(http).toMatchObject({
      config: { transport: 'streamable-http', apiKey: 'tok', timeoutMs: 30_000 },
    });
  });

  it('maps client credentials flags to an oauth2-client-credentials auth field', () => {
    expect(
      probeConfigInput([
        'https://example.com/mcp',
        '--client-id',
        'switchboard',
        '--client-secret',
        's3cret',
        '--token-url',
        'https://auth.example.com/token',
        '--scope',
        'read',
        '--scope',
        'write',
      ]),
    ).toEqual({
      transport: 'streamable-http',
      url: 'https://example.com/mcp',
      headers: {},
      auth: {
        type: 'oauth2-client-credentials',
        clientId: 'switchboard',
        clientSecret: 's3cret',
        tokenUrl: 'https://auth.example.com/token',
        scopes: ['read', 'write'],
      },
    });
  });

  it('maps private key flags to an oauth2-private-key-jwt auth field with the key file read', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'probe-test-'));
    try {
      const keyFile = path.join(dir, 'key.pem');
      writeFileSync(keyFile, '-----BEGIN PRIVATE KEY-----\nabc\n-----END PRIVATE KEY-----\n');
      const input = probeConfigInput([
        'https://example.com/mcp',
        '--client-id',
        'switchboard',
        '--private-key-file',
        keyFile,
        '--signing-algorithm',
        'ES256',
      ]);
      expect(input).toMatchObject({
        auth: {
          type: 'oauth2-private-key-jwt',
          clientId: 'switchboard',
          privateKey: expect.stringContaining('BEGIN PRIVATE KEY'),
          algorithm: 'ES256',
        },
      });
      expect(() =>
        probeConfigInput([
          'https://example.com/mcp',
          '--client-id',
          'x',
          '--private-key-file',
          path.join(dir, 'missing.pem'),
        ]),
      ).toThrow(/cannot read --private-key-file .*missing\.pem: ENOENT/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('rejects --bearer together with OAuth flags', () => {
    expect(() =>
      probeConfigInput([
        'https://x/mcp',
        '--bearer',
        't',
        '--client-id',
        'a',
        '--client-secret',
        'b',
      ]),
    ).toThrow(UsageError);
  });
});

describe('formatProbeReport', () => {
  const report: ProbeReport = {
    target: 'http://127.0.0.1:1/sse',
    requestedTransport: 'streamable-http',
    transport: 'sse',
    serverInfo: { name: 'demo', version: '1.0.0' },
    protocolVersion: '2025-11-25',
    capabilities: { tools: { listChanged: true }, logging: {}, resources: { subscribe: false } },
    connectMs: 12.5,
    tools: [
      { name: 'demo__a', originalName: 'a', description: 'First line.\nSecond line.' },
      { name: 'demo__long', originalName: 'long', description: 'x'.repeat(200) },
    ],
    call: { tool: 'a', args: { n: 1 }, text: 'one\ntwo', isError: false, durationMs: 3 },
    elicitations: [],
  };

  it('prints server, fallback, protocol, capabilities, a tool table and the call result', () => {
    const lines = formatProbeReport(report);
    expect(lines).toContain('Server        demo 1.0.0');
    expect(lines).toContain(
      'Transport     sse (the server refused streamable-http; fell back to HTTP+SSE)',
    );
    expect(lines).toContain('Protocol      2025-11-25');
    expect(lines).toContain('Capabilities  tools (listChanged), logging, resources');
    expect(lines).toContainEqual(expect.stringMatching(/^ {2}demo__a +a +First line\.$/));
    const long = lines.find((line) => line.startsWith('  demo__long'))!;
    expect(long.endsWith('…')).toBe(true);
    expect(long.length).toBeLessThan(120);
    expect(lines.slice(-3)).toEqual(['Call          a {"n":1}: ok in 3 ms', 'one', 'two']);
  });

  it('leaves the protocol line out when the connection did not report it', () => {
    const lines = formatProbeReport({ ...report, protocolVersion: undefined });
    expect(lines.some((line) => line.startsWith('Protocol'))).toBe(false);
  });
});
