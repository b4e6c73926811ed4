/**
 * Every test that starts a stdio MCP server runs it in the sandbox: test files build connections,
 * monitors, apps, toolsets and probes only through `test/helpers/sandboxed.ts` (which passes the
 * file's sandbox), never directly, and never turn the sandbox off, except the files allow-listed
 * below, each with the reason it must.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPOSITORY } from './sandbox.js';

/** What starts a stdio server (or can) without a sandbox unless one is passed. */
const DIRECT_CONSTRUCTIONS: readonly { name: string; pattern: RegExp }[] = [
  { name: 'new McpConnection(', pattern: /\bnew\s+McpConnection\s*\(/ },
  { name: 'new SupervisedConnection(', pattern: /\bnew\s+SupervisedConnection\s*\(/ },
  { name: 'new StatusMonitor(', pattern: /\bnew\s+StatusMonitor\s*\(/ },
  { name: 'createApp(', pattern: /(?<![.\w])createApp\s*\(/ },
  { name: 'loadUserToolsets(', pattern: /(?<![.\w])loadUserToolsets\s*\(/ },
  { name: 'probeServer(', pattern: /(?<![.\w])probeServer\s*\(/ },
  { name: 'testServer(', pattern: /(?<![.\w])testServer\s*\(/ },
  { name: 'currentTools(', pattern: /(?<![.\w])currentTools\s*\(/ },
  { name: 'new StdioProcessTransport(', pattern: /\bnew\s+StdioProcessTransport\s*\(/ },
  { name: "MCP_STDIO_SANDBOX: 'off'", pattern: /MCP_STDIO_SANDBOX['"]?\s*[:=]\s*['"]off['"]/ },
];

/** The one file allowed to construct them all: the helper every other test goes through. */
const HELPER = 'test/helpers/sandboxed.ts';

/**
 * Files (relative to the repository) that construct directly, and why. Each must still match,
 * so a stale entry fails too.
 */
const EXCEPTIONS: Readonly<Record<string, string>> = {
  // Tests MCP_STDIO_SANDBOX=off and the settings' sandbox itself.
  'test/shared/settings.sandbox.test.ts': 'tests MCP_STDIO_SANDBOX=off (no sandbox) itself',
  // Two tests watch a plain child's process group (sh -c grandchildren, the SIGKILL grace),
  // which the sandbox replaces with its init; 32 `cat` transports only fill the process limiter.
  'test/shared/mcp/stdio-transport.test.ts':
    'tests the process-group ending of an unsandboxed child and fills the limiter with cat',
  // The owner process of the kill-on-exit test: StdioProcessLimiter.killOnExit ends a plain
  // child's process group when its owner exits without closing it.
  'test/fixtures/exit-without-close.ts': 'tests killOnExit of an unsandboxed child process group',
};

/** Every `.ts`/`.mts`/`.mjs` file under `test/`, relative to the repository, sorted. */
function testSources(): string[] {
  const found: string[] = [];
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(full);
      else if (/\.(ts|mts|mjs|js)$/.test(entry.name)) found.push(path.relative(REPOSITORY, full));
    }
  };
  walk(path.join(REPOSITORY, 'test'));
  return found.sort();
}

/** The source without comments, so a docstring that names a constructor does not count. */
function withoutComments(source: string): string {
  return source.replace(/\/\*[\s\S]*?\*\//g, '').replace(/(^|[^:'"`])\/\/.*$/gm, '$1');
}

/** `file: construction` for each direct construction in `files`. */
function directConstructions(files: readonly string[]): string[] {
  const found: string[] = [];
  for (const file of files) {
    const source = withoutComments(readFileSync(path.join(REPOSITORY, file), 'utf8'));
    for (const { name, pattern } of DIRECT_CONSTRUCTIONS) {
      if (pattern.test(source)) found.push(`${file}: ${name}`);
    }
  }
  return found;
}

describe('the suite runs every stdio server in the sandbox', () => {
  const files = testSources().filter((file) => file !== HELPER && file !== THIS_FILE);

  it('finds the test files and the helper', () => {
    expect(files.length).toBeGreaterThan(50);
    expect(testSources()).toContain(HELPER);
  });

  it('no test file outside the allow list starts a server without the helper', () => {
    const offending = directConstructions(files.filter((file) => !(file in EXCEPTIONS)));
    expect(offending).toEqual([]);
  });

  it('every allow-listed file still needs its exception', () => {
    for (const file of Object.keys(EXCEPTIONS)) {
      expect(directConstructions([file]), file).not.toEqual([]);
    }
  });

  it('the check catches a direct construction', () => {
    // The check itself must be able to fail: the helper constructs every kind directly.
    const inHelper = directConstructions([HELPER]).map((line) => line.split(': ')[1]);
    expect(inHelper).toEqual(
      expect.arrayContaining([
        'new McpConnection(',
        'new SupervisedConnection(',
        'new StatusMonitor(',
        'createApp(',
        'loadUserToolsets(',
        'probeServer(',
      ]),
    );
  });
});

const THIS_FILE = path.relative(REPOSITORY, new URL(import.meta.url).pathname);
