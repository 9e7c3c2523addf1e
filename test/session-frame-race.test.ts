/**
 * A session's encoded frame can reach the node on the frame pipe before its render process's 'rendered' reply
 * (IPC, a separate channel): on a busy machine it sometimes does. The node keeps such a frame until the reply
 * comes (session-process.ts); it used to fail the frame ('encoding failed: no image'), which closed the client's
 * session with 4021. The test-only fault TESSERA_TEST_FAULT=late-rendered holds every 'rendered' reply for
 * LATE_RENDERED_MS, so every frame comes in that order here; the frames must still come, and be the same pictures
 * as a render process without the fault draws.
 */
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stereoPose } from '../api/protocol/session-pose.ts';
import { SessionProcess, type RenderedFrame } from '../render-node/agent/session-process.ts';
import { scenePath } from './support/renderer.ts';
import { testSessionRender } from './support/session-frames.ts';

const EW = 160;
const EH = 120;
const SCENE = 'textured-pbr';
let cacheDir: string;
let sceneId: string;
const live: SessionProcess[] = [];

beforeAll(async () => {
  // The render process reads a scene from the node's disk cache (<sha256>.glb) before downloading it.
  cacheDir = await mkdtemp(join(tmpdir(), 'tessera-session-race-'));
  const bytes = await readFile(scenePath(SCENE));
  sceneId = createHash('sha256').update(bytes).digest('hex');
  await writeFile(join(cacheDir, `${sceneId}.glb`), bytes);
});
afterAll(() => {
  for (const p of live) p.kill();
});

const render = testSessionRender({ width: EW, height: EH }, { kind: 'auto', yaw: 30, pitch: 15, fov: 40 });

/** Three frames of the scene, orbiting, as the node asks for them (the next pose once the last one is rendered). */
async function threeFrames(fault: string | undefined): Promise<RenderedFrame[]> {
  // The render process gets the environment it is forked with: set the fault for this fork only.
  const before = process.env.TESSERA_TEST_FAULT;
  if (fault) process.env.TESSERA_TEST_FAULT = fault;
  let p: SessionProcess;
  try {
    p = new SessionProcess({ cacheDir, maxTexturePixels: 4096 * 4096, memoryCapBytes: 2 * 2 ** 30, loadTimeoutMs: 120_000, frameTimeoutMs: 60_000, backend: 'headless-gl' });
  } finally {
    if (before === undefined) delete process.env.TESSERA_TEST_FAULT;
    else process.env.TESSERA_TEST_FAULT = before;
  }
  live.push(p);
  const { start } = await p.load({ id: sceneId, url: 'http://127.0.0.1:9/unused' }, render);
  const done: Promise<RenderedFrame>[] = [];
  for (let i = 0; i < 3; i++) {
    const [x, y, z] = start.position;
    const a = (i * Math.PI) / 12;
    const position: [number, number, number] = [x * Math.cos(a) - z * Math.sin(a), y, x * Math.sin(a) + z * Math.cos(a)];
    const job = p.frame(stereoPose(position, start.target, { fov: start.fov, aspect: EW / EH }));
    done.push(job.done);
    await job.rendered;
  }
  const frames = await Promise.all(done);
  p.kill();
  return frames;
}

async function pixels(image: Uint8Array): Promise<Buffer> {
  return sharp(image).removeAlpha().raw().toBuffer();
}

describe('session frames whose encoded image arrives before the render reply', () => {
  it('still come, as the same pictures', async () => {
    const late = await threeFrames('late-rendered');
    const reference = await threeFrames(undefined);
    expect(late).toHaveLength(3);
    for (let i = 0; i < 3; i++) {
      const f = late[i];
      expect([f.width, f.height]).toEqual([2 * EW, EH]);
      expect([f.image[0], f.image[1]]).toEqual([0xff, 0xd8]);
      const [got, want] = await Promise.all([pixels(f.image), pixels(reference[i].image)]);
      expect(got.length).toBe(2 * EW * EH * 3);
      // The scene is in the picture (not just the grey background)...
      let off = 0;
      for (let p = 0; p < got.length; p += 3) if (Math.abs(got[p] - 128) + Math.abs(got[p + 1] - 128) + Math.abs(got[p + 2] - 128) > 30) off++;
      expect(off / (2 * EW * EH)).toBeGreaterThan(0.05);
      // ...and the picture is the one the same pose gives without the fault.
      let diff = 0;
      for (let p = 0; p < got.length; p++) diff += Math.abs(got[p] - want[p]);
      expect(diff / got.length).toBeLessThan(1);
    }
    // The poses differ, so the frames do too: each frame is its own, not a repeat of the first.
    const [p0, p1] = await Promise.all([pixels(late[0].image), pixels(late[1].image)]);
    let moved = 0;
    for (let p = 0; p < p0.length; p++) moved += Math.abs(p0[p] - p1[p]);
    expect(moved / p0.length).toBeGreaterThan(1);
  }, 240_000);
});
