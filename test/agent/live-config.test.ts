import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { watchServerChanges, type ToolsetRegistry } from '../../agent/live-config.js';
import type { DatabaseHandle } from '../../shared/db/open.js';
import type { ServerChange } from '../../shared/db/notify.js';
import type { McpServerRow } from '../../shared/db/schema.js';
import { createServer, deleteServer, getServer, updateServer } from '../../shared/db/servers.js';
import { createTestUser, openTestDatabase } from '../helpers/database.js';
import { everythingServer, silentLogger } from './fixtures.js';

/** A registry that records what it was asked to do instead of connecting. */
class RecordingRegistry implements ToolsetRegistry<string> {
  readonly entries = new Map<number, { name: string; fingerprint: string }>();
  readonly removed: number[] = [];
  current(): string[] {
    return [...this.entries.entries()].sort(([a], [b]) => a - b).map(([, entry]) => entry.name);
  }
  serverIds(): number[] {
    return [...this.entries.keys()];
  }
  fingerprint(serverId: number): string | undefined {
    return this.entries.get(serverId)?.fingerprint;
  }
  add(row: McpServerRow): boolean {
    this.entries.set(row.id, { name: row.name, fingerprint: fingerprintOf(row) });
    return true;
  }
  async remove(serverId: number): Promise<void> {
    this.entries.delete(serverId);
    this.removed.push(serverId);
  }
}

function fingerprintOf(row: McpServerRow): string {
  return JSON.stringify([row.name, row.command, row.args, row.env]);
}

describe('watchServerChanges', () => {
  let handle: DatabaseHandle;
  beforeAll(async () => {
    handle = await openTestDatabase();
  });
  afterAll(async () => {
    await handle?.close();
  });

  it("follows the user's server writes: add, edit, no-op edit, disable, enable, delete", async () => {
    const user = await createTestUser(handle);
    const other = await createTestUser(handle);
    const registry = new RecordingRegistry();
    const applied: string[][] = [];
    const outcomes: [ServerChange['op'], string][] = [];
    const stop = await watchServerChanges({
      userId: user.id,
      listen: handle.listen,
      readServer: (id) => getServer(handle, user.id, id),
      fingerprintOf,
      toolsets: registry,
      apply: async (toolsets) => void applied.push(toolsets),
      logger: silentLogger(),
      onApplied: (change, outcome) => void outcomes.push([change.op, outcome]),
    });
    const settle = (count: number) =>
      vi.waitFor(() => expect(outcomes).toHaveLength(count), { timeout: 5_000 });

    try {
      const server = await createServer(handle, everythingServer(user.id, 'Files'));
      await settle(1);
      expect(applied).toEqual([['Files']]);

      await updateServer(handle, user.id, server.id, { name: 'Files2' });
      await settle(2);
      expect(applied.at(-1)).toEqual(['Files2']);

      // Nothing the session uses changed: no reconnect.
      await updateServer(handle, user.id, server.id, { description: 'just words' });
      await settle(3);
      expect(applied).toHaveLength(2);

      // Another user's server never reaches this session.
      await createServer(handle, everythingServer(other.id, 'Theirs'));

      await updateServer(handle, user.id, server.id, { isActive: false });
      await settle(4);
      expect(applied.at(-1)).toEqual([]);
      await updateServer(handle, user.id, server.id, { isActive: true });
      await settle(5);
      expect(applied.at(-1)).toEqual(['Files2']);

      await deleteServer(handle.db, user.id, server.id);
      await settle(6);
      expect(applied.at(-1)).toEqual([]);

      expect(outcomes).toEqual([
        ['insert', 'added'],
        ['update', 'replaced'],
        ['update', 'unchanged'],
        ['update', 'removed'],
        ['update', 'added'],
        ['delete', 'removed'],
      ]);
      expect(registry.removed).toEqual([server.id, server.id, server.id]);
    } finally {
      await stop();
    }

    // Stopped: later writes are not applied.
    await createServer(handle, everythingServer(user.id, 'Late'));
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(outcomes).toHaveLength(6);
  });

  it('logs a change it cannot apply and keeps the tools as they were', async () => {
    const user = await createTestUser(handle);
    const registry = new RecordingRegistry();
    const warn = vi.fn();
    const logger = Object.assign(silentLogger(), { warn });
    const stop = await watchServerChanges({
      userId: user.id,
      listen: handle.listen,
      readServer: async () => {
        throw new Error('database went away');
      },
      fingerprintOf,
      toolsets: registry,
      apply: async () => {},
      logger,
    });
    try {
      await createServer(handle, everythingServer(user.id, 'Files'));
      await vi.waitFor(() => expect(warn).toHaveBeenCalled(), { timeout: 5_000 });
      expect(warn.mock.calls[0]![0]).toMatchObject({ err: expect.stringMatching(/went away/) });
      expect(registry.current()).toEqual([]);
    } finally {
      await stop();
    }
  });
});
