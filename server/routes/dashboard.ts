/**
 * The dashboard (DESIGN §2: the API "serves the dashboard"): the static page in
 * `server/dashboard/` at `/dashboard/`, and `/` redirects there. The page uses only the public
 * REST API and the status stream with the token the person signs in with, so it needs no
 * routes or privileges of its own.
 */
import { fileURLToPath } from 'node:url';
import express, { Router, type RequestHandler } from 'express';

/** The folder the dashboard's files are served from. */
export const DASHBOARD_DIR = fileURLToPath(new URL('../dashboard', import.meta.url));

/**
 * The page's Content-Security-Policy: its own scripts, styles and API only (in CSP Level 3
 * `'self'` also matches the same host's `ws:`/`wss:` URLs: the status stream), no inline script,
 * no framing.
 * It replaces helmet's default, whose `upgrade-insecure-requests` would send the page's own
 * requests to `https:` when the API is served over plain HTTP on a LAN address.
 */
export const DASHBOARD_CSP = [
  "default-src 'self'",
  "connect-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

const dashboardHeaders: RequestHandler = (_req, res, next) => {
  res.setHeader('Content-Security-Policy', DASHBOARD_CSP);
  next();
};

/**
 * Serves the dashboard: `GET /` answers 302 to `/dashboard/`; `GET /dashboard/` the page and
 * `GET /dashboard/<file>` its script modules and style sheet, revalidated on every load (`no-cache`
 * with an ETag) so a new version shows at once. Unknown files fall through to the API's
 * problem+json 404.
 */
export function dashboardRouter(): Router {
  const router = Router();
  router.get('/', (_req, res) => res.redirect(302, '/dashboard/'));
  router.use(
    '/dashboard',
    dashboardHeaders,
    express.static(DASHBOARD_DIR, {
      index: 'index.html',
      dotfiles: 'ignore',
      cacheControl: false,
      setHeaders: (res) => res.setHeader('Cache-Control', 'no-cache'),
    }),
  );
  return router;
}
