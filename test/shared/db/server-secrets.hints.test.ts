/**
 * The stored secret hints (`mcp_servers.secret_hints`, issue 14): written with the secrets on
 * every write path, filled once for rows from before the column, and read for display without
 * opening any secret; and the keyset pages of `listServerPage`. Runs on PGlite, or on Postgres
 * when `DATABASE_URL` is set.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { eq, sql } from 'drizzle-orm';
import type { DatabaseHandle } from '../../../shared/db/open.js';
import { mcpServers } from '../../../shared/db/schema.js';
import {
  createServer,
  getHintedServer,
  listServerPage,
  MAX_SERVER_PAGE,
  updateServer,
  withSecretHints,
  type DisplayServerRow,
} from '../../../shared/db/servers.js';
import {
  allSecretHints,
  sealServerSecrets,
  secretHint,
  secretHintsOf,
} from '../../../shared/db/server-secrets.js';
import { createTestUser, openTestDatabase } from '../../helpers/database.js';

let database: DatabaseHandle;

beforeAll(async () => {
  database = await openTestDatabase();
});

afterAll(async () => {
  await database?.close();
});

const remote = {
  transport: 'streamable-http' as const,
  url: 'https://mcp.example.test/mcp',
};

/** The hints as stored, read straight from the column. */
async function storedHints(id: number) {
  const [row] = await database.db
    .select({ secretHints: mcpServers.secretHints })
    .from(mcpServers)
    .where(eq(mcpServers.id, id));
  return row!.secretHints;
}

describe('secretHint and secretHintsOf', () => {
  it('shows the last 4 characters of a secret of 12 or more, nothing of a shorter one', () => {
    expect(secretHint('abcdefghijkl')).toBe('ijkl');
    expect(secretHint('abcdefghijk')).toBe('');
    expect(secretHint('')).toBe('');
  });

  it('gives the hints of the columns present only, and the secret inside auth', () => {
    expect(secretHintsOf({ headers: { 'X-Key': 'header-value-1234' } })).toEqual({
      headers: { 'X-Key': '1234' },
    });
    expect(secretHintsOf({ apiKey: null, auth: { type: 'none' } })).toEqual({
      apiKey: null,
      auth: null,
    });
    expect(
      secretHintsOf({
        auth: {
          type: 'oauth2-client-credentials',
          tokenUrl: 'https://as.test/token',
          clientId: 'c',
          clientSecret: 'client-secret-WXYZ',
          tokenEndpointAuthMethod: 'client_secret_basic',
        },
      }),
    ).toEqual({ auth: 'WXYZ' });
    expect(allSecretHints({ env: { SHORT: 'short' } })).toEqual({
      env: { SHORT: '' },
      headers: {},
      apiKey: null,
      auth: null,
    });
  });
});

describe('hints kept in sync with the secrets', () => {
  it('stores the hints of every secret on create', async () => {
    const user = await createTestUser(database);
    const row = await createServer(database, {
      userId: user.id,
      name: 'created',
      ...remote,
      headers: { 'X-Tenant': 'tenant-secret-T111' },
      apiKey: 'api-key-value-A222',
      auth: {
        type: 'oauth2-client-credentials',
        tokenUrl: 'https://as.test/token',
        clientId: 'client',
        clientSecret: 'client-secret-C333',
        tokenEndpointAuthMethod: 'client_secret_post',
      },
    });

    const expected = { env: {}, headers: { 'X-Tenant': 'T111' }, apiKey: 'A222', auth: 'C333' };
    expect(row.secretHints).toEqual(expected);
    expect(await storedHints(row.id)).toEqual(expected);
  });

  it('replaces the hints of the secret columns an update writes and keeps the others', async () => {
    const user = await createTestUser(database);
    const row = await createServer(database, {
      userId: user.id,
      name: 'updated',
      ...remote,
      headers: { 'X-Old': 'old-header-value-O444' },
      apiKey: 'api-key-value-K555',
    });

    await updateServer(database, user.id, row.id, {
      headers: { 'X-New': 'new-header-value-N666', 'X-Short': 'short' },
    });
    expect(await storedHints(row.id)).toEqual({
      env: {},
      headers: { 'X-New': 'N666', 'X-Short': '' },
      apiKey: 'K555',
      auth: null,
    });

    await updateServer(database, user.id, row.id, { description: 'no secret changes' });
    expect((await storedHints(row.id))!.apiKey).toBe('K555');

    await updateServer(database, user.id, row.id, {
      apiKey: null,
      auth: {
        type: 'oauth2-private-key-jwt',
        tokenUrl: 'https://as.test/token',
        clientId: 'client',
        privateKey: 'private-key-text-P777',
        algorithm: 'ES256',
      },
    });
    expect(await storedHints(row.id)).toEqual({
      env: {},
      headers: { 'X-New': 'N666', 'X-Short': '' },
      apiKey: null,
      auth: 'P777',
    });
  });
});

describe('rows stored before the hints (secret_hints null)', () => {
  /** A row as an older version stored it: sealed secrets, no hints. */
  async function legacyRow(userId: number, name: string) {
    const [row] = await database.db
      .insert(mcpServers)
      .values(
        sealServerSecrets(
          {
            userId,
            name,
            ...remote,
            headers: { 'X-Legacy': 'legacy-header-L888' },
            apiKey: 'legacy-api-key-L999',
          },
          userId,
          database.secrets,
        ),
      )
      .returning();
    expect(row!.secretHints).toBeNull();
    return row!;
  }

  it('get their hints from their secrets once, written back, then open nothing', async () => {
    const user = await createTestUser(database);
    const legacy = await legacyRow(user.id, 'legacy');
    const open = vi.spyOn(database.secrets, 'open');
    try {
      const first = await getHintedServer(database, user.id, legacy.id);
      expect(first!.secretHints).toEqual({
        env: {},
        headers: { 'X-Legacy': 'L888' },
        apiKey: 'L999',
        auth: null,
      });
      expect(open).toHaveBeenCalledTimes(2);
      expect(await storedHints(legacy.id)).toEqual(first!.secretHints);

      open.mockClear();
      const page = await listServerPage(database, user.id, { limit: 10 });
      expect(page.rows.map((row) => row.secretHints)).toEqual([first!.secretHints]);
      expect(open).not.toHaveBeenCalled();
    } finally {
      open.mockRestore();
    }
  });

  it('keep null through an update, and never store hints of secrets replaced meanwhile', async () => {
    const user = await createTestUser(database);
    const stale = await legacyRow(user.id, 'raced');
    // A write between the read and the fill: the secrets change, the hints stay null.
    await updateServer(database, user.id, stale.id, {
      headers: { 'X-Legacy': 'replaced-header-R000' },
    });
    expect(await storedHints(stale.id)).toBeNull();

    // The fill from the row read before the write is not stored…
    await withSecretHints(database, [stale]);
    expect(await storedHints(stale.id)).toBeNull();
    // …and the next read fills in the hints of the current secrets.
    const fresh = await getHintedServer(database, user.id, stale.id);
    expect(fresh!.secretHints.headers).toEqual({ 'X-Legacy': 'R000' });
    expect((await storedHints(stale.id))!.headers).toEqual({ 'X-Legacy': 'R000' });
  });
});

describe('listServerPage', () => {
  it('covers every server exactly once, oldest first, and opens no secret', async () => {
    const user = await createTestUser(database);
    const ids: number[] = [];
    for (let i = 0; i < 7; i += 1) {
      const row = await createServer(database, {
        userId: user.id,
        name: `paged-${i}`,
        ...remote,
        headers: { 'X-Key': `header-secret-${i}-abcdef` },
      });
      ids.push(row.id);
    }
    const open = vi.spyOn(database.secrets, 'open');
    try {
      const seen: DisplayServerRow[] = [];
      let afterId: number | undefined;
      let pages = 0;
      do {
        const page = await listServerPage(database, user.id, { limit: 3, afterId });
        seen.push(...page.rows);
        afterId = page.nextAfterId ?? undefined;
        pages += 1;
        // A server added while paging lands on a later page, never on one already read.
        if (pages === 1) {
          const added = await createServer(database, {
            userId: user.id,
            name: 'added meanwhile',
            ...remote,
          });
          ids.push(added.id);
        }
      } while (afterId !== undefined);

      expect(seen.map((row) => row.id)).toEqual(ids);
      expect(pages).toBe(3);
      expect(seen[0]!.secretHints.headers).toEqual({ 'X-Key': 'cdef' });
      // The sealed secrets are not even read.
      for (const column of ['env', 'headers', 'apiKey']) expect(seen[0]).not.toHaveProperty(column);
      expect(open).not.toHaveBeenCalled();
    } finally {
      open.mockRestore();
    }
  });

  it('answers null as the next position on the last page, exactly full or not', async () => {
    const user = await createTestUser(database);
    for (let i = 0; i < 4; i += 1) {
      await createServer(database, { userId: user.id, name: `full-${i}`, ...remote });
    }
    expect((await listServerPage(database, user.id, { limit: 4 })).nextAfterId).toBeNull();
    expect((await listServerPage(database, user.id, { limit: 3 })).nextAfterId).not.toBeNull();
    const empty = await createTestUser(database);
    expect(await listServerPage(database, empty.id, { limit: 3 })).toEqual({
      rows: [],
      nextAfterId: null,
    });
  });

  it('refuses a limit outside 1–200', async () => {
    for (const limit of [0, MAX_SERVER_PAGE + 1, 1.5, Number.NaN]) {
      await expect(listServerPage(database, 1, { limit })).rejects.toThrow(RangeError);
    }
  });

  it('pages on indexes: servers by (user_id, id), calls by (server_id, started_at, id)', async () => {
    const result = await database.db.execute<{ indexdef: string }>(
      sql`select indexdef from pg_indexes where indexname in ('mcp_servers_user_id_idx', 'tool_calls_server_started_idx') order by indexname`,
    );
    const rows = Array.isArray(result) ? result : (result as { rows: { indexdef: string }[] }).rows;
    expect(rows.map((row) => row.indexdef.replace(/^.* USING btree /, ''))).toEqual([
      '(user_id, id)',
      '(server_id, started_at, id)',
    ]);
  });
});
