/**
 * The dashboard (DESIGN §2: the API "serves the dashboard"): the page in
 * `server/dashboard/public/` and the scripts built from `server/dashboard/ui/`
 * (`server/dashboard/build.ts`) at `/dashboard/`, and `/` redirects there. The page uses only the
 * public REST API and the status stream with the token the person signs in with, so it needs no
 * routes or privileges of its own.
 */
import { fileURLToPath } from 'node:url';
import express, { Router, type RequestHandler } from 'express';
import { dashboardBundle } from '../dashboard/build.js';

/** The folder the dashboard's static files (page, style sheet) are served from. */
export const DASHBOARD_DIR = fileURLToPath(new URL('../dashboard/public', import.meta.url));

/**
 * The origins the Voice page's LiveKit client talks to for a LiveKit server URL: the URL's own
 * origin (`wss://host`) for signalling and its HTTP twin (`https://host`), which livekit-client
 * asks for region settings and for the reason a connection failed (`/rtc/validate`).
 *
 * @param livekitUrl `LIVEKIT_URL` (`ws://`, `wss://`, `http://` or `https://`); unset or not a
 *   URL gives none.
 * @returns the origins to add to `connect-src`, e.g. `['wss://x.livekit.cloud', 'https://x.livekit.cloud']`.
 */
export function livekitOrigins(livekitUrl: string | undefined): string[] {
  if (!livekitUrl) return [];
  let url: URL;
  try {
    url = new URL(livekitUrl);
  } catch {
    return [];
  }
  const secure = url.protocol === 'wss:' || url.protocol === 'https:';
  if (!['ws:', 'wss:', 'http:', 'https:'].includes(url.protocol)) return [];
  return [`${secure ? 'wss' : 'ws'}://${url.host}`, `${secure ? 'https' : 'http'}://${url.host}`];
}

/**
 * The page's Content-Security-Policy: its own scripts, styles and API, plus the LiveKit server
 * the Voice page joins (when `LIVEKIT_URL` is set); no inline script, no framing. In CSP Level 3
 * `'self'` also matches the same host's `ws:`/`wss:` URLs: the status stream.
 * It replaces helmet's default, whose `upgrade-insecure-requests` would send the page's own
 * requests to `https:` when the API is served over plain HTTP on a LAN address.
 *
 * @param livekitUrl `LIVEKIT_URL`, if set.
 */
export function dashboardCsp(livekitUrl?: string): string {
  return [
    "default-src 'self'",
    ["connect-src 'self'", ...livekitOrigins(livekitUrl)].join(' '),
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    "media-src 'self' blob:",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
  ].join('; ');
}

/** The policy without LiveKit configured. */
export const DASHBOARD_CSP = dashboardCsp();

/** Options of {@link dashboardRouter}. */
export interface DashboardRouterOptions {
  /** `LIVEKIT_URL`, allowed in the page's `connect-src` for the Voice page; default none. */
  livekitUrl?: string;
}

/**
 * Serves the dashboard: `GET /` answers 302 to `/dashboard/`; `GET /dashboard/` the page,
 * `GET /dashboard/style.css` its style sheet and `GET /dashboard/<name>.js` (and `chunks/…`,
 * `.map`) its built scripts, all revalidated on every load (`no-cache` with an ETag) so a new
 * version shows at once. Unknown files fall through to the API's problem+json 404; a build
 * that fails answers 500 with the build's errors in the log (see `server/dashboard/build.ts`).
 */
export function dashboardRouter(options: DashboardRouterOptions = {}): Router {
  const csp = dashboardCsp(options.livekitUrl);
  const headers: RequestHandler = (_req, res, next) => {
    res.setHeader('Content-Security-Policy', csp);
    next();
  };
  const built: RequestHandler = async (req, res, next) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') return next();
    const path = req.path.replace(/^\//, '');
    if (!/\.(?:js|map)$/.test(path)) return next();
    const asset = (await dashboardBundle()).get(path);
    if (!asset) return next();
    res.setHeader('Cache-Control', 'no-cache');
    res.setHeader('ETag', asset.etag);
    res.type(asset.contentType);
    if (req.headers['if-none-match'] === asset.etag) {
      res.status(304).end();
      return;
    }
    res.send(asset.body);
  };
  const router = Router();
  router.get('/', (_req, res) => res.redirect(302, '/dashboard/'));
  router.use(
    '/dashboard',
    headers,
    built,
    express.static(DASHBOARD_DIR, {
      index: 'index.html',
      dotfiles: 'ignore',
      cacheControl: false,
      setHeaders: (res) => res.setHeader('Cache-Control', 'no-cache'),
    }),
  );
  return router;
}
