/**
 * `npm run bench:panorama` (also run by `npm run bench:render`): how long the panoramic projections take for the
 * textured sample on this machine, against the goals (equirect 4096×2048 ≤ 2 s, ODS 4096×4096 ≤ 30 s).
 * Each case renders the whole frame in one process (as `tessera render --local` does, no tiles), then encodes
 * it as PNG; the first render of a case is a warm-up (shader compilation) and is reported apart.
 * Writes a table to stdout and bench/results/panorama-latest.json. On a shared machine the other processes' CPU
 * share is recorded beside every run: wall times grow with it, this process's CPU time much less.
 *
 *   npx tsx bench/panorama-bench.ts [--quick] [--runs N]
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ViewSpec, type ViewSpecInput } from '../api/protocol/render-spec.ts';
import { createHeadlessGLBackend } from '../render-node/gl/headless-gl-backend.ts';
import { encodeImage } from '../render-node/output/encode-image.ts';
import { FrameRenderer } from '../render-node/render/frame-renderer.ts';
import { NODE_RENDER_PLATFORM } from '../render-node/render/node-render-platform.ts';
import { readScene } from '../scene-check/read-scene.ts';
import { startCpuMonitor } from './cpu-contention.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const args = process.argv.slice(2);
const quick = args.includes('--quick');
const runsArg = args.indexOf('--runs');
const runs = runsArg >= 0 ? Number(args[runsArg + 1]) : quick ? 1 : 3;

interface Case {
  name: string;
  view: ViewSpecInput;
  /** Goal for one warm render + PNG encode, in seconds (from issue 13), if any. */
  goalS?: number;
  runs: number;
}

const camera = { kind: 'look' as const, position: [0, 0.2, 2.5] as [number, number, number], target: [0, 0, 0] as [number, number, number] };
const base = { background: 'environment' as const, camera };
const CASES: Case[] = quick
  ? [
      { name: 'equirect', view: { ...base, width: 1024, height: 512, projection: 'equirect' }, runs },
      { name: 'equirect-stereo', view: { ...base, width: 1024, height: 1024, projection: 'equirect-stereo' }, runs },
    ]
  : [
      { name: 'equirect', view: { ...base, width: 4096, height: 2048, projection: 'equirect' }, goalS: 2, runs },
      { name: 'equirect-stereo', view: { ...base, width: 4096, height: 4096, projection: 'equirect-stereo' }, goalS: 30, runs: Math.min(runs, 2) },
      { name: 'cube', view: { ...base, width: 6 * 1024, height: 1024, projection: 'cube' }, runs },
      { name: 'stereo', view: { ...base, width: 2 * 1024, height: 1024, projection: 'stereo' }, runs },
      { name: 'perspective', view: { ...base, width: 2048, height: 1024 }, runs },
    ];

interface Run {
  wallMs: number;
  cpuMs: number;
  renderMs: number;
  readbackMs: number;
  resampleMs: number;
  encodeMs: number;
  totalMs: number;
  othersCpuPct: number | null;
}

const round = (v: number) => Math.round(v * 10) / 10;

async function main() {
  const monitor = startCpuMonitor();
  const startedAt = new Date().toISOString();
  const read = await readScene({ path: join(ROOT, 'scenes/textured-pbr.glb') });
  const renderer = new FrameRenderer(await createHeadlessGLBackend(), NODE_RENDER_PLATFORM);
  const results: { name: string; size: string; goalS: number | null; warmup: Run; runs: Run[]; medianTotalMs: number; metGoal: boolean | null }[] = [];
  try {
    const loaded = await renderer.loadScene(read.glb, { maxTexturePixels: 256 * 1024 * 1024 });
    for (const c of CASES) {
      const view = ViewSpec.parse(c.view);
      const measured: Run[] = [];
      for (let i = 0; i <= c.runs; i++) {
        const m0 = monitor.mark();
        const cpu0 = process.cpuUsage();
        const t0 = performance.now();
        const r = renderer.render(loaded, view, 0);
        const t1 = performance.now();
        await encodeImage(r, { format: 'png', quality: 90, lossless: true }, { software: renderer.version });
        const t2 = performance.now();
        const cpu = process.cpuUsage(cpu0);
        const run: Run = {
          wallMs: round(t1 - t0),
          cpuMs: round((cpu.user + cpu.system) / 1000),
          renderMs: round(r.timings.pose + r.timings.render),
          readbackMs: round(r.timings.readback),
          resampleMs: round(r.timings.resolve),
          encodeMs: round(t2 - t1),
          totalMs: round(t2 - t0),
          othersCpuPct: null,
        };
        await new Promise((res) => setTimeout(res, 1100)); // let the monitor's next scan cover the run
        const pct = monitor.othersPct(m0, monitor.mark());
        run.othersCpuPct = pct === null ? null : Math.round(pct);
        measured.push(run);
        process.stderr.write(`${c.name} ${view.width}×${view.height} ${i === 0 ? 'warm-up' : `run ${i}`}: ${JSON.stringify(run)}\n`);
      }
      const [warmup, ...rest] = measured;
      const totals = rest.map((r) => r.totalMs).sort((a, b) => a - b);
      const median = totals[Math.floor(totals.length / 2)];
      results.push({ name: c.name, size: `${view.width}x${view.height}`, goalS: c.goalS ?? null, warmup, runs: rest, medianTotalMs: median, metGoal: c.goalS ? median <= c.goalS * 1000 : null });
    }
  } finally {
    renderer.dispose();
    await monitor.stop();
  }
  const report = {
    startedAt,
    finishedAt: new Date().toISOString(),
    host: { cpus: cpus().length, cpuModel: cpus()[0]?.model ?? 'unknown', memGiB: Math.round(totalmem() / 2 ** 30), node: process.version },
    renderer: renderer.version,
    scene: 'textured-pbr',
    note: 'wallMs/totalMs are wall clock (render + encode PNG); cpuMs is this process (GL threads included). othersCpuPct: share of all cores other processes used during the run.',
    results,
  };
  const dir = join(ROOT, 'bench/results');
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, quick ? 'panorama-quick.json' : 'panorama-latest.json'), JSON.stringify(report, null, 2) + '\n');
  const lines = ['| projection | size | median total (s) | render / readback / resample / encode (ms) | CPU (s) | others\' CPU | goal |', '|---|---|---|---|---|---|---|'];
  for (const r of results) {
    const mid = r.runs.find((x) => x.totalMs === r.medianTotalMs)!;
    lines.push(
      `| ${r.name} | ${r.size} | ${(r.medianTotalMs / 1000).toFixed(2)} | ${mid.renderMs} / ${mid.readbackMs} / ${mid.resampleMs} / ${mid.encodeMs} | ${(mid.cpuMs / 1000).toFixed(2)} | ${mid.othersCpuPct ?? '?'}% | ${r.goalS ? `≤ ${r.goalS} s: ${r.metGoal ? 'met' : 'missed'}` : ''} |`,
    );
  }
  process.stdout.write(lines.join('\n') + '\n');
}

main().catch((err) => {
  process.stderr.write(`${err?.stack ?? err}\n`);
  process.exit(1);
});
