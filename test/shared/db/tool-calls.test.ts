import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DatabaseHandle } from '../../../shared/db/open.js';
import { toolCalls, type User } from '../../../shared/db/schema.js';
import { recordToolCalls, type ToolCallRecord } from '../../../shared/db/tool-calls.js';
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

  it('writes nothing for an empty list', async () => {
    await expect(recordToolCalls(handle.db, [])).resolves.toBeUndefined();
  });

  it('stores none of the list when one row cannot be stored', async () => {
    const user = await createTestUser(handle);
    const ghost = { ...user, id: 2_000_000_000 };

    await expect(recordToolCalls(handle.db, [call(user, 'a'), call(ghost, 'b')])).rejects.toThrow();

    expect(await rowsOf(user)).toEqual([]);
  });
});
