/**
 * The embeddable status widget page, `GET /widget/status`: a small HTML page that loads
 * `/dashboard/widget.js` (built from `server/dashboard/ui/widget/main.tsx`) and
 * `/dashboard/widget.css`, reads its widget token from the URL fragment (`#token=sbw_…`, never
 * sent to the server) and polls `GET /api/widget/status`.
 *
 * Its headers differ from the dashboard's only where framing needs it: CSP `frame-ancestors`
 * from `WIDGET_FRAME_ANCESTORS` (default `*`) and no `X-Frame-Options`; and it says
 * `Referrer-Policy: no-referrer` itself, so no address of the page leaves it.
 */
import { Router } from 'express';

/** The page's HTML: no inline script or style, so the CSP needs no `unsafe-inline`. */
export const WIDGET_PAGE_HTML = `<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8" />
    <meta name="viewport" content="width=device-width, initial-scale=1" />
    <meta name="referrer" content="no-referrer" />
    <title>Switchboard status</title>
    <link rel="icon" href="data:," />
    <link rel="stylesheet" href="/dashboard/pills.css" />
    <link rel="stylesheet" href="/dashboard/widget.css" />
    <script type="module" src="/dashboard/widget.js"></script>
  </head>
  <body>
    <main id="root"></main>
    <noscript>The Switchboard status widget needs JavaScript; GET /api/widget/status works without it.</noscript>
  </body>
</html>
`;

/**
 * The widget page's Content-Security-Policy: the dashboard's (own scripts, styles and API only,
 * no inline script) except that the page may be framed by `frameAncestors`.
 *
 * @param frameAncestors CSP `frame-ancestors` sources (`WIDGET_FRAME_ANCESTORS`); default `['*']`.
 */
export function widgetCsp(frameAncestors: readonly string[] = ['*']): string {
  return [
    "default-src 'self'",
    "connect-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'none'",
    `frame-ancestors ${frameAncestors.join(' ')}`,
  ].join('; ');
}

/** Options of {@link widgetPageRouter}. */
export interface WidgetPageRouterOptions {
  /** `WIDGET_FRAME_ANCESTORS`: who may frame the page; default any origin (`*`). */
  frameAncestors?: readonly string[];
}

/** Serves `GET /widget/status` (revalidated on every load, like the dashboard). */
export function widgetPageRouter(options: WidgetPageRouterOptions = {}): Router {
  const csp = widgetCsp(options.frameAncestors);
  const router = Router();
  router.get('/widget/status', (_req, res) => {
    res.removeHeader('X-Frame-Options');
    res.set({
      'Content-Security-Policy': csp,
      'Referrer-Policy': 'no-referrer',
      'Cache-Control': 'no-cache',
    });
    res.type('html').send(WIDGET_PAGE_HTML);
  });
  return router;
}
