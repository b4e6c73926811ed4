import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    pool: 'forks',
    // Removes each file's stdio sandbox folder (test/helpers/sandboxed.ts) after its tests.
    setupFiles: ['test/helpers/sandbox-setup.ts'],
    // Generous: real processes and databases are slow while both cores are busy.
    testTimeout: 90_000,
    hookTimeout: 120_000,
    // Real child processes and databases: two cores, so keep file parallelism modest.
    maxWorkers: 2,
    // The suite's MCP servers listen on 127.0.0.1; spawned processes inherit this too.
    env: { MCP_ALLOW_PRIVATE_NETWORKS: 'true' },
  },
});
