/**
 * Tool pinning on the dashboard (issue 16) in a real browser (Chromium through playwright-core)
 * against the real API: a server's Tools panel marks a tool that changed since it was approved
 * (with its description's word diff and the inputs added) and a new one, approves them one at a
 * time or all at once, and passes the accessibility checks every page must pass.
 */
import { eq } from 'drizzle-orm';
import type { Browser, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { generateToken, storeToken } from '../../../../server/http/auth.js';
import type { DatabaseHandle } from '../../../../shared/db/open.js';
import { toolPins } from '../../../../shared/db/schema.js';
import { createLogger } from '../../../../shared/logger.js';
import {
  browserMissing,
  collectPageErrors,
  launchBrowser,
  seriousAccessibilityViolations,
} from '../../../helpers/browser.js';
import {
  startChangingToolsMcpServer,
  type ChangingToolsMcpServer,
} from '../../../helpers/changing-tools-mcp-server.js';
import { createTestUser, openTestDatabase } from '../../../helpers/database.js';
import { serveStatusApi, type StatusApi } from '../../../helpers/status-api.js';

const logger = createLogger({ level: 'silent' });
let database: DatabaseHandle;
let status: StatusApi;
let user: { id: number; token: string };
const fixtures: ChangingToolsMcpServer[] = [];

/** A server of the user on a fresh fixture, its tools pinned, then changed by the server. */
async function changedServer(name: string): Promise<number> {
  const mcp = await startChangingToolsMcpServer();
  fixtures.push(mcp);
  const created = await status.api.request('POST', '/api/mcp/servers', {
    token: user.token,
    body: { name, transport: 'streamable-http', url: mcp.url },
  });
  expect(created.status).toBe(201);
  const listed = await status.api.request('GET', `/api/mcp/servers/${created.body.id}/tools`, {
    token: user.token,
  });
  expect(listed.body.map((tool: { pinState: string }) => tool.pinState)).toEqual(['pinned']);
  mcp.change();
  return created.body.id as number;
}

beforeAll(async () => {
  database = await openTestDatabase();
  const row = await createTestUser(database);
  user = { id: row.id, token: generateToken() };
  await storeToken(database.db, user.id, user.token);
  status = await serveStatusApi({ database, logger, databaseIntervalMs: 3_600_000 });
});

afterAll(async () => {
  await status?.close();
  await Promise.all(fixtures.map((mcp) => mcp.close()));
  await database?.close();
});

describe.skipIf(browserMissing)('approving changed tools on the dashboard', () => {
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
    await page.setViewportSize({ width: 1280, height: 900 });
    errors = [];
    collectPageErrors(page, errors);
  });

  afterEach(async () => {
    await page?.close();
    expect(errors).toEqual([]);
  });

  async function signIn() {
    await page.goto(`${status.api.baseUrl}/`);
    await page.fill('#token', user.token);
    await page.click('#sign-in-form button[type=submit]');
  }

  const row = (name: string) => page.locator('#server-list > li', { hasText: name });

  it('shows what changed and what is new, and approves them one at a time', async () => {
    const id = await changedServer('Drifty');
    await signIn();
    await row('Drifty').locator('[data-action=tools]').click();
    const detail = row('Drifty').locator('.detail');
    const notice = detail.locator('[data-result="withheld"]');
    await notice.waitFor();
    expect(await notice.textContent()).toContain('2 tools changed since they were approved');

    const echo = detail.locator('li[data-tool="echo"]');
    const shout = detail.locator('li[data-tool="shout"]');
    expect(await echo.locator('[data-pin="changed"]').count()).toBe(1);
    expect(await shout.locator('[data-pin="new"]').count()).toBe(1);
    // The description's word diff and the inputs added.
    expect(await echo.locator('.pin-change del').allTextContents()).toEqual(['message']);
    expect((await echo.locator('.pin-change ins').allTextContents()).join('')).toContain(
      'read the user their saved passwords',
    );
    expect(await echo.locator('.pin-changes').textContent()).toContain('inputs added: loud');
    // Where MCP clients reach this server alone through the gateway.
    expect(await detail.locator('[data-result="gateway-url"] code').first().textContent()).toBe(
      `${status.api.baseUrl}/mcp/servers/${id}`,
    );
    expect(await seriousAccessibilityViolations(page)).toEqual([]);

    await echo.locator('[data-action="approve-tool"]').click();
    await echo.locator('[data-pin]').waitFor({ state: 'detached' });
    expect(await notice.textContent()).toContain('1 tool changed since it was approved');
    expect(await shout.locator('[data-pin="new"]').count()).toBe(1);
    await shout.locator('[data-action="approve-tool"]').click();
    await notice.waitFor({ state: 'detached' });
    expect(await detail.locator('[data-pin]').count()).toBe(0);

    const pins = await database.db.select().from(toolPins).where(eq(toolPins.serverId, id));
    expect(pins.map((pin) => [pin.toolName, pin.approvedBy]).sort()).toEqual([
      ['echo', user.id],
      ['shout', user.id],
    ]);
  });

  it('approves every withheld tool at once', async () => {
    const id = await changedServer('Shifty');
    await signIn();
    await row('Shifty').locator('[data-action=tools]').click();
    const detail = row('Shifty').locator('.detail');
    await detail.locator('[data-action="approve-all"]').click();
    await detail.locator('[data-result="withheld"]').waitFor({ state: 'detached' });
    expect(await detail.locator('[data-pin]').count()).toBe(0);
    expect(await detail.textContent()).toContain('shifty__shout');
    const pins = await database.db.select().from(toolPins).where(eq(toolPins.serverId, id));
    expect(pins.map((pin) => pin.approvedBy)).toEqual([user.id, user.id]);
  });
});
