/**
 * How the sample WebXR page (api/core/sample/vr-page.ts) answers a failed first open, in real Chromium against the
 * real API (no render node processes: scripted node cards are enough to decide where a session may go).
 * - 422 NO_CAPABLE_NODE (a WebGL 2 scene, no node that renders sessions on WebGL 2): retrying cannot help, so the
 *   page asks once and shows the API's message.
 * - Another 4xx (an unknown scene): asked once, message shown.
 * - 503 (no node with a free session slot yet): the page keeps asking, and opens the session once a node can take it.
 */
import { readFile } from 'node:fs/promises';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SceneUploaded } from '../../api/protocol/job-status.ts';
import { call, startHarness, TEST_API_KEY, TestNode, type Harness } from '../support/api-harness.ts';
import { waitFor } from '../support/farm-checks.ts';
import { scenePath } from '../support/renderer.ts';
import { BASE_FLAGS, launchBrowser } from '../web/browser.ts';

let h: Harness;
let browser: Browser;
let glass: string;
let textured: string;

beforeAll(async () => {
  h = await startHarness();
  const upload = async (name: string) => (await call<SceneUploaded>(h.url, 'POST', '/v1/scenes', { body: new Uint8Array(await readFile(scenePath(name))), type: 'model/gltf-binary' })).body.sceneId;
  glass = await upload('transmission');
  textured = await upload('textured-pbr');
  browser = await launchBrowser(BASE_FLAGS);
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await h?.close();
});

/** The page for `scene`, with the status of every POST /v1/sessions it makes. */
async function openPage(scene: string): Promise<{ page: Page; opens: number[] }> {
  const page = await browser.newPage({ viewport: { width: 800, height: 480 } });
  const opens: number[] = [];
  page.on('response', (r) => {
    if (r.request().method() === 'POST' && new URL(r.url()).pathname === '/v1/sessions') opens.push(r.status());
  });
  await page.goto(`${h.url}/sample/vr?key=${TEST_API_KEY}&scene=${scene}&eye=64x64`);
  return { page, opens };
}

const stats = (page: Page) => page.locator('#stats').textContent();
/** Long enough for the old page's back-off (0.5, 1, 2 s) to have asked three more times. */
const settle = () => new Promise((r) => setTimeout(r, 4000));

describe('the sample WebXR page opening a session', () => {
  it('stops at once on 422 NO_CAPABLE_NODE and shows why', async () => {
    // A session node on WebGL 1 only: the glass scene's session has nowhere to go, however often the page asks.
    await TestNode.register(h, 'gl1-sessions', { sessionSlots: 2, sessionUrl: 'ws://127.0.0.1:9/', probeUrl: 'http://127.0.0.1:9/ping', sessionFeatures: ['depth', 'fast'] });
    const { page, opens } = await openPage(glass);
    await waitFor('the 422', async () => (opens.length ? true : undefined), 30_000);
    expect(opens[0]).toBe(422);
    await waitFor('the message', async () => ((await stats(page))?.includes('NO_CAPABLE_NODE') ? true : undefined), 10_000);
    await settle();
    expect(opens).toEqual([422]);
    expect(await stats(page)).toMatch(/NO_CAPABLE_NODE: .*WebGL 2/);
    expect(await page.evaluate(() => (window as unknown as { tessera: { closed: string } }).tessera.closed)).toMatch(/^could not open the session: NO_CAPABLE_NODE/);
    await page.close();
  });

  it('stops at once on another 4xx (an unknown scene)', async () => {
    const { page, opens } = await openPage('f'.repeat(64));
    await waitFor('the answer', async () => (opens.length ? true : undefined), 30_000);
    await settle();
    expect(opens).toHaveLength(1);
    expect(opens[0]).toBeGreaterThanOrEqual(400);
    expect(opens[0]).toBeLessThan(500);
    expect(await stats(page)).toMatch(/^could not open the session: [A-Z_]+: /);
    await page.close();
  });

  it('keeps asking on 503 and opens the session once a node can take it', async () => {
    // Session nodes with no free slot: the textured scene's session waits for room (503). Fill every slot.
    const { nodes } = (await call(h.url, 'GET', '/v1/nodes')).body as { nodes: { card: { sessionSlots?: number } }[] };
    const slots = nodes.reduce((n, x) => n + (x.card.sessionSlots ?? 0), 0);
    expect(slots).toBeGreaterThan(0);
    for (let i = 0; i < slots; i++) expect((await call(h.url, 'POST', '/v1/sessions', { json: { sceneId: textured, eye: '64x64' } })).status).toBe(201);
    expect((await call(h.url, 'POST', '/v1/sessions', { json: { sceneId: textured, eye: '64x64' } })).status).toBe(503);
    const { page, opens } = await openPage(textured);
    await waitFor('two 503s', async () => (opens.filter((s) => s === 503).length >= 2 ? true : undefined), 30_000);
    expect(opens.every((s) => s === 503)).toBe(true);
    // A node with room arrives: the page's next try places the session.
    await TestNode.register(h, 'roomy', { sessionSlots: 2, sessionUrl: 'ws://127.0.0.1:9/', probeUrl: 'http://127.0.0.1:9/ping', sessionFeatures: ['depth', 'fast'] });
    await waitFor('a placed session', async () => (opens.includes(201) ? true : undefined), 60_000);
    await page.close();
  });
});
