/**
 * Red team, a node lying about WebGL 2 (API level: a real API and s3rver, nodes driven over HTTP, real pictures).
 * A card that says WebGL 2 is a claim: the liar's card lists a WebGL 2 backend, so it is given transmission
 * scenes, and it returns what headless-gl draws of them (opaque glass). Attack and defence:
 *   - a transmission scene is flagged at upload, and its job is never given to a node whose card has no WebGL 2;
 *   - the liar's frame is re-rendered by honest WebGL 2 nodes; its identity differs from theirs, so the verifier
 *     compares by pixels (the glass disc is far past the 0.1% tolerance); it is outvoted, blocklisted, and the
 *     frame the client gets is the honest glass;
 *   - a card's backends list is bounded and checked like every other field.
 */
import { readFile } from 'node:fs/promises';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { JobFrames, JobStatus, SceneUploaded } from '../../api/protocol/job-status.ts';
import type { NodeList } from '../../api/protocol/latency.ts';
import { ViewSpec } from '../../api/protocol/render-spec.ts';
import { chromiumUnavailable } from '../../render-node/chromium/chromium-render-host.ts';
import { startSceneRenderer } from '../../render-node/local-render.ts';
import { readScene } from '../../scene-check/read-scene.ts';
import { call, nodeCard, startHarness, TestNode, type Harness } from '../support/api-harness.ts';
import { scenePath } from '../support/renderer.ts';
import { ensureRenderHostBuilt } from '../support/render-host.ts';

const VIEW = { width: 64, height: 64, camera: { kind: 'gltf' as const, name: 'front' }, background: '#808080' };
const JOB = { frames: [0], size: '64x64', camera: 'front', background: '#808080', format: 'png' };

/** Straight RGBA8 as a lossless PNG. */
const png = (data: Uint8Array, level = 6) =>
  sharp(Buffer.from(data), { raw: { width: VIEW.width, height: VIEW.height, channels: 4 } })
    .png({ compressionLevel: level })
    .toBuffer()
    .then((b) => new Uint8Array(b) as Uint8Array<ArrayBuffer>);

const CHROMIUM = 'tessera-render/test three/187 chromium/ANGLE (llvmpipe) sharp/test';
const HEADLESS_GL = 'tessera-render/test three/0.162.0 headless-gl/test sharp/test';

let glass: Uint8Array<ArrayBuffer>;
let opaque: Uint8Array<ArrayBuffer>;
let h: Harness;

beforeAll(async () => {
  ensureRenderHostBuilt();
  const why = chromiumUnavailable();
  if (why) throw new Error(`this test needs Chromium: ${why}`);
  // The two pictures of the glass ball: WebGL 2 (what an honest node returns) and WebGL 1 (what the liar can).
  const { glb } = await readScene({ path: scenePath('transmission') });
  for (const backend of ['chromium', 'headless-gl'] as const) {
    const r = await startSceneRenderer(backend);
    try {
      const scene = await r.load(glb, { maxTexturePixels: 64 << 20 });
      const out = await png((await r.render(scene, ViewSpec.parse(VIEW), 0)).data);
      if (backend === 'chromium') glass = out;
      else opaque = out;
    } finally {
      await r.dispose();
    }
  }
  h = await startHarness({ api: { verification: { sampleRate: 1, blocklistAfter: 1, seed: 'webgl2-liar' } } });
}, 180_000);
afterAll(async () => h?.close());

describe('a node lying about WebGL 2', () => {
  it('is given the glass, returns it opaque, and is outvoted by WebGL 2 nodes comparing pixels; the client gets the glass', async () => {
    expect(Buffer.from(glass).equals(Buffer.from(opaque))).toBe(false);
    const up = await call<SceneUploaded>(h.url, 'POST', '/v1/scenes', { body: new Uint8Array(await readFile(scenePath('transmission'))), type: 'model/gltf-binary' });
    expect(up.status).toBe(201);
    expect(up.body.webgl2).toEqual(['KHR_materials_transmission', 'KHR_materials_volume']);
    const sceneId = up.body.sceneId;

    const webgl1 = await TestNode.register(h, 'webgl1', { version: HEADLESS_GL, backends: [{ id: 'headless-gl', webgl2: false, version: HEADLESS_GL }] });
    const liar = await TestNode.register(h, 'liar', { version: HEADLESS_GL, backends: [{ id: 'headless-gl', webgl2: true, version: HEADLESS_GL }] });
    const [a, b] = [
      await TestNode.register(h, 'honest-a', { version: CHROMIUM, gl: { renderer: 'ANGLE (llvmpipe)', vendor: 'Google Inc.', version: 'WebGL 2.0', maxTextureSize: 8192, maxViewport: [8192, 8192], backend: 'chromium' }, backends: [{ id: 'chromium', webgl2: true, version: CHROMIUM }] }),
      await TestNode.register(h, 'honest-b', { version: CHROMIUM, backends: [{ id: 'chromium', webgl2: true, version: CHROMIUM }] }),
    ];
    for (const n of [webgl1, liar, a, b]) expect(await n.lease(0)).toBeNull();
    const submitted = await call(h.url, 'POST', '/v1/jobs', { json: { sceneId, ...JOB } });
    expect(submitted.status).toBe(201);
    const { jobId } = submitted.body;

    // The WebGL 1 node asks first and is given nothing; the liar's claim gets it the frame.
    expect(await webgl1.lease()).toBeNull();
    const original = (await liar.lease())!;
    expect(original).toMatchObject({ kind: 'render', final: true });
    expect((await liar.finish(original, opaque)).status).toBe(200);
    // Honest WebGL 2 nodes re-render it (the WebGL 1 node is never asked to verify a WebGL 2 frame).
    expect(await webgl1.lease()).toBeNull();
    const v1 = (await a.lease())!;
    await a.finish(v1, glass);
    const v2 = (await b.lease())!;
    await b.finish(v2, glass);

    const refused = await call(h.url, 'POST', `/v1/nodes/${liar.id}/lease`, { json: { waitSeconds: 0 }, token: liar.reg.nodeToken });
    expect(refused.status).toBe(403);
    expect(refused.body).toMatchObject({ code: 'NODE_BLOCKLISTED' });
    const { nodes } = (await call<NodeList>(h.url, 'GET', '/v1/nodes')).body;
    expect(nodes.find((n) => n.nodeId === liar.id)!.reputation).toMatchObject({ verified: 0, disproven: 1, blocklisted: { reason: expect.stringMatching(/outvoted/) } });

    // The frame is rendered again by an honest node and verified by the other; the WebGL 1 node never took part.
    const again = (await a.lease())!;
    expect(again.taskId).toBe(original.taskId);
    await a.finish(again, glass);
    await b.finish((await b.lease())!, glass);
    const s = (await call<JobStatus>(h.url, 'GET', `/v1/jobs/${jobId}`)).body;
    expect(s.state).toBe('done');
    expect(s.tasks.find((t) => t.taskId === original.taskId)).toMatchObject({ node: a.id, verification: { state: 'verified', disproven: [liar.id] } });
    expect(s.tasks.every((t) => t.node !== webgl1.id)).toBe(true);
    const frames = (await call<JobFrames>(h.url, 'GET', `/v1/jobs/${jobId}/frames`)).body;
    const got = new Uint8Array(await (await fetch(frames.frames[0].url)).arrayBuffer());
    expect(Buffer.from(got).equals(Buffer.from(glass))).toBe(true);
  });

  it('an honest pair with equal identities is compared by checksum; the pixel check is what catches a differing identity', async () => {
    // Same glass pixels, other PNG bytes: two honest nodes of equal identity must upload the same bytes; a node of
    // another identity (its own encoder) may differ in bytes and still agree by pixels.
    const sceneId = (await call<SceneUploaded>(h.url, 'POST', '/v1/scenes', { body: new Uint8Array(await readFile(scenePath('transmission'))), type: 'model/gltf-binary' })).body.sceneId;
    const OTHER = CHROMIUM.replace('llvmpipe', 'llvmpipe 2');
    const c = await TestNode.register(h, 'honest-c', { version: OTHER, backends: [{ id: 'chromium', webgl2: true, version: OTHER }] });
    const d = await TestNode.register(h, 'honest-d', { version: CHROMIUM, backends: [{ id: 'chromium', webgl2: true, version: CHROMIUM }] });
    for (const n of [c, d]) expect(await n.lease(0)).toBeNull();
    const { jobId } = (await call(h.url, 'POST', '/v1/jobs', { json: { sceneId, ...JOB } })).body;
    const leased: Record<string, TestNode> = {};
    for (let i = 0; i < 6 && (await call<JobStatus>(h.url, 'GET', `/v1/jobs/${jobId}`)).body.state !== 'done'; i++) {
      for (const n of [c, d]) {
        const t = await n.lease();
        if (!t) continue;
        leased[t.taskId] = n;
        // c re-encodes the same pixels at another zlib level: other bytes, same picture.
        await n.finish(t, n === c ? await png(await sharp(Buffer.from(glass)).ensureAlpha().raw().toBuffer().then((x) => new Uint8Array(x)), 9) : glass);
      }
    }
    const s = (await call<JobStatus>(h.url, 'GET', `/v1/jobs/${jobId}`)).body;
    expect(s.state).toBe('done');
    expect(s.tasks.find((t) => t.kind === 'render')!.verification).toMatchObject({ state: 'verified', disproven: [] });
  });

  it('a session of a WebGL 2 scene goes only to a node whose sessions render on WebGL 2; with none, it is refused with a clear reason', async () => {
    const sceneId = (await call<SceneUploaded>(h.url, 'POST', '/v1/scenes', { body: new Uint8Array(await readFile(scenePath('transmission'))), type: 'model/gltf-binary' })).body.sceneId;
    // A node with a WebGL 2 backend for batch tasks and session slots, but whose sessions render on headless-gl (no
    // `webgl2` session feature: a node from before sessions ran on Chromium): no session is placed on it.
    const older = await TestNode.register(h, 'session-node', { backends: [{ id: 'chromium', webgl2: true, version: CHROMIUM }], sessionSlots: 2, sessionUrl: 'ws://127.0.0.1:9/', probeUrl: 'http://127.0.0.1:9/ping' });
    expect(await older.lease(0)).toBeNull();
    const res = await call(h.url, 'POST', '/v1/sessions', { json: { sceneId, eye: '64x64' } });
    // No node renders sessions on WebGL 2 at all: retrying cannot help (422, not 503).
    expect(res.status).toBe(422);
    expect(res.body).toMatchObject({ code: 'NO_CAPABLE_NODE', message: expect.stringMatching(/the scene uses KHR_materials_transmission.*only on WebGL 2, and none of the \d+ registered nodes renders sessions on it \(start one with `tessera node start --backend auto` or `--backend chromium`\)/) });
    // A node listing the feature takes it.
    const webgl2 = await TestNode.register(h, 'webgl2-sessions', { backends: [{ id: 'chromium', webgl2: true, version: CHROMIUM }], sessionSlots: 2, sessionUrl: 'ws://127.0.0.1:9/', probeUrl: 'http://127.0.0.1:9/ping', sessionFeatures: ['depth', 'fast', 'webgl2'] });
    expect(await webgl2.lease(0)).toBeNull();
    await new Promise((r) => setTimeout(r, 300)); // the API reuses its node list for 250 ms
    const placed = await call(h.url, 'POST', '/v1/sessions', { json: { sceneId, eye: '64x64' } });
    expect(placed.status, JSON.stringify(placed.body)).toBe(201);
    expect(placed.body.nodeId).toBe(webgl2.id);
  });

  it('refuses cards whose backends list is unbounded, repeated or malformed', async () => {
    const backend = (i: number) => ({ id: `b${i}`, webgl2: true, version: 'v' });
    for (const backends of [
      Array.from({ length: 5 }, (_, i) => backend(i)),
      [backend(1), backend(1)],
      [{ id: 'Chromium!', webgl2: true, version: 'v' }],
      [{ id: 'chromium', webgl2: 'yes', version: 'v' }],
      [{ id: 'chromium', webgl2: true, version: 'v'.repeat(257) }],
      [{ id: 'chromium', webgl2: true, version: 'v', extra: 1 }],
      [],
    ]) {
      const res = await call(h.url, 'POST', '/v1/nodes', { json: { ...nodeCard('bad'), backends } });
      expect(res.status, JSON.stringify(backends).slice(0, 80)).toBe(400);
      expect(res.body).toMatchObject({ code: 'BAD_REQUEST' });
    }
  });
});
