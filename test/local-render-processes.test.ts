import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, describe, expect, it } from 'vitest';
import { frameFileName } from '../api/protocol/frame-list.ts';
import { SCENE_LIMITS_DEFAULTS, ViewSpec } from '../api/protocol/render-spec.ts';
import { drainInProcess, FrameQueue, type LocalFrameDone, type LocalFrameJob } from '../render-node/local-frames.ts';
import { LocalRenderHelper } from '../render-node/local-render-helper.ts';
import { renderLocal, startSceneRenderer } from '../render-node/local-render.ts';

// An animation rendered by several processes must be the one a single process renders, pixel for pixel (and,
// with the same encoder, byte for byte), whichever process drew which frame, and no frame may go missing when a
// helper process dies.
const SCENE = 'scenes/animated-trs.glb';
const FRAMES = [0, 3, 6, 9, 12, 15, 18, 21];
const view = ViewSpec.parse({ width: 320, height: 180, background: '#808080', camera: { kind: 'auto', yaw: 30, pitch: 15, fov: 40 }, toneMapping: 'neutral' });
const encode = { format: 'png', quality: 90, lossless: true, effort: 'fast' } as const;
const root = mkdtempSync(join(tmpdir(), 'tessera-processes-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const job = (outDir: string): LocalFrameJob => (mkdirSync(outDir, { recursive: true }), { view, encode, tiles: [{ x: 0, y: 0, width: view.width, height: view.height }], outDir, lastFrame: FRAMES[FRAMES.length - 1], flatten: '#808080' });
const pixels = async (file: string) => (await sharp(file).raw().toBuffer({ resolveWithObject: true })).data;

async function expectSameFrames(dir: string, reference: string): Promise<void> {
  const names = readdirSync(reference).sort();
  expect(names).toHaveLength(FRAMES.length);
  expect(readdirSync(dir).sort()).toEqual(names);
  for (const name of names) {
    expect(Buffer.compare(await pixels(join(dir, name)), await pixels(join(reference, name))), `${name} pixels`).toBe(0);
    expect(Buffer.compare(readFileSync(join(dir, name)), readFileSync(join(reference, name))), `${name} bytes`).toBe(0);
  }
}

describe('local animation in several render processes', () => {
  const single = join(root, 'single');

  it('one process renders the reference', async () => {
    const r = await renderLocal({ scene: SCENE, frames: FRAMES, view, encode, outDir: single, processes: 1 });
    expect(r.processes).toBe(1);
    expect(r.files.map((f) => f.slice(single.length + 1))).toEqual(FRAMES.map((f) => frameFileName(f, 21, 'png')));
    // Not a blank picture: the animated cube moves, so frames differ.
    expect(Buffer.compare(await pixels(r.files[0]), await pixels(r.files[4]))).not.toBe(0);
  });

  it('a helper process alone renders the same pixels and bytes', async () => {
    const dir = join(root, 'helper');
    const helper = new LocalRenderHelper({ scene: SCENE, limits: SCENE_LIMITS_DEFAULTS });
    try {
      expect(await helper.whenReady()).toBe(true);
      const done: LocalFrameDone[] = [];
      helper.attach(new FrameQueue(FRAMES), job(dir), (d) => done.push(d));
      await new Promise((r) => setTimeout(r, 0));
      await helper.settle();
      expect(helper.framesDone).toBe(FRAMES.length);
      expect(done.map((d) => d.frame).sort((a, b) => a - b)).toEqual(FRAMES);
    } finally {
      helper.stop();
    }
    await expectSameFrames(dir, single);
  });

  it('renderLocal with 2 processes gives the single-process files (frames shared out)', async () => {
    const dir = join(root, 'two');
    const r = await renderLocal({ scene: SCENE, frames: FRAMES, view, encode, outDir: dir, processes: 2 });
    // The helper joins when it has started; on a loaded machine this process may finish first (a designed fallback).
    expect([1, 2]).toContain(r.processes);
    expect(r.files).toHaveLength(FRAMES.length);
    await expectSameFrames(dir, single);
  });

  it('a helper that dies gives its frames back: none is lost', async () => {
    const dir = join(root, 'killed');
    const helper = new LocalRenderHelper({ scene: SCENE, limits: SCENE_LIMITS_DEFAULTS });
    const renderer = await startSceneRenderer('headless-gl');
    try {
      expect(await helper.whenReady()).toBe(true);
      const queue = new FrameQueue(FRAMES);
      const done: LocalFrameDone[] = [];
      let killed = false;
      helper.attach(queue, job(dir), (d) => {
        done.push(d);
        if (!killed) {
          killed = true;
          process.kill(helper.pid!, 'SIGKILL');
        }
      });
      // Wait until the helper is gone (it held frames when killed), then this process renders what is left.
      await new Promise<void>((resolve) => {
        const poll = setInterval(() => (helper.lostReason || done.length === FRAMES.length) && (clearInterval(poll), resolve()), 20);
      });
      await helper.settle();
      expect(helper.lostReason).toMatch(/exited|could not talk/);
      expect(queue.size).toBeGreaterThan(0);
      const { readScene } = await import('../scene-check/read-scene.ts');
      const loaded = await renderer.load((await readScene({ path: SCENE })).glb, SCENE_LIMITS_DEFAULTS);
      await drainInProcess(renderer, loaded, job(dir), queue, (d) => done.push(d));
      expect(done.map((d) => d.frame).sort((a, b) => a - b)).toEqual(FRAMES);
    } finally {
      helper.stop();
      await renderer.dispose();
    }
    await expectSameFrames(dir, single);
  });

  it('refuses a process count out of bounds', async () => {
    await expect(renderLocal({ scene: SCENE, frames: [0], view, encode, outDir: join(root, 'bad'), processes: 0 })).rejects.toMatchObject({ code: 'BAD_SPEC' });
    await expect(renderLocal({ scene: SCENE, frames: [0], view, encode, outDir: join(root, 'bad'), processes: 1000 })).rejects.toMatchObject({ code: 'BAD_SPEC' });
  });
});
