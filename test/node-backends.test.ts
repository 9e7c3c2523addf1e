/**
 * A farm node's backends (`tessera node start --backend`), in process with real headless-gl and real Chromium:
 * - `auto` lists both backends (headless-gl first, Chromium with WebGL 2) with their identities, renders a
 *   transmission scene on Chromium (the glass shows) and any other scene on headless-gl;
 * - a Chromium call that runs past its timeout kills Chromium (its process is gone) and fails cleanly with
 *   RENDER_FAILED; the next render starts Chromium again and loads the scene into it.
 */
import { execFileSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isTesseraError } from '../api/protocol/errors.ts';
import { ViewSpec } from '../api/protocol/render-spec.ts';
import { NodeBackends } from '../render-node/agent/node-backends.ts';
import { createHeadlessGLBackend } from '../render-node/gl/headless-gl-backend.ts';
import { FrameRenderer } from '../render-node/render/frame-renderer.ts';
import { NODE_RENDER_PLATFORM } from '../render-node/render/node-render-platform.ts';
import { readScene } from '../scene-check/read-scene.ts';
import { ensureRenderHostBuilt } from './support/render-host.ts';
import { scenePath } from './support/renderer.ts';

const VIEW = ViewSpec.parse({ width: 96, height: 96, camera: { kind: 'gltf', name: 'front' }, background: '#808080' });
const LIMITS = { maxTexturePixels: 64 << 20 };

/** Mean chroma within `radius` px of the frame's centre. */
function chroma(img: { data: Uint8Array; width: number }, radius: number): number {
  let sum = 0;
  let n = 0;
  const c = img.width / 2;
  for (let y = 0; y < img.width; y++) {
    for (let x = 0; x < img.width; x++) {
      if (Math.hypot(x + 0.5 - c, y + 0.5 - c) > radius) continue;
      const p = (y * img.width + x) * 4;
      sum += Math.max(img.data[p], img.data[p + 1], img.data[p + 2]) - Math.min(img.data[p], img.data[p + 1], img.data[p + 2]);
      n++;
    }
  }
  return sum / n;
}

/** Chromium processes whose command line names this test's user data dir marker (playwright's temp profile). */
const chromiumPids = (): number[] => {
  const out = execFileSync('ps', ['-eo', 'pid,ppid,args'], { encoding: 'utf8' });
  return out
    .split('\n')
    .filter((l) => /chromium/.test(l) && /--remote-debugging-pipe/.test(l) && l.includes(` ${process.pid} `))
    .map((l) => Number(l.trim().split(/\s+/)[0]));
};

let backends: NodeBackends;

beforeAll(async () => {
  ensureRenderHostBuilt();
  backends = await NodeBackends.start({
    choice: 'auto',
    headlessGl: async () => new FrameRenderer(await createHeadlessGLBackend(), NODE_RENDER_PLATFORM),
  });
}, 180_000);
afterAll(async () => backends?.dispose());

describe('a node with --backend auto', () => {
  it('lists headless-gl first and Chromium with WebGL 2, with their identities', () => {
    expect(backends.backends).toEqual([
      { id: 'headless-gl', webgl2: false, version: expect.stringMatching(/ headless-gl\//) },
      { id: 'chromium', webgl2: true, version: expect.stringMatching(/ chromium\/.*llvmpipe/) },
    ]);
    expect(backends.version).toBe(backends.backends[0].version);
    expect(backends.webgl2).toBe(true);
  });

  it('renders a transmission scene on Chromium (the glass shows) and a plain one on headless-gl', async () => {
    const glassRead = await readScene({ path: scenePath('transmission') });
    const glass = await backends.loadScene(glassRead.glb, LIMITS, glassRead.extensionsUsed);
    expect(glass).toMatchObject({ backend: 'chromium', version: backends.backends[1].version, warnings: [] });
    const img = await backends.render(glass, VIEW, 0);
    const radius = (Math.tan(Math.asin(1 / 6)) / Math.tan((20 * Math.PI) / 180)) * (96 / 2) * 0.7;
    expect(chroma({ data: img.data, width: 96 }, radius)).toBeGreaterThan(60);
    glass.dispose();
    const plainRead = await readScene({ path: scenePath('textured-pbr') });
    const plain = await backends.loadScene(plainRead.glb, LIMITS, plainRead.extensionsUsed);
    expect(plain).toMatchObject({ backend: 'headless-gl', version: backends.backends[0].version });
    expect((await backends.render(plain, ViewSpec.parse({ width: 96, height: 96 }), 0)).data.length).toBe(96 * 96 * 4);
    plain.dispose();
  }, 120_000);

  it('kills Chromium when a call runs past its timeout, fails with RENDER_FAILED, and starts it again for the next render', async () => {
    // A Chromium-only node whose calls may take 3 s: a 96² tile takes a fraction of that, a 5600² one (2800² at
    // 2× supersampling, inside llvmpipe's 5760² framebuffer limit) many seconds.
    const others = chromiumPids(); // the auto node's Chromium, which stays
    const tight = await NodeBackends.start({ choice: 'chromium', headlessGl: () => Promise.reject(new Error('not used')), chromium: { callTimeoutMs: 3000 } });
    try {
      expect(tight.backends.map((b) => b.id)).toEqual(['chromium']);
      const read = await readScene({ path: scenePath('transmission') });
      const scene = await tight.loadScene(read.glb, LIMITS, read.extensionsUsed);
      await tight.render(scene, VIEW, 0);
      const before = chromiumPids().filter((pid) => !others.includes(pid));
      expect(before).toHaveLength(1);
      const slow = ViewSpec.parse({ ...VIEW, width: 2800, height: 2800, ssaa: 2 });
      const t0 = performance.now();
      const err = await tight.render(scene, slow, 0).then(
        () => null,
        (e: unknown) => e,
      );
      expect(isTesseraError(err) ? `${err.code}: ${(err as Error).message}` : String(err)).toMatch(/^RENDER_FAILED: .*ran past 3000 ms; Chromium was killed/);
      expect(performance.now() - t0).toBeLessThan(10_000);
      // Its processes are gone.
      await new Promise((r) => setTimeout(r, 1500));
      const after = chromiumPids();
      for (const pid of before) expect(after).not.toContain(pid);
      // The next render starts Chromium again and loads the scene into it: the glass is back.
      const again = await tight.render(scene, VIEW, 0);
      expect(chroma({ data: again.data, width: 96 }, 10)).toBeGreaterThan(60);
      expect(chromiumPids().filter((pid) => !others.includes(pid) && !before.includes(pid))).toHaveLength(1);
      scene.dispose();
    } finally {
      await tight.dispose();
    }
  }, 180_000);
});
