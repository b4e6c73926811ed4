/**
 * Sandboxes for tests: a `StdioSandbox` rooted in a test's own `DATA_DIR` that also grants, read
 * only, what the repository's stdio fixtures run from (`test/fixtures`, `shared`, `node_modules`
 * and `package.json`), never `DATA_DIR`.
 */
import { realpathSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { StdioSandbox, type StdioSandboxOptions } from '../../shared/mcp/sandbox/stdio-sandbox.js';

/** The repository's root folder. */
export const REPOSITORY = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** The folder of the test fixtures. */
export const FIXTURES_DIR = path.join(REPOSITORY, 'test', 'fixtures');

/** The hostile server that tries to leave its sandbox. */
export const ESCAPE_SERVER = path.join(FIXTURES_DIR, 'sandbox-escape-server.mjs');

/** What the repository's fixtures need to run (tsx and the shared code), read-only. */
export const FIXTURE_PATHS: readonly string[] = [
  FIXTURES_DIR,
  path.join(REPOSITORY, 'shared'),
  path.join(REPOSITORY, 'package.json'),
  path.join(REPOSITORY, 'tsconfig.json'),
  realpathSync(path.join(REPOSITORY, 'node_modules')),
  path.join(REPOSITORY, 'node_modules'),
];

/**
 * A sandbox for tests.
 *
 * @param dataDir the test's `DATA_DIR` (private directories go to `<dataDir>/sandboxes`).
 * @param options more options; `readOnlyPaths` default {@link FIXTURE_PATHS}.
 */
export function testSandbox(
  dataDir: string,
  options: Partial<StdioSandboxOptions> = {},
): StdioSandbox {
  return new StdioSandbox({ dataDir, readOnlyPaths: FIXTURE_PATHS, ...options });
}
