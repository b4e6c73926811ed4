import { eq, sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DatabaseHandle } from '../../../shared/db/open.js';
import { mcpServers, toolCalls, type User } from '../../../shared/db/schema.js';
import {
  recordToolCall,
  recordToolCalls,
  type ToolCallRecord,
} from '../../../shared/db/tool-calls.js';
import { createTestUser, openTestDatabase } from '../../helpers/database.js';

describe('recordToolCalls', () => {
  let handle: DatabaseHandle;

  beforeAll(async () => {
    handle = await openTestDatabase();
  });

  afterAll(async () => {
    await handle.close();
  });

  function call(user: User, toolName: string): ToolCallRecord {
    return {
      userId: user.id,
      serverId: null,
      toolName,
      startedAt: new Date(),
      durationMs: 7.6,
      ok: true,
    };
  }

  async function rowsOf(user: User) {
    return handle.db.select().from(toolCalls).where(eq(toolCalls.userId, user.id));
  }

  it('stores every call of the list, each as recordToolCall would', async () => {
    const user = await createTestUser(handle);

    await recordToolCalls(handle.db, [call(user, 'a'), call(user, 'b\u0000c')]);

    const rows = await rowsOf(user);
    expect(rows.map((row) => row.toolName).sort()).toEqual(['a', 'b\uFFFDc']);
    expect(rows.map((row) => row.durationMs)).toEqual([8, 8]);
  });

  it('stores every field as given: the time to the millisecond, absent texts as null', async () => {
    const user = await createTestUser(handle);
    const startedAt = new Date('2026-05-04T03:02:01.234Z');

    await recordToolCalls(handle.db, [
      {
        userId: user.id,
        serverId: null,
        toolName: 'search',
        roomName: 'room-1',
        sessionId: 'job-1',
        startedAt,
        durationMs: 1234.4,
        ok: false,
        error: 'it said "no" \\ twice\n',
      },
      { userId: user.id, serverId: null, toolName: 'other', startedAt, durationMs: 0, ok: true },
    ]);

    const rows = (await rowsOf(user)).sort((a, b) => a.id - b.id);
    expect(rows).toEqual([
      {
        id: expect.any(Number),
        userId: user.id,
        serverId: null,
        toolName: 'search',
        roomName: 'room-1',
        sessionId: 'job-1',
        startedAt,
        durationMs: 1234,
        ok: false,
        error: 'it said "no" \\ twice\n',
        source: 'agent',
        tokenLabel: null,
      },
      {
        id: expect.any(Number),
        userId: user.id,
        serverId: null,
        toolName: 'other',
        roomName: null,
        sessionId: null,
        startedAt,
        durationMs: 0,
        ok: true,
        error: null,
        source: 'agent',
        tokenLabel: null,
      },
    ]);
  });

  it('stores a gateway call with its token label, and an agent call beside it as agent', async () => {
    const user = await createTestUser(handle);

    await recordToolCalls(handle.db, [
      { ...call(user, 'via-gateway'), source: 'gateway', tokenLabel: 'claude \ud800 desk\u0000' },
      { ...call(user, 'via-gateway-unlabelled'), source: 'gateway', tokenLabel: '' },
      { ...call(user, 'spoken'), source: 'agent' },
      call(user, 'default'),
    ]);

    const rows = (await rowsOf(user)).sort((a, b) => a.id - b.id);
    expect(rows.map((row) => [row.toolName, row.source, row.tokenLabel])).toEqual([
      ['via-gateway', 'gateway', 'claude \uFFFD desk\uFFFD'],
      ['via-gateway-unlabelled', 'gateway', ''],
      ['spoken', 'agent', null],
      ['default', 'agent', null],
    ]);
  });

  it('recordToolCall stores the source and token label too', async () => {
    const user = await createTestUser(handle);

    await recordToolCall(handle.db, {
      ...call(user, 'one'),
      source: 'gateway',
      tokenLabel: 'laptop\u0000',
    });
    await recordToolCall(handle.db, call(user, 'two'));

    const rows = (await rowsOf(user)).sort((a, b) => a.id - b.id);
    expect(rows.map((row) => [row.source, row.tokenLabel])).toEqual([
      ['gateway', 'laptop\uFFFD'],
      ['agent', null],
    ]);
  });

  it('stores a text with a lone surrogate or a NUL, replaced by U+FFFD', async () => {
    const user = await createTestUser(handle);

    await recordToolCalls(handle.db, [
      { ...call(user, 'lone'), error: 'bad \ud800 here \udc00 and \u0000, kept 😀' },
    ]);

    const [row] = await rowsOf(user);
    expect(row?.error).toBe('bad \uFFFD here \uFFFD and \uFFFD, kept 😀');
  });

  it.skipIf(!process.env.DATABASE_URL)(
    'runs every batch on a connection as one statement prepared there once (Postgres)',
    async () => {
      const user = await createTestUser(handle);

      // A transaction holds one connection, whose prepared statements PostgreSQL lists.
      const prepared = await handle.db.transaction(async (tx) => {
        await recordToolCalls(tx, [call(user, 'a')]);
        await recordToolCalls(tx, [call(user, 'b'), call(user, 'c')]);
        return tx.execute(
          sql`select count(*)::int as statements from pg_prepared_statements
              where statement like 'insert into "tool_calls"%'`,
        );
      });

      expect(prepared).toEqual([{ statements: 1 }]);
      expect(await rowsOf(user)).toHaveLength(3);
    },
  );

  it('writes nothing for an empty list', async () => {
    await expect(recordToolCalls(handle.db, [])).resolves.toBeUndefined();
  });

  it('stores none of the list when one row cannot be stored', async () => {
    const user = await createTestUser(handle);

    // A duration that is not a number is null in the JSON: the NOT NULL constraint refuses it.
    await expect(
      recordToolCalls(handle.db, [call(user, 'a'), { ...call(user, 'b'), durationMs: Number.NaN }]),
    ).rejects.toThrow();

    expect(await rowsOf(user)).toEqual([]);
  });

  it("stores a call of a deleted server with no server, and drops only a deleted user's calls", async () => {
    const user = await createTestUser(handle);
    const [kept, deleted] = await handle.db
      .insert(mcpServers)
      .values([
        { userId: user.id, name: 'kept', transport: 'stdio', command: 'true' },
        { userId: user.id, name: 'gone', transport: 'stdio', command: 'true' },
      ])
      .returning();
    await handle.db.delete(mcpServers).where(eq(mcpServers.id, deleted!.id));
    const ghost = { ...user, id: 2_000_000_000 };

    await recordToolCalls(handle.db, [
      { ...call(user, 'first'), serverId: kept!.id },
      { ...call(user, 'second'), serverId: deleted!.id },
      call(ghost, 'of a deleted user'),
      { ...call(user, 'third'), serverId: kept!.id },
    ]);

    const rows = (await rowsOf(user)).sort((a, b) => a.id - b.id);
    expect(rows.map((row) => [row.toolName, row.serverId])).toEqual([
      ['first', kept!.id],
      ['second', null],
      ['third', kept!.id],
    ]);
    const ghostRows = await handle.db
      .select()
      .from(toolCalls)
      .where(eq(toolCalls.userId, ghost.id));
    expect(ghostRows).toEqual([]);
  });
});
