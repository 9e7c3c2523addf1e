/**
 * WebGL 2 scenes on a real farm (s3rver, the API, render node processes): a transmission scene is flagged at
 * upload, waits with a clear reason while only a headless-gl node is there (which is never given it), and once a
 * `--backend chromium` node joins, renders there; its frame shows the glass ball, as
 * `tessera render --local --backend chromium` does.
 */
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pixelmatch from 'pixelmatch';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { JobFrames, JobStatus, JobSummary, SceneUploaded } from '../../api/protocol/job-status.ts';
import type { NodeList } from '../../api/protocol/latency.ts';
import { call } from '../support/api-harness.ts';
import { waitFor } from '../support/farm-checks.ts';
import { startTestFarm } from '../support/farm.ts';
import { OUTPUT_DIR, savePng } from '../support/pictures.ts';
import { ensureRenderHostBuilt } from '../support/render-host.ts';
import { scenePath } from '../support/renderer.ts';
import { tessera } from '../support/tessera-cli.ts';

const SIZE = 192;
/** The ball (radius 1) seen from 6 units with a 40° vertical field of view: its disc's radius in pixels. */
const DISC_RADIUS = (Math.tan(Math.asin(1 / 6)) / Math.tan((20 * Math.PI) / 180)) * (SIZE / 2);

let farm: Awaited<ReturnType<typeof startTestFarm>>;

beforeAll(async () => {
  ensureRenderHostBuilt();
  farm = await startTestFarm({ leaseMs: 8000 });
}, 120_000);
afterAll(async () => farm?.close());

/** Mean chroma (max − min channel) inside `radius` of the centre, and the share of saturated pixels there. */
function disc(img: { data: Uint8Array; width: number }, radius: number) {
  let n = 0;
  let chroma = 0;
  let saturated = 0;
  const c = img.width / 2;
  for (let y = 0; y < img.width; y++) {
    for (let x = 0; x < img.width; x++) {
      if (Math.hypot(x + 0.5 - c, y + 0.5 - c) > radius) continue;
      const p = (y * img.width + x) * 4;
      const k = Math.max(img.data[p], img.data[p + 1], img.data[p + 2]) - Math.min(img.data[p], img.data[p + 1], img.data[p + 2]);
      n++;
      chroma += k;
      if (k > 80) saturated++;
    }
  }
  return { chroma: chroma / n, saturated: saturated / n };
}

const raw = async (bytes: Uint8Array) => {
  const { data, info } = await sharp(bytes).ensureAlpha().raw().toBuffer({ resolveWithObject: true });
  return { data: new Uint8Array(data), width: info.width, height: info.height };
};

describe('a transmission scene on a farm with a headless-gl node and a chromium node', () => {
  it('waits with a reason while only headless-gl is there, then renders on the chromium node, showing the glass', async () => {
    const gl1 = farm.spawnNode('webgl1', { concurrency: 1, args: ['--backend', 'headless-gl'] });
    await waitFor('the headless-gl node', async () => ((await call<NodeList>(farm.url, 'GET', '/v1/nodes?healthy=true')).body.nodes.length === 1 ? true : undefined));
    const up = await call<SceneUploaded>(farm.url, 'POST', '/v1/scenes', { body: new Uint8Array(await readFile(scenePath('transmission'))), type: 'model/gltf-binary' });
    expect(up.status).toBe(201);
    expect(up.body.webgl2).toEqual(['KHR_materials_transmission', 'KHR_materials_volume']);
    const submitted = await call(farm.url, 'POST', '/v1/jobs', { json: { sceneId: up.body.sceneId, frames: [0], size: `${SIZE}x${SIZE}`, tile: 96, camera: 'front', background: '#808080', format: 'png' } });
    expect(submitted.status).toBe(201);
    const { jobId } = submitted.body;
    // The job says why it waits; the headless-gl node, asking for work all along, is given none of it.
    const waiting = await waitFor('the waiting reason', async () => (await call<JobSummary>(farm.url, 'GET', `/v1/jobs/${jobId}/summary`)).body.waiting ?? undefined);
    expect(waiting).toMatch(/WebGL 2.*KHR_materials_transmission.*--backend/);
    await new Promise((r) => setTimeout(r, 3000));
    let s = (await call<JobStatus>(farm.url, 'GET', `/v1/jobs/${jobId}`)).body;
    expect(s.state).toBe('queued');
    expect(s.tasks.every((t) => t.node === null && t.attempts === 0)).toBe(true);
    expect(s.waiting).toBe(waiting);

    farm.spawnNode('webgl2', { concurrency: 1, args: ['--backend', 'chromium'] });
    s = await waitFor(
      `job ${jobId}`,
      async () => {
        const x = (await call<JobStatus>(farm.url, 'GET', `/v1/jobs/${jobId}`)).body;
        if (x.state === 'failed' || x.state === 'cancelled') throw Object.assign(new Error(`job ${x.state}: ${x.error}`), { fatal: true });
        return x.state === 'done' ? x : undefined;
      },
      240_000,
    );
    expect(s.waiting ?? null).toBeNull();
    const { nodes } = (await call<NodeList>(farm.url, 'GET', '/v1/nodes')).body;
    const chromiumNode = nodes.find((n) => n.card.name === 'webgl2')!;
    const glNode = nodes.find((n) => n.card.name === 'webgl1')!;
    // The cards: the chromium node lists one WebGL 2 backend, the headless-gl node one without.
    expect(chromiumNode.card.backends).toEqual([{ id: 'chromium', webgl2: true, version: expect.stringMatching(/ chromium\/.*llvmpipe/) }]);
    expect(glNode.card.backends).toEqual([{ id: 'headless-gl', webgl2: false, version: expect.stringMatching(/ headless-gl\//) }]);
    // Every task (4 tiles and the stitch) ran on the chromium node.
    expect(s.tasks.filter((t) => t.kind !== 'verify').map((t) => t.node)).toEqual(Array(5).fill(chromiumNode.nodeId));
    expect(s.tasks.some((t) => t.node === glNode.nodeId)).toBe(false);
    expect(gl1.log.join('\n')).not.toMatch(/KHR_materials_transmission needs WebGL 2/);

    // The frame shows the glass, and is the picture `tessera render --local --backend chromium` makes.
    const frames = (await call<JobFrames>(farm.url, 'GET', `/v1/jobs/${jobId}/frames`)).body;
    const bytes = new Uint8Array(await (await fetch(frames.frames[0].url)).arrayBuffer());
    const farmFrame = await raw(bytes);
    expect((await sharp(bytes).metadata()).exif?.toString('latin1')).toMatch(/ chromium\//);
    const out = await mkdtemp(join(tmpdir(), 'tessera-webgl2-local-'));
    const local = await tessera('render', scenePath('transmission'), '--local', '--backend', 'chromium', '--size', `${SIZE}x${SIZE}`, '--camera', 'front', '--background', '#808080', '--out', out);
    expect(local.code, local.stderr).toBe(0);
    const localFrame = await raw(new Uint8Array(await readFile(join(out, 'frame-0000.png'))));
    await savePng({ ...farmFrame, height: SIZE }, join(OUTPUT_DIR, 'webgl2-farm-transmission.png'));
    const differing = pixelmatch(farmFrame.data, localFrame.data, undefined, SIZE, SIZE, { threshold: 0.1 });
    const glass = disc(farmFrame, DISC_RADIUS * 0.7);
    console.info(`farm vs local chromium: ${differing}/${SIZE * SIZE} pixels differ; glass disc chroma ${glass.chroma.toFixed(1)}, saturated ${(glass.saturated * 100).toFixed(0)}%`);
    expect(differing).toBe(0);
    // The bars show through the ball (an opaque ball on headless-gl is nearly grey: chroma ~1.5).
    expect(glass.chroma).toBeGreaterThan(60);
    expect(glass.saturated).toBeGreaterThan(0.3);
  }, 420_000);
});
