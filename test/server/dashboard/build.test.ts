/**
 * The dashboard's in-memory build (server/dashboard/build.ts): every entry point and its chunks,
 * production React, and a source that does not build named with its file and line.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  buildDashboard,
  dashboardBundle,
  DashboardBuildError,
  DASHBOARD_ENTRY_POINTS,
} from '../../../server/dashboard/build.js';

const scratch = mkdtempSync(join(tmpdir(), 'switchboard-build-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

describe('buildDashboard', () => {
  it('builds every entry point as a module with a source map, and splits the Voice page off', async () => {
    const bundle = await buildDashboard();
    for (const name of Object.keys(DASHBOARD_ENTRY_POINTS)) {
      const script = bundle.get(`${name}.js`);
      expect(script, name).toBeDefined();
      expect(script!.contentType).toBe('text/javascript; charset=utf-8');
      expect(script!.body.toString()).toContain(`//# sourceMappingURL=${name}.js.map`);
      expect(bundle.get(`${name}.js.map`)?.contentType).toMatch(/^application\/json/);
    }
    // React's production build, not its development checks.
    expect(bundle.get('app.js')!.body.toString()).not.toContain('development');
    const chunks = [...bundle.keys()].filter((path) => path.startsWith('chunks/'));
    expect(chunks.some((path) => /^chunks\/voice-page-[A-Z0-9]+\.js$/.test(path))).toBe(true);
    // ETags follow the bytes.
    const etags = new Set([...bundle.values()].map((asset) => asset.etag));
    expect(etags.size).toBe(bundle.size);
  });

  it('names the file and line of a source that does not build', async () => {
    writeFileSync(join(scratch, 'broken.tsx'), 'export const x = ;\n');
    const failure = buildDashboard({ sourceDir: scratch, entryPoints: { app: 'broken.tsx' } });
    await expect(failure).rejects.toBeInstanceOf(DashboardBuildError);
    await expect(failure).rejects.toThrow(/broken\.tsx:1:\d+: /);
  });

  it('builds once per process', async () => {
    expect(await dashboardBundle()).toBe(await dashboardBundle());
  });
});
