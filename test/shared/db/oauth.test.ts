/**
 * The OAuth tables' queries (shared/db/oauth.ts) against a real database: registrations by
 * issuer, connected accounts, and authorizations taken once within 10 minutes; everything secret
 * sealed, bound to its row.
 */
import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createOAuthFlow,
  deleteClientRegistration,
  deleteExpiredOAuthFlows,
  deleteOAuthConnection,
  findClientRegistration,
  findOAuthConnection,
  hashState,
  markNeedsAuthorization,
  saveClientRegistration,
  saveOAuthDiscovery,
  saveOAuthTokens,
  takeOAuthFlow,
} from '../../../shared/db/oauth.js';
import type { DatabaseHandle } from '../../../shared/db/open.js';
import {
  mcpServers,
  oauthClients,
  oauthConnections,
  oauthFlows,
  type McpServerRow,
  type User,
} from '../../../shared/db/schema.js';
import { createServer } from '../../../shared/db/servers.js';
import { createTestUser, openTestDatabase } from '../../helpers/database.js';

let database: DatabaseHandle;
let alice: User;
let bob: User;
let server: McpServerRow;
let other: McpServerRow;

const remote = (userId: number, name: string) => ({
  userId,
  name,
  transport: 'streamable-http' as const,
  url: 'https://mcp.example.com/mcp',
  auth: { type: 'oauth' as const },
});

beforeAll(async () => {
  database = await openTestDatabase();
  [alice, bob] = [await createTestUser(database), await createTestUser(database)];
  server = await createServer(database, remote(alice.id, 'Tracker'));
  other = await createServer(database, remote(bob.id, 'Tracker'));
});

afterAll(async () => {
  await database?.close();
});

describe(`OAuth queries on ${process.env.DATABASE_URL ? 'Postgres' : 'PGlite'}`, () => {
  it('keeps a registration per issuer and redirect URI, sealed, and never hands it to another issuer', async () => {
    const registration = { client_id: 'dcr-1', client_secret: 'dcr-secret-abc' };
    await saveClientRegistration(
      database.db,
      database.secrets,
      'https://as-one.example.com',
      'https://sb.example.com/api/oauth/callback',
      registration,
    );
    expect(
      await findClientRegistration(
        database.db,
        database.secrets,
        'https://as-one.example.com',
        'https://sb.example.com/api/oauth/callback',
      ),
    ).toEqual(registration);
    expect(
      await findClientRegistration(
        database.db,
        database.secrets,
        'https://as-two.example.com',
        'https://sb.example.com/api/oauth/callback',
      ),
    ).toBeUndefined();
    // Another PUBLIC_URL registers again.
    expect(
      await findClientRegistration(
        database.db,
        database.secrets,
        'https://as-one.example.com',
        'https://other.example.com/api/oauth/callback',
      ),
    ).toBeUndefined();
    const [stored] = await database.db.select().from(oauthClients);
    expect(stored!.clientInformation).toMatch(/^sb:v1:/);
    expect(stored!.clientInformation).not.toContain('dcr-secret-abc');

    // A sealed registration moved to another issuer's row does not open.
    await database.db.insert(oauthClients).values({
      issuer: 'https://as-evil.example.com',
      redirectUri: 'https://sb.example.com/api/oauth/callback',
      clientInformation: stored!.clientInformation,
    });
    await expect(
      findClientRegistration(
        database.db,
        database.secrets,
        'https://as-evil.example.com',
        'https://sb.example.com/api/oauth/callback',
      ),
    ).rejects.toThrow(/failed authentication/);

    await deleteClientRegistration(
      database.db,
      'https://as-one.example.com',
      'https://sb.example.com/api/oauth/callback',
    );
    expect(
      await findClientRegistration(
        database.db,
        database.secrets,
        'https://as-one.example.com',
        'https://sb.example.com/api/oauth/callback',
      ),
    ).toBeUndefined();
  });

  it('stores tokens sealed with their expiry, then marks the account as needing authorization', async () => {
    const issued = new Date('2026-12-01T10:00:00.000Z');
    const tokens = {
      access_token: 'at-123456',
      refresh_token: 'rt-654321',
      token_type: 'Bearer',
      expires_in: 3600,
    };
    await saveOAuthDiscovery(database.db, server.id, alice.id, { authorizationServerUrl: 'x' });
    await saveOAuthTokens(
      database.db,
      database.secrets,
      { serverId: server.id, userId: alice.id, issuer: 'https://as-one.example.com', tokens },
      issued,
    );
    expect(await findOAuthConnection(database.db, database.secrets, server.id)).toEqual({
      serverId: server.id,
      userId: alice.id,
      issuer: 'https://as-one.example.com',
      tokens,
      expiresAt: new Date('2026-12-01T11:00:00.000Z'),
      discovery: { authorizationServerUrl: 'x' },
      reason: null,
      connectedAt: issued,
    });
    const [row] = await database.db
      .select()
      .from(oauthConnections)
      .where(eq(oauthConnections.serverId, server.id));
    expect(row!.tokens).not.toContain('at-123456');
    expect(await findOAuthConnection(database.db, database.secrets, other.id)).toBeUndefined();

    await markNeedsAuthorization(database.db, server.id, alice.id, 'the refresh token was revoked');
    expect(await findOAuthConnection(database.db, database.secrets, server.id)).toMatchObject({
      tokens: null,
      expiresAt: null,
      reason: 'the refresh token was revoked',
      issuer: 'https://as-one.example.com',
    });

    await deleteOAuthConnection(database.db, server.id);
    expect(await findOAuthConnection(database.db, database.secrets, server.id)).toBeUndefined();
  });

  it('takes an authorization once, by its state, within its time', async () => {
    const flow = {
      state: 'state-abc',
      userId: alice.id,
      serverId: server.id,
      issuer: 'https://as-one.example.com',
      codeVerifier: 'verifier-xyz',
      redirectUri: 'https://sb.example.com/api/oauth/callback',
      browserNonce: 'nonce-1',
    };
    const now = new Date('2026-12-01T10:00:00.000Z');
    await createOAuthFlow(database.db, database.secrets, flow, 600_000, now);
    const [row] = await database.db.select().from(oauthFlows);
    // Neither the state nor the verifier is stored as such.
    expect(row!.stateHash).toBe(hashState('state-abc'));
    expect(JSON.stringify(row)).not.toContain('state-abc');
    expect(row!.codeVerifier).not.toContain('verifier-xyz');

    expect(await takeOAuthFlow(database.db, database.secrets, 'state-abc', now)).toEqual({
      userId: alice.id,
      serverId: server.id,
      issuer: 'https://as-one.example.com',
      codeVerifier: 'verifier-xyz',
      redirectUri: flow.redirectUri,
      browserHash: hashState('nonce-1'),
      expiresAt: new Date('2026-12-01T10:10:00.000Z'),
    });
    // A replay finds nothing.
    expect(await takeOAuthFlow(database.db, database.secrets, 'state-abc', now)).toBeUndefined();

    // An expired one is refused, and gone.
    await createOAuthFlow(database.db, database.secrets, { ...flow, state: 'late' }, 600_000, now);
    const later = new Date('2026-12-01T10:10:00.001Z');
    expect(await takeOAuthFlow(database.db, database.secrets, 'late', later)).toBeUndefined();
    expect(await database.db.select().from(oauthFlows)).toEqual([]);

    await createOAuthFlow(database.db, database.secrets, { ...flow, state: 'old' }, 1000, now);
    await createOAuthFlow(database.db, database.secrets, { ...flow, state: 'new' }, 600_000, now);
    expect(await deleteExpiredOAuthFlows(database.db, new Date(now.getTime() + 2000))).toBe(1);
    expect(await takeOAuthFlow(database.db, database.secrets, 'new', now)).toBeDefined();

    // Starting one clears those nobody finished.
    await createOAuthFlow(database.db, database.secrets, { ...flow, state: 'stale' }, 1000, now);
    const later2 = new Date(now.getTime() + 5000);
    await createOAuthFlow(
      database.db,
      database.secrets,
      { ...flow, state: 'fresh' },
      600_000,
      later2,
    );
    const states = (await database.db.select().from(oauthFlows)).map((row) => row.stateHash);
    expect(states).toEqual([hashState('fresh')]);
  });

  it('goes with the server: deleting a server deletes its account and flows', async () => {
    const gone = await createServer(database, remote(alice.id, 'Gone'));
    await saveOAuthTokens(database.db, database.secrets, {
      serverId: gone.id,
      userId: alice.id,
      tokens: { access_token: 'a', token_type: 'Bearer' },
    });
    await createOAuthFlow(database.db, database.secrets, {
      state: 'gone-state',
      userId: alice.id,
      serverId: gone.id,
      issuer: null,
      codeVerifier: 'v',
      redirectUri: 'https://sb.example.com/api/oauth/callback',
      browserNonce: 'nonce-2',
    });
    await database.db.delete(mcpServers).where(eq(mcpServers.id, gone.id));
    expect(await findOAuthConnection(database.db, database.secrets, gone.id)).toBeUndefined();
    expect(await takeOAuthFlow(database.db, database.secrets, 'gone-state')).toBeUndefined();
  });
});
