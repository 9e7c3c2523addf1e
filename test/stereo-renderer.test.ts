/**
 * What a session's render process draws, checked as numbers and pictures (headless-gl, no farm):
 * - depth frames: linear eye depth in millimetres equals the analytic depth at known pixels, in both eyes (the
 *   front face of a cube, the floor along rays computed from the pose), the background is DEPTH_FAR_MM, depth
 *   grows monotonically up the floor, and the PNG the node sends decodes (SDK decodeDepth) to the same values;
 * - shadows: on by default as in batch renders, the cube's shadow lies on the floor, and it stays at the same
 *   place in the world when the head moves (the shadow frustum is fitted to the scene, not the view);
 * - fidelity: `full` is the batch render's picture byte for byte; `fast` keeps the sky within a few levels, the
 *   surfaces' shading, and the cube's shadow where full puts it, on a shadow map sized to the eye.
 */
import sharp from 'sharp';
import { Matrix4, Vector3, type DirectionalLight, type Mesh, type SkinnedMesh } from 'three';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeDepth } from '../api/client/decode-depth.ts';
import { DEPTH_FAR_MM, unpackDepthRg8 } from '../api/protocol/session-depth.ts';
import { SessionRender, type EyePose } from '../api/protocol/session.ts';
import { stereoPose } from '../api/protocol/session-pose.ts';
import { createHeadlessGLBackend } from '../render-node/gl/headless-gl-backend.ts';
import { encodeDepthPng } from '../render-node/output/encode-image.ts';
import { FrameRenderer } from '../render-node/render/frame-renderer.ts';
import { NODE_RENDER_PLATFORM } from '../render-node/render/node-render-platform.ts';
import { sessionShadowOptions, sessionViewSpec, StereoRenderer, type StereoFrame } from '../render-node/render/stereo-renderer.ts';
import type { LoadedScene } from '../render-node/scene/load-scene.ts';
import { readScene } from '../scene-check/read-scene.ts';
import { OUTPUT_DIR, savePng } from './support/pictures.ts';
import { scenePath } from './support/renderer.ts';
import { shadowStage } from './support/shadow-stage.ts';

const EYE = 160;
const FOV = 60;
let frames: FrameRenderer;
let stage: LoadedScene;
let floating: LoadedScene;

beforeAll(async () => {
  frames = new FrameRenderer(await createHeadlessGLBackend(), NODE_RENDER_PLATFORM);
  const load = async (bytes: Uint8Array) => frames.loadScene((await readScene({ bytes, name: 'stage.glb' })).glb, { maxTexturePixels: 1 << 24 });
  stage = await load(await shadowStage());
  floating = await load(await shadowStage({ floor: false }));
});
afterAll(() => frames?.dispose());

const renderSettings = (extra: Partial<SessionRender>) =>
  SessionRender.parse({
    eye: { width: EYE, height: EYE }, format: 'jpeg', quality: 80, depth: true, maxFps: 90, toneMapping: 'neutral', exposure: 1,
    background: '#303540', environmentIntensity: 1, keyLight: true, camera: { kind: 'auto', yaw: 0, pitch: 20, fov: 40 }, ...extra,
  });

const depthOf = (f: StereoFrame) => unpackDepthRg8(f.depth!, 4);
const at = (mm: Uint16Array, eye: number, x: number, y: number) => mm[y * EYE * 2 + eye * EYE + x];

/** The world-space ray through pixel (x, y) of an eye: origin, direction with view-space z = −1 (so t = depth). */
function pixelRay(pose: EyePose, x: number, y: number) {
  const world = new Matrix4().fromArray(pose.view).invert();
  const origin = new Vector3().setFromMatrixPosition(world);
  const t = Math.tan((FOV * Math.PI) / 360);
  const ndcX = ((x + 0.5) / EYE) * 2 - 1;
  const ndcY = 1 - ((y + 0.5) / EYE) * 2;
  const dir = new Vector3(ndcX * t, ndcY * t, -1).transformDirection(world);
  // transformDirection normalises; scale back so the view-space z component is −1.
  const forward = new Vector3(0, 0, -1).transformDirection(world);
  dir.divideScalar(dir.dot(forward));
  return { origin, dir };
}

/** Depth (mm) where pixel (x, y) of an eye meets the floor plane y = 0, or null when it looks above it. */
function floorDepthMm(pose: EyePose, x: number, y: number): number | null {
  const { origin, dir } = pixelRay(pose, x, y);
  if (dir.y >= 0) return null;
  const t = -origin.y / dir.y;
  const hit = origin.clone().addScaledVector(dir, t);
  if (Math.abs(hit.x) > 3 || Math.abs(hit.z) > 3) return null; // the floor is 6 × 6
  return t * 1000;
}

describe('session depth frames', () => {
  it('hold the linear depth of the cube\'s front face in both eyes, the background far, and follow the head', () => {
    const stereo = new StereoRenderer(frames, floating, renderSettings({ shadows: false }));
    const far = stereoPose([0, 1.2, 5], [0, 1.2, 0], { fov: FOV });
    const near = stereoPose([0, 1.2, 3], [0, 1.2, 0], { fov: FOV });
    const a = stereo.render(far);
    const b = stereo.render(near);
    expect(a.depth).not.toBeNull();
    const [da, db] = [depthOf(a), depthOf(b)];
    for (const eye of [0, 1]) {
      // The cube (1 m, centre at y 1.2, z 0) shows its front face (z = 0.5) around each eye's centre: 4.5 m, then 2.5 m.
      for (let y = EYE / 2 - 3; y <= EYE / 2 + 3; y++) {
        for (let x = EYE / 2 - 3; x <= EYE / 2 + 3; x++) {
          expect(Math.abs(at(da, eye, x, y) - 4500)).toBeLessThanOrEqual(2);
          expect(Math.abs(at(db, eye, x, y) - 2500)).toBeLessThanOrEqual(2);
        }
      }
      // Nothing at the corners: the far value.
      for (const [x, y] of [[2, 2], [EYE - 3, 2], [2, EYE - 3], [EYE - 3, EYE - 3]]) expect(at(da, eye, x, y)).toBe(DEPTH_FAR_MM);
    }
    // The colour image is unchanged by the depth pass: the cube is drawn, the background is the request's colour.
    const p = (EYE / 2) * EYE * 2 * 4 + (EYE / 2) * 4;
    expect(a.data[p]).toBeGreaterThan(a.data[p + 1] * 1.5); // red cube
    expect([a.data[0], a.data[1], a.data[2]]).toEqual([0x30, 0x35, 0x40]);
  });

  it('equal the analytic depth of the floor along each pixel\'s ray, grow monotonically up the floor, and decode from the PNG the node sends', async () => {
    const stereo = new StereoRenderer(frames, stage, renderSettings({ shadows: false }));
    const pose = stereoPose([0, 3, 4.5], [0, 0.5, 0], { fov: FOV });
    const f = stereo.render(pose);
    const mm = depthOf(f);
    let checked = 0;
    for (const eye of [0, 1]) {
      // Column x = 8 of each eye misses the cube: floor from the bottom row up to where it ends, then background.
      for (const x of [8, EYE - 9]) {
        let previous = 0;
        for (let y = EYE - 1; y >= 0; y--) {
          const expected = floorDepthMm(pose[eye], x, y);
          const got = at(mm, eye, x, y);
          if (expected === null) break;
          // Pixels near the floor's far edge may straddle it; elsewhere the depth is the analytic one to the millimetre.
          if (expected > 8000) break;
          expect(Math.abs(got - expected), `eye ${eye} (${x}, ${y})`).toBeLessThanOrEqual(3);
          expect(got).toBeGreaterThanOrEqual(previous);
          previous = got;
          checked++;
        }
      }
    }
    expect(checked).toBeGreaterThan(200);
    // What travels: the PNG the node encodes, decoded by the SDK (no canvas, no sharp) to the same millimetres.
    const png = await encodeDepthPng(f.depth!, f.width, f.height);
    expect([...png.subarray(1, 4)].map((c) => String.fromCharCode(c)).join('')).toBe('PNG');
    const decoded = await decodeDepth(png);
    expect([decoded.width, decoded.height]).toEqual([EYE * 2, EYE]);
    expect(decoded.mm).toEqual(mm);
    // Any PNG encoder's row filters decode as well (sub, up, average, Paeth: adaptive filtering uses them all).
    const filtered = await sharp(f.depth!, { raw: { width: f.width, height: f.height, channels: 4 } }).png({ adaptiveFiltering: true, compressionLevel: 9 }).toBuffer();
    expect((await decodeDepth(filtered)).mm).toEqual(mm);
    await savePng({ data: f.data, width: f.width, height: f.height }, `${OUTPUT_DIR}/session-depth-colour.png`);
  });

  it('cover exactly what the colour pass drew, for skinned, morphed and instanced meshes too', async () => {
    for (const name of ['skinned', 'morph', 'instancing']) {
      const loaded = await frames.loadScene((await readScene({ path: scenePath(name) })).glb, { maxTexturePixels: 1 << 24 });
      const stereo = new StereoRenderer(frames, loaded, renderSettings({ shadows: false, keyLight: 'auto', background: '#ff00ff' }));
      // Away from the bind pose and the base shape, so a depth pass without skinning or morphing would miss.
      for (const root of loaded.scenes) {
        root.traverse((o) => {
          const skinned = o as SkinnedMesh;
          if (skinned.isSkinnedMesh) for (const bone of skinned.skeleton.bones.slice(1)) bone.rotation.z += 0.7;
          const mesh = o as Mesh;
          if (mesh.isMesh && mesh.morphTargetInfluences) mesh.morphTargetInfluences.fill(1);
        });
        root.updateMatrixWorld(true);
      }
      const f = stereo.render(stereoPose(stereo.start.position, stereo.start.target, { fov: stereo.start.fov }));
      const mm = depthOf(f);
      let drawn = 0, mismatched = 0;
      for (let i = 0; i < mm.length; i++) {
        const background = f.data[i * 4] === 255 && f.data[i * 4 + 1] === 0 && f.data[i * 4 + 2] === 255;
        if (!background) drawn++;
        if (background !== (mm[i] === DEPTH_FAR_MM)) mismatched++;
      }
      // The scene fills a good part of the view, and depth marks the same pixels (a sliver of edge pixels may differ).
      expect(drawn, name).toBeGreaterThan(mm.length * 0.05);
      expect(mismatched / drawn, name).toBeLessThan(0.01);
    }
  });

  it('are absent without depth', () => {
    const stereo = new StereoRenderer(frames, floating, renderSettings({ depth: false, shadows: false }));
    expect(stereo.render(stereoPose([0, 1.2, 5], [0, 1.2, 0], { fov: FOV })).depth).toBeNull();
  });
});

/** Floor points (world x, z) that are darker with shadows on than off, found through the depth pass. */
function shadowOnFloor(on: StereoFrame, off: StereoFrame, pose: EyePose[]) {
  const mm = depthOf(on);
  const points: Vector3[] = [];
  let unchangedFloor = 0;
  let changedFloor = 0;
  for (const eye of [0, 1]) {
    for (let y = 0; y < EYE; y++) {
      for (let x = 0; x < EYE; x++) {
        const expected = floorDepthMm(pose[eye], x, y);
        if (expected === null || Math.abs(at(mm, eye, x, y) - expected) > 5) continue; // not the floor
        const p = (y * EYE * 2 + eye * EYE + x) * 4;
        const luma = (d: Uint8Array) => 0.2126 * d[p] + 0.7152 * d[p + 1] + 0.0722 * d[p + 2];
        if (luma(off.data) - luma(on.data) > 12) {
          const { origin, dir } = pixelRay(pose[eye], x, y);
          points.push(origin.addScaledVector(dir, expected / 1000));
          changedFloor++;
        } else unchangedFloor++;
      }
    }
  }
  const centre = points.reduce((s, v) => s.add(v), new Vector3()).divideScalar(Math.max(1, points.length));
  return { count: points.length, centre, changedFloor, unchangedFloor };
}

describe('session shadows', () => {
  it('are on by default, fall on the floor, and stay put in the world while the head moves', async () => {
    expect(renderSettings({}).shadows).toBe(true);
    const poses = [stereoPose([0, 3, 4.5], [0, 0.5, 0], { fov: FOV }), stereoPose([2.2, 3.4, 3.8], [0.3, 0.4, 0], { fov: FOV })];
    // Off first: both renderers pose the same scene, and the one made last sets its lights.
    const off = new StereoRenderer(frames, stage, renderSettings({ shadows: false }));
    const offFrames = poses.map((p) => off.render(p));
    const on = new StereoRenderer(frames, stage, renderSettings({}));
    const onFrames = poses.map((p) => on.render(p));
    await savePng({ data: onFrames[0].data, width: onFrames[0].width, height: onFrames[0].height }, `${OUTPUT_DIR}/session-shadows-a.png`);
    await savePng({ data: onFrames[1].data, width: onFrames[1].width, height: onFrames[1].height }, `${OUTPUT_DIR}/session-shadows-b.png`);
    const a = shadowOnFloor(onFrames[0], offFrames[0], poses[0]);
    const b = shadowOnFloor(onFrames[1], offFrames[1], poses[1]);
    // A clear shadow on the floor in both views, and most of the floor untouched (no acne).
    for (const s of [a, b]) {
      expect(s.count).toBeGreaterThan(300);
      expect(s.unchangedFloor).toBeGreaterThan(s.changedFloor * 3);
    }
    // The same place on the floor from both heads (a view-fitted shadow frustum would move and reshape it).
    expect(a.centre.distanceTo(b.centre)).toBeLessThan(0.12);
    // And it is the cube's: within a couple of metres of the point under it.
    expect(Math.hypot(a.centre.x, a.centre.z)).toBeLessThan(2);
  });
});

describe('session environment background', () => {
  it('drawn after the scene, depth-tested, gives the very pixels of three\'s background drawn under it, sky and scene both in view', () => {
    const poses = [stereoPose([0, 1.5, 5], [0, 1.2, 0], { fov: FOV }), stereoPose([2.5, 0.8, 3.5], [0, 0.8, 0], { fov: FOV })];
    const settings = renderSettings({ background: 'environment', shadows: true });
    const three = new StereoRenderer(frames, stage, settings, { depthTestedBackground: false });
    const threeFrames = poses.map((p) => three.render(p));
    const tested = new StereoRenderer(frames, stage, settings, { depthTestedBackground: true });
    const testedFrames = poses.map((p) => tested.render(p));
    for (let i = 0; i < poses.length; i++) {
      const a = threeFrames[i];
      const b = testedFrames[i];
      expect(b.width).toBe(a.width);
      let differing = 0;
      for (let k = 0; k < a.data.length; k++) if (a.data[k] !== b.data[k]) differing++;
      expect(differing).toBe(0);
      // Both sky (far depth, lit by the environment: not the black clear colour) and scene are in the picture.
      const mm = depthOf(b);
      let sky = 0;
      let litSky = 0;
      for (let p = 0; p < mm.length; p++) {
        if (mm[p] !== DEPTH_FAR_MM) continue;
        sky++;
        if (b.data[p * 4] + b.data[p * 4 + 1] + b.data[p * 4 + 2] > 30) litSky++;
      }
      expect(sky).toBeGreaterThan(mm.length / 10);
      expect(sky).toBeLessThan(mm.length * 0.9);
      expect(litSky).toBe(sky);
    }
  });
});

describe('session fidelity', () => {
  /** Per channel |a − b| over the pixels `where` picks: max, mean and count. */
  function diff(a: Uint8Array, b: Uint8Array, where: (pixel: number) => boolean) {
    let max = 0, sum = 0, n = 0;
    for (let p = 0; p < a.length / 4; p++) {
      if (!where(p)) continue;
      for (let c = 0; c < 3; c++) {
        const d = Math.abs(a[p * 4 + c] - b[p * 4 + c]);
        max = Math.max(max, d);
        sum += d;
        n++;
      }
    }
    return { max, mean: sum / Math.max(1, n), n: n / 3 };
  }

  it('full gives the batch render\'s pixels: a stereo job from the same eyes, byte for byte', async () => {
    const settings = renderSettings({ background: 'environment', shadows: true, depth: false });
    const stereo = new StereoRenderer(frames, stage, settings);
    // The batch path's stereo eyes (FrameRenderer: the request's camera, ±ipd/2 along its right axis), as poses.
    const view = { ...sessionViewSpec(settings), projection: 'stereo' as const };
    const batch = frames.render(stage, view, 0);
    const { camera } = frames.director.setUp(stage, view, 0, EYE / EYE);
    const right = new Vector3().setFromMatrixColumn(camera.matrixWorld, 0).normalize();
    const eyes = [-1, 1].map((side) => {
      const eye = camera.clone();
      eye.position.copy(camera.getWorldPosition(new Vector3())).addScaledVector(right, (side * view.ipd) / 2);
      eye.updateMatrixWorld(true);
      return { view: [...eye.matrixWorldInverse.elements], projection: [...camera.projectionMatrix.elements] };
    });
    const f = stereo.render(eyes);
    expect([f.width, f.height]).toEqual([batch.width, batch.height]);
    const d = diff(batch.data, f.data, () => true);
    expect(d.max, `max ${d.max}, mean ${d.mean}`).toBe(0);
  });

  it('fast: the sky within a few levels of full, the shadow still under the cube, a map sized to the eye', async () => {
    expect(sessionShadowOptions({ eye: { width: 512, height: 512 }, fidelity: 'fast' }).mapSize).toBe(512);
    expect(sessionShadowOptions({ eye: { width: 1024, height: 768 }, fidelity: 'fast' }).mapSize).toBe(1024);
    expect(sessionShadowOptions({ eye: { width: 2048, height: 2048 }, fidelity: 'fast' }).mapSize).toBe(2048);
    expect(sessionShadowOptions({ eye: { width: 512, height: 512 } }).mapSize).toBe(2048);
    const poses = [stereoPose([0, 3, 4.5], [0, 0.5, 0], { fov: FOV }), stereoPose([2.5, 0.8, 3.5], [0, 2.5, -2], { fov: FOV })];
    const look = (extra: Partial<SessionRender>) => renderSettings({ background: 'environment', ...extra });
    // Without shadows first (the renderer made last sets the lights of the shared scene).
    const offFrames = poses.map((p) => new StereoRenderer(frames, stage, look({ shadows: false })).render(p));
    const full = new StereoRenderer(frames, stage, look({}));
    const fullFrames = poses.map((p) => full.render(p));
    const fast = new StereoRenderer(frames, stage, look({ fidelity: 'fast' }));
    const fastFrames = poses.map((p) => fast.render(p));
    const key = stage.scenes[0].getObjectByName('tessera.key-light') as DirectionalLight;
    expect(key.shadow.mapSize.x).toBe(512);
    expect(key.shadow.map?.width).toBe(512);
    for (let i = 0; i < poses.length; i++) {
      await savePng({ data: fastFrames[i].data, width: fastFrames[i].width, height: fastFrames[i].height }, `${OUTPUT_DIR}/session-fast-${i}.png`);
      const mm = depthOf(fastFrames[i]);
      // Depth is the same pass in both looks.
      expect(depthOf(fullFrames[i])).toEqual(mm);
      const sky = diff(fullFrames[i].data, fastFrames[i].data, (p) => mm[p] === DEPTH_FAR_MM);
      const scene = diff(fullFrames[i].data, fastFrames[i].data, (p) => mm[p] !== DEPTH_FAR_MM);
      expect(sky.n).toBeGreaterThan(mm.length / 10);
      expect(sky.mean, `sky: mean ${sky.mean}, max ${sky.max}`).toBeLessThan(1);
      expect(sky.max, `sky: mean ${sky.mean}, max ${sky.max}`).toBeLessThanOrEqual(4);
      // The sky is the environment's, not the black clear colour: lit everywhere.
      let dark = 0;
      for (let p = 0; p < mm.length; p++) if (mm[p] === DEPTH_FAR_MM && fastFrames[i].data[p * 4] + fastFrames[i].data[p * 4 + 1] + fastFrames[i].data[p * 4 + 2] <= 30) dark++;
      expect(dark).toBe(0);
      // Surfaces: the same shading; only shadow edges (softer on the smaller map) move.
      expect(scene.mean, `scene: mean ${scene.mean}, max ${scene.max}`).toBeLessThan(1);
    }
    // The cube's shadow on the floor, in the same place as full's.
    const a = shadowOnFloor(fastFrames[0], offFrames[0], poses[0]);
    const b = shadowOnFloor(fullFrames[0], offFrames[0], poses[0]);
    expect(a.count).toBeGreaterThan(300);
    expect(a.unchangedFloor).toBeGreaterThan(a.changedFloor * 3);
    expect(Math.abs(a.count - b.count)).toBeLessThan(b.count * 0.15);
    expect(a.centre.distanceTo(b.centre)).toBeLessThan(0.05);
  });
});
