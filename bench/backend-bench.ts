/**
 * `npm run bench:backends` (also run by `npm run bench:render`): the two GL backends of `tessera render --local`
 * side by side on the same scenes, views and frames: headless-gl (WebGL 1, in process) and headless Chromium
 * (WebGL 2 on llvmpipe, the same bundled pipeline driven through playwright; pixels come back as base64 RGBA).
 * Per scene and backend: start (backend up), load, first frame (shader compiles) and the median of the timed
 * frames: draw + readback inside the renderer, and wall time per frame as Node sees it (Chromium adds the
 * page.evaluate round trip and the base64 transfer). Figures are relative: on a shared machine other processes'
 * CPU share is recorded beside each row. Writes a table to stdout and bench/results/backends-latest.json.
 *
 *   npx tsx bench/backend-bench.ts [--quick] [--frames N] [--size WxH]
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ViewSpec, type ViewSpecInput } from '../api/protocol/render-spec.ts';
import type { RenderBackend } from '../render-node/chromium/choose-backend.ts';
import { chromiumUnavailable } from '../render-node/chromium/chromium-render-host.ts';
import { startSceneRenderer } from '../render-node/local-render.ts';
import { readScene } from '../scene-check/read-scene.ts';
import { startCpuMonitor } from './cpu-contention.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const args = process.argv.slice(2);
const quick = args.includes('--quick');
const arg = (name: string) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};
const frames = Number(arg('--frames') ?? (quick ? 3 : 8));
const [width, height] = (arg('--size') ?? (quick ? '320x180' : '960x540')).split('x').map(Number);
if (!(frames >= 1) || !(width >= 16) || !(height >= 16)) throw new Error('usage: backend-bench.ts [--quick] [--frames N >= 1] [--size WxH]');

interface Case {
  scene: string;
  view: ViewSpecInput;
}
const CASES: Case[] = [
  // A scene both backends render the same way (no WebGL 2 feature), turning with the auto camera.
  { scene: 'textured-pbr', view: { width, height, background: '#808080' } },
  // Transmission: WebGL 2 draws the scene twice (the opaque pass into a mip-mapped target, then the glass).
  { scene: 'transmission', view: { width, height, background: '#808080', camera: { kind: 'gltf', name: 'front' } } },
  // Dispersion (three r187, WebGL 2 only): the transmission pass sampled once per colour channel.
  { scene: 'dispersion', view: { width, height, background: '#808080', camera: { kind: 'gltf', name: 'front' } } },
];

interface Row {
  scene: string;
  backend: RenderBackend;
  size: string;
  renderer: string;
  startMs: number;
  loadMs: number;
  firstFrameMs: number;
  /** Medians over the timed frames. */
  drawMs: number;
  readbackMs: number;
  wallMs: number;
  othersCpuPct: number | null;
  warnings: string[];
}

const round = (v: number) => Math.round(v * 10) / 10;
const roundPct = (v: number | null) => (v === null ? null : Math.round(v));
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function main() {
  const why = chromiumUnavailable();
  if (why) {
    // bench:render runs this last: a machine without Chromium still gets the other tables.
    process.stdout.write(`bench:backends skipped: the Chromium backend is unavailable (${why})\n`);
    return;
  }
  const monitor = startCpuMonitor();
  const startedAt = new Date().toISOString();
  const rows: Row[] = [];
  try {
    for (const c of CASES) {
      const read = await readScene({ path: join(ROOT, 'scenes', `${c.scene}.glb`) });
      const view = ViewSpec.parse(c.view);
      for (const backend of ['headless-gl', 'chromium'] as const) {
        const mark = monitor.mark();
        const t0 = performance.now();
        const renderer = await startSceneRenderer(backend);
        try {
          const t1 = performance.now();
          const loaded = await renderer.load(read.glb, { maxTexturePixels: 64 << 20 });
          const t2 = performance.now();
          await renderer.render(loaded, view, 0);
          const t3 = performance.now();
          const draw: number[] = [];
          const readback: number[] = [];
          const wall: number[] = [];
          for (let f = 1; f <= frames; f++) {
            // The auto camera turns nothing by itself: vary the yaw so no frame repeats the last one exactly.
            const v = view.camera.kind === 'auto' ? ViewSpec.parse({ ...c.view, camera: { kind: 'auto', yaw: 30 + f * 7 } }) : view;
            const s = performance.now();
            const r = await renderer.render(loaded, v, 0);
            wall.push(performance.now() - s);
            draw.push(r.timings.pose + r.timings.render);
            readback.push(r.timings.readback + r.timings.resolve);
          }
          rows.push({
            scene: c.scene,
            backend,
            size: `${width}x${height}`,
            renderer: renderer.version,
            startMs: round(t1 - t0),
            loadMs: round(t2 - t1),
            firstFrameMs: round(t3 - t2),
            drawMs: round(median(draw)),
            readbackMs: round(median(readback)),
            wallMs: round(median(wall)),
            othersCpuPct: roundPct(monitor.othersPct(mark, monitor.mark())),
            warnings: loaded.warnings,
          });
        } finally {
          await renderer.dispose();
        }
      }
    }
  } finally {
    await monitor.stop();
  }
  const report = {
    startedAt,
    finishedAt: new Date().toISOString(),
    host: { cpus: cpus().length, cpuModel: cpus()[0]?.model ?? 'unknown', memGiB: Math.round(totalmem() / 2 ** 30), node: process.version },
    frames,
    note: 'Medians of the timed frames after one first frame. draw = pose + draw + gl.finish; readback = readPixels + unpremultiply (+ resolve). In Chromium gl.finish returns before the GPU process has drawn, so its draw time lands in readback: compare draw + readback; wall = one render call as Node sees it (Chromium: + page.evaluate + base64 transfer). othersCpuPct: share of all cores other processes used meanwhile: compare rows of one run only.',
    rows,
  };
  const dir = join(ROOT, 'bench/results');
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, quick ? 'backends-quick.json' : 'backends-latest.json'), JSON.stringify(report, null, 2) + '\n');
  const lines = [
    `GL backends, ${width}×${height}, median of ${frames} frame(s) after the first (relative figures; other processes' CPU share beside each row). Chromium's gl.finish does not wait for its GPU process: its drawing shows up in readback.`,
    '| scene | backend | start (ms) | load (ms) | 1st frame (ms) | draw (ms) | readback (ms) | per frame, wall (ms) | vs headless-gl | others\' CPU | notes |',
    '|---|---|---|---|---|---|---|---|---|---|---|',
  ];
  for (const r of rows) {
    const base = rows.find((x) => x.scene === r.scene && x.backend === 'headless-gl')!;
    lines.push(
      `| ${r.scene} | ${r.backend} | ${r.startMs} | ${r.loadMs} | ${r.firstFrameMs} | ${r.drawMs} | ${r.readbackMs} | ${r.wallMs} | ${(r.wallMs / base.wallMs).toFixed(2)}× | ${r.othersCpuPct ?? '?'}% | ${r.warnings.length ? 'rendered without transmission' : ''} |`,
    );
  }
  process.stdout.write(lines.join('\n') + '\n');
}

main().catch((err) => {
  process.stderr.write(`${err?.stack ?? err}\n`);
  process.exit(1);
});
