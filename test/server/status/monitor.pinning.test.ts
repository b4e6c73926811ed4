/**
 * The status monitor and tool pinning (issue 16): the monitor is usually the first to list a new
 * server's tools, so it pins them (trust on first use); a later change of the server's tools,
 * which the monitor hears over the same connection, is never pinned by it: the changed and the
 * new tool stay unapproved. A server with `pinTools` off gets no pins. Against the changing-tools
 * fixture over Streamable HTTP; runs on PGlite, or on Postgres when `DATABASE_URL` is set.
 */
import { eq } from 'drizzle-orm';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import type { DatabaseHandle } from '../../../shared/db/open.js';
import { mcpServers, toolPins } from '../../../shared/db/schema.js';
import { createServer } from '../../../shared/db/servers.js';
import { createLogger } from '../../../shared/logger.js';
import { toolHash } from '../../../shared/mcp/tool-pinning.js';
import type { StatusMonitor } from '../../../server/status/monitor.js';
import {
  ECHO_DESCRIPTION,
  startChangingToolsMcpServer,
  type ChangingToolsMcpServer,
} from '../../helpers/changing-tools-mcp-server.js';
import { createTestUser, openTestDatabase } from '../../helpers/database.js';
import { sandboxedMonitor } from '../../helpers/sandboxed.js';

const logger = createLogger({ level: 'silent' });
/** How long to wait for the monitor's batched writes (both cores may be busy). */
const WRITES = { timeout: 15_000, interval: 50 };
let database: DatabaseHandle;
const monitors: StatusMonitor[] = [];
const fixtures: ChangingToolsMcpServer[] = [];

beforeAll(async () => {
  database = await openTestDatabase();
});

afterEach(async () => {
  await Promise.all(monitors.splice(0).map((monitor) => monitor.stop()));
  await Promise.all(fixtures.splice(0).map((fixture) => fixture.close()));
});

afterAll(async () => {
  await database?.close();
});

async function watched(pinTools: boolean) {
  const fixture = await startChangingToolsMcpServer();
  fixtures.push(fixture);
  const user = await createTestUser(database);
  const row = await createServer(database, {
    userId: user.id,
    name: pinTools ? 'Pinned' : 'Unpinned',
    transport: 'streamable-http',
    url: fixture.url,
    pinTools,
  });
  const monitor = sandboxedMonitor({
    db: database.db,
    secrets: database.secrets,
    logger,
    policy: { intervalMs: 3_600_000 },
  });
  monitors.push(monitor);
  await monitor.start();
  const connection = monitor.connection(row.id)!;
  expect(connection.status).toBe('connected');
  return { fixture, row, connection };
}

const pinsOf = async (serverId: number) =>
  (await database.db.select().from(toolPins).where(eq(toolPins.serverId, serverId))).map(
    (pin) => [pin.toolName, pin.hash, pin.approvedBy] as const,
  );

const pinnedAt = async (serverId: number) =>
  (
    await database.db
      .select({ at: mcpServers.toolsPinnedAt })
      .from(mcpServers)
      .where(eq(mcpServers.id, serverId))
  )[0]!.at;

describe('the status monitor and tool pinning', () => {
  it('pins a new server on first use, and never pins a later change of its tools', async () => {
    const { fixture, row, connection } = await watched(true);
    const [echo] = connection.tools;
    expect(echo).toMatchObject({ name: 'echo', description: ECHO_DESCRIPTION });
    // Pinned in the background once connected: trusted on first use (no approver).
    await vi.waitFor(async () => expect(await pinsOf(row.id)).toHaveLength(1), WRITES);
    expect(await pinsOf(row.id)).toEqual([['echo', toolHash(echo!), null]]);
    expect(await pinnedAt(row.id)).toBeInstanceOf(Date);

    // The server changes echo and adds shout; the monitor hears it over its connection.
    const heard = new Promise<void>((resolve) => {
      const stop = connection.onToolsChanged((tools) => {
        if (tools.some((tool) => tool.name === 'shout')) {
          stop();
          resolve();
        }
      });
    });
    await fixture.change();
    await heard;
    // Its metadata follows (a write that comes after the change was heard) …
    await vi.waitFor(async () => {
      const [stored] = await database.db
        .select({ metadata: mcpServers.metadata })
        .from(mcpServers)
        .where(eq(mcpServers.id, row.id));
      expect(stored!.metadata?.toolNames).toContain('shout');
    }, WRITES);
    // … but the pins stay as first seen: the changed echo and the new shout wait for approval.
    expect(await pinsOf(row.id)).toEqual([['echo', toolHash(echo!), null]]);
  });

  it('pins nothing for a server with pinTools off', async () => {
    const { row } = await watched(false);
    // Stopping waits for the writes in flight, a first-use pin included.
    await monitors.pop()!.stop();
    expect(await pinsOf(row.id)).toEqual([]);
    expect(await pinnedAt(row.id)).toBeNull();
  });
});
