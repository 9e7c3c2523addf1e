/**
 * `npm run bench:session-frame`: where a headless-gl session frame's time goes inside one render process, without the
 * farm around it (no API, node, socket or client competing for the cores): the textured sample (or --scenes), 2×eye,
 * a smooth head motion, per frame: `draw` (the StereoRenderer's colour pass: pose the eye cameras, both eyes' draws,
 * glFinish), `readback` (readPixels + un-premultiply into the frame's buffer), `encode` (the session encoder's JPEG,
 * sharp/libjpeg-turbo q80), `decode` (what a client then does: sharp to raw) and `sum` (their sum: a frame's
 * latency in the render process when nothing overlaps). Each configuration runs in its own child process
 * (llvmpipe reads LP_NUM_THREADS once, at start), interleaved round by round; the medians per configuration go to a
 * table on stdout and bench/results/session-frame-latest.json.
 *
 *   npm run bench:session-frame -- [--threads default,0] [--fidelity full,fast] [--eye 512] [--frames 40] [--rounds 3]
 *
 * `--threads`: LP_NUM_THREADS per configuration (`default`: unset, Mesa's one rasterizer thread per core, what a
 * session's render process gets; `0`: drawing on the process's own thread, what batch render processes get when
 * their slots fill the cores).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { constants, createReadStream, mkdtempSync, openSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Worker } from 'node:worker_threads';
import sharp from 'sharp';
import { SessionRender } from '../api/protocol/session.ts';
import { stereoPose } from '../api/protocol/session-pose.ts';
import { encodeSessionImage, type EncodeRequest, type EncoderReturn } from '../render-node/agent/session-encoder.ts';
import { createHeadlessGLBackend } from '../render-node/gl/headless-gl-backend.ts';
import { FrameRenderer } from '../render-node/render/frame-renderer.ts';
import { NODE_RENDER_PLATFORM } from '../render-node/render/node-render-platform.ts';
import { StereoRenderer } from '../render-node/render/stereo-renderer.ts';
import { readScene } from '../scene-check/read-scene.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const { values: a } = parseArgs({
  options: {
    scenes: { type: 'string', default: 'textured-pbr' },
    eye: { type: 'string', default: '512' },
    frames: { type: 'string', default: '40' },
    rounds: { type: 'string', default: '3' },
    fidelity: { type: 'string', default: 'full,fast' },
    threads: { type: 'string', default: 'default,0' },
    pipeline: { type: 'string', default: 'serial' },
    child: { type: 'boolean', default: false },
    'results-dir': { type: 'string', default: join(ROOT, 'bench', 'results') },
  },
});
const STEPS = ['draw', 'readback', 'encode', 'decode', 'sum', 'latency', 'interval'] as const;
const median = (xs: number[]) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)];

/** The write end of a pipe whose reader drops everything (the encoder thread's frame pipe; it needs a pipe, not a file). */
function framePipe(): number {
  const fifo = join(mkdtempSync(join(tmpdir(), 'tessera-session-frame-')), 'frames');
  execFileSync('mkfifo', [fifo]);
  const reader = openSync(fifo, constants.O_RDONLY | constants.O_NONBLOCK);
  createReadStream('', { fd: reader }).on('data', () => {}).on('error', () => {});
  return openSync(fifo, 'w');
}

/** One configuration in this process: the medians of `frames` frames after a warm-up. */
async function measure(sceneName: string, fidelity: string, edge: number, count: number, pipeline: string): Promise<Record<(typeof STEPS)[number], number>> {
  const frames = new FrameRenderer(await createHeadlessGLBackend(), NODE_RENDER_PLATFORM);
  const bytes = new Uint8Array(await readFile(join(ROOT, 'scenes', `${sceneName}.glb`)));
  const loaded = await frames.loadScene((await readScene({ bytes, name: `${sceneName}.glb` })).glb, { maxTexturePixels: 1 << 26 });
  // The session defaults of POST /v1/sessions (SessionRequest), as bench:vr opens them.
  const render = SessionRender.parse({
    eye: { width: edge, height: edge }, format: 'jpeg', quality: 80, depth: false, maxFps: 90, toneMapping: 'neutral', exposure: 1,
    background: 'environment', environmentIntensity: 1, keyLight: 'auto', camera: { kind: 'auto' }, ...(fidelity === 'fast' ? { fidelity: 'fast' } : {}),
  });
  const stereo = new StereoRenderer(frames, loaded, render);
  const { position, target, fov } = stereo.start;
  const pose = (i: number) => {
    const t = i / 90;
    return stereoPose([position[0] + 0.2 * Math.sin(t), position[1] + 0.05 * Math.sin(2 * t), position[2]], target, { fov, aspect: 1 });
  };
  const out = new Uint8Array(edge * 2 * edge * 4);
  for (let i = 0; i < 3; i++) stereo.render(pose(i), out);
  const rows = Object.fromEntries(STEPS.map((k) => [k, [] as number[]])) as Record<(typeof STEPS)[number], number[]>;
  // The render process's pipeline, as sessions run it: its encoder thread (session-encoder.ts) encodes a frame while
  // the main thread draws the next (`overlap`, at most one frame encoding meanwhile: session-host.ts), or the next
  // draw waits for the encode (`serial`). latency: draw start → encoded; interval: time between encoded frames.
  // The session's own encoder thread, writing its frame records to a pipe read and dropped here instead of the node's; it
  // hands each frame's pixel buffer back once the frame is written, in order.
  const encoder = new Worker(
    `import(${JSON.stringify(import.meta.resolve('tsx/esm/api'))}).then((m) => { m.register(); return import(${JSON.stringify(new URL('../render-node/agent/session-encoder.ts', import.meta.url).href)}); });`,
    { eval: true, workerData: { fd: framePipe() } },
  );
  const waiting: (() => void)[] = [];
  encoder.on('message', (m: EncoderReturn) => m.type === 'buffer' && waiting.shift()?.());
  const encoding: Promise<void>[] = [];
  const frame = (i: number, latencies: number[]) => {
    const t0 = performance.now();
    stereo.render(pose(i), out);
    const data = out.slice();
    encoding.push(new Promise<void>((resolve) => waiting.push(resolve)).then(() => void latencies.push(performance.now() - t0)));
    const job: EncodeRequest = { id: i, data, depth: null, width: edge * 2, height: edge, render: { format: render.format, quality: render.quality } };
    encoder.postMessage(job, [data.buffer]);
  };
  // Warm-up: the thread's start (tsx, sharp) is not a frame's.
  for (let i = 0; i < 3; i++) frame(i, []), await encoding.shift();
  const p0 = performance.now();
  for (let i = 0; i < count; i++) {
    if (encoding.length > (pipeline === 'overlap' ? 1 : 0)) await encoding.shift();
    frame(i, rows.latency);
  }
  await Promise.all(encoding);
  rows.interval.push((performance.now() - p0) / count);
  await encoder.terminate();
  for (let i = 0; i < count; i++) {
    const { ms } = stereo.drawColour(pose(i));
    const t1 = performance.now();
    stereo.readColour(out);
    const t2 = performance.now();
    const jpg = await encodeSessionImage(out, edge * 2, edge, render);
    const t3 = performance.now();
    await sharp(jpg).raw().toBuffer();
    const t4 = performance.now();
    rows.draw.push(ms);
    rows.readback.push(t2 - t1);
    rows.encode.push(t3 - t2);
    rows.decode.push(t4 - t3);
    rows.sum.push(ms + t4 - t1);
  }
  frames.dispose();
  return Object.fromEntries(STEPS.map((k) => [k, Math.round(median(rows[k]) * 100) / 100])) as Record<(typeof STEPS)[number], number>;
}

if (a.child) {
  const r = await measure(a.scenes!, a.fidelity!, Number(a.eye), Number(a.frames), a.pipeline!);
  process.stdout.write(JSON.stringify(r) + '\n');
  process.exit(0);
}

const results: Record<string, unknown>[] = [];
const log = (line: string) => process.stderr.write(line + '\n');
for (let round = 1; round <= Number(a.rounds); round++) {
  for (const sceneName of a.scenes!.split(',')) for (const fidelity of a.fidelity!.split(',')) for (const threads of a.threads!.split(',')) for (const pipeline of a.pipeline!.split(',')) {
    const env = { ...process.env };
    if (threads === 'default') delete env.LP_NUM_THREADS;
    else env.LP_NUM_THREADS = threads;
    const child = spawnSync(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), '--child', '--scenes', sceneName, '--fidelity', fidelity, '--eye', a.eye!, '--frames', a.frames!, '--pipeline', pipeline], { cwd: ROOT, env, encoding: 'utf8' });
    if (child.status !== 0) throw new Error(`the ${sceneName} ${fidelity} LP_NUM_THREADS=${threads} ${pipeline} run failed:\n${child.stderr}`);
    const r = JSON.parse(child.stdout.trim().split('\n').pop()!);
    const row = { round, scene: sceneName, eye: `${a.eye}x${a.eye}`, fidelity, lpNumThreads: threads, pipeline, ...r, loadavg: loadavg()[0] };
    log(JSON.stringify(row));
    results.push(row);
  }
}
// Per configuration: the median over rounds of each step's median.
const keyOf = (r: Record<string, unknown>) => `${r.scene}|${r.fidelity}|${r.lpNumThreads}|${r.pipeline}`;
const keys = [...new Set(results.map(keyOf))];
const summary = keys.map((key) => {
  const rs = results.filter((r) => keyOf(r) === key);
  const [scene, fidelity, lpNumThreads, pipeline] = key.split('|');
  return { scene, fidelity, lpNumThreads, pipeline, ...Object.fromEntries(STEPS.map((k) => [k, median(rs.map((r) => r[k] as number))])), rounds: rs.map((r) => Object.fromEntries(STEPS.map((k) => [k, r[k]]))) };
});
process.stdout.write(`| scene | eye | fidelity | LP_NUM_THREADS | pipeline | ${STEPS.join(' ms | ')} ms |\n|---|---|---|---|---|${'---|'.repeat(STEPS.length)}\n`);
for (const s of summary) process.stdout.write(`| ${s.scene} | ${a.eye}² ×2 | ${s.fidelity} | ${s.lpNumThreads} | ${s.pipeline} | ${STEPS.map((k) => (s as Record<string, unknown>)[k]).join(' | ')} |\n`);
await mkdir(a['results-dir']!, { recursive: true });
const out = { at: new Date().toISOString(), machine: { cpus: cpus().length, model: cpus()[0]?.model, loadavg: loadavg() }, note: 'medians over rounds of per-round medians; see loadavg per round', summary, results };
await writeFile(join(a['results-dir']!, 'session-frame-latest.json'), JSON.stringify(out, null, 2) + '\n');
