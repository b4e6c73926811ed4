import { afterEach, describe, expect, it } from 'vitest';
import { createLogger } from '../../../shared/logger.js';
import { McpConnectionError } from '../../../shared/mcp/errors.js';
import type { SupervisedConnection } from '../../../shared/mcp/supervised-connection.js';
import { sandboxedSupervisedConnection } from '../../helpers/sandboxed.js';

const logger = createLogger({ level: 'silent' });
const open: SupervisedConnection[] = [];

afterEach(async () => {
  await Promise.all(open.splice(0).map((connection) => connection.close()));
});

describe('SupervisedConnection clock', () => {
  it('dates the next retry and says how far off it is by the clock it is given', async () => {
    let now = 1_000_000;
    const connection = sandboxedSupervisedConnection(
      {
        transport: 'stdio',
        command: 'switchboard-no-such-calendar',
        args: [],
        env: {},
        timeoutMs: 10_000,
        sandbox: { network: 'none' },
      },
      {
        logger,
        label: 'Calendar',
        // Half of the first backoff bound: the retry is 300 s away.
        random: () => 0.5,
        policy: { intervalMs: 3_600_000, backoffBaseMs: 600_000, backoffCapMs: 600_000 },
        now: () => now,
      },
    );
    open.push(connection);
    expect(await connection.start()).toBe(false);
    expect(connection.retryAt).toBe(1_000_000 + 300_000);

    now += 100_500;
    const failure = await connection.callTool('echo', {}).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(McpConnectionError);
    expect((failure as Error).message).toMatch(/\. Retrying in 200 s\.$/);
  });
});
