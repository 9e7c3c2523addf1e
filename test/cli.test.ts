import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { tessera } from './support/tessera-cli.ts';
import { describe, expect, it } from 'vitest';
import { decodeRaw } from '../render-node/output/stitch-tiles.ts';


const outDir = () => mkdtempSync(join(tmpdir(), 'tessera-cli-'));

describe('tessera render --local', () => {
  it('renders a frame range into one file per frame, tiled output equal to untiled', async () => {
    const tiled = outDir();
    const whole = outDir();
    const a = await tessera('render', 'scenes/animated-trs.glb', '--local', '--frames', '0-2,24', '--size', '160x90', '--tile', '64', '--out', tiled, '--json');
    expect(a.stderr).not.toMatch(/error/i);
    expect(a.code).toBe(0);
    expect(readdirSync(tiled).sort()).toEqual(['frame-0000.png', 'frame-0001.png', 'frame-0002.png', 'frame-0024.png']);
    const summary = JSON.parse(a.stdout);
    expect(summary.tilesPerFrame).toBe(6);
    const b = await tessera('render', 'scenes/animated-trs.glb', '--local', '--frames', '24', '--size', '160x90', '--out', whole);
    expect(b.code).toBe(0);
    expect(b.stdout).toMatch(/Rendered 1 frame/);
    const meta = await sharp(join(whole, 'frame-0024.png')).metadata();
    expect([meta.width, meta.height, meta.channels, meta.depth]).toEqual([160, 90, 4, 'uchar']);
    const t = await decodeRaw(readFileSync(join(tiled, 'frame-0024.png')));
    const w = await decodeRaw(readFileSync(join(whole, 'frame-0024.png')));
    expect(Buffer.compare(Buffer.from(t.data), Buffer.from(w.data))).toBe(0);
  });

  it('--projection equirect-stereo --eye writes one 1:1 frame, left eye over right', async () => {
    const dir = outDir();
    const r = await tessera('render', 'scenes/textured-pbr.glb', '--local', '--projection', 'equirect-stereo', '--eye', '0,0.2,2.5', '--size', '128x128', '--out', dir);
    expect(r.code).toBe(0);
    const img = await decodeRaw(readFileSync(join(dir, 'frame-0000.png')));
    expect([img.width, img.height]).toEqual([128, 128]);
    // Looking along -Z from z = 2.5, the sphere is 26° to the left, a little below the horizon, in both eyes.
    expect(img.data[(33 * 128 + 55) * 4 + 3]).toBe(255);
    expect(img.data[(97 * 128 + 55) * 4 + 3]).toBe(255);
  });

  it('writes WebP and JPEG, and an animated WebP of the range', async () => {
    const dir = outDir();
    const r = await tessera('render', 'scenes/morph.glb', '--local', '--frames', '0,12,24', '--size', '96x64', '--format', 'webp', '--animated', '--camera', 'auto', '--yaw', '10', '--out', dir);
    expect(r.code).toBe(0);
    const anim = await sharp(join(dir, 'animation.webp'), { pages: -1 }).metadata();
    expect(anim.format).toBe('webp');
    expect(anim.pages).toBe(3);
    const jpegDir = outDir();
    const j = await tessera('render', 'scenes/cameras.glb', '--local', '--frames', '0', '--size', '96x64', '--format', 'jpeg', '--camera', 'top', '--background', '#ffffff', '--out', jpegDir);
    expect(j.code).toBe(0);
    expect((await sharp(join(jpegDir, 'frame-0000.jpg')).metadata()).format).toBe('jpeg');
  });

  it.each([
    [['render', 'scenes/missing.glb', '--local', '--out', '/tmp/x'], /SCENE_NOT_FOUND/],
    [['render', 'scenes/animated-trs.glb', '--local', '--frames', '5-2', '--out', '/tmp/x'], /runs backwards/],
    [['render', 'scenes/animated-trs.glb', '--local', '--frames', '0-100', '--out', '/tmp/x'], /FRAME_OUT_OF_RANGE.*0–48/],
    [['render', 'scenes/animated-trs.glb', '--local', '--size', '0x10', '--out', '/tmp/x'], /width must be at least 1/],
    [['render', 'scenes/animated-trs.glb', '--local', '--size', '20000x10', '--out', '/tmp/x'], /at most 16384/],
    [['render', 'scenes/cameras.glb', '--local', '--camera', 'nope', '--out', '/tmp/x'], /CAMERA_NOT_FOUND.*front, top/],
    [['render', 'scenes/animated-trs.glb', '--local', '--clip', 'dance', '--out', '/tmp/x'], /CLIP_NOT_FOUND.*"move"/],
    [['render', 'scenes/animated-trs.glb', '--local', '--format', 'gif', '--out', '/tmp/x'], /gif/],
    [['render', 'scenes/animated-trs.glb', '--local', '--size', '64x64', '--tile', '100', '--out', '/tmp/x'], /larger than the 64×64 frame/],
    [['render', 'scenes/features.glb', '--local', '--scene', 'nope', '--out', '/tmp/x'], /SCENE_INDEX_NOT_FOUND.*"alt"/],
    [['render', 'package.json', '--local', '--out', '/tmp/x'], /SCENE_MALFORMED/],
    [['render', 'scenes/animated-trs.glb', '--out', '/tmp/x'], /--local/],
    [['render', 'scenes/animated-trs.glb', '--local', '--processes', '0', '--out', '/tmp/x'], /BAD_SPEC.*from 1 to 64/],
    [['render', 'scenes/textured-pbr.glb', '--local', '--projection', 'equirect', '--size', '1000x400', '--out', '/tmp/x'], /2:1.*1000x500/],
    [['render', 'scenes/textured-pbr.glb', '--local', '--projection', 'stereo', '--ipd', '3', '--size', '64x32', '--out', '/tmp/x'], /ipd is 0 to 1 m/],
    [['render', 'scenes/textured-pbr.glb', '--local', '--projection', 'fisheye', '--out', '/tmp/x'], /projection/],
  ])('bad input %j exits 2 with one line naming the problem', async (args, message) => {
    const r = await tessera(...args);
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(message);
  });

  it('--help lists the commands and exits 0', async () => {
    const r = await tessera('--help');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/render \[options\] <scene>/);
  });
});
