/** `GET /widget/status`: the embeddable page, framable with its own CSP and nothing else relaxed. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DatabaseHandle } from '../../../shared/db/open.js';
import { createLogger } from '../../../shared/logger.js';
import { DASHBOARD_CSP } from '../../../server/routes/dashboard.js';
import { widgetCsp } from '../../../server/routes/widget-page.js';
import { openTestDatabase } from '../../helpers/database.js';
import { serve, type TestServer } from '../../helpers/http.js';
import { sandboxedApp } from '../../helpers/sandboxed.js';

const logger = createLogger({ level: 'silent' });
let database: DatabaseHandle;
let api: TestServer;
let restricted: TestServer;

beforeAll(async () => {
  database = await openTestDatabase();
  api = await serve(sandboxedApp({ database, logger }));
  restricted = await serve(
    sandboxedApp({ database, logger, widgetFrameAncestors: ['https://wall.example.com'] }),
  );
});

afterAll(async () => {
  await api?.close();
  await restricted?.close();
  await database?.close();
});

describe('GET /widget/status', () => {
  it('serves the page framable from anywhere, without a referrer, loading only its own files', async () => {
    const res = await fetch(`${api.baseUrl}/widget/status`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/html/);
    const csp = res.headers.get('content-security-policy')!;
    expect(csp).toContain('frame-ancestors *');
    expect(csp).toContain("script-src 'self'");
    expect(csp).not.toContain('unsafe');
    expect(res.headers.get('x-frame-options')).toBeNull();
    expect(res.headers.get('referrer-policy')).toBe('no-referrer');
    const html = await res.text();
    expect(html).toContain('src="/dashboard/widget.js"');
    expect(html).toContain('href="/dashboard/widget.css"');
  });

  it('allows framing only from WIDGET_FRAME_ANCESTORS when set', async () => {
    const res = await fetch(`${restricted.baseUrl}/widget/status`);
    expect(res.headers.get('content-security-policy')).toContain(
      'frame-ancestors https://wall.example.com',
    );
  });

  it("differs from the dashboard's policy only in framing and form targets", () => {
    const without = (csp: string) =>
      csp
        .split('; ')
        .filter((d) => !/^(frame-ancestors|form-action|media-src|connect-src)/.test(d));
    expect(without(widgetCsp())).toEqual(without(DASHBOARD_CSP));
  });

  it('keeps the dashboard itself unframable', async () => {
    const res = await fetch(`${api.baseUrl}/dashboard/`);
    expect(res.headers.get('content-security-policy')).toContain("frame-ancestors 'none'");
  });

  it('serves the widget script and style sheet', async () => {
    for (const path of ['/dashboard/widget.js', '/dashboard/widget.css']) {
      const res = await fetch(api.baseUrl + path);
      expect(res.status, path).toBe(200);
      expect((await res.text()).length, path).toBeGreaterThan(100);
    }
  });
});
