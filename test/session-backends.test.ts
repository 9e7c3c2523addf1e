/**
 * Which backend a session's render process draws on (session-worker.ts), with real processes, real headless-gl and
 * real Chromium: the node's `--backend` decides as for batch renders. `auto`: Chromium for a scene that needs
 * WebGL 2 (dispersion), headless-gl for the rest; `headless-gl`: always headless-gl (the dispersive prism then
 * renders opaque: no colour fringes). The frames come out of the same pipe as JPEGs either way.
 */
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stereoPose } from '../api/protocol/session-pose.ts';
import type { RenderBackendChoice } from '../render-node/chromium/choose-backend.ts';
import { SessionProcess } from '../render-node/agent/session-process.ts';
import { ensureRenderHostBuilt } from './support/render-host.ts';
import { scenePath } from './support/renderer.ts';
import { testSessionRender } from './support/session-frames.ts';

const EW = 192;
const EH = 144;
let cacheDir: string;
const ids: Record<string, string> = {};
const live: SessionProcess[] = [];

beforeAll(async () => {
  ensureRenderHostBuilt();
  // The render process reads a scene from the node's disk cache (<sha256>.glb) before downloading it.
  cacheDir = await mkdtemp(join(tmpdir(), 'tessera-session-backends-'));
  for (const name of ['dispersion', 'textured-pbr']) {
    const bytes = await readFile(scenePath(name));
    ids[name] = createHash('sha256').update(bytes).digest('hex');
    await writeFile(join(cacheDir, `${ids[name]}.glb`), bytes);
  }
}, 180_000);
afterAll(() => {
  for (const p of live) p.kill();
});

const render = testSessionRender({ width: EW, height: EH });

async function session(backend: RenderBackendChoice, scene: string) {
  const p = new SessionProcess({ cacheDir, maxTexturePixels: 4096 * 4096, memoryCapBytes: 2 * 2 ** 30, loadTimeoutMs: 120_000, frameTimeoutMs: 60_000, backend });
  live.push(p);
  const { start, backend: used } = await p.load({ id: ids[scene], url: 'http://127.0.0.1:9/unused' }, { ...render, camera: scene === 'dispersion' ? render.camera : { kind: 'auto', yaw: 30, pitch: 15, fov: 40 } });
  const frame = await p.frame(stereoPose(start.position, start.target, { fov: start.fov, aspect: EW / EH })).done;
  p.kill();
  const { data, info } = await sharp(frame.image).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  return { used, frame, data, width: info.width };
}

/** Share of pixels in the right half of the left eye (the dispersive prism) that read as red or blue fringe. */
function fringeShare(data: Uint8Array, width: number): number {
  let n = 0, hits = 0;
  for (let y = Math.round(EH * 0.3); y < Math.round(EH * 0.7); y++) {
    for (let x = Math.round(EW * 0.55); x < Math.round(EW * 0.8); x++) {
      const p = (y * width + x) * 3;
      n++;
      if (Math.abs(data[p] - data[p + 2]) > 60) hits++;
    }
  }
  return hits / n;
}

describe("a session's render process draws on the node's backend for its scene", () => {
  it('auto: Chromium for a scene that needs WebGL 2 (the prism fringes), headless-gl for the rest', async () => {
    const webgl2 = await session('auto', 'dispersion');
    expect(webgl2.used).toBe('chromium');
    expect([webgl2.frame.width, webgl2.frame.height]).toEqual([2 * EW, EH]);
    expect([webgl2.frame.image[0], webgl2.frame.image[1]]).toEqual([0xff, 0xd8]);
    expect(fringeShare(webgl2.data, webgl2.width)).toBeGreaterThan(0.05);
    const plain = await session('auto', 'textured-pbr');
    expect(plain.used).toBe('headless-gl');
    expect([plain.frame.image[0], plain.frame.image[1]]).toEqual([0xff, 0xd8]);
  }, 240_000);

  it('headless-gl: the WebGL 2 scene too, its glass opaque (no fringes)', async () => {
    const s = await session('headless-gl', 'dispersion');
    expect(s.used).toBe('headless-gl');
    expect(fringeShare(s.data, s.width)).toBeLessThan(0.01);
  }, 240_000);
});
