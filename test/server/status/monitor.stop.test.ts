/**
 * Stopping the monitor (Ctrl-C, SIGTERM) does not wait for a server that hangs in `initialize`:
 * its connect attempt is ended at once rather than left to its timeout.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { DatabaseHandle } from '../../../shared/db/open.js';
import { createServer } from '../../../shared/db/servers.js';
import { createLogger } from '../../../shared/logger.js';
import { startSilentServer, type SilentServer } from '../../../bench/fixtures/silent-server.js';
import { createTestUser, openTestDatabase } from '../../helpers/database.js';
import { sandboxedMonitor } from '../../helpers/sandboxed.js';

let database: DatabaseHandle;
let silent: SilentServer;

beforeAll(async () => {
  database = await openTestDatabase();
  silent = await startSilentServer();
});

afterAll(async () => {
  await silent?.close();
  await database?.close();
});

describe('StatusMonitor.stop', () => {
  it('ends a connect that hangs in initialize instead of waiting for its timeout', async () => {
    const user = await createTestUser(database);
    const hung = await createServer(database, {
      userId: user.id,
      name: 'Hung',
      transport: 'streamable-http',
      url: silent.url,
      // Far beyond the test's own timeout: stop() must not wait for it.
      timeoutMs: 600_000,
    });
    const monitor = sandboxedMonitor({
      db: database.db,
      secrets: database.secrets,
      logger: createLogger({ level: 'silent' }),
      policy: { intervalMs: 3_600_000 },
      guards: { urlPolicy: { allowPrivateNetworks: true } },
    });
    const started = monitor.start();
    await vi.waitFor(() => expect(silent.accepted).toBeGreaterThan(0), {
      timeout: 30_000,
      interval: 20,
    });

    await monitor.stop();
    await started;
    expect(monitor.connection(hung.id)).toBeUndefined();
  });
});
