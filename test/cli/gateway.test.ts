/**
 * `npm run gateway` (cli/gateway) as a real child process between an SDK `Client` on its stdio and
 * a stand-in for Switchboard's Streamable HTTP MCP endpoint (test/helpers/gateway-mcp-server.ts,
 * bearer-checked): tools listed and called, progress, a server notification on the standalone GET
 * stream, an elicitation answered by the client, cancellation; a wrong token, a token without the
 * gateway scope and an unreachable URL answered with a JSON-RPC error and one readable stderr
 * line; a forgotten session restarted transparently; stdin's end and SIGTERM ending the HTTP
 * session (DELETE) with exit status 0; the README's desktop command (`node <repo>/cli/gateway/
 * bin.mjs` from another directory) writing nothing but JSON-RPC on stdout. Plus the arguments.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import {
  ElicitRequestSchema,
  LATEST_PROTOCOL_VERSION,
  ProgressNotificationSchema,
  ToolListChangedNotificationSchema,
  type ProgressNotification,
} from '@modelcontextprotocol/sdk/types.js';
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import {
  DEFAULT_SWITCHBOARD_URL,
  GatewayUsageError,
  parseGatewayArgs,
} from '../../cli/gateway/args.js';
import {
  NO_SCOPE_TOKEN,
  startGatewayEndpoint,
  type GatewayEndpoint,
} from '../helpers/gateway-mcp-server.js';
import { REPO_ROOT, freePort } from '../helpers/mcp-processes.js';

const TOKEN = 'sb_gatewayTestToken0123456789';
const MAIN = ['--import', 'tsx', 'cli/gateway/main.ts'];
const BIN = path.join(REPO_ROOT, 'cli/gateway/bin.mjs');

/** A client connected to a gateway process, with what the process wrote on stderr. */
interface Connected {
  client: Client;
  stderr(): string;
  /** Errors the client's protocol layer reported (e.g. an answer to an unknown request). */
  clientErrors: Error[];
  /** The elicitation messages the client was asked. */
  elicited: string[];
}

/** A client that answers elicitations with `{name: 'Ada'}`. */
function newClient(): Pick<Connected, 'client' | 'clientErrors' | 'elicited'> {
  const client = new Client(
    { name: 'gateway-test', version: '1.0.0' },
    { capabilities: { elicitation: {} } },
  );
  const elicited: string[] = [];
  client.setRequestHandler(ElicitRequestSchema, async (request) => {
    elicited.push(request.params.message);
    return { action: 'accept', content: { name: 'Ada' } };
  });
  const clientErrors: Error[] = [];
  client.onerror = (error) => clientErrors.push(error);
  return { client, clientErrors, elicited };
}

let endpoint: GatewayEndpoint;
const clients: Client[] = [];
const children: ChildProcessWithoutNullStreams[] = [];

beforeEach(async () => {
  endpoint = await startGatewayEndpoint(TOKEN);
});

afterEach(async () => {
  await Promise.all(clients.splice(0).map((client) => client.close()));
  for (const child of children.splice(0)) {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
  await endpoint.close();
});

/**
 * Starts `node --import tsx cli/gateway/main.ts` with the SDK's `StdioClientTransport`, as a
 * desktop client would, and connects to it.
 *
 * @param env the gateway's environment besides the SDK's defaults (PATH, HOME…).
 */
async function connectGateway(env: Record<string, string>): Promise<Connected> {
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: MAIN,
    cwd: REPO_ROOT,
    env,
    stderr: 'pipe',
  });
  let stderr = '';
  transport.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
  const connected = newClient();
  clients.push(connected.client);
  await connected.client.connect(transport);
  return { ...connected, stderr: () => stderr };
}

/** {@link connectGateway} with the good token and the endpoint's URL. */
function connectGood(): Promise<Connected> {
  return connectGateway({ SWITCHBOARD_TOKEN: TOKEN, SWITCHBOARD_URL: endpoint.origin });
}

/**
 * Starts a gateway process itself (to see its stdout and exit status), with a transport over its
 * pipes for a client (the SDK's newline-delimited JSON stdio transport, reading the child's
 * stdout).
 */
function startGatewayProcess(
  command: string,
  args: readonly string[],
  options: { cwd: string; env: Record<string, string | undefined> },
) {
  const child = spawn(command, args, { ...options, stdio: ['pipe', 'pipe', 'pipe'] });
  children.push(child);
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
  const exited = new Promise<number | null>((resolve) => child.once('close', resolve));
  const transport: Transport = new StdioServerTransport(child.stdout, child.stdin);
  return { child, exited, transport, stdout: () => stdout, stderr: () => stderr };
}

/** {@link startGatewayProcess}, connected. */
async function spawnGateway(...args: Parameters<typeof startGatewayProcess>) {
  const started = startGatewayProcess(...args);
  const connected = newClient();
  await connected.client.connect(started.transport);
  return { ...started, ...connected };
}

/** Every line of `stdout` is a JSON-RPC 2.0 message. */
function expectOnlyJsonRpc(stdout: string): void {
  const lines = stdout.split('\n').filter((line) => line !== '');
  expect(lines.length).toBeGreaterThan(0);
  for (const line of lines) expect(JSON.parse(line)).toMatchObject({ jsonrpc: '2.0' });
}

function text(result: unknown): string {
  return (result as { content: { text: string }[] }).content[0]!.text;
}

describe('npm run gateway against a Streamable HTTP endpoint', () => {
  it('lists the tools and calls one, sending the bearer token and the protocol version', async () => {
    const { client, stderr } = await connectGood();
    const { tools } = await client.listTools();
    expect(tools.map((tool) => tool.name)).toEqual(['echo', 'count', 'ask', 'wait']);
    expect(text(await client.callTool({ name: 'echo', arguments: { message: 'hi' } }))).toBe(
      'Echo: hi',
    );
    expect(client.getServerVersion()?.name).toBe('gateway-endpoint-fixture');
    const posts = endpoint.requests.filter((request) => request.method === 'POST');
    expect(posts[0]).toMatchObject({ sessionId: undefined, status: 200 });
    // After initialize: the session id and the negotiated version on every request.
    for (const post of posts.slice(1)) {
      expect(post.sessionId).toBe(endpoint.liveSessions()[0]);
      expect(post.protocolVersion).toBe(LATEST_PROTOCOL_VERSION);
    }
    // stderr is another pipe: its lines may arrive after stdout's.
    await vi.waitFor(() =>
      expect(stderr()).toContain(`gateway: relaying stdio to ${endpoint.origin}/mcp`),
    );
    expect(stderr()).not.toContain(TOKEN);
  });

  it('relays progress notifications of a call', async () => {
    const { client } = await connectGood();
    // The SDK client runs notification handlers a tick after a response in the same read from
    // stdout, so its `onprogress` can miss progress that arrives with the result; record the
    // notifications themselves. `onprogress` still makes the call carry a progress token.
    const progress: ProgressNotification['params'][] = [];
    client.setNotificationHandler(ProgressNotificationSchema, (notification) => {
      progress.push(notification.params);
    });
    const result = await client.callTool({ name: 'count', arguments: { to: 3 } }, undefined, {
      onprogress: () => {},
    });
    expect(text(result)).toBe('counted to 3');
    await vi.waitFor(() => expect(progress).toHaveLength(3));
    const token = progress[0]!.progressToken;
    expect(progress).toEqual([
      { progressToken: token, progress: 1, total: 3 },
      { progressToken: token, progress: 2, total: 3 },
      { progressToken: token, progress: 3, total: 3 },
    ]);
  });

  it('relays notifications of the standalone GET stream: tools/list_changed', async () => {
    const { client } = await connectGood();
    const changed = new Promise<void>((resolve) =>
      client.setNotificationHandler(ToolListChangedNotificationSchema, () => resolve()),
    );
    // The SDK opens the GET stream once the endpoint has accepted notifications/initialized.
    await vi.waitFor(() => expect(endpoint.openGetStreams()).toBe(1));
    endpoint.addTool('late');
    await changed;
    const { tools } = await client.listTools();
    expect(tools.map((tool) => tool.name)).toContain('late');
  });

  it("relays the server's elicitation request and the client's answer", async () => {
    const { client, elicited } = await connectGood();
    expect(text(await client.callTool({ name: 'ask', arguments: {} }))).toBe('Hello Ada');
    expect(elicited).toEqual(['What is your name?']);
  });

  it("relays the client's cancellation", async () => {
    const { client } = await connectGood();
    const controller = new AbortController();
    const call = client.callTool({ name: 'wait', arguments: {} }, undefined, {
      signal: controller.signal,
    });
    await vi.waitFor(() => expect(endpoint.waiting).toBe(1));
    controller.abort('changed my mind');
    await expect(call).rejects.toThrow(/changed my mind/);
    await vi.waitFor(() => expect(endpoint.cancelled).toHaveLength(1));
  });

  it('answers a wrong token with a JSON-RPC error and says how to make a token', async () => {
    const wrong = 'sb_wrongToken0123456789';
    const transport = new StdioClientTransport({
      command: process.execPath,
      args: MAIN,
      cwd: REPO_ROOT,
      env: { SWITCHBOARD_TOKEN: wrong, SWITCHBOARD_URL: endpoint.origin },
      stderr: 'pipe',
    });
    let stderr = '';
    transport.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    const { client } = newClient();
    clients.push(client);
    await expect(client.connect(transport)).rejects.toThrow(
      /rejected the API token \(HTTP 401\): it is unknown or revoked/,
    );
    await vi.waitFor(() => expect(stderr).toMatch(/HTTP 401/));
    const line = stderr.split('\n').find((l) => l.includes('HTTP 401'))!;
    expect(line).toMatch(
      new RegExp(`^gateway: Switchboard at ${endpoint.origin}/mcp rejected the API token`),
    );
    expect(line).toContain('dashboard (Access → API tokens)');
    expect(line).toContain('POST /api/tokens and {"label": "...", "scopes": ["gateway"]}');
    expect(stderr.match(/HTTP 401/g)).toHaveLength(1);
    expect(stderr).not.toContain(wrong);
  });

  it('answers a token without the gateway scope (403) likewise', async () => {
    const error = await connectGateway({
      SWITCHBOARD_TOKEN: NO_SCOPE_TOKEN,
      SWITCHBOARD_URL: endpoint.origin,
    }).catch((e: unknown) => e);
    expect(String(error)).toMatch(/refused the API token \(HTTP 403\): it lacks the gateway scope/);
    expect(String(error)).toContain('"scopes": ["gateway"]');
  });

  it('answers when Switchboard cannot be reached', async () => {
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const gateway = startGatewayProcess(process.execPath, MAIN, {
      cwd: REPO_ROOT,
      env: { ...process.env, SWITCHBOARD_TOKEN: TOKEN, SWITCHBOARD_URL: url },
    });
    const { client } = newClient();
    const refusal = `cannot reach Switchboard at ${url}/mcp: ECONNREFUSED`;
    await expect(client.connect(gateway.transport)).rejects.toThrow(refusal);
    await vi.waitFor(() => expect(gateway.stderr()).toContain(`gateway: ${refusal}\n`));
    expectOnlyJsonRpc(gateway.stdout());
    // There is no session to end: stdin's end still exits 0.
    gateway.child.stdin.end();
    expect(await gateway.exited).toBe(0);
  });

  it('starts a new session when the endpoint forgot the old one (404)', async () => {
    const { client, stderr, clientErrors } = await connectGood();
    await vi.waitFor(() => expect(endpoint.openGetStreams()).toBe(1));
    const waiting = client
      .callTool({ name: 'wait', arguments: {} })
      .catch((error: unknown) => error);
    await vi.waitFor(() => expect(endpoint.waiting).toBe(1));
    const [first] = endpoint.liveSessions();
    await endpoint.forgetSessions();

    const result = await client.callTool({ name: 'echo', arguments: { message: 'again' } });
    expect(text(result)).toBe('Echo: again');
    expect(endpoint.sessions).toBe(2);
    const [second] = endpoint.liveSessions();
    expect(second).not.toBe(first);
    // The call the old session took cannot be answered any more: the client hears so.
    expect(String(await waiting)).toMatch(/session ended before answering/);
    // The replayed initialize's answer stays with the gateway; the GET stream is reopened.
    await vi.waitFor(() => expect(endpoint.openGetStreams()).toBe(1));
    const replayed = endpoint.requests.filter(
      (request) => request.method === 'POST' && request.sessionId === undefined,
    );
    expect(replayed).toHaveLength(2);
    await vi.waitFor(() =>
      expect(stderr()).toContain(
        'gateway: the Switchboard session ended (HTTP 404); started a new one',
      ),
    );
    expect(clientErrors).toEqual([]);
    // The new session works like the first.
    endpoint.addTool('late');
    await vi.waitFor(async () =>
      expect((await client.listTools()).tools.map((tool) => tool.name)).toContain('late'),
    );
  });

  it('starts a new session when the GET stream finds the old one gone, with nothing sent', async () => {
    const { client, stderr } = await connectGood();
    const waiting = client
      .callTool({ name: 'wait', arguments: {} })
      .catch((error: unknown) => error);
    await vi.waitFor(() => expect(endpoint.openGetStreams()).toBe(1));
    await vi.waitFor(() => expect(endpoint.waiting).toBe(1));
    await endpoint.forgetSessions();
    // The SDK reconnects the closed GET stream (after its back-off), meets the 404, and the
    // gateway restarts the session: the GET stream is open again and the lost call is answered.
    expect(String(await waiting)).toMatch(/session ended before answering/);
    await vi.waitFor(() => {
      expect(endpoint.sessions).toBe(2);
      expect(endpoint.openGetStreams()).toBe(1);
    });
    await vi.waitFor(() => expect(stderr()).toContain('started a new one'));
    const changed = new Promise<void>((resolve) =>
      client.setNotificationHandler(ToolListChangedNotificationSchema, () => resolve()),
    );
    endpoint.addTool('late');
    await changed;
  });

  it('does not restart sessions in a loop when GETs meet another replica (404)', async () => {
    await endpoint.close();
    endpoint = await startGatewayEndpoint(TOKEN, { getNotFound: true });
    const { client, stderr } = await connectGood();
    await vi.waitFor(() =>
      expect(stderr()).toMatch(/answered HTTP 404: Failed to open SSE stream/),
    );
    expect(text(await client.callTool({ name: 'echo', arguments: { message: 'hi' } }))).toBe(
      'Echo: hi',
    );
    expect(endpoint.sessions).toBe(1);
    expect(stderr().match(/HTTP 404/g)).toHaveLength(1);
    expect(endpoint.requests.filter((request) => request.method === 'GET')).toHaveLength(1);
  });

  it('the README command (node <repo>/cli/gateway/bin.mjs from elsewhere): only JSON-RPC on stdout; stdin end → DELETE, exit 0', async () => {
    const gateway = await spawnGateway('node', [BIN], {
      cwd: tmpdir(),
      env: { PATH: process.env.PATH, SWITCHBOARD_TOKEN: TOKEN, SWITCHBOARD_URL: endpoint.origin },
    });
    expect(text(await gateway.client.callTool({ name: 'echo', arguments: { message: 'x' } }))).toBe(
      'Echo: x',
    );
    const [session] = endpoint.liveSessions();
    gateway.child.stdin.end();
    expect(await gateway.exited).toBe(0);
    expect(endpoint.requests).toContainEqual(
      expect.objectContaining({ method: 'DELETE', sessionId: session, status: 200 }),
    );
    expect(endpoint.liveSessions()).toEqual([]);
    expectOnlyJsonRpc(gateway.stdout());
    expect(gateway.stderr()).not.toContain(TOKEN);
  });

  it('npm run gateway --silent: only JSON-RPC on stdout; SIGTERM → DELETE, exit 0', async () => {
    const gateway = await spawnGateway(
      'npm',
      ['run', 'gateway', '--silent', '--', '--url', endpoint.origin],
      { cwd: REPO_ROOT, env: { ...process.env, SWITCHBOARD_TOKEN: TOKEN } },
    );
    await gateway.client.listTools();
    const [session] = endpoint.liveSessions();
    gateway.child.kill('SIGTERM');
    expect(await gateway.exited).toBe(0);
    expect(endpoint.requests).toContainEqual(
      expect.objectContaining({ method: 'DELETE', sessionId: session, status: 200 }),
    );
    expectOnlyJsonRpc(gateway.stdout());
  });

  it('exits 2 with the usage on stderr without a token', async () => {
    const child = spawn(process.execPath, MAIN, {
      cwd: REPO_ROOT,
      env: { ...process.env, SWITCHBOARD_TOKEN: '' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    const code = await new Promise((resolve) => child.once('close', resolve));
    expect(code).toBe(2);
    expect(stdout).toBe('');
    expect(stderr).toMatch(
      /^gateway: give an API token: set SWITCHBOARD_TOKEN \(preferred\) or --token\n/,
    );
    expect(stderr).toContain('Usage:');
  });
});

describe('parseGatewayArgs', () => {
  it('takes the token and URL from flags before the environment', () => {
    expect(
      parseGatewayArgs(['--token', 'sb_flag', '--url', 'https://sb.example/'], {
        SWITCHBOARD_TOKEN: 'sb_env',
        SWITCHBOARD_URL: 'http://env:3000',
      }),
    ).toEqual({ kind: 'gateway', token: 'sb_flag', endpoint: new URL('https://sb.example/mcp') });
    expect(
      parseGatewayArgs([], { SWITCHBOARD_TOKEN: 'sb_env', SWITCHBOARD_URL: 'http://env:3000' }),
    ).toEqual({ kind: 'gateway', token: 'sb_env', endpoint: new URL('http://env:3000/mcp') });
  });

  it('defaults the URL, keeps a path and a trailing /mcp or /mcp/servers/<id>', () => {
    const endpoint = (url?: string) =>
      (parseGatewayArgs(url ? ['--url', url] : [], { SWITCHBOARD_TOKEN: 't' }) as { endpoint: URL })
        .endpoint.href;
    expect(endpoint()).toBe(`${DEFAULT_SWITCHBOARD_URL}/mcp`);
    expect(endpoint('http://h:3000/mcp')).toBe('http://h:3000/mcp');
    expect(endpoint('http://h:3000/mcp/servers/12/')).toBe('http://h:3000/mcp/servers/12');
    expect(endpoint('http://h:3000/servers/12')).toBe('http://h:3000/servers/12/mcp');
    expect(endpoint('http://h/switchboard/')).toBe('http://h/switchboard/mcp');
  });

  it('rejects a missing token, a bad URL and unknown flags', () => {
    expect(() => parseGatewayArgs([], {})).toThrow(GatewayUsageError);
    expect(() => parseGatewayArgs(['--token', ' '], {})).toThrow(/give an API token/);
    expect(() => parseGatewayArgs(['--url', 'ftp://h'], { SWITCHBOARD_TOKEN: 't' })).toThrow(
      /absolute http\(s\) URL/,
    );
    expect(() => parseGatewayArgs(['--bearer', 'x'], { SWITCHBOARD_TOKEN: 't' })).toThrow(
      GatewayUsageError,
    );
    expect(parseGatewayArgs(['-h'], {})).toEqual({ kind: 'help' });
  });
});
