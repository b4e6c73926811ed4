/**
 * Chromium for the browser tests (Debian's `chromium` through playwright-core), and the checks
 * every page must pass at every width: no horizontal overflow, actions reachable, and an
 * accessibility audit with axe-core that finds nothing serious or critical.
 *
 * Without Chromium the browser cases are skipped, unless `SWITCHBOARD_REQUIRE_BROWSER=1` (set by
 * `.ci/run`), which turns a missing browser into a failure.
 */
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { chromium, type Browser, type Locator, type Page } from 'playwright-core';

/** The Chromium found (`CHROMIUM_PATH`, then Debian's paths), if any. */
export const CHROMIUM_PATH = [
  process.env.CHROMIUM_PATH,
  '/usr/bin/chromium',
  '/usr/bin/chromium-browser',
]
  .filter((candidate): candidate is string => Boolean(candidate))
  .find((candidate) => existsSync(candidate));

/** Whether the browser cases must run (and fail without Chromium) rather than be skipped. */
export const REQUIRE_BROWSER = process.env.SWITCHBOARD_REQUIRE_BROWSER === '1';

/** True when the browser cases should be skipped: no Chromium, and not required. */
export const browserMissing = !CHROMIUM_PATH && !REQUIRE_BROWSER;

/** The widths every page is checked at, in CSS pixels: a phone, a tablet, a laptop. */
export const WIDTHS = [390, 768, 1280] as const;

/**
 * Launches Chromium headless, with fake media devices so a page may use the microphone.
 *
 * @throws Error when no Chromium is installed (only reached when `REQUIRE_BROWSER` is set).
 */
export async function launchBrowser(): Promise<Browser> {
  if (!CHROMIUM_PATH) {
    throw new Error(
      "SWITCHBOARD_REQUIRE_BROWSER=1 but no Chromium was found: install Debian's chromium or set CHROMIUM_PATH",
    );
  }
  return chromium.launch({
    executablePath: CHROMIUM_PATH,
    // Root in a container: Chromium's sandbox needs user namespaces it may not have.
    args: [
      '--no-sandbox',
      '--disable-dev-shm-usage',
      '--use-fake-ui-for-media-stream',
      '--use-fake-device-for-media-stream',
    ],
  });
}

/**
 * Collects a page's script errors and console errors (CSP violations among them) into `errors`.
 * Chromium also logs every answer that is not 2xx ("Failed to load resource: … status of 401");
 * pages handle those answers themselves, so they are not errors here. Dialogs are accepted.
 */
export function collectPageErrors(page: Page, errors: string[]): void {
  page.on('pageerror', (error) => errors.push(error.message));
  page.on('console', (message) => {
    if (message.type() === 'error' && !/responded with a status of \d{3}/.test(message.text())) {
      errors.push(message.text());
    }
  });
  page.on('dialog', (dialog) => void dialog.accept());
}

/**
 * The elements wider than their box (`scrollWidth > clientWidth`) among the page itself and
 * `selector` (default: every `.card`), described as `tag#id.class (scroll/client)`; empty when
 * nothing overflows. Elements that scroll on purpose (`overflow-x: auto|scroll`) and text cut with
 * an ellipsis (`text-overflow: ellipsis`) are not overflow.
 */
export async function horizontalOverflow(page: Page, selector = '.card'): Promise<string[]> {
  // A string, not a function: the tests' TypeScript has no DOM types.
  return page.evaluate(`(() => {
    const found = [];
    const describe = (element) =>
      element.tagName.toLowerCase() + (element.id ? '#' + element.id : '') +
      (typeof element.className === 'string' && element.className.trim()
        ? '.' + element.className.trim().split(/\\s+/).join('.') : '');
    const root = document.documentElement;
    if (root.scrollWidth > root.clientWidth) {
      found.push('page (' + root.scrollWidth + '/' + root.clientWidth + ')');
    }
    for (const element of document.querySelectorAll(${JSON.stringify(selector)})) {
      if (['auto', 'scroll'].includes(getComputedStyle(element).overflowX)) continue;
      if (element.scrollWidth > element.clientWidth + 1) {
        found.push(describe(element) + ' (' + element.scrollWidth + '/' + element.clientWidth + ')');
      }
    }
    return found;
  })()`);
}

/**
 * Whether an element lies inside the viewport from left to right (it can be reached without
 * scrolling sideways) and is visible.
 */
export async function withinViewportWidth(page: Page, locator: Locator): Promise<boolean> {
  if (!(await locator.isVisible())) return false;
  const box = await locator.boundingBox();
  const width = page.viewportSize()?.width ?? 0;
  return box !== null && box.x >= 0 && box.x + box.width <= width + 0.5;
}

/**
 * Whether an element's top is inside the visible part of the page now (it was opened in view).
 */
export async function topInViewport(page: Page, locator: Locator): Promise<boolean> {
  const box = await locator.boundingBox();
  const height = page.viewportSize()?.height ?? 0;
  return box !== null && box.y >= 0 && box.y < height;
}

const AXE_SOURCE = readFileSync(
  createRequire(import.meta.url).resolve('axe-core/axe.min.js'),
  'utf8',
);

/** One axe-core violation, reduced to what a failing test should print. */
export interface AxeViolation {
  id: string;
  impact: string | null;
  help: string;
  targets: string[];
}

/**
 * Runs axe-core (WCAG 2 A and AA rules and best practices) on the page as it is now and returns
 * the violations whose impact is serious or critical.
 * The script is added through the DevTools protocol, so the page's own CSP does not block it.
 */
export async function seriousAccessibilityViolations(page: Page): Promise<AxeViolation[]> {
  await page.evaluate(AXE_SOURCE);
  const violations: AxeViolation[] = await page.evaluate(`(async () => {
    const result = await window.axe.run(document, { resultTypes: ['violations'] });
    return result.violations.map((v) => ({
      id: v.id,
      impact: v.impact,
      help: v.help,
      targets: v.nodes.map((node) => node.target.join(' ')),
    }));
  })()`);
  return violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
}
