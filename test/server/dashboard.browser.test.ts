/**
 * The dashboard in a real browser (Debian's Chromium through playwright-core) against the real
 * API, status monitor and status stream, with real stdio MCP servers. Without Chromium the
 * browser cases are skipped, unless `SWITCHBOARD_REQUIRE_BROWSER=1` (set by `.ci/run`), which
 * turns a missing browser into a failure.
 */
import { existsSync } from 'node:fs';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { DatabaseHandle } from '../../shared/db/open.js';
import { updateServerStatus } from '../../shared/db/servers.js';
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

let sandbox: StdioSandbox;

const CHROMIUM_PATH = [process.env.CHROMIUM_PATH, '/usr/bin/chromium', '/usr/bin/chromium-browser']
  .filter((candidate): candidate is string => Boolean(candidate))
  .find((candidate) => existsSync(candidate));
const REQUIRE_BROWSER = process.env.SWITCHBOARD_REQUIRE_BROWSER === '1';

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
function startOtherApi(deps: Pick<AppDeps, 'watcher' | 'livekit'>) {
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
  status = await serveStatusApi({ database, logger, watcher: monitor, sandbox });
  api = status.api;
});

afterAll(async () => {
  await status?.close();
  await monitor?.stop();
  await database?.close();
});

describe('serving the dashboard', () => {
  it('redirects / to /dashboard/ and serves the page with its own content security policy', async () => {
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
    expect(script.headers.get('content-type')).toMatch(/javascript/);
    const style = await fetch(`${api.baseUrl}/dashboard/style.css`);
    expect(style.headers.get('content-type')).toMatch(/^text\/css/);
  });

  it('answers an unknown dashboard file with the API problem+json 404', async () => {
    const res = await api.request('GET', '/dashboard/nope.js');
    expect(res.status).toBe(404);
    expect(res.headers.get('content-type')).toMatch(/application\/problem\+json/);
  });
});

const browserMissing = !CHROMIUM_PATH && !REQUIRE_BROWSER;

describe.skipIf(browserMissing)('the dashboard in a browser', () => {
  let browser: Browser;
  let page: Page;
  let pageErrors: string[];

  beforeAll(async () => {
    if (!CHROMIUM_PATH) {
      throw new Error(
        "SWITCHBOARD_REQUIRE_BROWSER=1 but no Chromium was found: install Debian's chromium or set CHROMIUM_PATH",
      );
    }
    browser = await chromium.launch({
      executablePath: CHROMIUM_PATH,
      // Root in a container: Chromium's sandbox needs user namespaces it may not have.
      args: ['--no-sandbox', '--disable-dev-shm-usage'],
    });
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
  });

  /**
   * A new page whose script errors and CSP violations are collected. Chromium also logs every
   * answer that is not 2xx ("Failed to load resource: … status of 401"); the page handles those
   * answers itself, so they are not errors here.
   */
  async function openPage(): Promise<Page> {
    const opened = await browser.newPage();
    opened.on('pageerror', (error) => pageErrors.push(error.message));
    opened.on('console', (message) => {
      if (message.type() === 'error' && !/responded with a status of \d{3}/.test(message.text())) {
        pageErrors.push(message.text());
      }
    });
    opened.on('dialog', (dialog) => void dialog.accept());
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

  const row = (name: string) => page.locator('#server-table tbody tr', { hasText: name });

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
    expect(await page.isVisible('#sign-in')).toBe(true);

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
    await page.waitForSelector('#servers:not([hidden])');
    await page.click('#add-server');
    await page.fill('#server-form [name=name]', 'Fixture');
    await page.fill('#server-form [name=description]', 'our stdio fixture');
    await page.selectOption('#server-form [name=transport]', 'stdio');
    await page.fill('#server-form [name=command]', process.execPath);
    await page.fill('#server-form [name=args]', FIXTURE_SERVER_ARGS.join('\n'));
    await page.fill('#server-form [name=env]', 'FIXTURE_MODE=test\nOTHER=1');
    await page.click('#server-form button[type=submit]');

    // The monitor connects it; the status stream moves the row to connected.
    await page.waitForSelector('#server-table tr[data-status="connected"]', { timeout: 15_000 });
    expect(await row('Fixture').textContent()).toContain('our stdio fixture');

    const stored = await api.request('GET', '/api/mcp/servers', { token: admin.token });
    const fixture = stored.body.find((s: { name: string }) => s.name === 'Fixture');
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

    await row('Fixture').locator('[data-action=test]').click();
    await page.waitForSelector('#detail [data-result="connected"]');
    const detail = await page.textContent('#detail');
    expect(detail).toMatch(/Connected to .* over stdio in \d+ ms; \d+ tools/);
    expect(detail).toContain('fixture__echo');

    await row('Fixture').locator('[data-action=tools]').click();
    await page.locator('#detail-title', { hasText: 'Tools of Fixture' }).waitFor();
    await page.waitForSelector('#detail .tools');
    expect(await page.textContent('#detail')).toContain('fixture__hang');
    await api.request('DELETE', `/api/mcp/servers/${fixture.id}`, { token: admin.token });
  });

  it('shows each field the API refuses, marks it, and saves nothing', async () => {
    const before = await api.request('GET', '/api/mcp/servers', { token: admin.token });
    await signIn(admin.token);
    await page.waitForSelector('#servers:not([hidden])');
    await page.click('#add-server');
    await page.fill('#server-form [name=name]', 'Remote');
    await page.selectOption('#server-form [name=transport]', 'streamable-http');
    await page.fill('#server-form [name=url]', 'ftp://example.com/mcp');
    await page.selectOption('#server-form [name=authType]', 'oauth2-client-credentials');
    await page.click('#server-form button[type=submit]');

    await page.waitForSelector('#form-errors:not([hidden])');
    const errors = await page.textContent('#form-errors');
    expect(errors).toMatch(/url: /);
    expect(errors).toMatch(/auth\.clientId: clientId is required/);
    expect(await page.getAttribute('#server-form [name=url]', 'aria-invalid')).toBe('true');
    expect(await page.getAttribute('#server-form [name=clientId]', 'aria-invalid')).toBe('true');
    // A line the form cannot read is refused before anything is sent.
    await page.selectOption('#server-form [name=authType]', 'none');
    await page.fill('#server-form [name=url]', 'http://127.0.0.1:9/mcp');
    await page.fill('#server-form [name=headers]', 'no separator here');
    await page.click('#server-form button[type=submit]');
    await page.locator('#form-errors', { hasText: 'Headers:' }).waitFor();

    const after = await api.request('GET', '/api/mcp/servers', { token: admin.token });
    expect(after.body).toHaveLength(before.body.length);
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
    await signIn(admin.token);
    await row('Keeper').locator('[data-action=edit]').click();
    expect(await page.inputValue('#server-form [name=url]')).toBe('http://127.0.0.1:9/mcp');
    expect(await page.inputValue('#server-form [name=apiKey]')).toBe('');
    expect(await page.textContent('#server-form [data-kept="apiKey"]')).toContain('…1234');
    expect(await page.textContent('#server-form [data-kept="headers"]')).toContain('X-Tenant');
    await page.fill('#server-form [name=description]', 'edited in the browser');
    await page.click('#server-form button[type=submit]');
    await page.waitForSelector('#editor', { state: 'hidden' });

    const shown = await api.request('GET', `/api/mcp/servers/${created.body.id}`, {
      token: admin.token,
    });
    expect(shown.body.description).toBe('edited in the browser');
    expect(shown.body.apiKey).toEqual({ set: true, last4: '1234' });
    expect(shown.body.headers).toEqual({ 'X-Tenant': { set: true, last4: '9876' } });

    // Removing the key is explicit.
    await row('Keeper').locator('[data-action=edit]').click();
    await page.check('#server-form [name=clearApiKey]');
    await page.click('#server-form button[type=submit]');
    await page.waitForSelector('#editor', { state: 'hidden' });
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
    await signIn(admin.token);
    await row('OAuth').locator('[data-action=edit]').click();
    expect(await page.inputValue('#server-form [name=tokenEndpointAuthMethod]')).toBe(
      'client_secret_post',
    );
    expect(await page.isVisible('#transport-change')).toBe(false);
    await page.selectOption('#server-form [name=transport]', 'sse');
    expect(await page.isVisible('#transport-change')).toBe(true);
    await page.selectOption('#server-form [name=transport]', 'streamable-http');
    await page.fill('#server-form [name=description]', 'renamed nothing else');
    await page.click('#server-form button[type=submit]');
    await page.waitForSelector('#editor', { state: 'hidden' });

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
    await page.waitForSelector('#server-table tr[data-status="connected"]', { timeout: 15_000 });
    await row('Switchable').locator('[data-action=toggle]').click();
    await page.waitForSelector('#server-table tr[data-status="disabled"]');
    const disabled = await api.request('GET', `/api/mcp/servers/${created.body.id}`, {
      token: admin.token,
    });
    expect(disabled.body.isActive).toBe(false);

    await row('Switchable').locator('[data-action=toggle]').click();
    await page.waitForSelector('#server-table tr[data-status="connected"]', { timeout: 15_000 });

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
    await page.waitForSelector('#server-table tr[data-status="error"]', { timeout: 15_000 });
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
    expect(await page.locator('#server-table img, #server-table b').count()).toBe(0);
    expect(await page.evaluate('window.__injected')).toBeUndefined();
    // A user is not an admin: no user switcher.
    expect(await page.isVisible('#acting-for')).toBe(false);
    await api.request('DELETE', `/api/mcp/servers/${created.body.id}`, { token: user.token });
  });

  it('creates a token shown once, and revokes it so the API refuses it', async () => {
    await signIn(user.token);
    await page.waitForSelector('#access:not([hidden])');
    await page.fill('#token-form [name=label]', 'script');
    await page.click('#token-form button[type=submit]');
    const shown = page.locator('#new-token code');
    await shown.waitFor();
    const token = (await shown.textContent()) ?? '';
    expect(token).toMatch(/^sb_/);
    expect((await api.request('GET', '/api/mcp/servers', { token })).status).toBe(200);

    const line = page.locator('#token-table tbody tr', { hasText: 'script' });
    await line.locator('[data-action=revoke]').click();
    await page.locator('#token-table tr[data-revoked="true"]', { hasText: 'script' }).waitFor();
    expect((await api.request('GET', '/api/mcp/servers', { token })).status).toBe(401);
    // Users see no user list.
    expect(await page.isVisible('#users')).toBe(false);
  });

  it('lets an admin create a user, whose token is shown once and signs in', async () => {
    await signIn(admin.token);
    await page.waitForSelector('#users:not([hidden])');
    await page.fill('#user-form [name=name]', 'Grace');
    await page.fill('#user-form [name=email]', 'grace@example.com');
    await page.click('#user-form button[type=submit]');
    const shown = page.locator('#new-user-token code');
    await shown.waitFor();
    const token = (await shown.textContent()) ?? '';
    await page.locator('#user-table tr', { hasText: 'grace@example.com' }).waitFor();

    // The same email again: the API's 409 is shown.
    await page.fill('#user-form [name=name]', 'Grace again');
    await page.fill('#user-form [name=email]', 'grace@example.com');
    await page.click('#user-form button[type=submit]');
    await page.locator('#user-errors', { hasText: 'already exists' }).waitFor();

    await page.click('#sign-out');
    await page.fill('#token', token);
    await page.click('#sign-in-form button[type=submit]');
    await page.waitForSelector('#no-servers:not([hidden])');
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
      await page.waitForSelector('#server-table tr[data-status="disconnected"]');

      report(created.body.id, 'connecting');
      report(created.body.id, 'connected');
      await page.waitForSelector('#server-table tr[data-status="connected"]');
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
    await page.waitForSelector('#acting-for:not([hidden])');
    expect(await row('Their server').count()).toBe(0);
    await page.selectOption('#user-select', String(user.id));
    await row('Their server').waitFor();
    await row('Their server').locator('[data-action=edit]').click();
    await page.fill('#server-form [name=description]', 'set by the admin');
    await page.click('#server-form button[type=submit]');
    await page.waitForSelector('#editor', { state: 'hidden' });
    const shown = await api.request('GET', `/api/mcp/servers/${theirs.body.id}`, {
      token: user.token,
    });
    expect(shown.body.description).toBe('set by the admin');
    await api.request('DELETE', `/api/mcp/servers/${theirs.body.id}`, { token: user.token });
  });
});
