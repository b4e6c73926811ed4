/**
 * StderrLog on its own, with a clock the test moves: line cutting, the token bucket and the tail.
 */
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { createLogger } from '../../../shared/logger.js';
import { StderrLog, StderrRepeats, type StderrLimits } from '../../../shared/mcp/stderr-log.js';

interface LogLine {
  level: number;
  msg: string;
  stderr?: string;
  suppressedLines?: number;
}

function stderrLog(limits: Partial<StderrLimits> = {}) {
  const lines: LogLine[] = [];
  const clock = { nowMs: 0 };
  const logger = createLogger({
    destination: { write: (line: string) => void lines.push(JSON.parse(line) as LogLine) },
  });
  const log = new StderrLog({ logger, limits, now: () => clock.nowMs });
  return { log, lines, clock };
}

const text = (lines: LogLine[]) => lines.map((line) => line.stderr ?? line.msg);

describe('StderrLog', () => {
  it('logs each complete line once, joining lines split across chunks', () => {
    const { log, lines } = stderrLog();

    log.write(Buffer.from('first li'));
    log.write(Buffer.from('ne\r\nsecond line\n\nthird'));

    expect(text(lines)).toEqual(['first line', 'second line']);
    log.flush();
    expect(text(lines)).toEqual(['first line', 'second line', 'third']);
  });

  it('cuts a line longer than maxLineBytes and says how many bytes were cut', () => {
    const { log, lines } = stderrLog({ maxLineBytes: 10 });

    log.write(Buffer.from(`${'a'.repeat(8)}`));
    log.write(Buffer.from(`${'b'.repeat(30)}\nshort\n`));

    expect(text(lines)).toEqual(['aaaaaaaabb …[28 more bytes cut]', 'short']);
  });

  it('logs a burst, suppresses the rest, and reports the count before the next logged line', () => {
    const { log, lines, clock } = stderrLog({ burstLines: 3, linesPerSecond: 2 });

    for (let i = 0; i < 10; i++) log.write(Buffer.from(`line ${i}\n`));
    expect(text(lines)).toEqual(['line 0', 'line 1', 'line 2']);

    clock.nowMs = 500; // one token back
    log.write(Buffer.from('line 10\n'));
    log.write(Buffer.from('line 11\n'));

    expect(lines.slice(3).map((line) => line.suppressedLines ?? line.stderr)).toEqual([
      7,
      'line 10',
    ]);
    log.flush();
    expect(lines.at(-1)?.suppressedLines).toBe(1);
  });

  it('keeps the last tailChars of every line, suppressed or not, for error messages', () => {
    const { log } = stderrLog({ burstLines: 1, tailChars: 40 });

    for (let i = 0; i < 20; i++) log.write(Buffer.from(`line ${i}\n`));
    log.write(Buffer.from('Error: no token'));

    expect(log.tail.length).toBeLessThanOrEqual(40);
    expect(log.tail.endsWith('line 18\nline 19\nError: no token')).toBe(true);
    expect(log.note()).toBe(' (stderr: line 17 | line 18 | line 19 | Error: no token)');
  });

  it('has no note while the server wrote nothing but blank lines', () => {
    const { log, lines } = stderrLog();

    log.write(Buffer.from('\n  \n'));

    expect(log.note()).toBe('');
    expect(lines).toEqual([]);
  });
});

describe('StderrLog note of a real crash', () => {
  it("keeps the line that says what went wrong from Node's 'Cannot find module' report", () => {
    const missing = '/srv/switchboard-no-such-script.js';
    const crash = spawnSync(process.execPath, [missing], { encoding: 'utf8' });
    expect(crash.status).not.toBe(0);
    const { log } = stderrLog();

    log.write(Buffer.from(crash.stderr));

    const note = log.note();
    expect(note).toContain(`Error: Cannot find module '${missing}'`);
    expect(note).not.toMatch(/\| at |Node\.js v/);
  });

  it('leads with the first error line when the last lines are stack frames and detail', () => {
    const { log } = stderrLog();
    log.write(
      Buffer.from(
        [
          'Traceback (most recent call last):',
          '  File "/srv/server.py", line 3, in <module>',
          '    import mcp_missing',
          "ModuleNotFoundError: No module named 'mcp_missing'",
          'detail 1',
          'detail 2',
          'detail 3',
          'detail 4',
          'detail 5',
          '',
        ].join('\n'),
      ),
    );

    expect(log.note()).toBe(
      " (stderr: ModuleNotFoundError: No module named 'mcp_missing' | detail 2 | detail 3 | detail 4 | detail 5)",
    );
  });
});

describe('StderrRepeats', () => {
  it('logs a line the first time, then its count at 2, 4, 8 … times, across logs that share it', () => {
    const repeats = new StderrRepeats();
    const lines: LogLine[] = [];
    const logger = createLogger({
      destination: { write: (line: string) => void lines.push(JSON.parse(line) as LogLine) },
    });
    for (let start = 0; start < 9; start++) {
      // One log per process start, as a supervisor's reconnects make them.
      const log = new StderrLog({ logger, repeats });
      log.write(Buffer.from(`Error: no token\nstart ${start}\n`));
      log.flush();
    }
    const noToken = lines.filter((line) => line.stderr === 'Error: no token');
    expect(noToken.map((line) => line.msg)).toEqual([
      'mcp server stderr',
      'mcp server stderr (the same line 2 times, across restarts)',
      'mcp server stderr (the same line 4 times, across restarts)',
      'mcp server stderr (the same line 8 times, across restarts)',
    ]);
    // Lines that differ each time are each logged.
    expect(lines.filter((line) => line.stderr?.startsWith('start '))).toHaveLength(9);
  });
});
