/**
 * The session's `connect_account` tool (agent/account-links.ts): it sends a one-time sign-in
 * link to the user's screen (never to the model), the link binds the browser that opens it and
 * sends it to the authorization server, and the API's callback then connects the account. Real
 * database, real API, and the SDK-based authorization server of the tests.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  sendAccountLink,
  type AccountLinkMessage,
  type AccountLinksOptions,
} from '../../agent/account-links.js';
import { findOAuthConnection } from '../../shared/db/oauth.js';
import type { DatabaseHandle } from '../../shared/db/open.js';
import type { McpServerRow } from '../../shared/db/schema.js';
import { createServer, listServers } from '../../shared/db/servers.js';
import { createLogger } from '../../shared/logger.js';
import { createTestUser, openTestDatabase } from '../helpers/database.js';
import { serve, type TestServer } from '../helpers/http.js';
import { freePort } from '../helpers/mcp-processes.js';
import {
  approveInBrowser,
  startAuthorizationServer,
  type AuthorizationServer,
} from '../helpers/oauth-authorization-server.js';
import { sandboxedApp } from '../helpers/sandboxed.js';

const logger = createLogger({ level: 'silent' });
let database: DatabaseHandle;
let api: TestServer;
let as: AuthorizationServer;
let publicUrl: string;
let userId: number;
let tracker: McpServerRow;
const sent: AccountLinkMessage[] = [];
let options: AccountLinksOptions;

beforeAll(async () => {
  database = await openTestDatabase();
  as = await startAuthorizationServer();
  const port = await freePort();
  publicUrl = `http://127.0.0.1:${port}`;
  api = await serve(sandboxedApp({ database, logger, publicUrl }), port);
  userId = (await createTestUser(database)).id;
  tracker = await createServer(database, {
    userId,
    name: 'Tracker',
    transport: 'streamable-http',
    url: as.mcpUrl,
    auth: { type: 'oauth' },
  });
  options = {
    db: database.db,
    secrets: database.secrets,
    publicUrl,
    servers: () => listServers(database, userId, { activeOnly: true }),
    send: async (message) => void sent.push(message),
    logger,
  };
});

afterAll(async () => {
  await api?.close();
  await as?.close();
  await database?.close();
});

/** Opens a URL as a browser would, without following redirects; returns where it goes. */
async function open(url: string, cookie = '') {
  const response = await fetch(url, { redirect: 'manual', headers: { cookie } });
  await response.body?.cancel();
  const setCookie = response.headers.getSetCookie().map((line) => line.split(';')[0]!);
  return { status: response.status, location: response.headers.get('location') ?? '', setCookie };
}

describe('connect_account', () => {
  it('sends a link to the screen, not to the model, and the link connects the account', async () => {
    const said = await sendAccountLink(options, 'tracker');
    expect(said).toMatch(/^A link to connect the Tracker account is on the user's screen now/);
    expect(said).not.toMatch(/https?:/);
    expect(sent).toHaveLength(1);
    const message = sent[0]!;
    expect(message).toMatchObject({
      type: 'connect_account',
      serverId: tracker.id,
      server: 'Tracker',
    });
    expect(message.url.startsWith(`${publicUrl}/api/oauth/connect?link=`)).toBe(true);

    // The browser opens the link: it gets the link's cookie and goes to the authorization server.
    const opened = await open(message.url);
    expect(opened.status).toBe(302);
    expect(opened.location.startsWith(as.issuer)).toBe(true);
    expect(opened.setCookie).toEqual([expect.stringMatching(/^sb_oauth_browser=/)]);

    const redirect = await approveInBrowser(opened.location);
    const back = await open(
      `${api.baseUrl}${redirect.pathname}${redirect.search}`,
      opened.setCookie[0],
    );
    expect(back.location).toBe(
      `/dashboard/#/servers?oauth=connected&server=${tracker.id}&name=Tracker`,
    );
    expect((await findOAuthConnection(database.db, database.secrets, tracker.id))?.tokens).toEqual(
      expect.objectContaining({ access_token: expect.any(String) }),
    );

    // Connected now: no second link.
    expect(await sendAccountLink(options, 'Tracker')).toBe(
      'The Tracker account is already connected.',
    );
    expect(sent).toHaveLength(1);
  });

  it('sends one link per server per 30 s however often the model asks', async () => {
    let now = 1_000_000;
    const flood: AccountLinkMessage[] = [];
    const row = await createServer(database, {
      userId,
      name: 'Calendar flood',
      transport: 'streamable-http',
      url: as.mcpUrl,
      auth: { type: 'oauth' },
    });
    const limited: AccountLinksOptions = {
      ...options,
      send: async (message) => void flood.push(message),
      sentAt: new Map(),
      now: () => now,
    };
    expect(await sendAccountLink(limited, 'Calendar flood')).toMatch(/is on the user's screen now/);
    expect(await sendAccountLink(limited, 'Calendar flood')).toMatch(
      /already on the user's screen/,
    );
    now += 30_000;
    expect(await sendAccountLink(limited, 'Calendar flood')).toMatch(/is on the user's screen now/);
    expect(flood.map((message) => message.serverId)).toEqual([row.id, row.id]);
  });

  it('names the services that sign in when asked for one that does not', async () => {
    expect(await sendAccountLink(options, 'Calendar')).toBe(
      'There is no service named Calendar to connect; the ones that sign in are Tracker, Calendar flood.',
    );
  });

  it('does not follow a link whose nonce or target is not the one sent', async () => {
    const other = await createServer(database, {
      userId,
      name: 'Wiki',
      transport: 'streamable-http',
      url: as.mcpUrl,
      auth: { type: 'oauth' },
    });
    await sendAccountLink(options, 'Wiki');
    const link = new URL(sent.at(-1)!.url);
    expect(sent.at(-1)!.serverId).toBe(other.id);

    // Another nonce with the real target.
    const forged = new URL(link);
    forged.searchParams.set('link', 'x'.repeat(43));
    expect((await open(forged.href)).location).toMatch(
      /^\/dashboard\/#\/servers\?oauth=unknown_link/,
    );
    // The real nonce sending the browser somewhere else, even with the real state.
    const target = new URL(link.searchParams.get('to')!);
    const elsewhere = new URL(link);
    elsewhere.searchParams.set(
      'to',
      `https://evil.example.com/?state=${target.searchParams.get('state')}&x=1`,
    );
    expect((await open(elsewhere.href)).location).toMatch(/oauth=unknown_link/);
    const stateless = new URL(link);
    stateless.searchParams.set('to', 'https://evil.example.com/');
    expect((await open(stateless.href)).location).toMatch(/oauth=unknown_link/);
    // The real link still works.
    expect((await open(link.href)).location).toBe(target.href);
  });
});
