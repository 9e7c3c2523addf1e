/**
 * The dashboard in real Chromium against a real farm (local S3, the API serving the built page, one render
 * node): sign in, drop a scene, preview, quote, submit, watch the tiles, and find every frame in the gallery
 * (and in its zip) pixel for pixel equal to the CLI's local render; the map shows the node. Screenshots of
 * every page go to test/.output/web/.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { unzipSync } from 'fflate';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeRaw } from '../../render-node/output/stitch-tiles.ts';
import type { NodeList } from '../../api/protocol/latency.ts';
import { call, TEST_API_KEY } from '../support/api-harness.ts';
import { waitFor } from '../support/farm-checks.ts';
import { startTestFarm } from '../support/farm.ts';
import { ROOT, startLocalRender } from '../support/tessera-cli.ts';
import { ensureWebBuilt, openBrowserPage, screenshot } from './browser.ts';

const FRAMES = [0, 1, 2];
const JOB = ['--frames', '0-2', '--size', '160x90', '--background', '#20242c'];

describe('web dashboard', () => {
  let farm: Awaited<ReturnType<typeof startTestFarm>>;
  let browser: Browser;
  let page: Page;
  let errors: string[];
  /** The CLI's local render of the same frames: the reference. */
  let local: ReturnType<typeof startLocalRender>;

  beforeAll(async () => {
    ensureWebBuilt();
    farm = await startTestFarm();
    farm.spawnNode('web-node', { args: ['--location', '52.37,4.90'] });
    // The reference: the CLI rendering the same frames on this machine, untiled.
    local = startLocalRender(join(ROOT, 'scenes/animated-trs.glb'), ...JOB);
    ({ browser, page, errors } = await openBrowserPage({ viewport: { width: 1280, height: 900 }, acceptDownloads: true }));
    // The page quotes from the healthy nodes: a quote before the node has called in is a (retried) 503.
    await waitFor('the render node', async () => ((await call<NodeList>(farm.url, 'GET', '/v1/nodes?healthy=true')).body.nodes.length === 1 ? true : undefined));
  });
  afterAll(async () => {
    await browser?.close();
    await farm?.close();
  });

  it('serves the page with hashed, immutable assets and a revalidated index', async () => {
    const index = await fetch(`${farm.url}/`);
    expect(index.status).toBe(200);
    expect(index.headers.get('cache-control')).toBe('no-cache');
    const html = await index.text();
    const script = /src="(\/assets\/index-[\w-]+\.js)"/.exec(html)?.[1];
    expect(script).toBeDefined();
    const asset = await fetch(`${farm.url}${script}`);
    expect(asset.status).toBe(200);
    expect(asset.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
    expect(asset.headers.get('content-type')).toMatch(/javascript/);
    // Only plain names inside web/dist: no way out of the folder.
    expect((await fetch(`${farm.url}/assets/..%2f..%2fpackage.json`)).status).toBe(404);
    expect((await fetch(`${farm.url}/v1/health`)).status).toBe(200);
  });

  it('signs in with an API key by keyboard, keeping it out of the URL', async () => {
    await page.goto(farm.url);
    const before = errors.length;
    await page.locator('input[name=apiKey]').fill('tsk_wrong');
    await page.keyboard.press('Enter');
    await expect.poll(() => page.locator('.error').textContent()).toMatch(/^UNAUTHORIZED: /);
    forgiveHttpErrors(errors, before);
    await screenshot(page, '01-sign-in');
    await page.locator('input[name=apiKey]').fill(TEST_API_KEY);
    await page.keyboard.press('Enter');
    await page.waitForSelector('[data-testid=drop-zone]');
    expect(page.url()).not.toContain(TEST_API_KEY);
    expect(await page.evaluate(() => sessionStorage.getItem('tessera.apiKey'))).toBe(TEST_API_KEY);
    expect(await page.evaluate(() => localStorage.length)).toBe(0);
  });

  it('shows the API validation error in words for a file that is not a scene', async () => {
    const before = errors.length;
    await drop(page, [{ name: 'broken.glb', bytes: Buffer.from('glTF this is not a binary glTF') }]);
    await expect.poll(() => page.locator('.error').first().textContent(), { timeout: 30_000 }).toMatch(/^SCENE_(MALFORMED|UNSUPPORTED): \S/);
    forgiveHttpErrors(errors, before);
  });

  it('packs a .gltf with its files into a zip in the page and uploads it', async () => {
    const dir = join(ROOT, 'scenes/textured-gltf');
    await drop(page, readdirSync(dir).map((name) => ({ name, bytes: readFileSync(join(dir, name)) })));
    await expect.poll(() => page.locator('[data-testid=scene-id]').textContent(), { timeout: 60_000 }).toMatch(/scene\.gltf uploaded: scene [0-9a-f]{12}/);
  });

  it('previews a Draco-compressed scene (its decoder in a worker, under the page\'s CSP)', async () => {
    await drop(page, [{ name: 'draco.glb', bytes: readFileSync(join(ROOT, 'scenes/draco.glb')) }]);
    await expect.poll(() => page.locator('[data-testid=scene-id]').textContent(), { timeout: 60_000 }).toMatch(/draco\.glb uploaded/);
    await expect.poll(() => page.locator('[data-testid=preview-ready]').textContent(), { timeout: 30_000 }).toMatch(/draco\.glb/);
    expect(await page.locator('.preview-card .error').count()).toBe(0);
  });

  it('uploads a dropped .glb, previews it, quotes and submits the job, and follows it to the end', async () => {
    await drop(page, [{ name: 'animated-trs.glb', bytes: readFileSync(join(ROOT, 'scenes/animated-trs.glb')) }]);
    await expect.poll(() => page.locator('[data-testid=scene-id]').textContent(), { timeout: 60_000 }).toMatch(/animated-trs\.glb uploaded/);
    // The preview drew the scene: the canvas is not blank.
    await expect.poll(() => canvasHasPixels(page), { timeout: 30_000 }).toBe(true);
    await page.fill('input[name=frames]', '0-2');
    await page.fill('input[name=width]', '160');
    await page.fill('input[name=height]', '90');
    await page.check('input[name=tiled]');
    await page.fill('input[name=tile]', '80');
    await page.selectOption('select[name=background]', 'color');
    await page.locator('input[aria-label="background colour"]').fill('#20242c');
    await page.getByRole('button', { name: 'Quote' }).click();
    const quote = await page.waitForSelector('[data-testid=quote]');
    await screenshot(page, '02-render');
    expect(await quote.textContent()).toMatch(/frames3tiles12/);
    await page.click('[data-testid=submit-job]');
    await page.waitForSelector('[data-testid=job-state]');
    expect(page.url()).toMatch(/#\/jobs\/job_/);
    await expect.poll(() => page.locator('[data-testid=tile-grid]').count(), { timeout: 30_000 }).toBe(3);
    await screenshot(page, '03-job-running');
    await expect.poll(() => page.locator('[data-testid=job-state]').textContent(), { timeout: 240_000, interval: 500 }).toBe('done');
    await expect.poll(() => page.locator('[data-testid=gallery-frame]').count(), { timeout: 30_000 }).toBe(3);
    expect(await page.locator('[data-testid=job-progress]').textContent()).toMatch(/^3\/3 frames · 12\/12 tiles/);
    await screenshot(page, '04-job-done');
  });

  it('has every frame in the gallery and in its zip pixel for pixel equal to the CLI local render', async () => {
    await local.done;
    const reference = async (frame: number) => decodeRaw(readFileSync(join(local.dir, `frame-${String(frame).padStart(4, '0')}.png`)));
    const shown = await page.locator('[data-testid=gallery-frame]').evaluateAll((imgs) =>
      imgs.map((img) => ({ frame: Number(img.getAttribute('data-frame')), url: (img as HTMLImageElement).src, loaded: (img as HTMLImageElement).naturalWidth })),
    );
    expect(shown.map((s) => s.frame)).toEqual(FRAMES);
    for (const s of shown) {
      const got = await decodeRaw(new Uint8Array(await (await fetch(s.url)).arrayBuffer()));
      const want = await reference(s.frame);
      expect([got.width, got.height]).toEqual([want.width, want.height]);
      expect(Buffer.compare(Buffer.from(got.data), Buffer.from(want.data)), `frame ${s.frame}`).toBe(0);
    }
    // Download all: the page fetches each frame (checksum checked) and zips them.
    const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: /Download all/ }).click()]);
    const zip = unzipSync(new Uint8Array(readFileSync((await download.path())!)));
    expect(Object.keys(zip).sort()).toEqual(['frame-0000.png', 'frame-0001.png', 'frame-0002.png']);
    for (const f of FRAMES) {
      const got = await decodeRaw(zip[`frame-${String(f).padStart(4, '0')}.png`]);
      expect(Buffer.compare(Buffer.from(got.data), Buffer.from((await reference(f)).data)), `zipped frame ${f}`).toBe(0);
    }
  });

  it('shows the node on the world map, with an RTT line from this browser once it is placed', async () => {
    await page.click('nav >> text=Nodes');
    await page.waitForSelector('[data-testid=map-node]');
    expect(await page.locator('[data-testid=node-list] tbody tr').count()).toBe(1);
    expect(await page.locator('[data-testid=node-list]').textContent()).toMatch(/web-node.*healthy/);
    const map = page.locator('[data-testid=world-map]');
    const box = (await map.boundingBox())!;
    await map.click({ position: { x: box.width * 0.35, y: box.height * 0.35 } });
    await page.waitForSelector('.world-map .rtt text');
    expect(await page.locator('.world-map .rtt text').first().textContent()).toMatch(/^\d+(\.\d)? ms$/);
    await screenshot(page, '05-nodes');
  });

  it('lists keys and creates one (admin), and shows the ledger', async () => {
    await page.click('nav >> text=Keys');
    await page.fill('form input:not([type])', 'web-test-client');
    await page.getByRole('button', { name: 'Create' }).click();
    await expect.poll(() => page.locator('.secret').textContent()).toMatch(/^tsk_[0-9a-f]{64}$/);
    // The list is fetched again after the key is created: wait for it.
    await expect.poll(() => page.locator('table').textContent()).toMatch(/web-test-client/);
    await screenshot(page, '06-keys');
    await page.click('nav >> text=Ledger');
    await page.waitForSelector('[data-testid=ledger] tbody tr');
    expect(await page.locator('[data-testid=ledger]').textContent()).toMatch(/web-node/);
    await screenshot(page, '07-ledger');
  });

  it('fits a phone-sized screen', async () => {
    await page.setViewportSize({ width: 390, height: 844 });
    for (const [hash, name] of [['#/', '08-phone-render'], [`#/jobs`, '09-phone-jobs'], ['#/nodes', '10-phone-nodes']] as const) {
      await page.goto(`${farm.url}/${hash}`);
      await page.waitForSelector('main .card');
      await page.waitForTimeout(300);
      const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
      expect(overflow, `${name} scrolls sideways`).toBeLessThanOrEqual(0);
      await screenshot(page, name);
    }
  });

  it('logged no console errors', () => {
    expect(errors).toEqual([]);
  });
});

/** The browser logs a 4xx answer the test asked for as a console error: drop those logged since `before`. */
function forgiveHttpErrors(errors: string[], before: number): void {
  errors.splice(before, errors.length - before, ...errors.slice(before).filter((e) => !/status of 4\d\d/.test(e)));
}

/** Drop files on the drop zone as a user would (a DataTransfer built in the page). */
async function drop(page: Page, files: { name: string; bytes: Uint8Array }[]): Promise<void> {
  const data = await page.evaluateHandle((list) => {
    const dt = new DataTransfer();
    for (const f of list) dt.items.add(new File([Uint8Array.from(atob(f.b64), (c) => c.charCodeAt(0))], f.name));
    return dt;
  }, files.map((f) => ({ name: f.name, b64: Buffer.from(f.bytes).toString('base64') })));
  await page.dispatchEvent('[data-testid=drop-zone]', 'drop', { dataTransfer: data });
}

/** Whether the preview canvas shows something other than its cleared background. */
async function canvasHasPixels(page: Page): Promise<boolean> {
  return page.evaluate(() => {
    const canvas = document.querySelector('canvas.preview') as HTMLCanvasElement;
    const copy = document.createElement('canvas');
    copy.width = 64;
    copy.height = 36;
    const ctx = copy.getContext('2d')!;
    ctx.drawImage(canvas, 0, 0, 64, 36);
    const px = ctx.getImageData(0, 0, 64, 36).data;
    let opaque = 0;
    for (let i = 3; i < px.length; i += 4) if (px[i] > 0) opaque++;
    return opaque > 20;
  });
}
