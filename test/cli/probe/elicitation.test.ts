/**
 * `npm run probe --elicitation`: how the probe answers a server that asks for input during a call
 * (server-everything's `trigger-elicitation-request`, over stdio in the sandbox): `decline` (the
 * default), `accept-defaults` (each field's default, SEP-1034, what the conformance suite's
 * `elicitation-sep1034-client-defaults` checks), `prompt` on a terminal (driven here through a
 * stream that says it is one), and `prompt` without a terminal (declines, with a note).
 */
import { spawn } from 'node:child_process';
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { parseProbeArgs, UsageError } from '../../../cli/probe/args.js';
import { probeElicitationHandler, type ProbeElicitation } from '../../../cli/probe/elicitation.js';
import { formatProbeReport } from '../../../cli/probe/format.js';
import type { ElicitationParams } from '../../../shared/mcp/elicitation.js';
import { EVERYTHING_BIN, REPO_ROOT } from '../../helpers/mcp-processes.js';
import { fileSandboxDataDir } from '../../helpers/sandboxed.js';

const ASK = [
  '--command',
  process.execPath,
  '--arg',
  EVERYTHING_BIN,
  '--arg',
  'stdio',
  '--call',
  'trigger-elicitation-request',
];

/** Runs the CLI to completion (killed after 25 s); stdin is a pipe, never a terminal. */
function probe(
  args: readonly string[],
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'cli/probe/main.ts', ...args], {
      cwd: REPO_ROOT,
      env: { ...process.env, DATA_DIR: fileSandboxDataDir() },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    const timer = setTimeout(() => child.kill('SIGKILL'), 25_000);
    child.once('error', reject);
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

const FORM: ElicitationParams = {
  message: 'Tell us about you',
  requestedSchema: {
    type: 'object',
    properties: {
      name: { type: 'string', title: 'Name' },
      age: { type: 'integer', minimum: 0, maximum: 150 },
      colour: { type: 'string', enum: ['red', 'blue'], default: 'blue' },
    },
    required: ['name'],
  },
};

describe('npm run probe --elicitation', () => {
  it('declines by default, and says so in the report', async () => {
    const run = await probe(ASK);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('User declined to provide the requested information');
    expect(run.stdout).toMatch(
      /^Asked +Please provide inputs for the following fields:: decline$/m,
    );
  });

  it('accepts every default with accept-defaults', async () => {
    const run = await probe([...ASK, '--elicitation', 'accept-defaults', '--json']);
    expect(run.code).toBe(0);
    const report = JSON.parse(run.stdout) as {
      elicitations: ProbeElicitation[];
      call: { text: string };
    };
    expect(report.elicitations).toEqual([
      {
        mode: 'form',
        message: 'Please provide inputs for the following fields:',
        action: 'accept',
        content: {
          firstLine: 'It was a dark and stormy night.',
          integer: 42,
          number: 3.14,
          untitledSingleSelectEnum: 'Monica',
          untitledMultipleSelectEnum: ['Guitar'],
          titledSingleSelectEnum: 'hero-1',
          titledMultipleSelectEnum: ['fish-1'],
          legacyTitledEnum: 'pet-1',
        },
      },
    ]);
    expect(report.call.text).toContain('- Favorite Integer: 42');
  });

  it('declines with a note when prompt has no terminal on stdin', async () => {
    const run = await probe([...ASK, '--elicitation', 'prompt']);
    expect(run.code).toBe(0);
    expect(run.stderr).toContain('stdin is not a terminal; declining');
    expect(run.stdout).toContain('User declined');
  });

  it('refuses an unknown mode as a usage error', () => {
    expect(() => parseProbeArgs(['http://127.0.0.1:1/mcp', '--elicitation', 'yes'])).toThrow(
      new UsageError('--elicitation must be one of accept-defaults, decline, prompt'),
    );
    expect(parseProbeArgs(['http://127.0.0.1:1/mcp'])).toMatchObject({ elicitation: 'decline' });
  });
});

describe('--elicitation prompt on a terminal', () => {
  /** A terminal that types `lines` as they are asked for, and what it showed. */
  function terminal(lines: string[]) {
    const input = Object.assign(new PassThrough(), { isTTY: true });
    const output = new PassThrough();
    let shown = '';
    output.on('data', (chunk: Buffer) => {
      shown += chunk.toString('utf8');
      // Each question ends with ": " and waits for a line.
      if (shown.endsWith(': ') && lines.length > 0) input.write(`${lines.shift()}\n`);
    });
    return { terminal: { input, output }, shown: () => shown };
  }
  const signal = new AbortController().signal;
  const completed = new Promise<void>(() => {});

  it('asks each field with what it takes and its default, and again for one that does not fit', async () => {
    const log: ProbeElicitation[] = [];
    const tty = terminal(['a', 'Ada', 'old', '', '36']);
    const handler = probeElicitationHandler('prompt', log, tty.terminal);
    await expect(handler(FORM, { signal, completed })).resolves.toEqual({
      action: 'accept',
      content: { name: 'Ada', age: 36, colour: 'blue' },
    });
    expect(tty.shown()).toContain('The server asks: Tell us about you');
    expect(tty.shown()).toContain('Name (required) [text]: ');
    expect(tty.shown()).toContain('age [a whole number from 0 to 150]: ');
    expect(tty.shown()).toContain('colour [one of red, blue; default blue]: ');
    expect(tty.shown()).toContain('Not sent: age: "old" is not a number');
    expect(log).toEqual([
      {
        mode: 'form',
        message: 'Tell us about you',
        action: 'accept',
        content: { name: 'Ada', age: 36, colour: 'blue' },
      },
    ]);
  });

  it('declines or cancels when told to, and accepts a link once the user is done', async () => {
    const log: ProbeElicitation[] = [];
    const tty = terminal(['d', '']);
    const handler = probeElicitationHandler('prompt', log, tty.terminal);
    await expect(handler(FORM, { signal, completed })).resolves.toEqual({ action: 'decline' });
    const link: ElicitationParams = {
      mode: 'url',
      message: 'Sign in',
      url: 'https://example.com/sign-in',
      elicitationId: 'x1',
    };
    await expect(handler(link, { signal, completed })).resolves.toEqual({ action: 'accept' });
    expect(tty.shown()).toContain('It wants you to open: https://example.com/sign-in');
    expect(
      formatProbeReport({
        tools: [],
        elicitations: log,
        target: 't',
        requestedTransport: 'stdio',
        transport: 'stdio',
        connectMs: 1,
      }),
    ).toContain('Asked         Sign in (https://example.com/sign-in): accept');
  });
});
