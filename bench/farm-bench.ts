/**
 * `npm run bench:farm`: what the farm costs over rendering on this machine, in one run.
 *   1. raw: renderLocal (no farm) renders the animation into files;
 *   2. the farm end to end (pack + upload + submit + render + download every frame) with 1 node, then 2 nodes;
 *   3. time to first frame: one frame as a job of its own on a warm node (scene uploaded and cached),
 *      from submitting to the file on disk, against the raw render+encode of the same frame.
 * Prints a table, writes bench/results/farm-<timestamp>.json and farm-latest.json.
 * Options: --frames 0-120 --fps 60 --size 1920x1080 --tile N --nodes 1,2 --single-repeats 5 --scene PATH
 */
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { createTesseraClient } from '../api/client/index.ts';
import { parseFrameList, parseSize } from '../api/protocol/frame-list.ts';
import { EncodeSpec, ViewSpec } from '../api/protocol/render-spec.ts';
import { startFarm } from '../infra/farm/start-farm.ts';
import { renderOnFarm, type FarmRenderSummary } from '../infra/cli/render-on-farm.ts';
import { renderLocal } from '../render-node/local-render.ts';
import { decodeRaw } from '../render-node/output/stitch-tiles.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
/** Targets from the farm issue. */
const TARGETS = { overhead: 0.1, singleFrameRatio: 1.5 };

const { values: args } = parseArgs({
  options: {
    scene: { type: 'string', default: join(ROOT, 'scenes', 'animated-trs.glb') },
    frames: { type: 'string', default: '0-120' },
    fps: { type: 'string', default: '60' },
    size: { type: 'string', default: '1920x1080' },
    tile: { type: 'string' },
    nodes: { type: 'string', default: '1,2' },
    'single-frame': { type: 'string', default: '60' },
    'single-repeats': { type: 'string', default: '5' },
    'results-dir': { type: 'string', default: join(ROOT, 'bench', 'results') },
  },
});

const frames = parseFrameList(args.frames!);
const { width, height } = parseSize(args.size!);
const fps = Number(args.fps);
const tile = args.tile ? Number(args.tile) : undefined;
const nodeCounts = args.nodes!.split(',').map(Number);
const singleFrame = Number(args['single-frame']);
const singleRepeats = Number(args['single-repeats']);
const view = ViewSpec.parse({ width, height, fps });
const encode = EncodeSpec.parse({ format: 'png' });
const request = { frames: args.frames!, size: { width, height }, fps, tile, format: 'png' as const };

const log = (line: string) => process.stderr.write(line + '\n');
const ms = (v: number) => `${v.toFixed(0)} ms`;
const s = (v: number) => `${(v / 1000).toFixed(2)} s`;
const median = (xs: number[]) => {
  const v = [...xs].sort((a, b) => a - b);
  return v.length % 2 ? v[(v.length - 1) / 2] : (v[v.length / 2 - 1] + v[v.length / 2]) / 2;
};
/** A hash of the code the bench runs (the raw runs load it once; each farm's nodes load it when they start). */
async function hashSources(): Promise<string> {
  const hash = createHash('sha256');
  for (const dir of ['render-node', 'api', 'infra']) {
    for (const entry of (await readdir(join(ROOT, dir), { recursive: true })).sort()) {
      if (!entry.endsWith('.ts')) continue;
      hash.update(entry).update(await readFile(join(ROOT, dir, entry)));
    }
  }
  return hash.digest('hex');
}
const samePixels = async (a: string, b: string) => {
  const [x, y] = await Promise.all([readFile(a), readFile(b)]);
  if (x.equals(y)) return true;
  const [p, q] = await Promise.all([decodeRaw(x), decodeRaw(y)]);
  return p.width === q.width && p.height === q.height && Buffer.from(p.data).equals(Buffer.from(q.data));
};

const work = await mkdtemp(join(tmpdir(), 'tessera-farm-bench-'));
const started = new Date();
const load0 = loadavg();
log(`farm bench: ${basename(args.scene!)}, ${frames.length} frames ${width}×${height} at ${fps} fps${tile ? `, tiles of ${tile}` : ''}; work in ${work}`);

// 1. Raw: the renderer alone, in this process, writing files. Like a farm node when its job arrives, the process
// already has its GL context (an untimed warm-up frame starts it) and loads the scene inside the timing. It runs
// before and after the farm runs and the baseline is their mean: load from other work on this machine that comes
// and goes then shows up as the spread between the two rather than skewing one side.
interface RawRun {
  totalMs: number;
  ms: Awaited<ReturnType<typeof renderLocal>>['ms'];
  files: string[];
  renderer: string;
  gl: string;
}
async function rawRun(tag: string): Promise<RawRun> {
  const r = await renderLocal({ scene: args.scene!, frames, view, encode, tile, outDir: join(work, `raw-${tag}`) });
  log(`raw (${tag}): ${s(r.ms.total)} for ${r.frames.length} frames (scene load ${ms(r.ms.load)})`);
  return { totalMs: r.ms.total, ms: r.ms, files: r.files, renderer: r.renderer, gl: r.gl };
}

/** One frame alone, warm: render + encode + write, scene load left out (the warm farm node has it cached). */
async function rawSingle(tag: string): Promise<{ medianMs: number; samplesMs: number[] }> {
  const samplesMs: number[] = [];
  for (let i = 0; i < singleRepeats; i++) {
    const r = await renderLocal({ scene: args.scene!, frames: [singleFrame], view, encode, outDir: join(work, `raw-single-${tag}-${i}`) });
    samplesMs.push(r.ms.total - r.ms.load);
  }
  log(`raw single frame ${singleFrame} (${tag}): render+encode+write median ${ms(median(samplesMs))} of ${samplesMs.map((v) => v.toFixed(0)).join(', ')} ms`);
  return { medianMs: median(samplesMs), samplesMs };
}

interface FarmRun {
  nodes: number;
  totalMs: number;
  summary: Omit<FarmRenderSummary, 'files' | 'frames'>;
  framesWithRawPixels: number;
  single?: { repeats: number; medianMs: number; samplesMs: number[]; reuploadMs: number; nodes: string[] };
}

/** 2 and 3. The farm end to end, and (on the first farm) one frame at a time on a warm node. */
async function farmRun(n: number, rawFiles: string[], withSingle: boolean): Promise<FarmRun> {
  log(`farm with ${n} node(s): starting …`);
  const farm = await startFarm({ nodes: n, port: 0, dataDir: join(work, `farm-${n}`), log: () => {} });
  try {
    await farm.ready;
    const t0 = performance.now();
    const summary = await renderOnFarm({ api: farm.url, scene: args.scene!, request, outDir: join(work, `farm-${n}-out`) });
    const totalMs = performance.now() - t0;
    // Same renderer, same options: the farm's frames must have the raw run's pixels (metadata may differ).
    let same = 0;
    for (let i = 0; i < rawFiles.length; i++) if (await samePixels(rawFiles[i], summary.files[i])) same++;
    const { files: _files, frames: _frames, ...rest } = summary;
    const run: FarmRun = { nodes: n, totalMs, summary: rest, framesWithRawPixels: same };
    log(`farm (${n} node(s)): ${s(totalMs)} end to end (job ${s(summary.ms.job)}, first frame ${ms(summary.ms.firstFrame)}); ${same}/${rawFiles.length} frames with the raw run's pixels`);
    if (withSingle) {
      // The scene is stored and cached on the node, which has rendered it: the upload is a re-upload (deduplicated),
      // and the time counted is from submitting the job to the frame's file on disk.
      const client = createTesseraClient({ baseUrl: farm.url });
      const tu = performance.now();
      await client.uploadScene(new Uint8Array(await readFile(args.scene!)));
      const reuploadMs = performance.now() - tu;
      const samplesMs: number[] = [];
      const nodes: string[] = [];
      for (let i = 0; i < singleRepeats; i++) {
        const one = await renderOnFarm({ api: farm.url, scene: args.scene!, request: { ...request, frames: String(singleFrame), tile: undefined }, outDir: join(work, `single-${n}-${i}`) });
        samplesMs.push(one.ms.firstFrame);
        nodes.push(one.nodes.map((x) => x.node).join('+'));
      }
      run.single = { repeats: singleRepeats, medianMs: median(samplesMs), samplesMs, reuploadMs, nodes };
      log(`single frame ${singleFrame} (${n} node(s)): submit → file on disk, median ${ms(run.single.medianMs)} of ${samplesMs.map((v) => v.toFixed(0)).join(', ')} ms`);
    }
    return run;
  } finally {
    await farm.stop();
  }
}

await renderLocal({ scene: args.scene!, frames: [0], view: ViewSpec.parse({ width: 64, height: 64 }), encode, outDir: join(work, 'warm-up') });
const sourcesBefore = await hashSources();
const rawBefore = await rawRun('before');
const singleBefore = await rawSingle('before');
const farmRuns: FarmRun[] = [];
for (const n of nodeCounts) farmRuns.push(await farmRun(n, rawBefore.files, n === nodeCounts[0]));
const rawAfter = await rawRun('after');
const singleAfter = await rawSingle('after');
const sourcesChanged = (await hashSources()) !== sourcesBefore;
const rawMs = (rawBefore.totalMs + rawAfter.totalMs) / 2;
const rawFrameMs = (singleBefore.medianMs + singleAfter.medianMs) / 2;

// The table.
const cells = (label: string, total: number, spread = ''): string[] => [label, s(total) + spread, (frames.length / (total / 1000)).toFixed(2), `${(total / rawMs).toFixed(2)}×`];
const rows: string[][] = [
  ['run', 'total', 'frames/s', 'vs raw'],
  cells('raw local (renderLocal), mean of before/after', rawMs, ` (${s(rawBefore.totalMs)} / ${s(rawAfter.totalMs)})`),
  ...farmRuns.map((r) => cells(`farm end to end, ${r.nodes} node(s)`, r.totalMs)),
];
const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
const table = rows.map((r) => r.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]) : cell.padStart(widths[c]))).join('   ')).join('\n');

const one = farmRuns.find((r) => r.nodes === 1);
const overhead = one ? one.totalMs / rawMs - 1 : null;
const single = farmRuns.find((r) => r.single)?.single;
const singleRatio = single ? single.medianMs / rawFrameMs : null;
const checks = [
  {
    name: `farm overhead over raw, 1 node (${frames.length} frames end to end: upload, render, download)`,
    required: `≤ ${TARGETS.overhead * 100}%`,
    measured: overhead === null ? null : `${(overhead * 100).toFixed(1)}%`,
    met: overhead === null ? null : overhead <= TARGETS.overhead,
  },
  {
    name: `single ${width}×${height} frame on a warm node, submit → file, vs raw render+encode+write of one frame`,
    required: `≤ ${TARGETS.singleFrameRatio}×`,
    measured: singleRatio === null ? null : `${singleRatio.toFixed(2)}× (${ms(single!.medianMs)} vs ${ms(rawFrameMs)})`,
    met: singleRatio === null ? null : singleRatio <= TARGETS.singleFrameRatio,
  },
];
const load1 = loadavg();
const report = {
  startedAt: started.toISOString(),
  finishedAt: new Date().toISOString(),
  host: { cpus: cpus().length, cpuModel: cpus()[0]?.model, memGiB: Math.round(totalmem() / 2 ** 30), node: process.version, loadAvg1mBefore: load0[0], loadAvg1mAfter: load1[0] },
  options: { scene: basename(args.scene!), frames: args.frames, frameCount: frames.length, fps, width, height, tile: tile ?? null, format: 'png', singleFrame, singleRepeats },
  raw: {
    meanMs: rawMs,
    singleFrameMs: rawFrameMs,
    before: { ...rawBefore, files: undefined, single: singleBefore },
    after: { ...rawAfter, files: undefined, single: singleAfter },
  },
  sourcesChangedDuringRun: sourcesChanged,
  farm: farmRuns,
  targets: checks,
};

process.stdout.write(`\n${table}\n\n`);
for (const c of checks) process.stdout.write(`${c.met === null ? 'n/a    ' : c.met ? 'met    ' : 'NOT MET'}  ${c.name}: ${c.measured ?? 'not measured'} (target ${c.required})\n`);
if (Math.max(load0[0], load1[0]) > 1) {
  process.stdout.write(`note: the 1-minute load average was ${load0[0].toFixed(2)} before and ${load1[0].toFixed(2)} after (on ${cpus().length} cores): other work on this machine skews these numbers\n`);
}

if (sourcesChanged) {
  process.stdout.write('WARNING: files under render-node/, api/ or infra/ changed during the run: the nodes (started later) may run other code than the raw runs; run again\n');
}

await mkdir(args['results-dir']!, { recursive: true });
const stamp = started.toISOString().replace(/[:.]/g, '-').replace(/-\d{3}Z$/, 'Z');
const json = JSON.stringify(report, null, 2) + '\n';
const file = join(args['results-dir']!, `farm-${stamp}.json`);
await writeFile(file, json);
await writeFile(join(args['results-dir']!, 'farm-latest.json'), json);
process.stdout.write(`results: ${file}\n`);
await rm(work, { recursive: true, force: true });
process.exit(0);
