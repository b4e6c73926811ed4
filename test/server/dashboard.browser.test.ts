/**
 * The dashboard in a real browser (Debian's Chromium through playwright-core) against the real
 * API, status monitor and status stream, with real stdio MCP servers. Without Chromium the
 * browser cases are skipped, unless `SWITCHBOARD_REQUIRE_BROWSER=1` (set by `.ci/run`), which
 * turns a missing browser into a failure (test/helpers/browser.ts).
 */
import { createServer, type Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Browser, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { DatabaseHandle } from '../../shared/db/open.js';
import { createServer as createServerRow, updateServerStatus } from '../../shared/db/servers.js';
import { recordToolCall } from '../../shared/db/tool-calls.js';
import { createLogger } from '../../shared/logger.js';
import type { AppDeps } from '../../server/app.js';
import { generateToken, storeToken } from '../../server/http/auth.js';
import type { StatusMonitor } from '../../server/status/monitor.js';
import { type ServerStatusListener, type ServerWatcher } from '../../server/status/monitor.js';
import { DASHBOARD_CSP } from '../../server/routes/dashboard.js';
import { createTestUser, openTestDatabase } from '../helpers/database.js';
import type { TestServer } from '../helpers/http.js';
import { FIXTURE_SERVER_ARGS } from '../helpers/mcp-processes.js';
import { serveStatusApi, type StatusApi } from '../helpers/status-api.js';
import { SlirpOutboundNetworkProvider } from '../../shared/mcp/sandbox/outbound-network.js';
import type { StdioSandbox } from '../../shared/mcp/sandbox/stdio-sandbox.js';
import { fileSandboxWith, sandboxedMonitor } from '../helpers/sandboxed.js';
import { startAuthorizationServer } from '../helpers/oauth-authorization-server.js';
import {
  browserMissing,
  collectPageErrors,
  horizontalOverflow,
  launchBrowser,
  seriousAccessibilityViolations,
  topInViewport,
  withinViewportWidth,
  WIDTHS,
} from '../helpers/browser.js';

let sandbox: StdioSandbox;

const logger = createLogger({ level: 'silent' });
let database: DatabaseHandle;
let monitor: StatusMonitor;
let status: StatusApi;
let api: TestServer;
let admin: { id: number; token: string };
let user: { id: number; token: string; name: string };

async function account(role: 'admin' | 'user') {
  const row = await createTestUser(database, role);
  const token = generateToken();
  await storeToken(database.db, row.id, token);
  return { id: row.id, token, name: row.name };
}

/** Our stdio fixture server (test/fixtures/stdio-fixture-server.ts), which has real tools. */
const fixtureServer = (name: string) => ({
  name,
  transport: 'stdio',
  sandbox: { network: 'none' },
  command: process.execPath,
  args: FIXTURE_SERVER_ARGS,
});

/**
 * Another API on the same database, with its own status snapshot and stream, for cases that
 * need other dependencies than the shared one (a scripted watcher, LiveKit settings).
 */
function startOtherApi(deps: Pick<AppDeps, 'watcher'>) {
  return serveStatusApi({ database, logger, ...deps, databaseIntervalMs: 3_600_000 });
}

beforeAll(async () => {
  // The form has no sandbox field: a server added through it gets the default outbound
  // network, as in production, so this sandbox has the outbound provider.
  sandbox = fileSandboxWith({ outbound: new SlirpOutboundNetworkProvider() });
  database = await openTestDatabase();
  admin = await account('admin');
  user = await account('user');
  monitor = sandboxedMonitor({
    guards: { sandbox },
    db: database.db,
    secrets: database.secrets,
    logger,
    policy: { intervalMs: 3_600_000, backoffBaseMs: 200 },
    random: () => 0.5,
  });
  await monitor.start();
  // At its own address as PUBLIC_URL: OAuth redirects come back to it.
  status = await serveStatusApi({
    database,
    logger,
    watcher: monitor,
    sandbox,
    ownPublicUrl: true,
  });
  api = status.api;
});

afterAll(async () => {
  await status?.close();
  await monitor?.stop();
  await database?.close();
});

describe('serving the dashboard', () => {
  it('redirects / to /dashboard/ and serves the page, its built script and style sheet', async () => {
    const root = await fetch(`${api.baseUrl}/`, { redirect: 'manual' });
    expect(root.status).toBe(302);
    expect(root.headers.get('location')).toBe('/dashboard/');

    const page = await fetch(`${api.baseUrl}/dashboard/`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toMatch(/^text\/html/);
    expect(page.headers.get('content-security-policy')).toBe(DASHBOARD_CSP);
    expect(page.headers.get('cache-control')).toBe('no-cache');
    const html = await page.text();
    expect(html).toContain('<script type="module" src="/dashboard/app.js">');

    const script = await fetch(`${api.baseUrl}/dashboard/app.js`);
    expect(script.status).toBe(200);
    expect(script.headers.get('content-type')).toMatch(/javascript/);
    // The bundle, not a source file: no JSX or TypeScript left, and every chunk it imports is
    // served too.
    const code = await script.text();
    expect(code).toContain('#root is missing from the dashboard page');
    expect(code).not.toContain('<App');
    const chunks = [...code.matchAll(/from"\.\/(chunks\/[\w-]+\.js)"/g)].map((m) => m[1]);
    expect(chunks.length).toBeGreaterThan(0);
    for (const chunk of chunks) {
      expect((await fetch(`${api.baseUrl}/dashboard/${chunk}`)).status, chunk).toBe(200);
    }
    const etag = script.headers.get('etag');
    expect(etag).toMatch(/^"/);
    const again = await fetch(`${api.baseUrl}/dashboard/app.js`, {
      headers: { 'if-none-match': etag! },
    });
    expect(again.status).toBe(304);
    const style = await fetch(`${api.baseUrl}/dashboard/style.css`);
    expect(style.headers.get('content-type')).toMatch(/^text\/css/);
  });

  it('answers an unknown dashboard file, or a source file, with the API problem+json 404', async () => {
    for (const path of ['/dashboard/nope.js', '/dashboard/ui/app.tsx', '/dashboard/build.ts']) {
      const res = await api.request('GET', path);
      expect(res.status, path).toBe(404);
      expect(res.headers.get('content-type')).toMatch(/application\/problem\+json/);
    }
  });
});

describe.skipIf(browserMissing)('the dashboard in a browser', () => {
  let browser: Browser;
  let page: Page;
  let pageErrors: string[];

  beforeAll(async () => {
    browser = await launchBrowser();
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
  });

  /** A new page whose script errors and CSP violations are collected. */
  async function openPage(width = 1280): Promise<Page> {
    const opened = await browser.newPage({ viewport: { width, height: 900 } });
    collectPageErrors(opened, pageErrors);
    return opened;
  }

  beforeEach(async () => {
    pageErrors = [];
    page = await openPage();
  });

  afterEach(async () => {
    await page?.close();
    // No script error and no CSP violation on any page.
    expect(pageErrors).toEqual([]);
  });

  async function signIn(token: string, baseUrl = api.baseUrl) {
    await page.goto(`${baseUrl}/`);
    await page.fill('#token', token);
    await page.click('#sign-in-form button[type=submit]');
  }

  const row = (name: string) => page.locator('#server-list > li', { hasText: name });
  const rowWithStatus = (status: string) =>
    page.locator(`#server-list > li[data-status="${status}"]`);

  it("refuses a wrong token with the API detail, then signs in and lists only the caller's servers", async () => {
    const own = await api.request('POST', '/api/mcp/servers', {
      token: admin.token,
      body: { ...fixtureServer('Mine'), isActive: false },
    });
    expect(own.status).toBe(201);

    await signIn('sb_wrong');
    await page.waitForSelector('#message.error');
    expect(await page.textContent('#message')).toMatch(/refused the token/);
    expect(await page.isVisible('#servers')).toBe(false);

    await page.fill('#token', admin.token);
    await page.click('#sign-in-form button[type=submit]');
    await row('Mine').waitFor();
    expect(await row('Mine').getAttribute('data-status')).toBe('disabled');
    // The token is kept: a reload signs in again.
    await page.reload();
    await row('Mine').waitFor();
    // Signing out forgets it.
    await page.click('#sign-out');
    await page.reload();
    await page.waitForSelector('#sign-in');

    await api.request('DELETE', `/api/mcp/servers/${own.body.id}`, { token: admin.token });
  });

  it('shows the system status from the stream, coloured by status word', async () => {
    await signIn(admin.token);
    const database = page.locator('[data-part="database"]');
    await database.waitFor();
    expect(await database.getAttribute('data-status')).toBe('connected');
    expect(await database.getAttribute('class')).toContain('good');
    const livekit = page.locator('[data-part="livekit"]');
    expect(await livekit.getAttribute('data-status')).toBe('unconfigured');
    expect(await livekit.getAttribute('class')).toContain('idle');
    await page.waitForSelector('#system-status[data-live="true"]');
  });

  it('shows MCP with no active servers in grey words, not as a yellow warning', async () => {
    // The user has no active servers: MCP's part is `ready`.
    await signIn(user.token);
    const mcp = page.locator('[data-part="mcp"]');
    await mcp.waitFor();
    expect(await mcp.getAttribute('data-status')).toBe('ready');
    expect(await mcp.getAttribute('class')).toContain('idle');
    expect(await mcp.textContent()).toContain('no active servers');
  });

  it('polls while the status stream is down and reconnects when it is back', async () => {
    await signIn(admin.token);
    await page.waitForSelector('#system-status[data-live="true"]');
    const polls: string[] = [];
    page.on('request', (request) => {
      if (new URL(request.url()).pathname === '/api/status') polls.push(request.url());
    });
    await status.stream.close();
    await page.waitForSelector('#system-status[data-live="false"]');
    // Status is read at once when the stream drops, then every 10 s until it is back.
    await expect.poll(() => polls.length).toBeGreaterThan(0);
    status.reattachStream();
    await page.waitForSelector('#system-status[data-live="true"]', { timeout: 20_000 });
    // The pills are current again: the new stream's first message shows every part.
    expect(await page.locator('[data-part="database"]').getAttribute('data-status')).toBe(
      'connected',
    );
  });

  it('adds a stdio server through the form, shows it connected without a reload, and tests it', async () => {
    await signIn(admin.token);
    await page.waitForSelector('#servers');
    await page.click('#add-server');
    // An admin's form starts at stdio.
    expect(await page.inputValue('#server-form [name=transport]')).toBe('stdio');
    await page.fill('#server-form [name=name]', 'Fixture');
    await page.fill('#server-form [name=description]', 'our stdio fixture');
    await page.fill('#server-form [name=command]', process.execPath);
    await page.fill('#server-form [name=args]', FIXTURE_SERVER_ARGS.join('\n'));
    await page.fill('#server-form [name=env]', 'FIXTURE_MODE=test\nOTHER=1');
    await page.click('#server-form button[type=submit]');
    await page.waitForSelector('#server-form', { state: 'detached' });

    // The monitor connects it; the status stream moves the row to connected.
    await row('Fixture').and(rowWithStatus('connected')).waitFor({ timeout: 15_000 });
    expect(await row('Fixture').textContent()).toContain('our stdio fixture');

    const stored = await api.request('GET', '/api/mcp/servers', { token: admin.token });
    const fixture = stored.body.items.find((s: { name: string }) => s.name === 'Fixture');
    expect(fixture).toMatchObject({
      command: process.execPath,
      args: FIXTURE_SERVER_ARGS,
      env: { FIXTURE_MODE: { set: true }, OTHER: { set: true } },
    });
    // The row is read again once connected: it shows the server's real tool count.
    const toolCount = row('Fixture').locator('.tool-count');
    expect(fixture.metadata.toolCount).toBeGreaterThan(3);
    await expect
      .poll(() => toolCount.textContent(), { timeout: 10_000 })
      .toBe(String(fixture.metadata.toolCount));
    // The command is one line, its whole text on hover.
    expect(await row('Fixture').locator('.runs').getAttribute('title')).toBe(
      [process.execPath, ...FIXTURE_SERVER_ARGS].join(' '),
    );

    await row('Fixture').locator('[data-action=test]').click();
    const detail = row('Fixture').locator('.detail');
    await detail.locator('[data-result="connected"]').waitFor();
    expect(await detail.textContent()).toMatch(/Connected to .* over stdio in \d+ ms; \d+ tools/);
    expect(await detail.textContent()).toContain('fixture__echo');

    await row('Fixture').locator('[data-action=tools]').click();
    await detail.locator('.detail-title', { hasText: 'Tools of Fixture' }).waitFor();
    await detail.locator('.tools').waitFor();
    expect(await detail.textContent()).toContain('fixture__hang');
    // The same button closes it again.
    await row('Fixture').locator('[data-action=tools]').click();
    await detail.waitFor({ state: 'detached' });
    await api.request('DELETE', `/api/mcp/servers/${fixture.id}`, { token: admin.token });
  });

  it('says what a test waits for while it runs', async () => {
    // A URL that accepts the connection and never answers: the test waits for its timeout.
    const silent: HttpServer = createServer(() => {});
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const port = (silent.address() as AddressInfo).port;
    const created = await api.request('POST', '/api/mcp/servers', {
      token: user.token,
      body: {
        name: 'Silent',
        transport: 'streamable-http',
        url: `http://127.0.0.1:${port}/mcp`,
        timeoutMs: 3000,
        isActive: false,
      },
    });
    expect(created.status).toBe(201);
    try {
      await signIn(user.token);
      await row('Silent').locator('[data-action=test]').click();
      const waiting = row('Silent').locator('.detail .testing');
      await waiting.waitFor();
      expect(await waiting.textContent()).toContain(
        `Connecting for real: connecting to http://127.0.0.1:${port}/mcp, then waiting up to 3 s for it to answer initialize`,
      );
      await row('Silent').locator('.detail [data-result="error"]').waitFor({ timeout: 15_000 });
    } finally {
      silent.closeAllConnections();
      silent.close();
      await api.request('DELETE', `/api/mcp/servers/${created.body.id}`, { token: user.token });
    }
  });

  it('offers a user only what they may add: remote servers, not stdio', async () => {
    await signIn(user.token);
    await page.click('#add-server');
    expect(await page.inputValue('#server-form [name=transport]')).toBe('streamable-http');
    const options = await page
      .locator('#server-form [name=transport] option')
      .evaluateAll((nodes) => nodes.map((node) => node.getAttribute('value')));
    expect(options).toEqual(['streamable-http', 'sse', 'websocket']);
    expect(await page.textContent('#server-form')).toContain('only an admin can add them');
  });

  it('shows each field the API refuses, marks it, and saves nothing', async () => {
    const before = await api.request('GET', '/api/mcp/servers', { token: admin.token });
    await signIn(admin.token);
    await page.waitForSelector('#servers');
    await page.click('#add-server');
    await page.fill('#server-form [name=name]', 'Remote');
    await page.selectOption('#server-form [name=transport]', 'streamable-http');
    await page.fill('#server-form [name=url]', 'ftp://example.com/mcp');
    await page.selectOption('#server-form [name=authType]', 'oauth2-client-credentials');
    await page.click('#server-form button[type=submit]');

    const errors = page.locator('#server-form .form-errors');
    await errors.waitFor();
    expect(await errors.textContent()).toMatch(/url: /);
    expect(await errors.textContent()).toMatch(/auth\.clientId: clientId is required/);
    expect(await page.getAttribute('#server-form [name=url]', 'aria-invalid')).toBe('true');
    expect(await page.getAttribute('#server-form [name=clientId]', 'aria-invalid')).toBe('true');
    // A line the form cannot read is refused before anything is sent.
    await page.selectOption('#server-form [name=authType]', 'none');
    await page.fill('#server-form [name=url]', 'http://127.0.0.1:9/mcp');
    await page.fill('#server-form [name=headers]', 'no separator here');
    await page.click('#server-form button[type=submit]');
    await page.locator('#server-form .form-errors', { hasText: 'Headers:' }).waitFor();

    const after = await api.request('GET', '/api/mcp/servers', { token: admin.token });
    expect(after.body.items).toHaveLength(before.body.items.length);
  });

  it('edits a server and keeps the secrets it did not retype', async () => {
    const created = await api.request('POST', '/api/mcp/servers', {
      token: admin.token,
      body: {
        name: 'Keeper',
        transport: 'streamable-http',
        url: 'http://127.0.0.1:9/mcp',
        apiKey: 'sk-secret-key-1234',
        headers: { 'X-Tenant': 'acme-tenant-9876' },
        isActive: false,
      },
    });
    expect(created.status).toBe(201);
    const form = `#server-form-${created.body.id}`;
    await signIn(admin.token);
    await row('Keeper').locator('[data-action=edit]').click();
    expect(await page.inputValue(`${form} [name=url]`)).toBe('http://127.0.0.1:9/mcp');
    expect(await page.inputValue(`${form} [name=apiKey]`)).toBe('');
    expect(await page.textContent(`${form} [data-kept="apiKey"]`)).toContain('…1234');
    expect(await page.textContent(`${form} [data-kept="headers"]`)).toContain('X-Tenant');
    await page.fill(`${form} [name=description]`, 'edited in the browser');
    await page.click(`${form} button[type=submit]`);
    await page.waitForSelector(form, { state: 'detached' });

    const shown = await api.request('GET', `/api/mcp/servers/${created.body.id}`, {
      token: admin.token,
    });
    expect(shown.body.description).toBe('edited in the browser');
    expect(shown.body.apiKey).toEqual({ set: true, last4: '1234' });
    expect(shown.body.headers).toEqual({ 'X-Tenant': { set: true, last4: '9876' } });

    // Removing the key is explicit.
    await row('Keeper').locator('[data-action=edit]').click();
    await page.check(`${form} [name=clearApiKey]`);
    await page.click(`${form} button[type=submit]`);
    await page.waitForSelector(form, { state: 'detached' });
    const cleared = await api.request('GET', `/api/mcp/servers/${created.body.id}`, {
      token: admin.token,
    });
    expect(cleared.body.apiKey).toBeNull();
    expect(cleared.body.headers).toEqual({ 'X-Tenant': { set: true, last4: '9876' } });
    await api.request('DELETE', `/api/mcp/servers/${created.body.id}`, { token: admin.token });
  });

  it('keeps OAuth settings the form leaves alone, and warns before a transport change', async () => {
    const created = await api.request('POST', '/api/mcp/servers', {
      token: admin.token,
      body: {
        name: 'OAuth',
        transport: 'streamable-http',
        url: 'http://127.0.0.1:9/mcp',
        isActive: false,
        auth: {
          type: 'oauth2-client-credentials',
          clientId: 'switchboard',
          clientSecret: 'client-secret-abcd-7777',
          tokenEndpointAuthMethod: 'client_secret_post',
          scopes: ['tools:read'],
        },
      },
    });
    expect(created.status).toBe(201);
    const form = `#server-form-${created.body.id}`;
    await signIn(admin.token);
    await row('OAuth').locator('[data-action=edit]').click();
    expect(await page.inputValue(`${form} [name=tokenEndpointAuthMethod]`)).toBe(
      'client_secret_post',
    );
    expect(await page.isVisible('#transport-change')).toBe(false);
    await page.selectOption(`${form} [name=transport]`, 'sse');
    expect(await page.isVisible('#transport-change')).toBe(true);
    await page.selectOption(`${form} [name=transport]`, 'streamable-http');
    await page.fill(`${form} [name=description]`, 'renamed nothing else');
    await page.click(`${form} button[type=submit]`);
    await page.waitForSelector(form, { state: 'detached' });

    const shown = await api.request('GET', `/api/mcp/servers/${created.body.id}`, {
      token: admin.token,
    });
    expect(shown.body.description).toBe('renamed nothing else');
    expect(shown.body.auth).toEqual({
      type: 'oauth2-client-credentials',
      clientId: 'switchboard',
      clientSecret: { set: true, last4: '7777' },
      tokenEndpointAuthMethod: 'client_secret_post',
      scopes: ['tools:read'],
    });
    await api.request('DELETE', `/api/mcp/servers/${created.body.id}`, { token: admin.token });
  });

  it('disables, enables and deletes a server', async () => {
    const created = await api.request('POST', '/api/mcp/servers', {
      token: admin.token,
      body: fixtureServer('Switchable'),
    });
    await signIn(admin.token);
    await row('Switchable').and(rowWithStatus('connected')).waitFor({ timeout: 15_000 });
    await row('Switchable').locator('[data-action=toggle]').click();
    await row('Switchable').and(rowWithStatus('disabled')).waitFor();
    const disabled = await api.request('GET', `/api/mcp/servers/${created.body.id}`, {
      token: admin.token,
    });
    expect(disabled.body.isActive).toBe(false);

    await row('Switchable').locator('[data-action=toggle]').click();
    await row('Switchable').and(rowWithStatus('connected')).waitFor({ timeout: 15_000 });

    await row('Switchable').locator('[data-action=delete]').click();
    await row('Switchable').waitFor({ state: 'detached' });
    const gone = await api.request('GET', `/api/mcp/servers/${created.body.id}`, {
      token: admin.token,
    });
    expect(gone.status).toBe(404);
  });

  it('shows a server that cannot start in red with the reason', async () => {
    const created = await api.request('POST', '/api/mcp/servers', {
      token: admin.token,
      body: { name: 'Broken', transport: 'stdio', command: 'switchboard-no-such-command' },
    });
    await signIn(admin.token);
    await row('Broken').and(rowWithStatus('error')).waitFor({ timeout: 15_000 });
    const text = await row('Broken').textContent();
    expect(text).toMatch(/command not found: switchboard-no-such-command/);
    expect(await row('Broken').locator('.pill').getAttribute('class')).toContain('bad');
    await api.request('DELETE', `/api/mcp/servers/${created.body.id}`, { token: admin.token });
  });

  it('puts what users typed on the page as text, never as HTML', async () => {
    const name = '<img src=x onerror="window.__injected=1">';
    const created = await api.request('POST', '/api/mcp/servers', {
      token: user.token,
      body: {
        name,
        description: '<b>bold?</b>',
        transport: 'websocket',
        url: 'ws://127.0.0.1:9/mcp',
        isActive: false,
      },
    });
    expect(created.status).toBe(201);
    await signIn(user.token);
    await row('<img').waitFor();
    expect(await row('<img').locator('.name').textContent()).toBe(name);
    expect(await page.locator('#server-list img, #server-list b').count()).toBe(0);
    expect(await page.evaluate('window.__injected')).toBeUndefined();
    // A user is not an admin: no user switcher.
    expect(await page.isVisible('#acting-for')).toBe(false);
    await api.request('DELETE', `/api/mcp/servers/${created.body.id}`, { token: user.token });
  });

  it('creates a token shown once, and revokes it so the API refuses it', async () => {
    await signIn(user.token);
    await page.click('nav a[href="#/access"]');
    await page.waitForSelector('#tokens');
    await page.fill('#token-form [name=label]', 'script');
    await page.click('#token-form button[type=submit]');
    const shown = page.locator('#new-token code');
    await shown.waitFor();
    const token = (await shown.textContent()) ?? '';
    expect(token).toMatch(/^sb_/);
    expect((await api.request('GET', '/api/mcp/servers', { token })).status).toBe(200);

    const line = page.locator('#token-list li', { hasText: 'script' });
    await line.locator('[data-action=revoke]').click();
    await page.locator('#token-list li[data-revoked="true"]', { hasText: 'script' }).waitFor();
    expect((await api.request('GET', '/api/mcp/servers', { token })).status).toBe(401);
    // Users see no user list.
    expect(await page.isVisible('#users')).toBe(false);
  });

  it('creates an MCP-gateway-only token, which the list names and the REST API refuses', async () => {
    await signIn(user.token);
    await page.click('nav a[href="#/access"]');
    await page.waitForSelector('#tokens');
    await page.fill('#token-form [name=label]', 'claude desktop');
    await page.selectOption('#token-form [name=access]', 'gateway');
    await page.click('#token-form button[type=submit]');
    const shown = page.locator('#new-token');
    await shown.waitFor();
    expect(await shown.textContent()).toContain('"claude desktop" (MCP gateway only)');
    const token = (await shown.locator('code').textContent()) ?? '';

    const line = page.locator('#token-list li', { hasText: 'claude desktop' });
    expect(await line.locator('.scopes').getAttribute('data-scopes')).toBe('["gateway"]');
    expect(await line.locator('.scopes').textContent()).toContain('MCP gateway only');
    // The form is back to full access for the next token.
    expect(await page.inputValue('#token-form [name=access]')).toBe('full');
    const refused = await api.request('GET', '/api/mcp/servers', { token });
    expect(refused.status).toBe(403);
    expect(refused.body.detail).toContain('limited to the MCP gateway');
    const listed = await api.request('GET', '/api/tokens', { token: user.token });
    expect(listed.body.find((t: { label: string }) => t.label === 'claude desktop').scopes).toEqual(
      ['gateway'],
    );
    await line.locator('[data-action=revoke]').click();
    await page
      .locator('#token-list li[data-revoked="true"]', { hasText: 'claude desktop' })
      .waitFor();
  });

  it('shows in the Calls panel whether each call came by voice or through the gateway', async () => {
    const server = await createServerRow(database, {
      userId: user.id,
      name: 'Audited',
      transport: 'streamable-http',
      url: 'https://mcp.example.test/mcp',
      isActive: false,
    });
    const base = { userId: user.id, serverId: server.id, durationMs: 4, ok: true };
    await recordToolCall(database.db, { ...base, toolName: 'spoken', startedAt: new Date() });
    await recordToolCall(database.db, {
      ...base,
      toolName: 'remote',
      startedAt: new Date(),
      source: 'gateway',
      tokenLabel: 'claude desktop',
    });

    await signIn(user.token);
    await row('Audited').locator('[data-action=calls]').click();
    const calls = row('Audited').locator('ul.calls li');
    await calls.first().waitFor();
    expect(await calls.locator('.via').allTextContents()).toEqual([
      ' · via gateway (claude desktop)',
      ' · via voice',
    ]);
    await api.request('DELETE', `/api/mcp/servers/${server.id}`, { token: user.token });
  });

  it('lets an admin create a user, whose token is shown once and signs in', async () => {
    await signIn(admin.token);
    await page.click('nav a[href="#/access"]');
    await page.waitForSelector('#users');
    await page.fill('#user-form [name=name]', 'Grace');
    await page.fill('#user-form [name=email]', 'grace@example.com');
    await page.click('#user-form button[type=submit]');
    const shown = page.locator('#new-user-token code');
    await shown.waitFor();
    const token = (await shown.textContent()) ?? '';
    await page.locator('#user-list li', { hasText: 'grace@example.com' }).waitFor();

    // The same email again: the API's 409 is shown.
    await page.fill('#user-form [name=name]', 'Grace again');
    await page.fill('#user-form [name=email]', 'grace@example.com');
    await page.click('#user-form button[type=submit]');
    await page.locator('#user-errors', { hasText: 'already exists' }).waitFor();

    await page.click('#sign-out');
    await page.goto(`${api.baseUrl}/dashboard/#/servers`);
    await page.fill('#token', token);
    await page.click('#sign-in-form button[type=submit]');
    await page.waitForSelector('#no-servers');
    expect(await page.textContent('#no-servers')).toContain('No servers yet');
    await page.click('nav a[href="#/access"]');
    await page.waitForSelector('#tokens');
    expect(await page.isVisible('#users')).toBe(false);
  });

  it('keeps a streamed status while the stored row still lags behind it', async () => {
    // The monitor reports a status before writing it (server/status/monitor.ts): this watcher reports
    // what the test says, and the test writes the row later.
    const listeners = new Set<ServerStatusListener>();
    const watcher: ServerWatcher = {
      sync: async () => {},
      connection: () => undefined,
      onChange: (listener) => {
        listeners.add(listener);
        return () => listeners.delete(listener);
      },
    };
    const report = (serverId: number, status: 'connecting' | 'connected') => {
      for (const listener of listeners) listener({ serverId, userId: user.id, name: 'x', status });
    };
    const other = await startOtherApi({ watcher });
    const lagging = other.api;
    let serverId: number | undefined;
    try {
      const created = await lagging.request('POST', '/api/mcp/servers', {
        token: user.token,
        body: { name: 'Lagging', transport: 'websocket', url: 'ws://127.0.0.1:9/mcp' },
      });
      serverId = created.body.id;
      expect(created.body.connectionStatus).toBe('disconnected');
      await signIn(user.token, lagging.baseUrl);
      await page.waitForSelector('#system-status[data-live="true"]');
      await row('Lagging').and(rowWithStatus('disconnected')).waitFor();

      report(created.body.id, 'connecting');
      report(created.body.id, 'connected');
      await row('Lagging').and(rowWithStatus('connected')).waitFor();
      // The row the page reads again still says disconnected for a while.
      await new Promise((resolve) => setTimeout(resolve, 600));
      await updateServerStatus(database.db, created.body.id, {
        connectionStatus: 'connected',
        metadata: { toolCount: 7, latencyMs: 12 },
      });
      await expect
        .poll(() => row('Lagging').locator('.tool-count').textContent(), { timeout: 10_000 })
        .toBe('7');
      expect(await row('Lagging').getAttribute('data-status')).toBe('connected');
    } finally {
      // The page goes first: it would read the status again when its stream drops.
      await page.close();
      await other.close();
      if (serverId)
        await api.request('DELETE', `/api/mcp/servers/${serverId}`, { token: user.token });
    }
  });

  it('connects an account at the authorization server and back, then disconnects it', async () => {
    const as = await startAuthorizationServer();
    const created = await api.request('POST', '/api/mcp/servers', {
      token: user.token,
      body: {
        name: 'Tracker',
        transport: 'streamable-http',
        url: as.mcpUrl,
        auth: { type: 'oauth' },
      },
    });
    expect(created.status).toBe(201);
    try {
      await signIn(user.token);
      const tracker = row('Tracker');
      await tracker.and(rowWithStatus('needs_authorization')).waitFor({ timeout: 15_000 });
      // Blue, in words.
      expect(await tracker.locator('.pill').getAttribute('class')).toContain('auth');
      expect(await tracker.locator('.pill').textContent()).toBe('needs authorization');
      expect(await tracker.textContent()).toContain('Connect your account');

      // The authorization server approves at once and sends the browser back through the API's
      // callback to the dashboard.
      await tracker.locator('[data-action=connect]').click();
      await page
        .locator('#message', { hasText: 'Your account on Tracker is connected' })
        .waitFor({ timeout: 15_000 });
      expect(new URL(page.url()).hash).toBe('#/servers');
      await tracker.and(rowWithStatus('connected')).waitFor({ timeout: 15_000 });
      await expect.poll(() => tracker.locator('.tool-count').textContent()).toBe('2');
      expect(as.tokenRequests).toEqual([
        { grantType: 'authorization_code', clientId: as.registrations[0]!.client_id, ok: true },
      ]);

      await tracker.locator('[data-action=disconnect]').click();
      await tracker.and(rowWithStatus('needs_authorization')).waitFor();
      expect(as.revocations).toHaveLength(1);
      await page.locator('#message', { hasText: 'revoked the tokens' }).waitFor();
    } finally {
      await api.request('DELETE', `/api/mcp/servers/${created.body.id}`, { token: user.token });
      await as.close();
    }
  });

  it("lets an admin switch to another user's servers", async () => {
    const theirs = await api.request('POST', '/api/mcp/servers', {
      token: user.token,
      body: {
        name: 'Their server',
        transport: 'sse',
        url: 'http://127.0.0.1:9/sse',
        isActive: false,
      },
    });
    await signIn(admin.token);
    await page.waitForSelector('#acting-for');
    expect(await row('Their server').count()).toBe(0);
    await page.selectOption('#user-select', String(user.id));
    await row('Their server').waitFor();
    await row('Their server').locator('[data-action=edit]').click();
    const form = `#server-form-${theirs.body.id}`;
    await page.fill(`${form} [name=description]`, 'set by the admin');
    await page.click(`${form} button[type=submit]`);
    await page.waitForSelector(form, { state: 'detached' });
    const shown = await api.request('GET', `/api/mcp/servers/${theirs.body.id}`, {
      token: user.token,
    });
    expect(shown.body.description).toBe('set by the admin');
    await api.request('DELETE', `/api/mcp/servers/${theirs.body.id}`, { token: user.token });
  });

  describe.each(WIDTHS)('at %i px wide', (width) => {
    /** Servers with long names, descriptions and commands, the way real ones come. */
    const LONG = [
      {
        name: 'A server with a rather long name for a phone screen',
        description:
          'Reads the issue tracker, the wiki, and the support inbox of the whole company.',
        transport: 'streamable-http',
        url: `https://mcp.example-with-a-long-host-name.com/v1/tenants/acme-corporation/mcp?region=${'x'.repeat(80)}`,
        isActive: false,
      },
      {
        name: 'Local tools',
        transport: 'stdio',
        command: process.execPath,
        args: [
          ...FIXTURE_SERVER_ARGS,
          '--a-long-flag=/var/lib/switchboard/some/deep/path/of/files',
        ],
        isActive: false,
      },
      { name: 'Third', transport: 'sse', url: 'http://127.0.0.1:9/sse', isActive: false },
    ];
    let ids: number[] = [];

    beforeAll(async () => {
      ids = [];
      for (const body of LONG) {
        const created = await api.request('POST', '/api/mcp/servers', { token: admin.token, body });
        expect(created.status).toBe(201);
        ids.push(created.body.id);
      }
    });

    afterAll(async () => {
      for (const id of ids) {
        await api.request('DELETE', `/api/mcp/servers/${id}`, { token: admin.token });
      }
    });

    async function openAt(path: string) {
      await page.close();
      page = await openPage(width);
      await signIn(admin.token);
      await row('Third').waitFor();
      if (path !== 'servers') {
        await page.click(`nav a[href="#/${path}"]`);
      }
    }

    it('fits the servers page without sideways scrolling, every action in reach, and no serious accessibility issue', async () => {
      await openAt('servers');
      expect(await horizontalOverflow(page)).toEqual([]);
      for (const name of ['A server with a rather long name', 'Local tools', 'Third']) {
        for (const button of await row(name).locator('.actions button').all()) {
          expect(
            await withinViewportWidth(page, button),
            `${name}: ${await button.textContent()}`,
          ).toBe(true);
        }
      }
      // The command is one line, cut with an ellipsis: the row stays short.
      const runs = row('Local tools').locator('.runs code');
      const lineHeight = await runs.evaluate((node) => node.getBoundingClientRect().height);
      expect(lineHeight).toBeLessThan(30);
      expect(await seriousAccessibilityViolations(page)).toEqual([]);
    });

    it('opens the detail in view of the server clicked, and the form fits', async () => {
      await openAt('servers');
      // The last server: on a phone it is below the fold, so its detail opens far from the top.
      const last = row('Third');
      await last.locator('[data-action=tools]').click();
      const detail = last.locator('.detail');
      await detail.waitFor();
      await expect.poll(() => topInViewport(page, detail)).toBe(true);
      expect(await horizontalOverflow(page)).toEqual([]);
      expect(await seriousAccessibilityViolations(page)).toEqual([]);

      await row('Local tools').locator('[data-action=edit]').click();
      const form = row('Local tools').locator('form');
      await form.waitFor();
      await expect.poll(() => topInViewport(page, form)).toBe(true);
      expect(await horizontalOverflow(page)).toEqual([]);
      expect(await seriousAccessibilityViolations(page)).toEqual([]);
      await page.click('#add-server');
      await page.waitForSelector('#server-form');
      expect(await horizontalOverflow(page)).toEqual([]);
    });

    it('fits the access page and the sign-in page, with no serious accessibility issue', async () => {
      await openAt('access');
      await page.waitForSelector('#users');
      expect(await horizontalOverflow(page)).toEqual([]);
      for (const button of await page.locator('#access button').all()) {
        expect(await withinViewportWidth(page, button)).toBe(true);
      }
      expect(await seriousAccessibilityViolations(page)).toEqual([]);
      await page.click('#sign-out');
      await page.waitForSelector('#sign-in');
      expect(await horizontalOverflow(page)).toEqual([]);
      expect(await seriousAccessibilityViolations(page)).toEqual([]);
    });
  });
});
