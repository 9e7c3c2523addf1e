/**
 * `npx tsx bench/draw-ab.ts`: A/B of one warm frame's draw, interleaved in one run: the raw in-process renderer
 * (FrameRenderer + encodeImage, as bench:farm's raw single frame) against a node's wide render process (a
 * TaskSandbox with a rasterizer thread per core, the same render task each time, output inline: no upload), each
 * drawn after `--gap` ms idle (as a lone job's frame reaches a node) and right after another frame (back to back,
 * as bench:farm's raw single frames were timed), and the raw renderer after `--gap` ms of this thread spinning.
 * Prints each case's medians of render (pose + draw calls), readback (read + resolve) and encode, and the renders.
 * Options: --repeats N (rounds) --gap MS --frame N --size WxH --threads N (the sandbox's LP_NUM_THREADS) --scene PATH
 *          --idle N: idle render processes beside it (LP_NUM_THREADS 0, warmed), as a node's slots (default 2)
 */
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { EncodeSpec, SCENE_LIMITS_DEFAULTS, ViewSpec } from '../api/protocol/render-spec.ts';
import type { LeasedTask } from '../api/protocol/task.ts';
import { TaskSandbox } from '../render-node/agent/task-sandbox.ts';
import { sha256 } from '../render-node/agent/scene-cache.ts';
import { createHeadlessGLBackend } from '../render-node/gl/headless-gl-backend.ts';
import { encodeImage } from '../render-node/output/encode-image.ts';
import { FrameRenderer } from '../render-node/render/frame-renderer.ts';
import { NODE_RENDER_PLATFORM } from '../render-node/render/node-render-platform.ts';
import { readScene } from '../scene-check/read-scene.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const { values: args } = parseArgs({
  options: {
    scene: { type: 'string', default: join(ROOT, 'scenes', 'animated-trs.glb') },
    repeats: { type: 'string', default: '9' },
    gap: { type: 'string', default: '180' },
    frame: { type: 'string', default: '60' },
    size: { type: 'string', default: '1920x1080' },
    threads: { type: 'string', default: String(availableParallelism()) },
    idle: { type: 'string', default: '2' },
  },
});
const [width, height] = args.size!.split('x').map(Number);
const view = ViewSpec.parse({ width, height, fps: 60, ssaa: 1 });
const encode = EncodeSpec.parse({ format: 'png' });
const frame = Number(args.frame);
const gap = Number(args.gap);
const repeats = Number(args.repeats);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const median = (xs: number[]) => {
  const v = [...xs].sort((a, b) => a - b);
  return v.length % 2 ? v[(v.length - 1) / 2] : (v[v.length / 2 - 1] + v[v.length / 2]) / 2;
};

const glbBytes = new Uint8Array(await readFile(args.scene!));
const id = sha256(glbBytes);
const cacheDir = await mkdtemp(join(tmpdir(), 'draw-ab-'));
await writeFile(join(cacheDir, `${id}.glb`), glbBytes);

const renderer = new FrameRenderer(await createHeadlessGLBackend(), NODE_RENDER_PLATFORM);
const loaded = await renderer.loadScene((await readScene({ path: args.scene! })).glb, SCENE_LIMITS_DEFAULTS);
const log = { info() {}, warn() {}, error() {}, debug() {} } as never;
const sandbox = new TaskSandbox({ cacheDir, maxLoadedScenes: 2, maxTexturePixels: 4096 * 4096, timeCapMs: 60_000, memoryCapBytes: 8 * 2 ** 30, rasterThreads: Number(args.threads), log });
// Idle render processes beside it, as a node's slots (LP_NUM_THREADS 0), each started and warmed with one task.
const idleBoxes = Array.from({ length: Number(args.idle) }, () => new TaskSandbox({ cacheDir, maxLoadedScenes: 2, maxTexturePixels: 4096 * 4096, timeCapMs: 60_000, memoryCapBytes: 8 * 2 ** 30, rasterThreads: 0, log }));
const task = (n: number): LeasedTask => ({
  taskId: `t${n}`, leaseId: `l${n}`, leaseExpiresAt: Date.now() + 60_000, jobId: 'j', kind: 'render', frame, attempt: 1,
  scene: { id, url: 'http://127.0.0.1:9/scene.glb' }, view, encode, final: true,
  output: { key: 'k', maxBytes: 64 * 2 ** 20, token: 'x', inlineMaxBytes: 32 * 2 ** 20 },
});
const noUpload = () => Promise.reject(new Error('inline only'));

type Parts = Record<'render' | 'readback' | 'encode' | 'total', number[]>;
const parts = (): Parts => ({ render: [], readback: [], encode: [], total: [] });
const sides: Record<string, Parts> = {};
const put = (name: string, t: Record<string, number>) => {
  const p = (sides[name] ??= parts());
  for (const k of Object.keys(p) as (keyof Parts)[]) p[k].push(t[k]);
};
async function rawOnce(name?: string) {
  const t0 = performance.now();
  const image = renderer.render(loaded, view, frame);
  const t1 = performance.now();
  await encodeImage(image, encode, { software: renderer.version, description: `frame ${frame}` });
  if (name) put(name, { render: image.timings.pose + image.timings.render, readback: image.timings.readback + image.timings.resolve, encode: performance.now() - t1, total: performance.now() - t0 });
}
let n = 0;
async function boxOnce(name?: string) {
  const t0 = performance.now();
  const out = await sandbox.run(task(n++), new AbortController().signal, noUpload);
  if (name) put(name, { render: out.timings.render, readback: out.timings.readback, encode: out.timings.encode, total: performance.now() - t0 });
}
const spin = (ms: number) => { const end = performance.now() + ms; while (performance.now() < end); };
// Warm both (scene loaded, shaders compiled, 1080p buffers allocated).
for (let i = 0; i < 2; i++) { await rawOnce(); await boxOnce(); }
for (const b of idleBoxes) await b.run(task(1000), new AbortController().signal, noUpload);
for (let i = 0; i < repeats; i++) {
  await sleep(gap); await rawOnce('raw after idle'); await rawOnce('raw back-to-back');
  await sleep(gap); await boxOnce('sandbox after idle'); await boxOnce('sandbox back-to-back');
  await sleep(gap); spin(gap); await rawOnce('raw after spin');
}
const fmt = (p: Parts) => Object.entries(p).map(([k, v]) => `${k} ${median(v).toFixed(1)}`).join(' / ');
let text = `gap ${gap} ms, ${repeats} rounds, sandbox LP_NUM_THREADS=${args.threads} (medians, ms)\n`;
for (const [k, p] of Object.entries(sides)) text += ` ${k.padEnd(22)} ${fmt(p)}   [render ${p.render.map((v) => v.toFixed(0)).join(',')}]\n`;
process.stdout.write(text);
await sandbox.dispose();
for (const b of idleBoxes) await b.dispose();
renderer.dispose();
process.exit(0);
