/**
 * The one path by which tests start stdio MCP servers: each wrapper below builds what the test
 * asks for with the test file's own sandbox ({@link fileSandbox}) unless the test passes a
 * sandbox of its own, so every stdio server of the suite runs in bubblewrap, as in production.
 *
 * `test/shared/mcp/sandbox/suite-coverage.test.ts` fails when a test file builds a connection,
 * monitor, app or toolset directly instead (a few files, allow-listed there, must not).
 *
 * Stdio server configs used with these need a sandbox network: `sandbox: { network: 'none' }`
 * (see {@link NO_NETWORK}) unless the test gives the sandbox an outbound provider.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Express } from 'express';
import {
  loadUserToolsets,
  type LoadUserToolsetsOptions,
  type UserToolsets,
} from '../../agent/load-user-toolsets.js';
import { createApp, type AppDeps } from '../../server/app.js';
import {
  probeServer,
  StatusMonitor,
  type ProbeResult,
  type StatusMonitorOptions,
} from '../../server/status/monitor.js';
import { PERMISSIVE_SAFETY } from '../../server/servers/safety.js';
import type { McpServerRow } from '../../shared/db/schema.js';
import type { Logger } from '../../shared/logger.js';
import { McpConnection, type McpConnectionOptions } from '../../shared/mcp/connection.js';
import type { StdioSandbox, StdioSandboxOptions } from '../../shared/mcp/sandbox/stdio-sandbox.js';
import type { McpServerConfig } from '../../shared/mcp/server-config.js';
import {
  SupervisedConnection,
  type SupervisedConnectionOptions,
} from '../../shared/mcp/supervised-connection.js';
import { testSandbox } from './sandbox.js';

/** The sandbox config of a stdio server that needs no network. */
export const NO_NETWORK = { network: 'none' } as const;

let shared: { dataDir: string; sandbox: StdioSandbox } | undefined;

/**
 * The test file's sandbox: a {@link testSandbox} rooted in a temporary `DATA_DIR` (under
 * `os.tmpdir()`), made on the first call and shared by every later call in the same file (vitest
 * loads this module afresh for each test file). `test/helpers/sandbox-setup.ts` removes the
 * folder after the file's tests.
 *
 * @returns the sandbox and its `DATA_DIR`.
 */
export function fileSandbox(): StdioSandbox {
  shared ??= (() => {
    const dataDir = mkdtempSync(path.join(tmpdir(), 'switchboard-test-sandbox-'));
    return { dataDir, sandbox: testSandbox(dataDir) };
  })();
  return shared.sandbox;
}

/** The `DATA_DIR` of {@link fileSandbox} (making it if needed). */
export function fileSandboxDataDir(): string {
  fileSandbox();
  return shared!.dataDir;
}

/**
 * A new sandbox in the file's `DATA_DIR` with other options (e.g. an outbound provider or
 * limits); read-only paths default to the fixtures' ({@link testSandbox}).
 *
 * @param options options of `StdioSandbox` over the defaults of {@link testSandbox}.
 */
export function fileSandboxWith(options: Partial<StdioSandboxOptions>): StdioSandbox {
  return testSandbox(fileSandboxDataDir(), options);
}

/**
 * Removes the folder of {@link fileSandbox}, if one was made. Called after each test file by the
 * setup file; safe to call more than once.
 */
export function removeFileSandbox(): void {
  if (!shared) return;
  rmSync(shared.dataDir, { recursive: true, force: true });
  shared = undefined;
}

/**
 * `new McpConnection(config, options)` in the file's sandbox.
 *
 * @param options the connection's options; `sandbox` default {@link fileSandbox}.
 */
export function sandboxedConnection(
  config: McpServerConfig,
  options: McpConnectionOptions,
): McpConnection {
  return new McpConnection(config, { ...options, sandbox: options.sandbox ?? fileSandbox() });
}

/**
 * `new SupervisedConnection(config, options)` whose connections run in the file's sandbox.
 *
 * @param options the supervisor's options; `connectionOptions.sandbox` default
 *   {@link fileSandbox}.
 */
export function sandboxedSupervisedConnection(
  config: McpServerConfig,
  options: SupervisedConnectionOptions,
): SupervisedConnection {
  const connectionOptions = options.connectionOptions ?? {};
  return new SupervisedConnection(config, {
    ...options,
    connectionOptions: {
      ...connectionOptions,
      sandbox: connectionOptions.sandbox ?? fileSandbox(),
    },
  });
}

/**
 * `new StatusMonitor(options)` whose servers run in the file's sandbox.
 *
 * @param options the monitor's options; `guards.sandbox` default {@link fileSandbox}.
 */
export function sandboxedMonitor(options: StatusMonitorOptions): StatusMonitor {
  return new StatusMonitor({
    ...options,
    guards: { ...options.guards, sandbox: options.guards?.sandbox ?? fileSandbox() },
  });
}

/**
 * `createApp(deps)` whose tested stdio servers (`POST /api/mcp/servers/:id/test`) run in the
 * file's sandbox, as `server/main.ts` passes its sandbox in `safety`.
 *
 * @param deps the app's dependencies; `safety` default `PERMISSIVE_SAFETY` (the app's own
 *   default), `safety.sandbox` default {@link fileSandbox}.
 */
export function sandboxedApp(deps: AppDeps): Express {
  const safety = deps.safety ?? PERMISSIVE_SAFETY;
  return createApp({ ...deps, safety: { ...safety, sandbox: safety.sandbox ?? fileSandbox() } });
}

/**
 * `loadUserToolsets(options)` whose stdio servers run in the file's sandbox.
 *
 * @param options the loader's options; `sandbox` default {@link fileSandbox}.
 */
export function sandboxedToolsets(options: LoadUserToolsetsOptions): Promise<UserToolsets> {
  return loadUserToolsets({ ...options, sandbox: options.sandbox ?? fileSandbox() });
}

/**
 * `probeServer(row, logger, options)` in the file's sandbox.
 *
 * @param options the probe's options; `sandbox` default {@link fileSandbox}.
 */
export function sandboxedProbe(
  row: McpServerRow,
  logger: Logger,
  options: Parameters<typeof probeServer>[2] = {},
): Promise<ProbeResult> {
  return probeServer(row, logger, { ...options, sandbox: options?.sandbox ?? fileSandbox() });
}
