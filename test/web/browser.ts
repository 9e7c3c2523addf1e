/**
 * Real Chromium for the dashboard's tests (Debian's /usr/bin/chromium driven by playwright-core), WebGL 2 on
 * llvmpipe through ANGLE's EGL backend. Console errors and page errors are collected so a test can assert none.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { chromium, type Browser, type BrowserContextOptions, type Page } from 'playwright-core';
import { hasWebAssets, WEB_DIST } from '../../api/node/web-assets.ts';
import { ROOT } from '../support/tessera-cli.ts';

export const CHROMIUM = process.env.TESSERA_CHROMIUM ?? '/usr/bin/chromium';
export const SHOTS_DIR = join(ROOT, 'test', '.output', 'web');

/** Headless Chromium with nothing running beside the page (the sample VR page's tests use these alone). */
export const BASE_FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
/** …and WebGL 2 on llvmpipe through ANGLE's EGL backend (the dashboard's pages). */
const FLAGS = [...BASE_FLAGS, '--use-angle=gl-egl', '--ignore-gpu-blocklist'];

/** Build the dashboard if this checkout has not yet, or built it before /join had its Basis worker (infra/setup.sh normally has). */
export function ensureWebBuilt(): void {
  const basisWorker = () => existsSync(join(WEB_DIST, 'assets')) && readdirSync(join(WEB_DIST, 'assets')).some((f) => /^basis-worker-.*\.js$/.test(f));
  if (!hasWebAssets() || !existsSync(join(WEB_DIST, 'join.html')) || !basisWorker()) execFileSync('npm', ['run', '--silent', 'build:web'], { cwd: ROOT, stdio: 'inherit' });
}

export async function launchBrowser(args: string[] = FLAGS): Promise<Browser> {
  if (!existsSync(CHROMIUM)) throw new Error(`Chromium is not at ${CHROMIUM}: apt-get install -y chromium (infra/setup.sh installs it)`);
  await mkdir(SHOTS_DIR, { recursive: true });
  return chromium.launch({ executablePath: CHROMIUM, args });
}

/** Chromium (launchBrowser) with one new page of `options`, whose errors are collected from the start (collectErrors). */
export async function openBrowserPage(options: BrowserContextOptions = {}): Promise<{ browser: Browser; page: Page; errors: string[] }> {
  const browser = await launchBrowser();
  const page = await browser.newPage(options);
  return { browser, page, errors: collectErrors(page) };
}

/** Console errors and uncaught exceptions of a page, as they happen. */
export function collectErrors(page: Page): string[] {
  const errors: string[] = [];
  page.on('console', (m) => m.type() === 'error' && errors.push(`console: ${m.text()}`));
  page.on('pageerror', (e) => errors.push(`page error: ${e.message}`));
  // The console names no URL for a failed load: record which request it was, so a failure says what to look at.
  page.on('response', (r) => r.status() >= 500 && errors.push(`response: ${r.status()} ${r.request().method()} ${new URL(r.url()).pathname}`));
  return errors;
}

export async function screenshot(page: Page, name: string): Promise<void> {
  // From the top, so the sticky header sits where it belongs in the full-page picture.
  await page.evaluate(() => scrollTo(0, 0));
  await page.screenshot({ path: join(SHOTS_DIR, `${name}.png`), fullPage: true });
}
