/**
 * The Voice page in a real browser (Chromium through playwright-core) against the real API: with
 * a local WebSocket stand-in as `LIVEKIT_URL`, Start mints a token and livekit-client opens
 * LiveKit's signalling connection to the stand-in carrying exactly that token; when the stand-in
 * hangs up, the page says so without a script error. Without LiveKit, the page names the settings
 * to set and offers no Start. Both states fit 390, 768 and 1280 px and pass axe-core.
 */
import { EventEmitter, once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { TokenVerifier } from 'livekit-server-sdk';
import type { Browser, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { WebSocketServer } from 'ws';
import type { DatabaseHandle } from '../../../../shared/db/open.js';
import { createLogger } from '../../../../shared/logger.js';
import { generateToken, storeToken } from '../../../../server/http/auth.js';
import {
  browserMissing,
  collectPageErrors,
  horizontalOverflow,
  launchBrowser,
  seriousAccessibilityViolations,
  WIDTHS,
} from '../../../helpers/browser.js';
import { createTestUser, openTestDatabase } from '../../../helpers/database.js';
import { serveStatusApi, type StatusApi } from '../../../helpers/status-api.js';

/** One signalling upgrade the stand-in received. */
interface SignalRequest {
  path: string;
  token: string | null;
}

/**
 * A stand-in for a LiveKit server: it completes the WebSocket upgrade of any `/rtc…` path,
 * records the path and the `access_token`, and hangs up with a reason. Any HTTP request (the
 * status check's `ListRooms`, livekit-client's `/rtc/validate`) gets a 404.
 */
class LivekitStandIn extends EventEmitter {
  readonly requests: SignalRequest[] = [];
  private readonly http: Server;
  private readonly sockets = new WebSocketServer({ noServer: true });

  constructor() {
    super();
    this.http = createServer((_req, res) => res.writeHead(404).end());
    this.http.on('upgrade', (req, socket, head) => {
      const url = new URL(req.url ?? '/', 'http://stand-in');
      if (!url.pathname.startsWith('/rtc')) return socket.destroy();
      this.sockets.handleUpgrade(req, socket, head, (ws) => {
        const bearer = req.headers.authorization?.replace(/^Bearer /, '') ?? null;
        const request = {
          path: url.pathname,
          token: url.searchParams.get('access_token') ?? bearer,
        };
        this.requests.push(request);
        this.emit('signal', request);
        ws.close(1011, 'stand-in: no LiveKit here');
      });
    });
  }

  async listen(): Promise<string> {
    this.http.listen(0, '127.0.0.1');
    await once(this.http, 'listening');
    return `ws://127.0.0.1:${(this.http.address() as AddressInfo).port}`;
  }

  /** The next signalling request: call before the action that makes it. */
  async nextSignal(): Promise<SignalRequest> {
    const [request] = (await once(this, 'signal')) as [SignalRequest];
    return request;
  }

  async close(): Promise<void> {
    for (const client of this.sockets.clients) client.terminate();
    this.sockets.close();
    this.http.closeAllConnections();
    await new Promise<void>((resolve) => this.http.close(() => resolve()));
  }
}

const LIVEKIT_KEYS = {
  apiKey: 'APIvoicepagetest',
  apiSecret: 'a-voice-page-test-secret-long-enough-for-hs256-0123456789',
};

const logger = createLogger({ level: 'silent' });
let database: DatabaseHandle;
let standIn: LivekitStandIn;
let livekitUrl: string;
let configured: StatusApi;
let unconfigured: StatusApi;
let user: { id: number; token: string; name: string };
let admin: { id: number; token: string };

beforeAll(async () => {
  database = await openTestDatabase();
  const row = await createTestUser(database);
  user = { id: row.id, token: generateToken(), name: row.name };
  await storeToken(database.db, user.id, user.token);
  const adminRow = await createTestUser(database, 'admin');
  admin = { id: adminRow.id, token: generateToken() };
  await storeToken(database.db, admin.id, admin.token);
  standIn = new LivekitStandIn();
  livekitUrl = await standIn.listen();
  configured = await serveStatusApi({
    database,
    logger,
    livekit: { url: livekitUrl, ...LIVEKIT_KEYS },
  });
  unconfigured = await serveStatusApi({ database, logger });
});

afterAll(async () => {
  await configured?.close();
  await unconfigured?.close();
  await standIn?.close();
  await database?.close();
});

describe.skipIf(browserMissing)('the Voice page', () => {
  let browser: Browser;
  let page: Page;
  let pageErrors: string[];

  beforeAll(async () => {
    browser = await launchBrowser();
  });

  afterAll(async () => {
    await browser?.close();
  });

  beforeEach(async () => {
    pageErrors = [];
    page = await browser.newPage();
    collectPageErrors(page, pageErrors);
  });

  afterEach(async () => {
    await page?.close();
    // No script error and no CSP violation on any page.
    expect(pageErrors).toEqual([]);
  });

  /** Signs in on `api` (as `user` unless another token is given) and opens the Voice page. */
  async function openVoicePage(api: StatusApi, token = user.token): Promise<void> {
    await page.goto(`${api.api.baseUrl}/dashboard/#/voice`);
    await page.fill('#token', token);
    await page.click('#sign-in-form button[type=submit]');
    await page.locator('#voice').waitFor();
  }

  /** At each width: nothing overflows sideways and axe-core finds nothing serious. */
  async function expectFitsEveryWidth(state: string): Promise<void> {
    for (const width of WIDTHS) {
      await page.setViewportSize({ width, height: 900 });
      expect(await horizontalOverflow(page), `${state} at ${width}px`).toEqual([]);
      expect(await seriousAccessibilityViolations(page), `${state} at ${width}px`).toEqual([]);
    }
  }

  it("opens LiveKit's signalling connection to LIVEKIT_URL with the token the API minted, then shows the connection error", async () => {
    await openVoicePage(configured);
    // This API's status has no LiveKit check, so it says "unconfigured" while the token route is
    // configured: the page asks the token route, which mints, and then offers Start. Waiting for
    // both keeps that first token apart from the one Start mints.
    await page.locator('[data-part="livekit"][data-status="unconfigured"]').waitFor();
    await page.locator('#start-voice').waitFor();
    const minted = page.waitForResponse(
      (res) => res.request().method() === 'POST' && res.url().includes('/api/livekit/token'),
    );
    const signalled = standIn.nextSignal();
    await page.click('#start-voice');
    const answer = await (await minted).json();
    const request = await signalled;

    expect(request.path).toMatch(/^\/rtc(?:\/v1)?$/);
    expect(request.token).toBe(answer.token);
    const claims = await new TokenVerifier(LIVEKIT_KEYS.apiKey, LIVEKIT_KEYS.apiSecret).verify(
      request.token ?? '',
    );
    expect(claims.sub).toBe(`user-${user.id}`);
    expect(claims.video?.room).toBe(answer.room);
    expect(await page.locator('[data-room]').textContent()).toBe(answer.room);
    expect(await page.locator('[data-agent-state]').count()).toBe(1);

    // The stand-in hangs up: the page says the connection failed and offers to close.
    const error = page.locator('#voice-error');
    await error.waitFor();
    expect(await error.textContent()).toMatch(
      new RegExp(`^Could not connect to LiveKit at ${livekitUrl}: .*stand-in: no LiveKit here`),
    );
    expect(await page.locator('[data-room-state]').getAttribute('data-room-state')).toBe('failed');
    await expectFitsEveryWidth('connection error');

    await page.click('#leave-voice');
    await page.locator('#start-voice').waitFor();
    expect(await page.locator('#voice-error').count()).toBe(0);
  });

  it("names exactly the settings to set (the token route's 503 detail) and offers no Start without LiveKit", async () => {
    await openVoicePage(unconfigured);

    const notice = page.locator('#voice-unconfigured', { hasText: 'to mint room tokens' });
    await notice.waitFor();
    expect(await notice.textContent()).toContain(
      'LiveKit is not configured: set LIVEKIT_URL, LIVEKIT_API_KEY and LIVEKIT_API_SECRET to mint room tokens.',
    );
    expect(await page.locator('#start-voice').count()).toBe(0);
    await expectFitsEveryWidth('unconfigured');
  });

  it("mints for the user an admin acts for and says the agent uses that user's servers", async () => {
    await page.goto(`${configured.api.baseUrl}/dashboard/#/servers`);
    await page.fill('#token', admin.token);
    await page.click('#sign-in-form button[type=submit]');
    await page.selectOption('#user-select', String(user.id));
    await page.click('a[href="#/voice"]');
    await page.locator('[data-part="livekit"][data-status="unconfigured"]').waitFor();
    await page.locator('#start-voice').waitFor();
    expect(await page.locator('#voice-for').textContent()).toContain(`${user.name}'s MCP servers`);
    const minted = page.waitForResponse(
      (res) => res.request().method() === 'POST' && res.url().includes('/api/livekit/token'),
    );

    await page.click('#start-voice');

    const res = await minted;
    expect(new URL(res.url()).searchParams.get('userId')).toBe(String(user.id));
    const claims = await new TokenVerifier(LIVEKIT_KEYS.apiKey, LIVEKIT_KEYS.apiSecret).verify(
      (await res.json()).token,
    );
    expect(claims.sub).toBe(`user-${user.id}`);
    await page.locator('#voice-error').waitFor();
  });
});
