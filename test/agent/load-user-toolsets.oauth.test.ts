/**
 * A session's `oauth` servers (issue 13): without the user's account the server gives no tools
 * and waits in `needs_authorization` without retrying; when the user connects the account
 * mid-session (the API's callback), the live-configuration path reconnects it with the new
 * tokens and its tools reach the session without a restart.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { watchServerChanges } from '../../agent/live-config.js';
import { serverFingerprint } from '../../shared/db/server-fingerprint.js';
import { notifyServerChange } from '../../shared/db/notify.js';
import type { DatabaseHandle } from '../../shared/db/open.js';
import { createServer, getServer } from '../../shared/db/servers.js';
import {
  finishAuthorization,
  newBrowserNonce,
  startAuthorization,
  type OAuthDeps,
} from '../../server/oauth/authorization.js';
import { createTestUser, openTestDatabase } from '../helpers/database.js';
import {
  approveInBrowser,
  startAuthorizationServer,
  type AuthorizationServer,
} from '../helpers/oauth-authorization-server.js';
import { sandboxedToolsets } from '../helpers/sandboxed.js';
import { silentLogger } from './fixtures.js';

const PUBLIC_URL = 'http://127.0.0.1:9';
let database: DatabaseHandle;
let as: AuthorizationServer;

beforeAll(async () => {
  database = await openTestDatabase();
  as = await startAuthorizationServer();
});

afterAll(async () => {
  await as?.close();
  await database?.close();
});

describe('an oauth server in a voice session', () => {
  it('waits for the account without retrying, then gains its tools when the user connects it', async () => {
    const user = await createTestUser(database);
    const row = await createServer(database, {
      userId: user.id,
      name: 'Tracker',
      transport: 'streamable-http',
      url: as.mcpUrl,
      auth: { type: 'oauth' },
    });
    const tools = await sandboxedToolsets({
      db: database.db,
      secrets: database.secrets,
      userId: user.id,
      logger: silentLogger(),
      publicUrl: PUBLIC_URL,
    });
    const applied: string[][] = [];
    const stop = await watchServerChanges({
      userId: user.id,
      listen: database.listen,
      readServer: (id) => getServer(database, user.id, id),
      fingerprintOf: serverFingerprint,
      toolsets: tools,
      apply: async (toolsets) =>
        void applied.push(toolsets.flatMap((t) => t.advertisedTools.map((tool) => tool.name))),
      logger: silentLogger(),
    });
    try {
      // No account: no tools, and the reason says what to do.
      expect(tools.toolsets).toHaveLength(1);
      expect(tools.toolsets[0]!.advertisedTools).toEqual([]);
      expect(tools.unavailable).toEqual([
        {
          serverId: row.id,
          name: 'Tracker',
          error: expect.stringMatching(/connect the account first/),
        },
      ]);
      // The dashboard says so too: the session wrote the server's status.
      await vi.waitFor(async () =>
        expect((await getServer(database, user.id, row.id))?.connectionStatus).toBe(
          'needs_authorization',
        ),
      );
      const requestsBefore = as.mcpStatuses.length;

      // The user connects the account in the browser: the API's callback stores the tokens,
      // marks the account changed and tells the sessions.
      const deps: OAuthDeps = {
        db: database.db,
        secrets: database.secrets,
        publicUrl: PUBLIC_URL,
        onTokensChanged: (userId, serverId) =>
          notifyServerChange(database.db, { userId, serverId, op: 'update' }),
      };
      const nonce = newBrowserNonce();
      const url = await startAuthorization(deps, row, nonce);
      const redirect = await approveInBrowser(url);
      const outcome = await finishAuthorization(
        deps,
        Object.fromEntries(redirect.searchParams),
        nonce,
      );
      expect(outcome).toMatchObject({ ok: true, code: 'connected' });

      // The session reconnects the server with the tokens; its tools arrive.
      await vi.waitFor(
        () =>
          expect(tools.current()[0]?.advertisedTools.map((tool) => tool.name)).toEqual([
            'tracker__echo',
            'tracker__whoami',
          ]),
        { timeout: 15_000, interval: 50 },
      );
      expect(applied.length).toBeGreaterThan(0);
      // Waiting for the account, nothing was retried against the server: no request after the
      // first attempt was refused for want of a token (the 405 is the client's optional GET
      // event stream, which this server does not offer).
      expect(
        as.mcpStatuses.slice(requestsBefore).filter((status) => status === 401 || status === 403),
      ).toEqual([]);
    } finally {
      await stop();
      await tools.close();
    }
  }, 30_000);

  it('turns to needs_authorization when a call needs more scope than the account granted', async () => {
    const scoped = await startAuthorizationServer({ toolScopes: { whoami: ['admin'] } });
    const user = await createTestUser(database);
    const row = await createServer(database, {
      userId: user.id,
      name: 'Scoped',
      transport: 'streamable-http',
      url: scoped.mcpUrl,
      auth: { type: 'oauth' },
    });
    const deps: OAuthDeps = { db: database.db, secrets: database.secrets, publicUrl: PUBLIC_URL };
    const nonce = newBrowserNonce();
    const redirect = await approveInBrowser(await startAuthorization(deps, row, nonce));
    await finishAuthorization(deps, Object.fromEntries(redirect.searchParams), nonce);
    const tools = await sandboxedToolsets({
      db: database.db,
      secrets: database.secrets,
      userId: user.id,
      logger: silentLogger(),
      publicUrl: PUBLIC_URL,
    });
    try {
      const toolset = tools.toolsets[0]!;
      expect(toolset.connection.status).toBe('connected');
      await expect(toolset.connection.callTool('whoami', {})).rejects.toThrow(
        /more OAuth scope than the account granted/,
      );
      expect(toolset.connection.status).toBe('needs_authorization');
      await vi.waitFor(async () =>
        expect(await getServer(database, user.id, row.id)).toMatchObject({
          connectionStatus: 'needs_authorization',
          lastError: expect.stringMatching(/more OAuth scope/),
        }),
      );
      // Other tools are not retried either until the account changes.
      expect(toolset.connection.retryAt).toBeUndefined();
    } finally {
      await tools.close();
      await scoped.close();
    }
  }, 30_000);
});
