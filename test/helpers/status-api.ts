/**
 * The API as `server/main.ts` wires it for status: one `StatusSnapshot` and one `TokenCache`
 * shared by `createApp` and the status stream (`attachStatusStream`), served on a free port.
 */
import type { DatabaseHandle } from '../../shared/db/open.js';
import type { Logger } from '../../shared/logger.js';
import type { StdioSandbox } from '../../shared/mcp/sandbox/stdio-sandbox.js';
import { TokenCache } from '../../server/http/token-cache.js';
import { StatusSnapshot } from '../../server/status/snapshot.js';
import { attachStatusStream, type StatusStream } from '../../server/status/stream.js';
import { serve, type TestServer } from './http.js';
import { freePort } from './mcp-processes.js';
import { sandboxedApp, type TestAppDeps } from './sandboxed.js';

/** Options of {@link serveStatusApi}. */
export interface StatusApiOptions extends Pick<
  TestAppDeps,
  'watcher' | 'livekit' | 'authFailures' | 'rateLimitPerMinute'
> {
  database: DatabaseHandle;
  logger: Logger;
  /** The snapshot's database round interval, in milliseconds; default the snapshot's own. */
  databaseIntervalMs?: number;
  /**
   * The handle the snapshot reads through (its rounds, and the re-reads of servers whose writes
   * were notified); default `database`. A test that counts the app's queries passes the app
   * another object, so the snapshot's background reads are not counted among them.
   */
  snapshotDatabase?: DatabaseHandle;
  /** The token cache (pass one to watch revocations with it); default a new one. */
  tokens?: TokenCache;
  /** The sandbox of servers tested through the API; default the file's (`fileSandbox()`). */
  sandbox?: StdioSandbox;
  /**
   * Serve at its own address as `PUBLIC_URL` (a free port chosen first), so OAuth redirects come
   * back to it; default false (an OS-chosen port, the app's default `PUBLIC_URL`).
   */
  ownPublicUrl?: boolean;
}

/** A running API with its status stream. */
export interface StatusApi {
  api: TestServer;
  /** The current stream; {@link StatusApi.reattachStream} replaces it. */
  stream: StatusStream;
  /** Attaches a new stream to the same HTTP server (after `stream.close()`). */
  reattachStream(): StatusStream;
  /** Closes the stream, the server and the snapshot (not the watcher or the database). */
  close(): Promise<void>;
}

/**
 * Starts the snapshot (resolves once it has checked every part) and serves the app with the
 * stream attached. Start the watcher before, so the snapshot sees its servers.
 */
export async function serveStatusApi(options: StatusApiOptions): Promise<StatusApi> {
  const { database, logger, watcher, livekit, authFailures, rateLimitPerMinute } = options;
  const snapshot = new StatusSnapshot({
    database: options.snapshotDatabase ?? database,
    logger,
    watcher,
    databaseIntervalMs: options.databaseIntervalMs,
  });
  const tokens = options.tokens ?? new TokenCache(database.db);
  await snapshot.start();
  const port = options.ownPublicUrl ? await freePort() : 0;
  const api = await serve(
    sandboxedApp({
      ...(port ? { publicUrl: `http://127.0.0.1:${port}` } : {}),
      database,
      logger,
      watcher,
      livekit,
      statusSnapshot: snapshot,
      tokenCache: tokens,
      authFailures,
      rateLimitPerMinute,
      guards: { sandbox: options.sandbox },
    }),
    port,
  );
  const attach = () => attachStatusStream(api.server, { snapshot, tokens, logger, authFailures });
  const running: StatusApi = {
    api,
    stream: attach(),
    reattachStream: () => (running.stream = attach()),
    close: async () => {
      await running.stream.close();
      await api.close();
      snapshot.stop();
    },
  };
  return running;
}
