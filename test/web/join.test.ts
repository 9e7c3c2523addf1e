/**
 * /join in real Chromium (WebGL 2 on llvmpipe through ANGLE/EGL): the tab joins a farm that has no other node
 * and renders every tile of a tiled job with the shared pipeline; a headless node started afterwards stitches
 * the frame and re-renders every tile to verify it (sample rate 1), comparing across backends by pixels, and
 * accepts the tab's tiles. The stitched frame is within the verifier's tolerance of `tessera render --local`
 * (headless-gl). KTX2 textures are transcoded in the tab's Basis worker (the page itself keeps eval off). Idle,
 * the tab heartbeats on the render node's schedule. Stop and leaving (closing) the tab hand a held lease back at once.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { GetObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import pixelmatch from 'pixelmatch';
import sharp from 'sharp';
import type { Browser, Page, Route } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_DIFF_RATIO } from '../../api/core/verification-policy.ts';
import type { JobFrames, JobStatus } from '../../api/protocol/job-status.ts';
import type { NodeList } from '../../api/protocol/latency.ts';
import { decodeRaw } from '../../render-node/output/stitch-tiles.ts';
import { call, startHarness, type Harness } from '../support/api-harness.ts';
import { waitFor } from '../support/farm-checks.ts';
import { startTestFarm, type NodeProcess } from '../support/farm.ts';
import { BROWSER_THREE_REVISION } from '../support/render-host.ts';
import { ROOT, startLocalRender } from '../support/tessera-cli.ts';
import { ensureWebBuilt, launchBrowser, openBrowserPage, screenshot, SHOTS_DIR } from './browser.ts';

const SIZE = { width: 160, height: 120 };
const JOB = { size: `${SIZE.width}x${SIZE.height}`, tile: 64, frames: [0], background: '#20242c' };
/** pixelmatch's per-pixel threshold, as the API's comparer (api/node/pixel-image-comparer.ts) uses it. */
const PIXEL_THRESHOLD = 0.1;

describe('/join: a browser tab as a render node', () => {
  let farm: Awaited<ReturnType<typeof startTestFarm>>;
  let browser: Browser;
  let page: Page;
  let errors: string[];
  /** The CLI's local render of the same frames: the reference. */
  let local: ReturnType<typeof startLocalRender>;
  let tabId: string;
  let jobId: string;
  let stitcher: NodeProcess;

  const upload = async (scene: string) => {
    const res = await call<{ sceneId: string }>(farm.url, 'POST', '/v1/scenes', { body: readFileSync(join(ROOT, 'scenes', scene)), type: 'model/gltf-binary' });
    if (res.status !== 201) throw new Error(`upload ${scene}: ${res.status} ${JSON.stringify(res.body)}`);
    return res.body.sceneId;
  };
  const status = async (id: string) => (await call<JobStatus>(farm.url, 'GET', `/v1/jobs/${id}`)).body;
  /** Click Join; the node id once this registration (not an earlier one) shows. */
  const join_ = async (previous?: string) => {
    await page.click('[data-testid=join]');
    return waitFor('the tab to register', async () => {
      const id = await page.locator('[data-testid=node-id]').textContent({ timeout: 1000 }).catch(() => null);
      return id && id !== previous ? id : undefined;
    }, 120_000);
  };

  const finished = (id: string) =>
    waitFor('the job to finish', async () => {
      const s = await status(id);
      if (s.state === 'failed') throw Object.assign(new Error(`job failed: ${s.error}`), { fatal: true });
      const outvoted = s.tasks.find((t) => t.verification?.disproven.length || t.verification?.state === 'rerender');
      if (outvoted) throw Object.assign(new Error(`renders disagreed: ${JSON.stringify(outvoted)}`), { fatal: true });
      return s.state === 'done' ? s : undefined;
    }, 280_000);
  /** The job's frame against `tessera render --local` (headless-gl): within the verifier's tolerance. */
  const compareWithLocal = async (id: string, what: string) => {
    const frames = (await call<JobFrames>(farm.url, 'GET', `/v1/jobs/${id}/frames`)).body;
    const got = await decodeRaw(new Uint8Array(await (await fetch(frames.frames[0].url)).arrayBuffer()));
    await local.done;
    const want = await decodeRaw(readFileSync(join(local.dir, 'frame-0000.png')));
    expect([got.width, got.height]).toEqual([SIZE.width, SIZE.height]);
    expect([want.width, want.height]).toEqual([SIZE.width, SIZE.height]);
    const pixels = SIZE.width * SIZE.height;
    const diff = new Uint8Array(got.data.length);
    const differing = pixelmatch(got.data, want.data, diff, SIZE.width, SIZE.height, { threshold: PIXEL_THRESHOLD, includeAA: false });
    // Kept as test artefacts: the farm's frame and where it differs from the local render.
    await sharp(got.data, { raw: { ...SIZE, channels: 4 } }).png().toFile(join(SHOTS_DIR, `join-frame-${what.replace(/\W+/g, '-')}.png`));
    await sharp(diff, { raw: { ...SIZE, channels: 4 } }).png().toFile(join(SHOTS_DIR, `join-diff-${what.replace(/\W+/g, '-')}.png`));
    let maxDelta = 0;
    let sumDelta = 0;
    for (let i = 0; i < got.data.length; i++) {
      const d = Math.abs(got.data[i] - want.data[i]);
      maxDelta = Math.max(maxDelta, d);
      sumDelta += d;
    }
    const meanDelta = sumDelta / got.data.length;
    console.info(`join (${what}): farm frame vs headless-gl local render: ${differing}/${pixels} pixels differ (pixelmatch ${PIXEL_THRESHOLD}), channel delta mean ${meanDelta.toFixed(3)} max ${maxDelta}`);
    expect(differing / pixels).toBeLessThanOrEqual(MAX_DIFF_RATIO);
    expect(meanDelta).toBeLessThan(1);
    // Not a blank frame: the scene covers much of it (the background is #20242c).
    const bg = [0x20, 0x24, 0x2c];
    let scenePixels = 0;
    for (let p = 0; p < pixels; p++) if (Math.abs(got.data[p * 4] - bg[0]) + Math.abs(got.data[p * 4 + 1] - bg[1]) + Math.abs(got.data[p * 4 + 2] - bg[2]) > 30) scenePixels++;
    expect(scenePixels).toBeGreaterThan(pixels / 10);
  };

  beforeAll(async () => {
    ensureWebBuilt();
    // Every tile verified by re-rendering on another node; verifications wait for that node instead of being skipped.
    farm = await startTestFarm({ api: { verification: { sampleRate: 1, abandonAfterMs: 600_000 } } });
    local = startLocalRender(join(ROOT, 'scenes/textured-pbr.glb'), '--size', JOB.size, '--background', JOB.background);
    ({ browser, page, errors } = await openBrowserPage({ viewport: { width: 1100, height: 900 } }));
  });
  afterAll(async () => {
    await browser?.close();
    await farm?.close();
  });

  it('serves /join and joins the farm with a card naming its WebGL 2 renderer', async () => {
    const res = await fetch(`${farm.url}/join`);
    expect(res.status).toBe(200);
    expect(res.headers.get('cache-control')).toBe('no-cache');
    expect(await res.text()).toMatch(/src="\/assets\/join-[\w-]+\.js"/);
    await page.goto(`${farm.url}/join`);
    await page.fill('input[name=nodeName]', 'tab');
    tabId = await join_();
    expect(tabId).toMatch(/^node_tab/);
    const gl = await page.locator('[data-testid=gl-renderer]').textContent();
    expect(gl).toMatch(/^browser-webgl2 · \S/);
    // The identity names the backend and the GL, so verification compares this node's results by pixels.
    expect(await page.locator('[data-testid=node-card]').textContent()).toMatch(new RegExp(`tessera-render/[\\d.]+ three/${BROWSER_THREE_REVISION} browser-webgl2/.+ fast-png`));
    // The API's view of the card: tiles only, the backend and the unmasked renderer, a measured speed.
    const nodes = (await call<NodeList>(farm.url, 'GET', '/v1/nodes')).body.nodes;
    const card = nodes.find((n) => n.nodeId === tabId)!.card;
    expect(card).toMatchObject({ tilesOnly: true, concurrency: 1, gl: { backend: 'browser-webgl2' } });
    expect(gl).toContain(card.gl.renderer);
    expect(card.gl.maxTextureSize).toBeGreaterThanOrEqual(2048);
    expect(card.tilesPerSecond).toBeGreaterThan(0);
  });

  it('renders every tile of a tiled job with no other node, and gets no stitch task', async () => {
    const sceneId = await upload('textured-pbr.glb');
    const submitted = await call(farm.url, 'POST', '/v1/jobs', { json: { sceneId, ...JOB } });
    expect(submitted.status).toBe(201);
    jobId = submitted.body.jobId;
    const rendered = await waitFor(
      'the tab to render every tile',
      async () => {
        const s = await status(jobId);
        const renders = s.tasks.filter((t) => t.kind === 'render');
        return renders.length && renders.every((t) => t.state === 'done') ? s : undefined;
      },
      240_000,
    );
    const renders = rendered.tasks.filter((t) => t.kind === 'render');
    expect(renders).toHaveLength(6); // 160×120 in 64-pixel tiles: 3 × 2
    expect(new Set(renders.map((t) => t.node))).toEqual(new Set([tabId]));
    // The stitch is ready but is not for a tiles-only node: it waits (so do the verifications, for another node).
    const stitch = rendered.tasks.find((t) => t.kind === 'stitch')!;
    expect(stitch.state).toBe('queued');
    expect(rendered.frames.done).toBe(0);
    await expect.poll(() => page.locator('[data-testid=tiles-done]').textContent(), { timeout: 30_000 }).toBe('6');
    await screenshot(page, 'join-01-rendered');
  }, 300_000);

  it('gets its frame stitched by a headless-gl node, within the verifier\'s tolerance of the local render', async () => {
    stitcher = farm.spawnNode('stitcher', { concurrency: 1 });
    const done = await finished(jobId);
    // Nobody else could verify the tab's tiles when it delivered them: accepted unverified, as for any lone node.
    for (const t of done.tasks.filter((x) => x.kind === 'render')) expect(t.node).toBe(tabId);
    expect(done.tasks.find((t) => t.kind === 'stitch')!.node).toMatch(/^node_stitcher/);
    await compareWithLocal(jobId, 'tab only');
    await screenshot(page, 'join-02-stitched');
  }, 300_000);

  it('has its tiles verified across backends by pixels (sample rate 1) and verifies the headless node\'s', async () => {
    const sceneId = await upload('animated-trs.glb');
    const submitted = await call(farm.url, 'POST', '/v1/jobs', { json: { sceneId, ...JOB, frames: [0, 10, 20] } });
    expect(submitted.status).toBe(201);
    const done = await finished(submitted.body.jobId);
    const renders = done.tasks.filter((t) => t.kind === 'render');
    const verifies = done.tasks.filter((t) => t.kind === 'verify' && t.state === 'done');
    // Both nodes rendered and each re-rendered the other's tiles; every vote agreed (different identities: pixels compared).
    expect(renders.some((t) => t.node === tabId), 'the tab rendered a tile').toBe(true);
    expect(verifies.some((t) => t.node === tabId), 'the tab verified a tile').toBe(true);
    for (const t of renders) {
      expect(t.verification?.state, `tile ${JSON.stringify(t.tile)} by ${t.node}`).toBe('verified');
      expect(t.verification?.disproven).toEqual([]);
      expect(t.verification?.verifiedBy).toHaveLength(2);
    }
    // What the tab earned: credited tiles (its renders and its agreeing verifications) on its page.
    // (Credited once verified: the page refreshes its ledger after each task, every interval for a while after, and with each heartbeat.)
    const credited = async () => Number(/^(\d+) tiles/.exec((await page.locator('[data-testid=ledger]').textContent()) ?? '')?.[1] ?? 0);
    await expect.poll(credited, { timeout: 40_000 }).toBeGreaterThanOrEqual(6 + renders.filter((t) => t.node === tabId).length);
    await screenshot(page, 'join-03-verified');
  }, 300_000);

  it('transcodes KTX2 (KHR_texture_basisu) in its Basis worker: every tile of a KTX2 job has the tab\'s render agreeing with the headless node\'s', async () => {
    const sceneId = await upload('ktx2.glb');
    const submitted = await call(farm.url, 'POST', '/v1/jobs', { json: { sceneId, ...JOB, frames: [0], background: '#303540' } });
    expect(submitted.status).toBe(201);
    const done = await finished(submitted.body.jobId);
    const renders = done.tasks.filter((t) => t.kind === 'render');
    expect(renders.length).toBeGreaterThanOrEqual(6);
    // Sample rate 1 and two nodes: each tile was rendered by one and re-rendered by the other, and the two agreed
    // (by pixels: different identities). The tab is among the agreeing nodes of every tile, so it transcoded the
    // KTX2 textures itself. (Checked against a build without the worker: there the tab took and failed the same
    // tile again and again, and the job failed: "failed 8 times; last error: RENDER_FAILED: this browser node cannot
    // transcode KTX2".)
    for (const t of renders) {
      expect(t.verification?.state, `tile ${JSON.stringify(t.tile)} by ${t.node}`).toBe('verified');
      expect(t.verification?.disproven).toEqual([]);
      expect(t.verification?.verifiedBy).toContain(tabId);
      expect(t.verification?.verifiedBy.some((n) => n !== tabId)).toBe(true);
    }
    await screenshot(page, 'join-03b-ktx2');
  }, 300_000);

  it('advertises WebGL 2 and renders transmission: the glass shows in its tiles; the headless-gl node gets none of them', async () => {
    const card = (await call<NodeList>(farm.url, 'GET', '/v1/nodes')).body.nodes.find((n) => n.nodeId === tabId)!.card;
    expect(card.backends).toEqual([{ id: 'browser-webgl2', webgl2: true, version: card.version }]);
    const sceneId = await upload('transmission.glb');
    // 96×96 in 48-pixel tiles: the ball's disc (radius ~13 px) sits on the corner the four tiles share.
    const submitted = await call(farm.url, 'POST', '/v1/jobs', { json: { sceneId, size: '96x96', tile: 48, frames: [0], camera: 'front', background: '#808080' } });
    expect(submitted.status).toBe(201);
    const glassJob = submitted.body.jobId as string;
    const rendered = await waitFor(
      'the tab to render the glass tiles',
      async () => {
        const s = await status(glassJob);
        const renders = s.tasks.filter((t) => t.kind === 'render');
        return renders.length && renders.every((t) => t.state === 'done') ? s : undefined;
      },
      120_000,
    );
    // Only the tab has WebGL 2 here: it rendered every tile; the headless-gl stitcher took none (nor, its
    // stitch needing a WebGL 2 node too, the stitch: that waits for a Chromium node).
    expect(new Set(rendered.tasks.filter((t) => t.kind === 'render').map((t) => t.node))).toEqual(new Set([tabId]));
    expect(rendered.tasks.filter((t) => t.node && t.node !== tabId)).toEqual([]);
    // Its tiles, as stored: around the shared corner the bars show through the ball (saturated colour), where an
    // opaque WebGL 1 ball is grey.
    const s3 = new S3Client({ endpoint: farm.s3.endpoint, region: farm.s3.region, forcePathStyle: true, credentials: { accessKeyId: farm.s3.accessKeyId, secretAccessKey: farm.s3.secretAccessKey } });
    const listed = await s3.send(new ListObjectsV2Command({ Bucket: farm.s3.bucket, Prefix: `jobs/${glassJob}/tiles/0/` }));
    const keys = (listed.Contents ?? []).map((o) => o.Key!).filter((k) => /\/\d+_\d+\.[^.]+\.png$/.test(k));
    expect(keys.length).toBeGreaterThanOrEqual(4);
    let chroma = 0;
    let n = 0;
    for (const key of keys) {
      const [, x, y] = /\/(\d+)_(\d+)\./.exec(key)!.map(Number);
      const img = await decodeRaw(await (await s3.send(new GetObjectCommand({ Bucket: farm.s3.bucket, Key: key }))).Body!.transformToByteArray());
      for (let py = 0; py < img.height; py++) {
        for (let px = 0; px < img.width; px++) {
          if (Math.hypot(x + px + 0.5 - 48, y + py + 0.5 - 48) > 9) continue;
          const p = (py * img.width + px) * 4;
          chroma += Math.max(img.data[p], img.data[p + 1], img.data[p + 2]) - Math.min(img.data[p], img.data[p + 1], img.data[p + 2]);
          n++;
        }
      }
    }
    console.info(`join: glass disc in the tab's tiles: mean chroma ${(chroma / n).toFixed(1)} over ${n} px`);
    expect(n).toBeGreaterThan(200);
    expect(chroma / n).toBeGreaterThan(60);
    // The stitch would wait for a WebGL 2 node that encodes frames: cancel, so the tab is idle again.
    expect((await call(farm.url, 'DELETE', `/v1/jobs/${glassJob}`)).status).toBe(200);
  }, 180_000);

  it('hands a held lease back at once when stopped, and when the tab is closed', async () => {
    // From here the tab is alone again: a held lease can only be its own.
    if (stitcher) {
      stitcher.child.kill('SIGKILL');
      await stitcher.exited;
    }
    const sceneId = await upload('lights.glb');
    // Hold the tab in the middle of its task: the scene download waits until the test lets it go.
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const hold = async (route: Route) => {
      await gate;
      await route.continue().catch(() => {});
    };
    await page.route((url) => url.href.includes(sceneId), hold);
    const reportedLoad = async () => (await call<NodeList>(farm.url, 'GET', '/v1/nodes')).body.nodes.find((n) => n.nodeId === tabId)?.load.reported;
    // Idle now: its heartbeats (from a worker's timer) say so.
    await waitFor('a heartbeat reporting the tab idle', async () => ((await reportedLoad()) === 0 ? true : undefined), 30_000);
    // Idle, it heartbeats as render nodes do: its long-polls prove it alive, so with the default leases (10 s
    // heartbeat interval) only every 12th interval. Over 30 s (3 intervals: 3 heartbeats on the old every-interval
    // schedule) at most one is sent (one may fall due in the window), and the API still counts the tab healthy.
    const beats: string[] = [];
    const onRequest = (req: { url(): string }) => void (/\/v1\/nodes\/[^/]+\/heartbeat$/.test(req.url()) && beats.push(req.url()));
    page.on('request', onRequest);
    await new Promise((r) => setTimeout(r, 30_000));
    page.off('request', onRequest);
    expect(beats.length, 'heartbeats sent by the idle tab in 30 s').toBeLessThanOrEqual(1);
    expect((await call<NodeList>(farm.url, 'GET', '/v1/nodes')).body.nodes.find((n) => n.nodeId === tabId)).toMatchObject({ healthy: true });
    const submitted = await call(farm.url, 'POST', '/v1/jobs', { json: { sceneId, ...JOB } });
    expect(submitted.status).toBe(201);
    const second = submitted.body.jobId as string;
    const leasedBy = async (node: string) => {
      const s = await status(second);
      return s.tasks.find((t) => t.state === 'leased' && t.node === node);
    };
    const held = await waitFor('the tab to lease a tile', () => leasedBy(tabId), 60_000);
    // And busy while it holds the lease.
    await waitFor('a heartbeat reporting the running task', async () => ((await reportedLoad()) === 1 ? true : undefined), 30_000);

    await page.click('[data-testid=stop]');
    await expect.poll(() => page.locator('[data-testid=node-status]').textContent(), { timeout: 30_000 }).toBe('stopped');
    const back = (await status(second)).tasks.find((t) => t.taskId === held.taskId)!;
    expect(back).toMatchObject({ state: 'queued', attempts: 1 });
    expect(back.error).toMatch(/node stopped/);
    await screenshot(page, 'join-03-stopped');

    // Join again (a new node), lease, and close the tab mid-task: pagehide sends the hand-back with keepalive.
    const again = await join_(tabId);
    expect(again).not.toBe(tabId);
    const held2 = await waitFor('the new node to lease a tile', () => leasedBy(again), 60_000);
    // Stop intercepting first (the held download stays held), so the page's last requests go out untouched.
    await page.unrouteAll({ behavior: 'ignoreErrors' });
    // Leaving the page fires pagehide as closing the tab does (and, unlike a closing renderer process, reliably
    // lets the keepalive request leave before the test looks).
    await page.goto('about:blank');
    release();
    const closed = await waitFor('the closed tab\'s lease to come back', async () => {
      const t = (await status(second)).tasks.find((x) => x.taskId === held2.taskId)!;
      return t.state === 'queued' && t.attempts >= 1 && /browser tab closed/.test(t.error ?? '') ? t : undefined;
    }, 20_000).catch(async (err) => {
      throw new Error(`${(err as Error).message}: ${JSON.stringify((await status(second)).tasks.find((x) => x.taskId === held2.taskId))}`);
    });
    expect(closed.state).toBe('queued');
    await page.close();
  }, 300_000);

  it('logged no console errors', () => {
    // Requests the test itself cut off (the held scene download when the tab closed) are not the page's errors.
    expect(errors.filter((e) => !/ERR_ABORTED|ERR_FAILED/.test(e))).toEqual([]);
  });
});

describe('/join on a farm that requires join tokens', () => {
  let harness: Harness;
  let browser: Browser;
  beforeAll(async () => {
    ensureWebBuilt();
    harness = await startHarness({ api: { requireJoinToken: true } });
    browser = await launchBrowser();
  });
  afterAll(async () => {
    await browser?.close();
    await harness?.close();
  });

  it('is refused in words without a token and joins with one', async () => {
    const page = await browser.newPage();
    await page.goto(`${harness.url}/join`);
    await page.click('[data-testid=join]');
    await expect.poll(() => page.locator('.error').first().textContent({ timeout: 1000 }).catch(() => ''), { timeout: 60_000 }).toMatch(/could not join: .*join token/);
    const token = await call<{ key: string }>(harness.url, 'POST', '/v1/keys', { json: { name: 'browser tabs', role: 'node' } });
    expect(token.status).toBe(201);
    await page.fill('input[name=joinToken]', token.body.key);
    await page.click('[data-testid=join]');
    const id = await waitFor('the tab to register', async () => (await page.locator('[data-testid=node-id]').textContent({ timeout: 1000 }).catch(() => null)) || undefined, 60_000);
    const nodes = (await call<NodeList>(harness.url, 'GET', '/v1/nodes')).body.nodes;
    expect(nodes.map((n) => n.nodeId)).toContain(id);
    // The token stays in the page: not in the URL, not in storage.
    expect(page.url()).not.toContain(token.body.key);
    expect(await page.evaluate(() => localStorage.length + sessionStorage.length)).toBe(0);
    await page.click('[data-testid=stop]');
    await expect.poll(() => page.locator('[data-testid=node-status]').textContent(), { timeout: 30_000 }).toBe('stopped');
  }, 180_000);
});
