/**
 * The one path by which tests start stdio MCP servers: each wrapper below builds what the test
 * asks for with the test file's own sandbox ({@link fileSandbox}) unless the test passes a
 * sandbox of its own, so every stdio server of the suite runs in bubblewrap, as in production.
 *
 * `test/helpers/sandboxed.coverage.test.ts` fails when a test file builds a connection,
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
import { createApp, type AppDeps, type AppServices } from '../../server/app.js';
import { FailedAuthLimiter } from '../../server/http/failed-auth-limiter.js';
import { DEFAULT_RATE_LIMIT_PER_MINUTE } from '../../server/http/safety.js';
import { TokenCache } from '../../server/http/token-cache.js';
import { statusSnapshotFor, type StatusSnapshotSettings } from '../../server/status/snapshot.js';
import { StatusMonitor, type StatusMonitorOptions } from '../../server/status/monitor.js';
import { probeServer, type ProbeResult } from '../../server/servers/test-server.js';
import type { McpServerRow } from '../../shared/db/schema.js';
import type { Logger } from '../../shared/logger.js';
import { McpConnection, type McpConnectionOptions } from '../../shared/mcp/connection.js';
import type { ConnectionGuards } from '../../shared/mcp/connection-guards.js';
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
 * The connection guards of a test: `guards` as given, in the file's sandbox unless they name
 * one. The other guards default as `ConnectionGuards` documents (private networks allowed, any
 * command, 4 MiB messages, no process cap), unlike the settings' strict defaults.
 *
 * @param guards the test's own guards; default none.
 */
export function sandboxedGuards(guards: ConnectionGuards = {}): ConnectionGuards {
  return { ...guards, sandbox: guards.sandbox ?? fileSandbox() };
}

/** Options of `T` whose `guards` may be left out (default {@link sandboxedGuards}). */
export type WithTestGuards<T extends { guards?: ConnectionGuards }> = Omit<T, 'guards'> & {
  guards?: ConnectionGuards;
};

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
 * @param options the monitor's options; `guards` default none, in {@link sandboxedGuards}.
 */
export function sandboxedMonitor(options: WithTestGuards<StatusMonitorOptions>): StatusMonitor {
  return new StatusMonitor({ ...options, guards: sandboxedGuards(options.guards) });
}

/**
 * What {@link sandboxedApp} takes: the app's dependencies with its guards and services
 * optional, and the settings of the status snapshot it builds when none is given.
 */
export type TestAppDeps = WithTestGuards<Omit<AppDeps, keyof AppServices>> &
  Partial<AppServices> &
  Pick<StatusSnapshotSettings, 'openai' | 'statusCheckTimeoutMs' | 'statusCacheMs'>;

/**
 * The services `createApp` takes, built as `server/main.ts` builds them unless the test gives
 * its own: a status snapshot from the test's LiveKit and OpenAI settings (`statusSnapshotFor`,
 * not started: the first status request starts it), a token cache, and a failed-authentication
 * limiter of `rateLimitPerMinute` (default 600) a minute, none when that is 0.
 *
 * @param deps the test's app dependencies (see {@link TestAppDeps}).
 */
export function testAppServices(deps: TestAppDeps): AppServices {
  const rateLimitPerMinute = deps.rateLimitPerMinute ?? DEFAULT_RATE_LIMIT_PER_MINUTE;
  return {
    statusSnapshot: deps.statusSnapshot ?? statusSnapshotFor(deps),
    tokenCache: deps.tokenCache ?? new TokenCache(deps.database.db),
    authFailures:
      deps.authFailures ??
      (rateLimitPerMinute > 0 ? new FailedAuthLimiter({ limit: rateLimitPerMinute }) : undefined),
  };
}

/**
 * `createApp(deps)` whose tested stdio servers (`POST /api/mcp/servers/:id/test`) run in the
 * file's sandbox, as `server/main.ts` passes its sandbox in `guards`.
 *
 * @param deps the app's dependencies; `guards` default none (private networks allowed, any
 *   command), in {@link sandboxedGuards}; services default {@link testAppServices}.
 */
export function sandboxedApp(deps: TestAppDeps): Express {
  return createApp({
    ...deps,
    ...testAppServices(deps),
    guards: sandboxedGuards(deps.guards),
  });
}

/**
 * `loadUserToolsets(options)` whose stdio servers run in the file's sandbox.
 *
 * @param options the loader's options; `guards` default none, in {@link sandboxedGuards}.
 */
export function sandboxedToolsets(
  options: WithTestGuards<LoadUserToolsetsOptions>,
): Promise<UserToolsets> {
  return loadUserToolsets({ ...options, guards: sandboxedGuards(options.guards) });
}

/**
 * `probeServer(row, logger, options)` in the file's sandbox.
 *
 * @param options the probe's user token and guards; `guards` default none, in
 *   {@link sandboxedGuards}.
 */
export function sandboxedProbe(
  row: McpServerRow,
  logger: Logger,
  options: { guards?: ConnectionGuards; userToken?: string } = {},
): Promise<ProbeResult> {
  return probeServer(row, logger, { ...options, guards: sandboxedGuards(options.guards) });
}
