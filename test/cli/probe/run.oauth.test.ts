/**
 * `npm run probe -- <url> --oauth` as a child process against a real authorization server (the
 * SDK's `mcpAuthRouter`) and the MCP server it protects: the test is the user's browser, opening
 * the URL the probe prints and following the redirect to the probe's loopback listener.
 */
import { spawn } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import { parseProbeArgs } from '../../../cli/probe/args.js';
import { REPO_ROOT } from '../../helpers/mcp-processes.js';
import {
  approveInBrowser,
  startAuthorizationServer,
  type AuthorizationServer,
  type AuthorizationServerOptions,
} from '../../helpers/oauth-authorization-server.js';

const PROMPT = 'Open this URL to authorize: ';

interface OAuthProbeRun {
  code: number | null;
  stdout: string;
  stderr: string;
  /** The authorization URLs the probe printed, in order. */
  urls: URL[];
}

/**
 * Runs the probe; each printed authorization URL is handed to `browser` (default: approve it and
 * follow the redirect to the probe's listener). Killed after 25 s, so a hung probe fails.
 */
function probe(
  args: readonly string[],
  browser: (url: URL) => Promise<void> = openInBrowser,
): Promise<OAuthProbeRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'cli/probe/main.ts', ...args], {
      cwd: REPO_ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    let pending = '';
    const urls: URL[] = [];
    const browsing: Promise<void>[] = [];
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
    child.stderr.on('data', (chunk: Buffer) => {
      const text = chunk.toString('utf8');
      stderr += text;
      pending += text;
      const lines = pending.split('\n');
      pending = lines.pop()!;
      for (const line of lines) {
        if (!line.startsWith(PROMPT)) continue;
        const url = new URL(line.slice(PROMPT.length));
        urls.push(url);
        browsing.push(browser(url));
      }
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), 25_000);
    child.once('error', reject);
    child.once('close', (code) => {
      clearTimeout(timer);
      Promise.all(browsing).then(() => resolve({ code, stdout, stderr, urls }), reject);
    });
  });
}

/** Approves at the authorization server and delivers the redirect to the probe's listener. */
async function openInBrowser(url: URL): Promise<void> {
  const redirect = await approveInBrowser(url);
  const response = await fetch(redirect);
  await response.text();
}

const servers: AuthorizationServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) => server.close()));
});

async function start(options: AuthorizationServerOptions = {}): Promise<AuthorizationServer> {
  const server = await startAuthorizationServer(options);
  servers.push(server);
  return server;
}

const ECHO_HI = ['--call', 'echo', '--args', '{"message":"hi"}'];

describe('npm run probe --oauth', () => {
  it('prints one line with the URL, takes the redirect on 127.0.0.1 and calls the tool', async () => {
    const server = await start({ scopesSupported: ['mcp:tools'] });
    const run = await probe([server.mcpUrl, '--oauth', ...ECHO_HI]);
    expect(run.stderr).toBe(`${PROMPT}${run.urls[0]!.href}\n`);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^Echo: hi$/m);

    const redirectUri = new URL(run.urls[0]!.searchParams.get('redirect_uri')!);
    expect(redirectUri.origin).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(redirectUri.pathname).toBe('/callback');
    expect(server.registrationRequests[0]).toMatchObject({
      client_name: 'Switchboard probe',
      application_type: 'native',
      redirect_uris: [redirectUri.href],
    });
    expect(server.tokenRequests).toEqual([
      { grantType: 'authorization_code', clientId: server.registrations[0]!.client_id, ok: true },
    ]);
  });

  it('uses --client-id and --client-secret instead of registering', async () => {
    const server = await start({ clients: [{ clientId: 'probe', clientSecret: 'probe-secret' }] });
    const run = await probe([
      server.mcpUrl,
      ...['--oauth', '--client-id', 'probe', '--client-secret', 'probe-secret'],
      ...ECHO_HI,
    ]);
    expect(run.code).toBe(0);
    expect(server.registrations).toHaveLength(0);
    expect(server.authorizations.map((a) => a.clientId)).toEqual(['probe']);
  });

  it('asks once more for the wider scope a tool needs, then calls it', async () => {
    const server = await start({
      scopesSupported: ['mcp:read'],
      toolScopes: { echo: ['mcp:write'] },
    });
    const run = await probe([server.mcpUrl, '--oauth', ...ECHO_HI]);
    expect(run.code).toBe(0);
    expect(run.urls.map((url) => url.searchParams.get('scope'))).toEqual([
      'mcp:read',
      'mcp:read mcp:write',
    ]);
    expect(run.stdout).toMatch(/^Echo: hi$/m);
  });

  it('gives up after 3 authorizations when the server keeps asking for scope it never gets', async () => {
    const server = await start({
      scopesSupported: ['mcp:read'],
      grantableScopes: ['mcp:read'],
      toolScopes: { echo: ['mcp:write'] },
    });
    const run = await probe([server.mcpUrl, '--oauth', ...ECHO_HI]);
    expect(run.code).toBe(1);
    expect(run.urls).toHaveLength(3);
    expect(server.authorizations).toHaveLength(3);
    expect(run.stderr).toMatch(
      /^probe: .*the server still asks for authorization after 3 authorizations/m,
    );
  });

  it('exits 1 saying the user refused', async () => {
    const server = await start({
      authorizationError: { error: 'access_denied', description: 'Not today' },
    });
    const run = await probe([server.mcpUrl, '--oauth']);
    expect(run.code).toBe(1);
    expect(run.stderr.trimEnd().split('\n')).toEqual([
      `${PROMPT}${run.urls[0]!.href}`,
      'probe: the authorization server refused the authorization (access_denied: Not today)',
    ]);
  });

  it('exits 1 when the redirect carries another issuer', async () => {
    const server = await start({ redirectIss: 'https://elsewhere.example/' });
    const run = await probe([server.mcpUrl, '--oauth']);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/^probe: the redirect came from issuer "https:\/\/elsewhere/m);
    expect(server.tokenRequests).toHaveLength(0);
  });

  it('exits 1 with a clear error when nobody authorizes within --oauth-timeout-ms', async () => {
    const server = await start();
    const run = await probe([server.mcpUrl, '--oauth', '--oauth-timeout-ms', '300'], () =>
      Promise.resolve(),
    );
    expect(run.code).toBe(1);
    const lines = run.stderr.trimEnd().split('\n');
    expect(lines).toHaveLength(2);
    expect(lines[1]).toMatch(
      /^probe: no authorization arrived at http:\/\/127\.0\.0\.1:\d+\/callback within 300 ms \(--oauth-timeout-ms\)$/,
    );
    expect(server.authorizations).toHaveLength(0);
  });
});

describe('probe --oauth arguments', () => {
  it('collects the flow options with the default timeout', () => {
    expect(
      parseProbeArgs([
        'https://example.com/mcp',
        '--oauth',
        ...['--client-id', 'id', '--client-secret', 's'],
        ...['--scope', 'a', '--scope', 'b'],
        ...['--client-metadata-url', 'https://switchboard.example/client.json'],
      ]),
    ).toMatchObject({
      kind: 'probe',
      config: { transport: 'streamable-http', url: 'https://example.com/mcp' },
      oauth: {
        clientId: 'id',
        clientSecret: 's',
        scope: 'a b',
        clientMetadataUrl: 'https://switchboard.example/client.json',
        timeoutMs: 120_000,
      },
    });
  });

  it.each([
    [['https://x/mcp', '--oauth-timeout-ms', '5'], /--oauth-timeout-ms needs --oauth/],
    [['https://x/mcp', '--client-metadata-url', 'https://a/b'], /--client-metadata-url needs/],
    [['https://x/mcp', '--oauth', '--oauth-timeout-ms', 'soon'], /must be a whole number/],
    [['https://x/mcp', '--oauth', '--client-secret', 's'], /--client-secret needs --client-id/],
    [['https://x/mcp', '--oauth', '--bearer', 't'], /--bearer cannot be used with --oauth/],
    [['https://x/mcp', '--oauth', '--token-url', 'https://a/t'], /--token-url cannot be used/],
    [['https://x/mcp', '--oauth', '--client-metadata-url', 'http://a/b'], /an https URL with/],
    [['--command', 'node', '--oauth'], /--oauth applies to a remote server only/],
    [['ws://127.0.0.1:1/mcp', '--oauth'], /--oauth needs a Streamable HTTP or SSE server/],
  ])('%j is refused', (args, message) => {
    expect(() => parseProbeArgs(args)).toThrow(message);
  });
});
