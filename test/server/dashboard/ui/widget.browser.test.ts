/**
 * The status widget in a real browser (Chromium through playwright-core) against the real API:
 * framed by a page of another origin, it renders with the token from its fragment, shows the
 * parts and the servers as pills, marks itself stale when a poll fails, and passes the checks
 * every page must pass; and the Access page creates a widget token with a working snippet.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Browser, Frame, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { DatabaseHandle } from '../../../../shared/db/open.js';
import { mcpServers } from '../../../../shared/db/schema.js';
import { createWidgetToken } from '../../../../shared/db/widget-tokens.js';
import { createLogger } from '../../../../shared/logger.js';
import { generateToken, storeToken } from '../../../../server/http/auth.js';
import {
  WIDTHS,
  browserMissing,
  collectPageErrors,
  horizontalOverflow,
  launchBrowser,
  seriousAccessibilityViolations,
} from '../../../helpers/browser.js';
import { createTestUser, openTestDatabase } from '../../../helpers/database.js';
import { serveStatusApi, type StatusApi } from '../../../helpers/status-api.js';

const logger = createLogger({ level: 'silent' });
let database: DatabaseHandle;
let status: StatusApi;
let apiToken: string;
let widgetToken: string;
/** A page on another origin (another port) that frames the widget. */
let embedder: Server;
let embedderUrl: string;

beforeAll(async () => {
  database = await openTestDatabase();
  const user = await createTestUser(database);
  const other = await createTestUser(database);
  apiToken = generateToken();
  await storeToken(database.db, user.id, apiToken);
  widgetToken = (await createWidgetToken(database.db, user.id, 'wall')).token;
  const server = (name: string, values: Partial<typeof mcpServers.$inferInsert>) => ({
    userId: user.id,
    name,
    transport: 'streamable-http' as const,
    url: 'https://mcp.example.com/mcp',
    ...values,
  });
  await database.db.insert(mcpServers).values([
    server('weather', {
      connectionStatus: 'connected',
      metadata: { toolCount: 4, latencyMs: 38 },
      lastConnected: new Date(),
    }),
    server('calendar-with-a-rather-long-name-for-a-small-widget', {
      connectionStatus: 'degraded',
      metadata: { toolCount: 12, latencyMs: 911 },
    }),
    server('crm', { connectionStatus: 'error', lastError: 'refused' }),
    server('archive', { isActive: false }),
    { ...server('not-mine', { connectionStatus: 'connected' }), userId: other.id },
  ]);
  status = await serveStatusApi({ database, logger, databaseIntervalMs: 3_600_000 });
  embedder = createServer((_req, res) => {
    res.setHeader('content-type', 'text/html; charset=utf-8');
    res.end(`<!doctype html><html lang="en"><head><title>Wall</title>
<style>body{margin:0}iframe{display:block;width:100%;height:600px;border:0}</style></head>
<body><iframe title="Switchboard status"
 src="${status.api.baseUrl}/widget/status#token=${widgetToken}"></iframe></body></html>`);
  });
  await new Promise<void>((resolve) => embedder.listen(0, 'localhost', resolve));
  embedderUrl = `http://localhost:${(embedder.address() as AddressInfo).port}/`;
});

afterAll(async () => {
  await new Promise((resolve) => embedder?.close(resolve));
  await status?.close();
  await database?.close();
});

describe.skipIf(browserMissing)('the status widget in Chromium', () => {
  let browser: Browser;
  let page: Page;
  let errors: string[];

  beforeAll(async () => {
    browser = await launchBrowser();
  });

  afterAll(async () => {
    await browser?.close();
  });

  beforeEach(async () => {
    page = await browser.newPage();
    errors = [];
    collectPageErrors(page, errors);
  });

  afterEach(async () => {
    await page?.close();
  });

  /** Opens the embedding page and returns the widget's frame once it shows the servers. */
  async function framedWidget(): Promise<Frame> {
    await page.goto(embedderUrl);
    const frame = page.frames().find((f) => f !== page.mainFrame())!;
    await frame.waitForSelector('.widget[data-state="fresh"] [data-server="weather"]');
    return frame;
  }

  it('renders inside a frame of another origin with every server status and no errors', async () => {
    await page.setViewportSize({ width: 1280, height: 800 });
    const frame = await framedWidget();

    expect(new URL(frame.url()).origin).not.toBe(new URL(embedderUrl).origin);
    const statusOf = (name: string) =>
      frame.locator(`[data-server="${name}"] .pill`).getAttribute('data-status');
    expect(await statusOf('weather')).toBe('connected');
    expect(await statusOf('calendar-with-a-rather-long-name-for-a-small-widget')).toBe('degraded');
    expect(await statusOf('crm')).toBe('error');
    expect(await statusOf('archive')).toBe('disabled');
    expect(await frame.locator('[data-server="not-mine"]').count()).toBe(0);
    expect(await frame.locator('.widget-head .pill').getAttribute('data-status')).toBe('degraded');
    expect(await frame.locator('[data-part="database"] .pill').getAttribute('data-status')).toBe(
      'connected',
    );
    expect(await frame.locator('.widget-servers .pill.good').count()).toBe(1);
    expect(await frame.locator('.widget-servers .pill.bad').count()).toBe(1);
    expect(errors).toEqual([]);
  });

  it.each(WIDTHS)(
    'fits %i px without overflow or serious accessibility violations',
    async (width) => {
      await page.setViewportSize({ width, height: 800 });
      const frame = await framedWidget();
      // The helpers only evaluate scripts, which a frame does as a page does.
      const asPage = frame as unknown as Page;
      expect(await horizontalOverflow(asPage, '.widget, .widget-head, .widget-servers li')).toEqual(
        [],
      );
      expect(await seriousAccessibilityViolations(asPage)).toEqual([]);
      expect(errors).toEqual([]);
    },
  );

  it('keeps the last answer marked stale when a poll fails', async () => {
    await page.clock.install();
    const frame = await framedWidget();
    await page.route('**/api/widget/status', (route) => route.abort());
    await page.clock.runFor(15_000);
    await frame.waitForSelector('.widget[data-state="stale"] .stale');
    expect(await frame.locator('[data-server="weather"]').count()).toBe(1);
  });

  it('says how to get a token without one, and that a revoked one is refused', async () => {
    await page.goto(`${status.api.baseUrl}/widget/status`);
    await page.waitForSelector('[data-state="no-token"]');
    expect(await page.textContent('[data-state="no-token"]')).toContain('Access → Status widget');

    await page.goto(`${status.api.baseUrl}/widget/status#token=sbw_unknown`);
    await page.waitForSelector('[data-state="refused"]');
    expect(await page.textContent('[data-state="refused"]')).toMatch(/unknown or revoked/);
  });

  it('creates a widget token on the Access page with a snippet that embeds the widget', async () => {
    await page.setViewportSize({ width: 390, height: 900 });
    await page.goto(`${status.api.baseUrl}/dashboard/#/access`);
    await page.fill('#token', apiToken);
    await page.click('#sign-in-form button[type=submit]');
    await page.waitForSelector('#widget-tokens');
    await page.fill('#widget-token-form [name=label]', 'lobby screen');
    await page.click('#widget-token-form button[type=submit]');
    const snippet = await page.locator('#widget-iframe').inputValue();
    const token = (await page.textContent('#new-widget-token code.secret')) ?? '';
    expect(token).toMatch(/^sbw_/);
    expect(snippet).toContain(`${status.api.baseUrl}/widget/status#token=${token}`);
    expect(await page.locator('#widget-curl').inputValue()).toContain(
      `Authorization: Bearer ${token}`,
    );
    await page.locator('#widget-token-list li', { hasText: 'lobby screen' }).waitFor();
    expect(await horizontalOverflow(page, '#widget-tokens')).toEqual([]);
    expect(await seriousAccessibilityViolations(page)).toEqual([]);

    // The token from the page opens the widget endpoint, and nothing else.
    const widget = await status.api.request('GET', '/api/widget/status', { token });
    expect(widget.status).toBe(200);
    expect((await status.api.request('GET', '/api/mcp/servers', { token })).status).toBe(401);

    await page
      .locator('#widget-token-list li', { hasText: 'lobby screen' })
      .locator('[data-action=revoke]')
      .click();
    await page
      .locator('#widget-token-list li[data-revoked="true"]', { hasText: 'lobby screen' })
      .waitFor();
    expect((await status.api.request('GET', '/api/widget/status', { token })).status).toBe(401);
    expect(errors).toEqual([]);
  });
});
