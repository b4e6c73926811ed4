/** Server rows and job contexts shared by the agent tests. */
import { vi } from 'vitest';
import type { SessionJobContext } from '../../agent/run-session.js';
import type { NewMcpServerRow } from '../../shared/db/schema.js';
import { createLogger, type Logger } from '../../shared/logger.js';
import { EVERYTHING_BIN } from '../helpers/mcp-processes.js';

/** A logger that writes nothing. */
export function silentLogger(): Logger {
  return createLogger({ level: 'silent' });
}

/** The real `server-everything` reference server over stdio, as the demo seeds it. */
export function everythingServer(userId: number, name = 'Everything'): NewMcpServerRow {
  return {
    userId,
    name,
    transport: 'stdio',
    sandbox: { network: 'none' },
    command: 'node',
    args: [EVERYTHING_BIN, 'stdio'],
    timeoutMs: 20_000,
  };
}

/** A stdio server whose command does not exist, so it can never connect. */
export function brokenServer(userId: number, name = 'Broken'): NewMcpServerRow {
  return {
    userId,
    name,
    transport: 'stdio',
    sandbox: { network: 'none' },
    command: 'switchboard-test-command-that-does-not-exist',
    timeoutMs: 5_000,
  };
}

/**
 * A job context without a room (the session runs in text mode) whose dispatch metadata is
 * `metadata`; `shutdown()` runs the shutdown callbacks the session registered, as LiveKit does
 * when the job ends.
 */
export function fakeJob(metadata: string, jobId = 'job-42') {
  const shutdownCallbacks: Array<() => Promise<void>> = [];
  const ctx: SessionJobContext = {
    connect: vi.fn(async () => {}),
    job: { id: jobId, metadata },
    waitForParticipant: vi.fn(async () => ({ identity: 'caller', attributes: {} })),
    addShutdownCallback: (callback) => shutdownCallbacks.push(callback),
  };
  const shutdown = () => Promise.all(shutdownCallbacks.map((callback) => callback()));
  return { ctx, shutdownCallbacks, shutdown };
}
