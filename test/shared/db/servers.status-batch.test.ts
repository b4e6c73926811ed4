/**
 * `updateServerStatuses`: the monitor's batch of a tick is one statement on both drivers, each
 * row gets only the columns of its own patch, and only status, error or metadata changes notify.
 */
import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  SERVERS_CHANNEL,
  parseServerChange,
  type ServerChange,
} from '../../../shared/db/notify.js';
import { openDatabase, type DatabaseHandle } from '../../../shared/db/open.js';
import { mcpServers, type McpServerRow } from '../../../shared/db/schema.js';
import {
  createServer,
  updateServerStatus,
  updateServerStatuses,
  type ServerStatusPatch,
} from '../../../shared/db/servers.js';
import { createTestUser, openTestDatabase, testSecretBox } from '../../helpers/database.js';

const openers: [string, () => Promise<DatabaseHandle>, boolean][] = [
  ['PGlite', () => openDatabase({ secretBox: testSecretBox() }), false],
  ['Postgres', openTestDatabase, !process.env.DATABASE_URL],
];

describe.each(openers)('updateServerStatuses on %s', (_name, open, skip) => {
  let database: DatabaseHandle;
  let userId: number;
  const received: ServerChange[] = [];
  let unlisten: () => Promise<void>;

  beforeAll(async () => {
    if (skip) return;
    database = await open();
    userId = (await createTestUser(database)).id;
    unlisten = await database.listen(SERVERS_CHANNEL, (payload) => {
      const change = parseServerChange(payload);
      if (change?.op === 'status') received.push(change);
    });
  });

  afterAll(async () => {
    if (skip) return;
    await unlisten();
    await database.close();
  });

  async function row(id: number): Promise<McpServerRow> {
    const [found] = await database.db.select().from(mcpServers).where(eq(mcpServers.id, id));
    return found!;
  }

  /** Waits (bounded) until `count` status notifications arrived, and takes them. */
  async function notifications(count: number): Promise<ServerChange[]> {
    for (let i = 0; i < 200 && received.length < count; i += 1) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    return received.splice(0, received.length);
  }

  it.skipIf(skip)('writes each row its own columns in one statement', async () => {
    const [a, b, c] = await Promise.all(
      ['a', 'b', 'c'].map((name) =>
        createServer(database, {
          userId,
          name: `batch-${name}`,
          transport: 'stdio',
          command: 'node',
        }),
      ),
    );
    await updateServerStatus(database.db, c!.id, { connectionStatus: 'error', lastError: 'old' });
    await notifications(1);
    const before = await row(a!.id);
    const connectedAt = new Date(Date.UTC(2031, 0, 2, 3, 4, 5));
    const patches = new Map<number, ServerStatusPatch>([
      [
        a!.id,
        {
          connectionStatus: 'connected',
          lastConnected: connectedAt,
          lastError: null,
          metadata: { toolCount: 1, toolNames: ['echo\0'] },
        },
      ],
      [b!.id, { lastConnected: connectedAt }],
      [c!.id, { connectionStatus: 'degraded' }],
      [999_999, { connectionStatus: 'error' }],
    ]);
    expect(await updateServerStatuses(database.db, patches)).toBe(3);

    const first = await row(a!.id);
    expect(first.connectionStatus).toBe('connected');
    expect(first.lastConnected?.toISOString()).toBe('2031-01-02T03:04:05.000Z');
    expect(first.lastError).toBeNull();
    expect(first.metadata.toolNames).toEqual(['echo\uFFFD']);
    expect(first.updatedAt.getTime()).toBe(before.updatedAt.getTime());
    const second = await row(b!.id);
    expect(second.connectionStatus).toBe('disconnected');
    expect(second.lastConnected?.toISOString()).toBe('2031-01-02T03:04:05.000Z');
    const third = await row(c!.id);
    expect(third.connectionStatus).toBe('degraded');
    // Not in its patch: kept.
    expect(third.lastError).toBe('old');

    // `b` refreshed `last_connected` only: no notification for it.
    const changes = await notifications(2);
    expect(changes.map((change) => change.serverId).sort()).toEqual([a!.id, c!.id].sort());
  });

  it.skipIf(skip)('writes nothing for no patches or only empty ones', async () => {
    expect(await updateServerStatuses(database.db, new Map())).toBe(0);
    expect(await updateServerStatuses(database.db, new Map([[1, {}]]))).toBe(0);
  });
});
