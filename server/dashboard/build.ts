/**
 * The dashboard's build: esbuild bundles the React sources in `server/dashboard/ui/` into the
 * browser's scripts, in memory, once per process, the first time the page is asked for (the API
 * starts it at start-up so the first page load does not wait). There is no build step to run and
 * no build output on disk: `npm ci && npm start` is the whole set-up, and a restart serves what
 * the sources say now.
 *
 * Entry points (each becomes `/dashboard/<name>.js`): `app` (the dashboard) and `widget` (the
 * embeddable status widget). Code only some pages need, such as the Voice page's LiveKit client,
 * is split into chunks loaded on demand (`/dashboard/chunks/<name>-<hash>.js`).
 */
import { createHash } from 'node:crypto';
import { basename, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build, type BuildFailure } from 'esbuild';

/** The folder of the dashboard's sources. */
export const DASHBOARD_SOURCE_DIR = fileURLToPath(new URL('./ui', import.meta.url));

/** The bundle's entry points: output name → source file under {@link DASHBOARD_SOURCE_DIR}. */
export const DASHBOARD_ENTRY_POINTS: Readonly<Record<string, string>> = {
  app: 'main.tsx',
  widget: 'widget/main.tsx',
};

/** One built file, ready to serve. */
export interface DashboardAsset {
  /** The file's bytes. */
  body: Buffer;
  /** Its `Content-Type`. */
  contentType: string;
  /** A strong ETag of its bytes. */
  etag: string;
}

/** The built files by their path under `/dashboard/` (`app.js`, `chunks/voice-AB12CD34.js`). */
export type DashboardBundle = ReadonlyMap<string, DashboardAsset>;

/** Raised when the sources do not build; `message` lists esbuild's errors with file and line. */
export class DashboardBuildError extends Error {
  override readonly name = 'DashboardBuildError';
}

let pending: Promise<DashboardBundle> | undefined;

/**
 * The dashboard's bundle, built on the first call and shared by every later one in this
 * process. A failed build is not kept: the next call tries again.
 *
 * @throws DashboardBuildError when the sources do not build.
 */
export function dashboardBundle(): Promise<DashboardBundle> {
  pending ??= buildDashboard().catch((error: unknown) => {
    pending = undefined;
    throw error;
  });
  return pending;
}

/** Options of {@link buildDashboard}; the defaults build the dashboard itself. */
export interface BuildOptions {
  /** The folder of the sources; default {@link DASHBOARD_SOURCE_DIR}. */
  sourceDir?: string;
  /** Output name → source file; default {@link DASHBOARD_ENTRY_POINTS}. */
  entryPoints?: Readonly<Record<string, string>>;
}

/**
 * Builds the dashboard now (no caching; {@link dashboardBundle} caches): minified ES2022
 * modules with React in production mode and linked source maps.
 *
 * @throws DashboardBuildError when the sources do not build.
 */
export async function buildDashboard(options: BuildOptions = {}): Promise<DashboardBundle> {
  const outdir = '/dashboard';
  let result;
  try {
    result = await build({
      absWorkingDir: options.sourceDir ?? DASHBOARD_SOURCE_DIR,
      entryPoints: Object.entries(options.entryPoints ?? DASHBOARD_ENTRY_POINTS).map(
        ([out, source]) => ({
          in: source,
          out,
        }),
      ),
      outdir,
      bundle: true,
      splitting: true,
      format: 'esm',
      target: 'es2022',
      platform: 'browser',
      jsx: 'automatic',
      minify: true,
      sourcemap: 'linked',
      chunkNames: 'chunks/[name]-[hash]',
      define: { 'process.env.NODE_ENV': '"production"' },
      legalComments: 'none',
      write: false,
      logLevel: 'silent',
    });
  } catch (error) {
    const failure = error as BuildFailure;
    const lines = (failure.errors ?? []).map((message) => {
      const where = message.location
        ? `${message.location.file}:${message.location.line}:${message.location.column}: `
        : '';
      return `${where}${message.text}`;
    });
    throw new DashboardBuildError(
      `The dashboard's sources (${options.sourceDir ?? 'server/dashboard/ui'}) do not build:\n${lines.join('\n') || String(error)}`,
    );
  }
  const files = new Map<string, DashboardAsset>();
  for (const file of result.outputFiles) {
    const path = relative(outdir, file.path).split('\\').join('/');
    const body = Buffer.from(file.contents);
    files.set(path, {
      body,
      contentType: contentTypeOf(basename(path)),
      etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"`,
    });
  }
  return files;
}

function contentTypeOf(name: string): string {
  if (name.endsWith('.js')) return 'text/javascript; charset=utf-8';
  if (name.endsWith('.css')) return 'text/css; charset=utf-8';
  if (name.endsWith('.map')) return 'application/json; charset=utf-8';
  return 'application/octet-stream';
}
