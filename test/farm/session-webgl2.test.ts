/**
 * Interactive sessions of a WebGL 2 scene on a real farm (API, s3rver, render node processes, real Chromium):
 * scenes/dispersion.glb (two glass prisms before black and white stripes; the right one with dispersion 10) is
 * flagged at upload as needing WebGL 2.
 * - With only a `--backend headless-gl` node, a session of it is refused (422 NO_CAPABLE_NODE, the reason naming
 *   WebGL 2 and the extension): that node's sessions render on WebGL 1.
 * - A `--backend chromium` node lists the `webgl2` session feature; the session goes there, its render process
 *   drives a Chromium page (three r187, WebGL 2) that draws both eyes in one pass and encodes the frame, and the
 *   frames follow the pose and show the material: the dispersive prism fringes the stripes red and blue in both
 *   eyes, the plain one does not; the start pose's frame is a batch `stereo` job's picture of the same eyes on the
 *   same node within JPEG noise; depth frames come too.
 */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTesseraClient, type TesseraClient } from '../../api/client/index.ts';
import { decodeDepth, DEPTH_FAR_MM } from '../../api/client/decode-depth.ts';
import type { JobFrames, JobStatus } from '../../api/protocol/job-status.ts';
import { orbitPosition } from '../../api/protocol/session-pose.ts';
import { CHROMIUM_SESSION_FLAGS } from '../../render-node/chromium/chromium-render-host.ts';
import { call, TEST_API_KEY } from '../support/api-harness.ts';
import { waitFor } from '../support/farm-checks.ts';
import { startTestFarm, type NodeProcess } from '../support/farm.ts';
import { OUTPUT_DIR, savePng } from '../support/pictures.ts';
import { ensureRenderHostBuilt } from '../support/render-host.ts';
import { scenePath } from '../support/renderer.ts';
import { frameFor, meanAbsDiff, rgbPixels } from '../support/session-frames.ts';

const EW = 256;
const EH = 192;

let farm: Awaited<ReturnType<typeof startTestFarm>>;
let client: TesseraClient;
let sceneId: string;
let glNode: NodeProcess;

beforeAll(async () => {
  ensureRenderHostBuilt();
  farm = await startTestFarm({ leaseMs: 8000 });
  client = createTesseraClient({ baseUrl: farm.url, apiKey: TEST_API_KEY });
  const up = await client.uploadScene(new Uint8Array(await readFile(scenePath('dispersion'))));
  sceneId = up.sceneId;
  expect(up.webgl2).toContain('KHR_materials_dispersion');
}, 180_000);
afterAll(async () => farm?.close());


/** Red-fringe and blue-fringe shares, and mean chroma, in a rectangle of an RGB image. */
function fringes(img: { data: Uint8Array; width: number }, x0: number, x1: number, y0: number, y1: number) {
  let n = 0, red = 0, blue = 0, chroma = 0;
  for (let y = y0; y < y1; y++) {
    for (let x = x0; x < x1; x++) {
      const p = (y * img.width + x) * 3;
      const [r, g, b] = [img.data[p], img.data[p + 1], img.data[p + 2]];
      n++;
      if (r - b > 60) red++;
      if (b - r > 60) blue++;
      chroma += Math.max(r, g, b) - Math.min(r, g, b);
    }
  }
  return { red: red / n, blue: blue / n, chroma: chroma / n };
}



const REQUEST = { eye: `${EW}x${EH}`, camera: 'front', background: '#808080' as const, shadows: false };

describe('a session of a WebGL 2 scene (KHR_materials_dispersion)', () => {
  it('is refused while only a headless-gl node is there', async () => {
    glNode = farm.spawnNode('gl1-sessions', { concurrency: 1, args: ['--backend', 'headless-gl'] });
    const node = await waitFor('the headless-gl node', async () => (await client.nodes({ healthy: true })).nodes.find((n) => n.card.name === 'gl1-sessions'));
    expect(node.card.sessionSlots).toBeGreaterThan(0);
    expect(node.card.sessionFeatures).not.toContain('webgl2');
    const r = await call<{ code: string; message: string }>(farm.url, 'POST', '/v1/sessions', { json: { sceneId, ...REQUEST } });
    // No registered node renders sessions on WebGL 2: retrying cannot help (422, not 503).
    expect(r.status).toBe(422);
    expect(r.body.code).toBe('NO_CAPABLE_NODE');
    expect(r.body.message).toMatch(/the scene uses .*KHR_materials_dispersion.*only on WebGL 2, and the one registered node does not render sessions on it.*--backend chromium/);
  }, 120_000);

  it('streams frames from a chromium node that follow the pose and show the dispersion', async () => {
    farm.spawnNode('chromium-sessions', { concurrency: 1, args: ['--backend', 'chromium'] });
    const node = await waitFor('the chromium node', async () => (await client.nodes({ healthy: true })).nodes.find((n) => n.card.name === 'chromium-sessions'), 180_000);
    expect(node.card.sessionFeatures).toContain('webgl2');
    expect(node.card.backends?.map((b) => b.id)).toEqual(['chromium']);

    const session = await client.openSession({ request: { sceneId, ...REQUEST, depth: true } });
    try {
      expect(session.nodeId).toBe(node.nodeId);
      const { position, target } = session.ready.start;
      const a = await frameFor(session, position, target, { aspect: EW / EH, resendMs: 3000 });
      expect(a.header).toMatchObject({ layout: 'side-by-side', width: 2 * EW, height: EH, format: 'jpeg', depth: { encoding: 'rg8-mm-png' } });
      expect([a.image[0], a.image[1]]).toEqual([0xff, 0xd8]);
      const pa = await rgbPixels(a.image);
      expect([pa.width, pa.height]).toEqual([2 * EW, EH]);
      await savePng(pa, join(OUTPUT_DIR, 'session-webgl2-dispersion.png'));
      // The material: in each eye the right prism (dispersion 10) splits the stripes into red and blue, the left
      // one (dispersion 0) keeps them black and white (on WebGL 1 both would be opaque, with no fringe at all).
      for (const eye of [0, 1]) {
        const x = eye * EW;
        const plain = fringes(pa, x + Math.round(EW * 0.2), x + Math.round(EW * 0.45), Math.round(EH * 0.3), Math.round(EH * 0.7));
        const dispersive = fringes(pa, x + Math.round(EW * 0.55), x + Math.round(EW * 0.8), Math.round(EH * 0.3), Math.round(EH * 0.7));
        console.info(`eye ${eye}: dispersive prism red ${(dispersive.red * 100).toFixed(1)}% blue ${(dispersive.blue * 100).toFixed(1)}% chroma ${dispersive.chroma.toFixed(1)}; plain prism red ${(plain.red * 100).toFixed(1)}% blue ${(plain.blue * 100).toFixed(1)}% chroma ${plain.chroma.toFixed(1)}`);
        expect(dispersive.red).toBeGreaterThan(0.04);
        expect(dispersive.blue).toBeGreaterThan(0.04);
        expect(dispersive.chroma).toBeGreaterThan(4 * Math.max(plain.chroma, 3));
        expect(plain.red + plain.blue).toBeLessThan(0.02);
      }
      // Depth: the prisms are nearer than the stripes behind them, the grey background (if any) is far.
      const depth = await decodeDepth(a.depth!);
      expect([depth.width, depth.height]).toEqual([2 * EW, EH]);
      const at = (x: number, y: number) => depth.mm[y * depth.width + x];
      const prism = at(Math.round(EW * 0.68), EH / 2);
      expect(prism).toBeGreaterThan(3000);
      expect(prism).toBeLessThan(DEPTH_FAR_MM);

      // The picture follows the head: a 30° turn changes it a lot, the start pose again does not.
      const b = await frameFor(session, orbitPosition(position, target, 1, 30, 0.25), target, { aspect: EW / EH, resendMs: 3000 });
      const pb = await rgbPixels(b.image);
      const a2 = await frameFor(session, position, target, { aspect: EW / EH, resendMs: 3000 });
      const pa2 = await rgbPixels(a2.image);
      expect(meanAbsDiff(pa.data, pb.data)).toBeGreaterThan(8);
      expect(meanAbsDiff(pa.data, pa2.data)).toBeLessThan(2);

      // A batch `stereo` job of the same eyes (the request's camera, ±ipd/2 along its right axis) on the same node:
      // the same picture within JPEG noise.
      const job = await call<{ jobId: string }>(farm.url, 'POST', '/v1/jobs', {
        json: { sceneId, frames: [0], size: `${2 * EW}x${EH}`, projection: 'stereo', camera: 'front', background: '#808080', shadows: false, format: 'png' },
      });
      expect(job.status).toBe(201);
      await waitFor(
        'the batch stereo job',
        async () => {
          const x = (await call<JobStatus>(farm.url, 'GET', `/v1/jobs/${job.body.jobId}`)).body;
          if (x.state === 'failed' || x.state === 'cancelled') throw Object.assign(new Error(`job ${x.state}: ${x.error}`), { fatal: true });
          return x.state === 'done' ? x : undefined;
        },
        240_000,
      );
      const frames = (await call<JobFrames>(farm.url, 'GET', `/v1/jobs/${job.body.jobId}/frames`)).body;
      const batch = await rgbPixels(new Uint8Array(await (await fetch(frames.frames[0].url)).arrayBuffer()));
      await savePng(batch, join(OUTPUT_DIR, 'session-webgl2-batch.png'));
      const d = meanAbsDiff(pa.data, batch.data);
      console.info(`session frame vs batch stereo job: mean channel delta ${d.toFixed(2)}`);
      expect(d).toBeLessThan(4);

      const stats = session.stats();
      expect(stats.frames).toBeGreaterThanOrEqual(3);
      // The session's own Chromium (launched with the session switch) runs while the session does…
      expect((await sessionChromiums()).length).toBeGreaterThan(0);
    } finally {
      await session.close();
    }
    // …and is gone once it ends (the render process is SIGKILLed; its browser goes with the pipe it drove it by).
    await waitFor('the session Chromium to exit', async () => ((await sessionChromiums()).length === 0 ? true : undefined), 60_000);
    // The headless-gl node was never given the session.
    expect(glNode.log.join('\n')).not.toMatch(/session leased/);
  }, 600_000);
});

/** Pids of Chromium processes started for sessions (CHROMIUM_SESSION_FLAGS, with the render host's marker switch). */
async function sessionChromiums(): Promise<string[]> {
  const out: string[] = [];
  for (const pid of (await readdir('/proc')).filter((p) => /^\d+$/.test(p))) {
    try {
      const cmd = await readFile(`/proc/${pid}/cmdline`, 'latin1');
      if (cmd.includes('--tessera-render-host=') && CHROMIUM_SESSION_FLAGS.every((f) => cmd.includes(f))) out.push(pid);
    } catch {
      // gone
    }
  }
  return out;
}
