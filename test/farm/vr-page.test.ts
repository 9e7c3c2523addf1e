/**
 * The sample WebXR page in real Chromium (Debian's chromium + playwright-core).
 *  - Desktop mode: it opens a session through the API, mouse-look drives the poses, frames arrive and are drawn
 *    (time-warped to the current head rotation), the picture changes when the view turns, no console errors.
 *  - immersive-vr, with an emulated Meta Quest 3: Meta's Immersive Web Emulation Runtime (`iwer`, a WebXR
 *    Device API implementation in JavaScript) is injected before the page's own script and replaces
 *    `navigator.xr`; the page's "Enter VR" button then runs its real immersive path (requestSession,
 *    XRWebGLLayer, the XR frame loop). The test reads the poses the page sends on its WebSocket, the frames the
 *    node sends back, and the XR layer's pixels (iwer's layer draws into the page's canvas: its framebuffer is
 *    the canvas's default one), and moves the emulated head.
 */
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import type { Browser, Page } from 'playwright-core';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTesseraClient } from '../../api/client/index.ts';
import { TEST_API_KEY } from '../support/api-harness.ts';
import { waitFor } from '../support/farm-checks.ts';
import { startTestFarm } from '../support/farm.ts';
import { scenePath } from '../support/renderer.ts';
import { shadowStage } from '../support/shadow-stage.ts';
import { BASE_FLAGS, launchBrowser } from '../web/browser.ts';

let farm: Awaited<ReturnType<typeof startTestFarm>>;
let browser: Browser;
let sceneId: string;
let cubeId: string;
let node: ReturnType<typeof farm.spawnNode>;

beforeAll(async () => {
  farm = await startTestFarm({ leaseMs: 3000 });
  const client = createTesseraClient({ baseUrl: farm.url, apiKey: TEST_API_KEY });
  sceneId = (await client.uploadScene(new Uint8Array(await readFile(scenePath('textured-pbr'))))).sceneId;
  // A red 1 m cube floating in front of the environment: near against far, for the depth test.
  cubeId = (await client.uploadScene(await shadowStage({ floor: false }))).sceneId;
  node = farm.spawnNode('vr-page', { concurrency: 1 });
  await waitFor('a node', async () => ((await client.nodes({ healthy: true })).nodes.length ? true : undefined));
  browser = await launchBrowser(BASE_FLAGS);
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await farm?.close();
});

describe('the sample WebXR page (desktop mode)', () => {
  it('sends poses, gets frames, follows mouse-look, with no console errors', async () => {
    const { page, errors } = await openVrPage(`scene=${sceneId}&eye=256x256`);
    const counters = () => page.evaluate(() => {
      const t = (window as unknown as { tessera: { frames: number; posesSent: number; nodeId: string | null } }).tessera;
      return t ? { frames: t.frames, posesSent: t.posesSent, nodeId: t.nodeId } : null;
    });
    await waitFor('frames in the page', async () => ((await counters())?.frames ?? 0) >= 3 ? true : undefined, 60_000);
    const before = await canvasData(page);
    const c1 = (await counters())!;
    expect(c1.posesSent).toBeGreaterThan(0);
    expect(c1.nodeId).toMatch(/^node_/);
    // Turn the head 60° with the mouse; the picture follows.
    await page.mouse.move(400, 240);
    await page.mouse.down();
    for (let i = 1; i <= 10; i++) await page.mouse.move(400 + i * 20, 240);
    await page.mouse.up();
    const framesAtTurn = (await counters())!.frames;
    await waitFor('frames for the new pose', async () => ((await counters())!.frames >= framesAtTurn + 3 ? true : undefined), 60_000);
    const after = await canvasData(page);
    expect(after).not.toBe(before);
    // The canvas shows a picture, not the clear colour: many distinct pixel values.
    const { data: d } = await canvasPixels(page);
    const seen = new Set<number>();
    for (let i = 0; i < d.length; i += 4 * 97) seen.add((d[i] << 16) | (d[i + 1] << 8) | d[i + 2]);
    const distinct = seen.size;
    expect(distinct).toBeGreaterThan(50);
    expect(await page.locator('#stats').textContent()).toMatch(/fps/);
    // Rotational time-warp only: a head that moved sideways since the frame sees the same picture.
    await page.evaluate(() => ((window as unknown as { tessera: { holdPoses: boolean } }).tessera.holdPoses = true));
    await new Promise((r) => setTimeout(r, 1500));
    const held = await canvasData(page);
    await page.evaluate(() => ((window as unknown as { tessera: { offset: number[] } }).tessera.offset = [0.5, 0, 0]));
    await new Promise((r) => setTimeout(r, 300));
    expect(await canvasData(page)).toBe(held);
    // A session the API ends (here deleted; a node gone silent is the same close) is re-opened and frames resume.
    await page.evaluate(() => ((window as unknown as { tessera: { holdPoses: boolean } }).tessera.holdPoses = false));
    const first = await page.evaluate(() => (window as unknown as { tessera: { sessionId: string } }).tessera.sessionId);
    const client = createTesseraClient({ baseUrl: farm.url, apiKey: TEST_API_KEY });
    await client.deleteSession(first);
    type PageState = { sessionId: string; reopens: number; frames: number; closed: string | null };
    const pageState = () => page.evaluate(() => { const t = (window as unknown as { tessera: PageState }).tessera; return { sessionId: t.sessionId, reopens: t.reopens, frames: t.frames, closed: t.closed }; });
    const reopened = await waitFor('the page re-opened its session', async () => {
      const t = await pageState();
      return t.sessionId !== first && t.reopens >= 1 ? t : undefined;
    }, 60_000).catch(async (err: Error) => {
      throw new Error(`${err.message}: the page says ${JSON.stringify(await pageState())}; the API says ${JSON.stringify(await client.getSession(first))}; the node said:\n${node.log.filter((l) => /session/i.test(l)).slice(-15).join('\n')}`);
    });
    await waitFor('frames from the re-opened session', async () => ((await counters())!.frames >= reopened.frames + 3 ? true : undefined), 60_000);
    expect((await client.getSession(reopened.sessionId)).state).toMatch(/^(starting|open)$/);
    expect(errors, errors.join('\n')).toEqual([]);
    await page.close();
  }, 180_000);

  it('with depth=1 decodes depth frames and reprojects positionally: near things move against the background when the head moves', async () => {
    const { page, errors } = await openVrPage(`scene=${cubeId}&eye=256x256&depth=1`);
    type T = { depthFrames: number; centerDepthMm: number | null; holdPoses: boolean; offset: number[] };
    const t = () => page.evaluate(() => (window as unknown as { tessera: T }).tessera && { ...(window as unknown as { tessera: T }).tessera });
    await waitFor('depth frames in the page', async () => (((await t())?.depthFrames ?? 0) >= 3 ? true : undefined), 60_000);
    // The start camera looks at the cube's centre: the centre pixel is the cube, a few metres away, not "far".
    const centre = (await t())!.centerDepthMm!;
    expect(centre).toBeGreaterThan(500);
    expect(centre).toBeLessThan(20_000);
    await page.evaluate(() => ((window as unknown as { tessera: T }).tessera.holdPoses = true));
    await new Promise((r) => setTimeout(r, 1500));
    const before = await redCentroid(page);
    await page.evaluate(() => ((window as unknown as { tessera: T }).tessera.offset = [0.6, 0, 0]));
    await new Promise((r) => setTimeout(r, 300));
    const after = await redCentroid(page);
    // The head moved 0.6 m to the right: the cube (near) slides left in the picture, by many pixels.
    expect(before.count).toBeGreaterThan(500);
    expect(after.count).toBeGreaterThan(300);
    expect(after.x).toBeLessThan(before.x - 10);
    expect(errors, errors.join('\n')).toEqual([]);
    await page.close();
  }, 180_000);
});

describe('the sample WebXR page (immersive-vr on an emulated Meta Quest 3)', () => {
  it('enters immersive-vr, sends the XR views as poses, draws the node\'s frames into the XR layer, follows the head, and time-warps a held frame by the head\'s rotation', async () => {
    const context = await browser.newContext({ viewport: { width: 800, height: 480 } });
    // iwer's UMD bundle defines `IWER`; the device replaces Chromium's own navigator.xr (forceInstall: Chromium
    // has one, with no headset behind it). Stereo on: both eyes side by side in the page's canvas.
    await context.addInitScript({
      content: `${iwerBundle}\n;(() => { const device = new IWER.XRDevice(IWER.metaQuest3, { stereoEnabled: true }); device.installRuntime({ forceInstall: true }); window.__xrDevice = device; })();`,
    });
    const page = await context.newPage();
    const errors = watchErrors(page);
    // What goes over the page's session socket: the poses it sends, the node's 'ready' and its frames.
    const poses: PoseSent[] = [];
    let ready: { start: { position: number[]; target: number[] } } | null = null;
    let lastFrame: Buffer | null = null;
    page.on('websocket', (ws) => {
      ws.on('framesent', (f) => {
        if (typeof f.payload !== 'string') return;
        const m = JSON.parse(f.payload) as { type: string };
        if (m.type === 'pose') poses.push(m as PoseSent);
      });
      ws.on('framereceived', (f) => {
        if (typeof f.payload === 'string') {
          const m = JSON.parse(f.payload) as { type: string };
          if (m.type === 'ready') ready = m as unknown as typeof ready;
        } else lastFrame = f.payload;
      });
    });
    await page.goto(`${farm.url}/sample/vr?key=${TEST_API_KEY}&scene=${sceneId}&eye=256x256`);
    type T = { frames: number; immersive: boolean; xrFrames: number; xrError: string | null; holdPoses: boolean };
    const t = () => page.evaluate(() => { const s = (window as unknown as { tessera?: T }).tessera; return s ? { frames: s.frames, immersive: s.immersive, xrFrames: s.xrFrames, xrError: s.xrError, holdPoses: s.holdPoses } : null; });
    await waitFor('desktop frames before entering VR', async () => (((await t())?.frames ?? 0) >= 1 ? true : undefined), 60_000);
    await page.locator('#enter').click({ timeout: 30_000 }); // a real click: the user activation requestSession needs
    await waitFor('the immersive session running', async () => {
      const s = await t();
      if (s?.xrError) throw new Error(s.xrError);
      return s?.immersive && s.xrFrames >= 10 ? true : undefined;
    }, 60_000);
    const { fovy, ipd } = await page.evaluate(() => { const d = (window as unknown as { __xrDevice: { fovy: number; ipd: number } }).__xrDevice; return { fovy: d.fovy, ipd: d.ipd }; });
    const size = await page.evaluate(() => { const c = document.getElementById('view') as HTMLCanvasElement; return { width: c.width, height: c.height }; });
    expect(size).toEqual({ width: 800, height: 480 }); // the XR layer: iwer sizes the canvas to the window
    const eyeW = size.width / 2;

    // 1. Poses come from the XR frame: both eyes, each with the XR view's projection, the eyes ipd apart, the
    //    head anchored at the scene's start camera, facing its target (level).
    const framesAtEntry = (await t())!.frames;
    await waitFor('frames answering XR poses', async () => ((await t())!.frames >= framesAtEntry + 3 ? true : undefined), 60_000);
    poses.length = 0;
    await waitFor('poses sent in VR', async () => (poses.length >= 5 ? true : undefined), 30_000);
    const xrProjection = perspectiveGl(fovy, eyeW / size.height, 0.1, 1000); // iwer: mat4.perspective(fovy, eye aspect, depthNear, depthFar)
    for (const p of poses.slice(0, 5)) {
      expect(p.eyes).toHaveLength(2);
      for (const e of p.eyes) expect(maxDiff(e.projection, xrProjection)).toBeLessThan(1e-4);
    }
    const still = poses[poses.length - 1];
    const [left0, right0] = still.eyes.map((e) => camera(e.view));
    expect(dist(left0.position, right0.position)).toBeCloseTo(ipd, 4);
    expect(dot(sub(right0.position, left0.position), left0.right)).toBeCloseTo(ipd, 4); // the right eye is to the right
    const start = ready!.start;
    expect(dist(mid(left0.position, right0.position), start.position)).toBeLessThan(1e-3);
    const toTarget = norm([start.target[0] - start.position[0], 0, start.target[2] - start.position[2]]);
    expect(dot(left0.forward, toTarget)).toBeGreaterThan(0.9999);

    // 2. The node's picture is in the XR layer: each eye's viewport shows that eye's half of the node's frame
    //    (head still, so the time-warp is the identity), upright, not the clear colour.
    const still1 = await canvasPixels(page);
    for (const eye of [0, 1]) {
      const frameEye = await frameEyePixels(lastFrame!, eye, eyeW, size.height);
      const shown = crop(still1, eye * eyeW, 0, eyeW, size.height);
      const upright = meanAbsDiff(shown, frameEye.upright), flipped = meanAbsDiff(shown, frameEye.flipped);
      expect(upright, `eye ${eye}: layer vs the node's frame`).toBeLessThan(12);
      expect(flipped).toBeGreaterThan(upright * 2);
      expect(distinctColours(shown)).toBeGreaterThan(50);
    }

    // 3. Turning the head 30° to the left turns the poses sent by +30° about +Y and changes the picture.
    await setHead(page, { yawDeg: 30 });
    const turned = await waitFor('a pose for the turned head', async () => {
      const p = poses[poses.length - 1];
      return p && Math.abs(signedYawDeg(left0.forward, camera(p.eyes[0].view).forward) - 30) < 0.01 ? p : undefined;
    }, 30_000);
    expect(dist(mid(camera(turned.eyes[0].view).position, camera(turned.eyes[1].view).position), start.position)).toBeLessThan(1e-3);
    const framesAtTurn = (await t())!.frames;
    await waitFor('frames for the turned head', async () => ((await t())!.frames >= framesAtTurn + 3 ? true : undefined), 60_000);
    const turnedPixels = await canvasPixels(page);
    expect(meanAbsDiff(crop(turnedPixels, 0, 0, eyeW, size.height), crop(still1, 0, 0, eyeW, size.height))).toBeGreaterThan(5);
    expect(distinctColours(crop(turnedPixels, 0, 0, eyeW, size.height))).toBeGreaterThan(50);

    // 4. Moving the head 0.3 m (XR x) moves the eyes sent by 0.3 m in the scene, rigidly.
    await setHead(page, { yawDeg: 30, x: 0.3 });
    const moved = await waitFor('a pose for the moved head', async () => {
      const p = poses[poses.length - 1];
      return p && Math.abs(dist(mid(camera(p.eyes[0].view).position, camera(p.eyes[1].view).position), start.position) - 0.3) < 1e-3 ? p : undefined;
    }, 30_000);
    expect(Math.abs(signedYawDeg(left0.forward, camera(moved.eyes[0].view).forward) - 30)).toBeLessThan(0.01);

    // 5. Time-warp: hold the poses (no new frames come), turn the head 8° further left: each eye shows the held
    //    frame re-oriented by exactly that turn (it slides right, more toward the edges), not left, not in place.
    await page.evaluate(() => ((window as unknown as { tessera: T }).tessera.holdPoses = true));
    await waitForStableFrames(page);
    const framesHeld = (await t())!.frames;
    const held = await canvasPixels(page);
    const xrFramesAtWarp = (await t())!.xrFrames;
    await setHead(page, { yawDeg: 38, x: 0.3 });
    await waitFor('the XR loop drawing the new head rotation', async () => ((await t())!.xrFrames >= xrFramesAtWarp + 5 ? true : undefined), 30_000);
    const warped = await canvasPixels(page);
    expect((await t())!.frames).toBe(framesHeld); // the same frame, re-oriented
    const turn = (8 * Math.PI) / 180;
    for (const eye of [0, 1]) {
      const before = crop(held, eye * eyeW, 0, eyeW, size.height), after = crop(warped, eye * eyeW, 0, eyeW, size.height);
      const right = rotationWarpDiff(before, after, turn, xrProjection), none = rotationWarpDiff(before, after, 0, xrProjection), wrong = rotationWarpDiff(before, after, -turn, xrProjection);
      expect(right, `eye ${eye}: the held frame re-oriented by the head's 8° turn (vs ${none.toFixed(1)} not re-oriented, ${wrong.toFixed(1)} the wrong way)`).toBeLessThan(6);
      expect(none).toBeGreaterThan(right * 2);
      expect(wrong).toBeGreaterThan(right * 2);
    }
    // Frames resume when poses do.
    await page.evaluate(() => ((window as unknown as { tessera: T }).tessera.holdPoses = false));
    await waitFor('frames after the hold', async () => ((await t())!.frames >= framesHeld + 3 ? true : undefined), 60_000);

    // 6. The headset ends the session (its system menu): the page is back in desktop mode, sending its own
    //    poses (a square eye: P[0] = P[5]) into its own canvas again.
    await page.evaluate(() => (window as unknown as { __xrDevice: { activeSession?: { end(): Promise<void> } } }).__xrDevice.activeSession!.end());
    await waitFor('desktop mode again', async () => ((await t())!.immersive ? undefined : true), 30_000);
    poses.length = 0;
    await waitFor('desktop poses', async () => (poses.length >= 3 ? true : undefined), 30_000);
    const desktopPose = poses[poses.length - 1];
    expect(desktopPose.eyes[0].projection[0]).toBeCloseTo(desktopPose.eyes[0].projection[5], 6);
    const framesAfterExit = (await t())!.frames;
    await waitFor('desktop frames after VR', async () => ((await t())!.frames >= framesAfterExit + 3 ? true : undefined), 60_000);
    const desktop = await canvasPixels(page);
    expect([desktop.width, desktop.height]).toEqual([1024, 512]);
    expect(distinctColours(crop(desktop, 0, 0, 512, 512))).toBeGreaterThan(50);
    expect(errors, errors.join('\n')).toEqual([]);
    await context.close();
  }, 180_000);
});

describe('the sample WebXR page (immersive-vr with depth)', () => {
  it('with depth=1 gets depth frames in immersive-vr and reprojects the held frame positionally: the near cube slides against the background as the head moves', async () => {
    const context = await browser.newContext({ viewport: { width: 800, height: 480 } });
    await context.addInitScript({
      content: `${iwerBundle}\n;(() => { const device = new IWER.XRDevice(IWER.metaQuest3, { stereoEnabled: true }); device.installRuntime({ forceInstall: true }); window.__xrDevice = device; })();`,
    });
    const page = await context.newPage();
    const errors = watchErrors(page);
    await page.goto(`${farm.url}/sample/vr?key=${TEST_API_KEY}&scene=${cubeId}&eye=256x256&depth=1`);
    type T = { frames: number; depthFrames: number; centerDepthMm: number | null; immersive: boolean; xrFrames: number; xrError: string | null; holdPoses: boolean };
    const t = () => page.evaluate(() => { const s = (window as unknown as { tessera?: T }).tessera; return s ? { ...s } : null; });
    await waitFor('desktop depth frames before entering VR', async () => (((await t())?.depthFrames ?? 0) >= 1 ? true : undefined), 60_000);
    await page.locator('#enter').click({ timeout: 30_000 });
    await waitFor('the immersive session running', async () => {
      const s = await t();
      if (s?.xrError) throw new Error(s.xrError);
      return s?.immersive && s.xrFrames >= 10 ? true : undefined;
    }, 60_000);
    // Depth frames keep coming for the XR poses; the centre of the view (the head faces the cube) is the cube, metres away.
    const atEntry = (await t())!.depthFrames;
    await waitFor('depth frames in VR', async () => ((await t())!.depthFrames >= atEntry + 3 ? true : undefined), 60_000);
    const centre = (await t())!.centerDepthMm!;
    expect(centre).toBeGreaterThan(500);
    expect(centre).toBeLessThan(20_000);
    // Hold the poses (no new frames), then move the head 0.3 m to the right (XR x): the held frame's depth mesh is
    // drawn from where the head is now, so the near cube slides left in the left eye's viewport.
    await page.evaluate(() => ((window as unknown as { tessera: T }).tessera.holdPoses = true));
    await waitForStableFrames(page);
    const framesHeld = (await t())!.frames;
    const before = await redCentroid(page);
    const xrAtMove = (await t())!.xrFrames;
    await setHead(page, { yawDeg: 0, x: 0.3 });
    await waitFor('the XR loop drawing the moved head', async () => ((await t())!.xrFrames >= xrAtMove + 5 ? true : undefined), 30_000);
    const after = await redCentroid(page);
    expect((await t())!.frames).toBe(framesHeld); // the same frame, seen from the moved head
    expect(before.count).toBeGreaterThan(300);
    expect(after.count).toBeGreaterThan(200);
    expect(after.x).toBeLessThan(before.x - 5);
    expect(errors, errors.join('\n')).toEqual([]);
    await context.close();
  }, 180_000);
});

type PoseSent = { type: 'pose'; seq: number; eyes: { view: number[]; projection: number[] }[] };
type Vec = number[];
type Pixels = { data: Uint8Array; width: number; height: number };

const iwerBundle = await readFile(createRequire(import.meta.url).resolve('iwer/build/iwer.min.js'), 'utf8');

/** Console errors and page errors as they happen (a 503 the page retries is the browser's network log, not an error). */
function watchErrors(page: Page): string[] {
  const errors: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error' && !/^Failed to load resource: the server responded with a status of 503\b/.test(m.text())) errors.push(m.text());
  });
  page.on('pageerror', (e) => errors.push(e.message));
  return errors;
}

/** Put the emulated head at yaw `yawDeg` (about +Y: positive turns left) and x metres along the XR space's x, at iwer's default height. */
async function setHead(page: Page, head: { yawDeg: number; x?: number }): Promise<void> {
  await page.evaluate(({ yawDeg, x }) => {
    const d = (window as unknown as { __xrDevice: { quaternion: { set(x: number, y: number, z: number, w: number): void }; position: { set(x: number, y: number, z: number): void } } }).__xrDevice;
    const h = (yawDeg * Math.PI) / 360;
    d.quaternion.set(0, Math.sin(h), 0, Math.cos(h));
    d.position.set(x, 1.6, 0);
  }, { yawDeg: head.yawDeg, x: head.x ?? 0 });
}

/** Waits until the page's frame count stays the same for a second (a held pose's last frame has landed). */
async function waitForStableFrames(page: Page): Promise<void> {
  const frames = () => page.evaluate(() => (window as unknown as { tessera: { frames: number } }).tessera.frames);
  let last = await frames();
  await waitFor('no more frames while poses are held', async () => {
    await new Promise((r) => setTimeout(r, 1000));
    const now = await frames();
    const stable = now === last;
    last = now;
    return stable ? true : undefined;
  }, 60_000);
}

/** gl-matrix's mat4.perspective (column-major, OpenGL clip space). */
function perspectiveGl(fovy: number, aspect: number, near: number, far: number): number[] {
  const f = 1 / Math.tan(fovy / 2), nf = 1 / (near - far);
  return [f / aspect, 0, 0, 0, 0, f, 0, 0, 0, 0, (far + near) * nf, -1, 0, 0, 2 * far * near * nf, 0];
}

/** The camera a rigid column-major view matrix (world → eye) stands for: position, forward (−z) and right (+x) in the world. */
function camera(view: number[]): { position: Vec; forward: Vec; right: Vec } {
  const t = [view[12], view[13], view[14]];
  const position = [0, 1, 2].map((c) => -(view[c * 4] * t[0] + view[c * 4 + 1] * t[1] + view[c * 4 + 2] * t[2]));
  return { position, forward: [-view[2], -view[6], -view[10]], right: [view[0], view[4], view[8]] };
}
const sub = (a: Vec, b: Vec): Vec => a.map((v, i) => v - b[i]);
const dot = (a: Vec, b: Vec): number => a.reduce((s, v, i) => s + v * b[i], 0);
const dist = (a: Vec, b: Vec): number => Math.hypot(...sub(a, b));
const mid = (a: Vec, b: Vec): Vec => a.map((v, i) => (v + b[i]) / 2);
const norm = (a: Vec): Vec => { const l = Math.hypot(...a); return a.map((v) => v / l); };
const maxDiff = (a: number[], b: number[]): number => Math.max(...a.map((v, i) => Math.abs(v - b[i])));
/** The signed angle (degrees) about +Y from heading a to heading b (positive: b is turned left of a). */
const signedYawDeg = (a: Vec, b: Vec): number => (Math.atan2(a[2] * b[0] - a[0] * b[2], a[0] * b[0] + a[2] * b[2]) * 180) / Math.PI;

/** One eye's half of a node frame message (4-byte length, JSON header, image), scaled to the eye's viewport: upright and flipped. */
async function frameEyePixels(message: Buffer, eye: number, width: number, height: number): Promise<{ upright: Pixels; flipped: Pixels }> {
  const n = message.readUInt32BE(0);
  const header = JSON.parse(message.subarray(4, 4 + n).toString('utf8')) as { imageBytes: number; width: number; height: number };
  const image = message.subarray(4 + n, 4 + n + header.imageBytes);
  const meta = await sharp(image).metadata();
  const half = Math.floor(meta.width! / 2);
  const one = async (flip: boolean): Promise<Pixels> => {
    let s = sharp(image).extract({ left: eye * half, top: 0, width: half, height: meta.height! }).resize(width, height, { fit: 'fill', kernel: 'linear' });
    if (flip) s = s.flip();
    const { data, info } = await s.ensureAlpha().raw().toBuffer({ resolveWithObject: true });
    return { data: new Uint8Array(data.buffer, data.byteOffset, data.length), width: info.width, height: info.height };
  };
  return { upright: await one(false), flipped: await one(true) };
}

/** A rectangle of an RGBA image. */
function crop(p: Pixels, x0: number, y0: number, w: number, h: number): Pixels {
  const data = new Uint8Array(w * h * 4);
  for (let y = 0; y < h; y++) data.set(p.data.subarray(((y0 + y) * p.width + x0) * 4, ((y0 + y) * p.width + x0 + w) * 4), y * w * 4);
  return { data, width: w, height: h };
}

/** Mean absolute difference of the RGB channels of two images of one size. */
function meanAbsDiff(a: Pixels, b: Pixels): number {
  let s = 0;
  for (let i = 0; i < a.data.length; i += 4) s += Math.abs(a.data[i] - b.data[i]) + Math.abs(a.data[i + 1] - b.data[i + 1]) + Math.abs(a.data[i + 2] - b.data[i + 2]);
  return s / ((a.data.length / 4) * 3);
}

/** Distinct RGB values among a sample of pixels (a picture has many, a clear colour one). */
function distinctColours(p: Pixels): number {
  const seen = new Set<number>();
  for (let i = 0; i < p.data.length; i += 4 * 97) seen.add((p.data[i] << 16) | (p.data[i + 1] << 8) | p.data[i + 2]);
  return seen.size;
}

/**
 * How well `after` is `before` seen by a head turned `yaw` radians to the left (about its up axis) since, with
 * projection `p` (column-major): the mean absolute RGB difference between each pixel of `after` and the pixel of
 * `before` that looks the same way (the direction through the pixel, rotated into the earlier head's frame and
 * projected), over the pixels that see into `before`'s view. A rotational time-warp of a held frame makes it small.
 */
function rotationWarpDiff(before: Pixels, after: Pixels, yaw: number, p: number[]): number {
  const c = Math.cos(yaw), s = Math.sin(yaw), w = after.width, h = after.height;
  let sum = 0, n = 0;
  for (let y = 0; y < h; y += 2) for (let x = 0; x < w; x += 2) {
    const dx = ((x + 0.5) / w * 2 - 1) / p[0], dy = (1 - (y + 0.5) / h * 2) / p[5], dz = -1;
    const bx = c * dx + s * dz, bz = -s * dx + c * dz; // R_y(yaw): the now-head's direction in the earlier head's frame
    if (bz >= 0) continue;
    const nx = (p[0] * bx) / -bz, ny = (p[5] * dy) / -bz;
    if (Math.abs(nx) > 0.98 || Math.abs(ny) > 0.98) continue;
    const px = Math.floor(((nx + 1) / 2) * w), py = Math.floor(((1 - ny) / 2) * h);
    const i = (y * w + x) * 4, j = (py * w + px) * 4;
    sum += Math.abs(after.data[i] - before.data[j]) + Math.abs(after.data[i + 1] - before.data[j + 1]) + Math.abs(after.data[i + 2] - before.data[j + 2]);
    n += 3;
  }
  return sum / n;
}

/** A fresh 800×480 page on the farm's sample VR page with the operator key and `query`, and its console errors and page errors as they happen. */
async function openVrPage(query: string): Promise<{ page: Page; errors: string[] }> {
  const page = await browser.newPage({ viewport: { width: 800, height: 480 } });
  const errors: string[] = [];
  page.on('console', (m) => {
    // A 503 the page answers by retrying (no free session slot for a moment, e.g. right after a re-open) is the
    // browser's network log, not a page error; anything else is.
    if (m.type() === 'error' && !/^Failed to load resource: the server responded with a status of 503\b/.test(m.text())) errors.push(m.text());
  });
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(`${farm.url}/sample/vr?key=${TEST_API_KEY}&${query}`);
  return { page, errors };
}

/** The view canvas as a PNG data URL. */
function canvasData(page: Page): Promise<string> {
  return page.evaluate(() => (document.getElementById('view') as HTMLCanvasElement).toDataURL('image/png'));
}

/** The view canvas's RGBA pixels, rows top-down (decoded from its lossless PNG). */
async function canvasPixels(page: Page): Promise<{ data: Uint8Array; width: number; height: number }> {
  const png = Buffer.from((await canvasData(page)).replace(/^data:image\/png;base64,/, ''), 'base64');
  const { data, info } = await sharp(png).ensureAlpha().raw().toBuffer({ resolveWithObject: true });
  return { data: new Uint8Array(data.buffer, data.byteOffset, data.length), width: info.width, height: info.height };
}

/** Centroid (x) and count of red pixels in the left eye's half of the page's canvas. */
async function redCentroid(page: Page): Promise<{ x: number; count: number }> {
  const { data: d, width } = await canvasPixels(page);
  const half = Math.floor(width / 2); // as getImageData(0, 0, width / 2, …) took it
  let sx = 0, n = 0;
  for (let i = 0; i < d.length; i += 4) {
    const x = (i / 4) % width;
    if (x < half && d[i] > 90 && d[i] > 1.6 * d[i + 1] && d[i] > 1.6 * d[i + 2]) {
      sx += x;
      n++;
    }
  }
  return { x: n ? sx / n : NaN, count: n };
}
