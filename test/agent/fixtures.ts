/** Server rows shared by the agent tests. */
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
    command: 'switchboard-test-command-that-does-not-exist',
    timeoutMs: 5_000,
  };
}
