/**
 * StdioProcessLimiter on its own: slots, and killing the tracked process groups at exit.
 */
import { spawn } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import {
  StdioProcessLimitError,
  StdioProcessLimiter,
  StdioUserProcessLimitError,
} from '../../../shared/mcp/stdio-process-limiter.js';
import { isProcessAlive } from '../../helpers/mcp-processes.js';

describe('StdioProcessLimiter', () => {
  it("says what frees a slot in this process: an agent worker's voice sessions", () => {
    const limiter = new StdioProcessLimiter({
      maxProcesses: 1,
      freeing: 'End a voice session on this worker',
    });
    limiter.acquire('one');
    expect(() => limiter.acquire('Calendar')).toThrow(
      'Calendar was not started. End a voice session on this worker, or raise the limit',
    );
  });

  it('refuses a slot past maxProcesses and gives it again after a release', () => {
    const limiter = new StdioProcessLimiter({ maxProcesses: 2 });
    const first = limiter.acquire('one');
    limiter.acquire('two');

    expect(() => limiter.acquire('Calendar')).toThrow(StdioProcessLimitError);
    expect(() => limiter.acquire('Calendar')).toThrow(
      'limit of 2 stdio MCP server processes reached in this process (MCP_MAX_STDIO_PROCESSES); ' +
        'Calendar was not started. Disable or delete a stdio server, or raise the limit',
    );

    first.release();
    first.release();
    expect(limiter.active).toBe(1);
    expect(() => limiter.acquire('three')).not.toThrow();
    expect(limiter.active).toBe(2);
  });

  it('refuses a user past maxProcessesPerUser, naming the setting, while others still get slots', () => {
    const limiter = new StdioProcessLimiter({ maxProcesses: 3, maxProcessesPerUser: 2 });
    const alice = limiter.forUser(1);
    const first = alice.acquire('one');
    alice.acquire('two');

    expect(() => alice.acquire('Calendar')).toThrow(StdioUserProcessLimitError);
    expect(() => alice.acquire('Calendar')).toThrow(
      'limit of 2 stdio MCP server processes per user reached in this process ' +
        '(MCP_MAX_STDIO_PROCESSES_PER_USER); Calendar was not started',
    );
    expect(() => limiter.forUser(2).acquire('Bob’s')).not.toThrow();
    expect(limiter.activeFor(1)).toBe(2);

    first.release();
    first.release();
    expect(limiter.activeFor(1)).toBe(1);
    expect(() => alice.acquire('three')).not.toThrow();
    // The process-wide cap still applies to everyone.
    expect(() => limiter.forUser(3).acquire('four')).toThrow(StdioProcessLimitError);
    expect(() => limiter.forUser(3).acquire('four')).toThrow('(MCP_MAX_STDIO_PROCESSES)');
  });

  it('rejects a limit that is not a positive integer', () => {
    expect(() => new StdioProcessLimiter({ maxProcessesPerUser: 0 })).toThrow(RangeError);
    expect(() => new StdioProcessLimiter({ maxProcesses: 0 })).toThrow(RangeError);
    expect(() => new StdioProcessLimiter({ maxProcesses: 1.5 })).toThrow(RangeError);
  });

  it('kills every tracked process group when its owner emits exit, and only then', async () => {
    const limiter = new StdioProcessLimiter();
    const owner = new EventEmitter();
    const child = spawn('sleep', ['300'], { detached: true, stdio: 'ignore' });
    const exitSignal = new Promise((resolve) =>
      child.once('exit', (_code, signal) => resolve(signal)),
    );
    await new Promise((resolve) => child.once('spawn', resolve));
    limiter.acquire('sleeper').track(child.pid!);
    const detach = limiter.killOnExit(owner);
    const untracked = limiter.acquire('not spawned yet');

    owner.emit('beforeExit');
    expect(isProcessAlive(child.pid!)).toBe(true);
    owner.emit('exit');

    expect(await exitSignal).toBe('SIGKILL');
    untracked.release();
    detach();
    expect(owner.listenerCount('exit')).toBe(0);
  });
});
