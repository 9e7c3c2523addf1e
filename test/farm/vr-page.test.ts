/**
 * The sample WebXR page in real Chromium (Debian's chromium + playwright-core), desktop mode: it opens a
 * session through the API, mouse-look drives the poses, frames arrive and are drawn (time-warped to the
 * current head rotation), the picture changes when the view turns, and the page logs no console errors.
 */
import { readFile } from 'node:fs/promises';
import { chromium, type Browser, type Page } from 'playwright-core';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTesseraClient } from '../../api/client/index.ts';
import { TEST_API_KEY } from '../support/api-harness.ts';
import { waitFor } from '../support/farm-checks.ts';
import { startTestFarm } from '../support/farm.ts';
import { scenePath } from '../support/renderer.ts';
import { shadowStage } from '../support/shadow-stage.ts';

let farm: Awaited<ReturnType<typeof startTestFarm>>;
let browser: Browser;
let sceneId: string;
let cubeId: string;
let node: ReturnType<typeof farm.spawnNode>;

beforeAll(async () => {
  farm = await startTestFarm({ leaseMs: 3000 });
  const client = createTesseraClient({ baseUrl: farm.url, apiKey: TEST_API_KEY });
  sceneId = (await client.uploadScene(new Uint8Array(await readFile(scenePath('textured-pbr'))))).sceneId;
  // A red 1 m cube floating in front of the environment: near against far, for the depth test.
  cubeId = (await client.uploadScene(await shadowStage({ floor: false }))).sceneId;
  node = farm.spawnNode('vr-page', { concurrency: 1 });
  await waitFor('a node', async () => ((await client.nodes({ healthy: true })).nodes.length ? true : undefined));
  browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await farm?.close();
});

describe('the sample WebXR page (desktop mode)', () => {
  it('sends poses, gets frames, follows mouse-look, with no console errors', async () => {
    const { page, errors } = await openVrPage(`scene=${sceneId}&eye=256x256`);
    const counters = () => page.evaluate(() => {
      const t = (window as unknown as { tessera: { frames: number; posesSent: number; nodeId: string | null } }).tessera;
      return t ? { frames: t.frames, posesSent: t.posesSent, nodeId: t.nodeId } : null;
    });
    await waitFor('frames in the page', async () => ((await counters())?.frames ?? 0) >= 3 ? true : undefined, 60_000);
    const before = await canvasData(page);
    const c1 = (await counters())!;
    expect(c1.posesSent).toBeGreaterThan(0);
    expect(c1.nodeId).toMatch(/^node_/);
    // Turn the head 60° with the mouse; the picture follows.
    await page.mouse.move(400, 240);
    await page.mouse.down();
    for (let i = 1; i <= 10; i++) await page.mouse.move(400 + i * 20, 240);
    await page.mouse.up();
    const framesAtTurn = (await counters())!.frames;
    await waitFor('frames for the new pose', async () => ((await counters())!.frames >= framesAtTurn + 3 ? true : undefined), 60_000);
    const after = await canvasData(page);
    expect(after).not.toBe(before);
    // The canvas shows a picture, not the clear colour: many distinct pixel values.
    const { data: d } = await canvasPixels(page);
    const seen = new Set<number>();
    for (let i = 0; i < d.length; i += 4 * 97) seen.add((d[i] << 16) | (d[i + 1] << 8) | d[i + 2]);
    const distinct = seen.size;
    expect(distinct).toBeGreaterThan(50);
    expect(await page.locator('#stats').textContent()).toMatch(/fps/);
    // Rotational time-warp only: a head that moved sideways since the frame sees the same picture.
    await page.evaluate(() => ((window as unknown as { tessera: { holdPoses: boolean } }).tessera.holdPoses = true));
    await new Promise((r) => setTimeout(r, 1500));
    const held = await canvasData(page);
    await page.evaluate(() => ((window as unknown as { tessera: { offset: number[] } }).tessera.offset = [0.5, 0, 0]));
    await new Promise((r) => setTimeout(r, 300));
    expect(await canvasData(page)).toBe(held);
    // A session the API ends (here deleted; a node gone silent is the same close) is re-opened and frames resume.
    await page.evaluate(() => ((window as unknown as { tessera: { holdPoses: boolean } }).tessera.holdPoses = false));
    const first = await page.evaluate(() => (window as unknown as { tessera: { sessionId: string } }).tessera.sessionId);
    const client = createTesseraClient({ baseUrl: farm.url, apiKey: TEST_API_KEY });
    await client.deleteSession(first);
    type PageState = { sessionId: string; reopens: number; frames: number; closed: string | null };
    const pageState = () => page.evaluate(() => { const t = (window as unknown as { tessera: PageState }).tessera; return { sessionId: t.sessionId, reopens: t.reopens, frames: t.frames, closed: t.closed }; });
    const reopened = await waitFor('the page re-opened its session', async () => {
      const t = await pageState();
      return t.sessionId !== first && t.reopens >= 1 ? t : undefined;
    }, 60_000).catch(async (err: Error) => {
      throw new Error(`${err.message}: the page says ${JSON.stringify(await pageState())}; the API says ${JSON.stringify(await client.getSession(first))}; the node said:\n${node.log.filter((l) => /session/i.test(l)).slice(-15).join('\n')}`);
    });
    await waitFor('frames from the re-opened session', async () => ((await counters())!.frames >= reopened.frames + 3 ? true : undefined), 60_000);
    expect((await client.getSession(reopened.sessionId)).state).toMatch(/^(starting|open)$/);
    expect(errors).toEqual([]);
  }, 180_000);

  it('with depth=1 decodes depth frames and reprojects positionally: near things move against the background when the head moves', async () => {
    const { page, errors } = await openVrPage(`scene=${cubeId}&eye=256x256&depth=1`);
    type T = { depthFrames: number; centerDepthMm: number | null; holdPoses: boolean; offset: number[] };
    const t = () => page.evaluate(() => (window as unknown as { tessera: T }).tessera && { ...(window as unknown as { tessera: T }).tessera });
    await waitFor('depth frames in the page', async () => (((await t())?.depthFrames ?? 0) >= 3 ? true : undefined), 60_000);
    // The start camera looks at the cube's centre: the centre pixel is the cube, a few metres away, not "far".
    const centre = (await t())!.centerDepthMm!;
    expect(centre).toBeGreaterThan(500);
    expect(centre).toBeLessThan(20_000);
    await page.evaluate(() => ((window as unknown as { tessera: T }).tessera.holdPoses = true));
    await new Promise((r) => setTimeout(r, 1500));
    const before = await redCentroid(page);
    await page.evaluate(() => ((window as unknown as { tessera: T }).tessera.offset = [0.6, 0, 0]));
    await new Promise((r) => setTimeout(r, 300));
    const after = await redCentroid(page);
    // The head moved 0.6 m to the right: the cube (near) slides left in the picture, by many pixels.
    expect(before.count).toBeGreaterThan(500);
    expect(after.count).toBeGreaterThan(300);
    expect(after.x).toBeLessThan(before.x - 10);
    expect(errors).toEqual([]);
  }, 180_000);
});

/** A fresh 800×480 page on the farm's sample VR page with the operator key and `query`, and its console errors and page errors as they happen. */
async function openVrPage(query: string): Promise<{ page: Page; errors: string[] }> {
  const page = await browser.newPage({ viewport: { width: 800, height: 480 } });
  const errors: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(m.text());
  });
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(`${farm.url}/sample/vr?key=${TEST_API_KEY}&${query}`);
  return { page, errors };
}

/** The view canvas as a PNG data URL. */
function canvasData(page: Page): Promise<string> {
  return page.evaluate(() => (document.getElementById('view') as HTMLCanvasElement).toDataURL('image/png'));
}

/** The view canvas's RGBA pixels, rows top-down (decoded from its lossless PNG). */
async function canvasPixels(page: Page): Promise<{ data: Uint8Array; width: number; height: number }> {
  const png = Buffer.from((await canvasData(page)).replace(/^data:image\/png;base64,/, ''), 'base64');
  const { data, info } = await sharp(png).ensureAlpha().raw().toBuffer({ resolveWithObject: true });
  return { data: new Uint8Array(data.buffer, data.byteOffset, data.length), width: info.width, height: info.height };
}

/** Centroid (x) and count of red pixels in the left eye's half of the page's canvas. */
async function redCentroid(page: Page): Promise<{ x: number; count: number }> {
  const { data: d, width } = await canvasPixels(page);
  const half = Math.floor(width / 2); // as getImageData(0, 0, width / 2, …) took it
  let sx = 0, n = 0;
  for (let i = 0; i < d.length; i += 4) {
    const x = (i / 4) % width;
    if (x < half && d[i] > 90 && d[i] > 1.6 * d[i + 1] && d[i] > 1.6 * d[i + 2]) {
      sx += x;
      n++;
    }
  }
  return { x: n ? sx / n : NaN, count: n };
}
