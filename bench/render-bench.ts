/**
 * Render benchmark: per-frame time of Tessera against what a user would pick instead, in the same run, on the
 * same GLB, size, camera and lighting (studio environment + one directional key light, neutral tone mapping,
 * PNG out): Blender (Workbench and EEVEE; startup counted and not) and headless Chromium with the latest three.js
 * (SwiftShader and Mesa llvmpipe). Run: npm run bench:render -- --help
 */
import { cpus, totalmem } from 'node:os';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseBenchOptions, SYSTEM_IDS, type BenchOptions } from './bench-options.ts';
import type { BenchReport, BenchRow } from './bench-result.ts';
import { checkTargets, TARGETS } from './bench-targets.ts';
import { blenderLabel, checkBlender, runBlenderSystems, type BlenderSetup } from './blender-runner.ts';
import { chromiumLabel, CHROMIUM_CONFIGS, runChromiumSystems, type ChromiumSetup } from './chromium-runner.ts';
import { startCpuMonitor, waitForQuiet } from './cpu-contention.ts';
import { round } from './frame-stats.ts';
import { diffImages } from './image-diff.ts';
import { formatTable, formatTargets, legend } from './result-table.ts';
import { findScenes } from './scene-catalog.ts';
import { planScene, type ScenePlan } from './scene-plan.ts';
import { bakeStudioEquirect, mirrorAzimuth } from './studio-environment-equirect.ts';
import { findThreeLatest } from './three-latest.ts';
import { runTessera, TESSERA_LABEL } from './tessera-runner.ts';

const REPO_ROOT = dirname(dirname(fileURLToPath(import.meta.url)));
const ENV_WIDTH = 1024;

const METHOD = [
  'Same view everywhere: Tessera\'s auto camera (yaw 30°, pitch 15°, vertical fov 40°, framing the bounds over the first clip) and its camera-relative key light (directional, 1.5 lux, no shadow) are computed once from Tessera\'s loaded scene and given to every system; background #808080.',
  'Same environment: Tessera\'s procedural studio environment, baked to a 1024×512 float equirect for three.js (PMREMGenerator.fromEquirectangular; matches Tessera exactly) and, azimuth-mirrored to match, for Blender (world shader; camera rays see the background color).',
  'Tone mapping: Tessera and three.js use NeutralToneMapping; Blender 3.4 has no Khronos PBR Neutral, so its Standard view transform (no curve) is used.',
  'Samples: 1 per pixel everywhere (Tessera ssaa 1, three.js antialias off, EEVEE 1 TAA sample, Workbench AA off); PNG RGBA at zlib level 6 where settable (Tessera/sharp, Blender); Chromium uses its own toBlob encoder.',
  'Frames walk through the first animation clip at 24 fps (frame 0 for still scenes). One warm-up frame (shader compiles) is reported as "1st frame"; the table shows medians of the timed frames.',
  'Tessera: readScene + loadScene = load; render = pose + draw + gl.finish; readback = readPixels + unpremultiply; encode = sharp PNG. Chromium: render = pose + draw + readPixels (only readPixels forces the frame to finish there); encode = canvas.toBlob. Blender: render = frame_set + render.render(); encode = save_render (color management + PNG); startup counted = wall time of one xvfb-run blender -b process per frame.',
];

function log(msg: string): void {
  console.log(msg);
}

function hostInfo(): BenchReport['host'] {
  return { cpus: cpus().length, cpuModel: cpus()[0]?.model ?? 'unknown', memGiB: Math.round(totalmem() / 2 ** 30), node: process.version, platform: `${process.platform} ${process.arch}` };
}

function stamp(d: Date): string {
  return d.toISOString().replace(/[:]/g, '-').replace(/\.\d+Z$/, 'Z');
}

/**
 * One row per scene × size × system from several runs of the same systems: the run with the higher animation
 * frames/s (the baseline's best), with every run's figures in info.runs.
 */
function fasterRuns(runs: BenchRow[][]): BenchRow[] {
  if (runs.length === 1) return runs[0];
  const key = (r: BenchRow) => `${r.scene} ${r.sizeLabel} ${r.system}`;
  const best = new Map<string, BenchRow>();
  for (const r of runs.flat()) {
    const b = best.get(key(r));
    const better = !b || (r.status === 'ok' && (b.status !== 'ok' || (r.animationFps ?? 0) > (b.animationFps ?? 0)));
    if (better) best.set(key(r), r);
  }
  return [...best.values()].map((r) => ({
    ...r,
    info: {
      ...r.info,
      runs: runs.map((rs) => rs.find((x) => key(x) === key(r))).map((x) => (x ? { status: x.status, animationFps: round(x.animationFps, 2), totalMs: round(x.totalMs), cpuMsPerFrame: round(x.info?.cpuMsPerFrame as number | undefined) } : null)),
    },
  }));
}

async function addComparisons(rows: BenchRow[], problems: string[]): Promise<void> {
  for (const row of rows) {
    const t = rows.find((r) => r.system === 'tessera' && r.scene === row.scene && r.width === row.width && r.height === row.height);
    if (!t || row === t) continue;
    if (t.status === 'ok' && row.status === 'ok' && t.totalMs && row.totalMs !== null) row.vsTessera = row.totalMs / t.totalMs;
    if (t.image && row.image && !row.system.endsWith('-cold')) {
      try {
        const d = await diffImages(t.image, row.image);
        row.info = { ...row.info, diffVsTessera: { coveragePct: round(d.coveragePct), meanAbs: round(d.meanAbs), differentPct: round(d.differentPct) } };
      } catch (err) {
        row.notes.push(`picture comparison failed: ${(err as Error).message}`);
      }
    }
  }
  // three.js in Chromium runs the same glTF PBR shading model as Tessera (three r162), so a large picture difference
  // there points at a Tessera (or bench) bug worth a human look; Blender's shading differs by design.
  for (const row of rows) {
    const d = row.info?.diffVsTessera as { differentPct: number } | undefined;
    const largest = Math.max(...rows.filter((r) => r.scene === row.scene).map((r) => r.width));
    if (d && row.system.startsWith('chromium') && d.differentPct > 10 && row.width === largest) {
      problems.push(`${row.scene} ${row.sizeLabel}: ${d.differentPct.toFixed(0)}% of the scene's pixels differ by > 32/255 between Tessera and ${row.label}; compare ${row.image} with ${row.image!.replace(/-[a-z-]+\.png$/, '-tessera.png')}`);
    }
  }
}

async function main(): Promise<void> {
  const opts: BenchOptions = parseBenchOptions(process.argv.slice(2), process.env, REPO_ROOT);
  const started = new Date();
  // Every system's picture of each scene × size (first frame), kept per run for side-by-side comparison.
  const imagesDir = join(opts.tmpDir, `images-${stamp(started)}`);
  await rm(imagesDir, { recursive: true, force: true });
  await mkdir(imagesDir, { recursive: true });
  const problems: string[] = [];
  const host = hostInfo();
  log(`Tessera render bench${opts.quick ? ' (quick)' : ''}: ${host.cpus} × ${host.cpuModel}, ${host.memGiB} GiB, Node ${host.node}`);
  log(`sizes ${opts.sizes.map((s) => s.label).join(', ')}; ${opts.frames} timed frame(s) (Blender ${opts.blenderFrames}, ${opts.blenderColdRuns} cold run(s)); images in ${imagesDir}`);

  const { scenes, missing } = await findScenes(opts.scenes, join(REPO_ROOT, 'scenes'), opts.waitScenesS, log);
  if (missing.length) problems.push(`scene file(s) not found after waiting ${opts.waitScenesS} s: ${missing.join(', ')}`);
  if (!scenes.length) throw new Error(`no scenes to render (looked for ${opts.scenes.join(', ')} in scenes/); run npm run scenes`);

  const plans: ScenePlan[] = [];
  for (const scene of scenes) {
    try {
      const plan = await planScene(scene, opts.sizes);
      plans.push(plan);
      log(`scene ${scene.name}: ${(scene.bytes / 1e6).toFixed(1)} MB, ${plan.triangles?.toLocaleString('en-US')} triangles, frames 0–${plan.lastFrame}`);
    } catch (err) {
      problems.push(`scene ${scene.name} could not be read by Tessera's loader, skipped: ${(err as Error).message}`);
    }
  }

  const env = bakeStudioEquirect(ENV_WIDTH);
  await mkdir(opts.tmpDir, { recursive: true });
  const blenderEnv = mirrorAzimuth(env);
  const envPath = join(opts.tmpDir, `studio-env-blender-${env.width}x${env.height}.f32`);
  await writeFile(envPath, new Uint8Array(blenderEnv.data.buffer, blenderEnv.data.byteOffset, blenderEnv.data.byteLength));

  const systems: BenchReport['systems'] = {};
  const rows: BenchRow[] = [];
  // Other processes' CPU use per phase: on a shared 2-core machine it inflates every number.
  const monitor = startCpuMonitor();
  const contention: Record<string, number | null> = {};
  const phase = async <T>(name: string, fn: () => Promise<T>): Promise<T> => {
    if (opts.waitQuietS > 0) {
      const pct = await waitForQuiet(monitor, opts.waitQuietS, 10, log);
      if (pct !== null && pct >= 10) log(`  other processes still use ${pct.toFixed(0)}% of the CPUs; going on`);
    }
    const a = monitor.mark();
    try {
      return await fn();
    } finally {
      contention[name] = monitor.othersPct(a, monitor.mark());
    }
  };

  // 2. Chromium + latest three.js: with --chromium-runs 2 (default) once before Tessera and once after, each row
  // keeping its faster run, so that a load moving under the run does not favour Tessera.
  const wantsChromium = CHROMIUM_CONFIGS.some((c) => opts.systems.includes(c.id));
  const chromiumRuns: BenchRow[][] = [];
  const runChromium = async (name: string) => {
    log(`\n▶ Chromium + latest three.js${opts.chromiumRuns > 1 ? ` (${name})` : ''}`);
    const three = findThreeLatest(REPO_ROOT, opts.threeLatestDir);
    const setup: ChromiumSetup = 'error' in three ? { available: false, reason: three.error, env } : { available: true, three, env };
    if ('error' in three) log(`  skipped: ${three.error}`);
    else log(`  three ${three.version} from ${three.via}`);
    const c = await phase(opts.chromiumRuns > 1 ? `Chromium ${name}` : 'Chromium', () => runChromiumSystems(plans, opts, setup, imagesDir, log));
    chromiumRuns.push(c.rows);
    for (const cfg of CHROMIUM_CONFIGS.filter((x) => opts.systems.includes(x.id))) {
      const info = c.info[cfg.id] as Record<string, unknown> | undefined;
      const skipped = c.rows.find((r) => r.system === cfg.id && r.status === 'skipped');
      systems[cfg.id] = { label: (info?.label as string) ?? chromiumLabel(cfg.id), available: !!info && !skipped, ...(skipped ? { reason: skipped.reason } : {}), ...(info ? { info } : {}) };
    }
  };
  if (wantsChromium && opts.chromiumRuns > 1) await runChromium('before Tessera');

  // 1. Tessera.
  if (opts.systems.includes('tessera')) {
    log('\n▶ Tessera');
    try {
      const t = await phase('Tessera', () => runTessera(plans, opts, imagesDir, log));
      rows.push(...t.rows);
      systems.tessera = { label: TESSERA_LABEL, available: true, info: t.info };
    } catch (err) {
      const reason = `Tessera could not start: ${(err as Error).message}`;
      systems.tessera = { label: TESSERA_LABEL, available: false, reason };
      problems.push(reason);
    }
  }

  if (wantsChromium) {
    await runChromium(opts.chromiumRuns > 1 ? 'after Tessera' : '');
    rows.push(...fasterRuns(chromiumRuns));
  }

  // 3. Blender (slowest last).
  const blenderIds = SYSTEM_IDS.filter((s) => s.startsWith('blender') && opts.systems.includes(s));
  if (blenderIds.length) {
    log('\n▶ Blender');
    const check = checkBlender(opts.blenderBin);
    if (!check.available) log(`  skipped: ${check.reason}`);
    else log(`  Blender ${check.version} (under xvfb-run -a)`);
    const setup: BlenderSetup = { ...check, env: { path: envPath, width: env.width, height: env.height } };
    rows.push(...(await phase('Blender', () => runBlenderSystems(plans, opts, setup, imagesDir, log))));
    for (const id of blenderIds) systems[id] = { label: blenderLabel(id, check.version), available: check.available, ...(check.reason ? { reason: check.reason } : {}), info: { version: check.version } };
  }

  // Order rows: scene, size, system.
  const order = (r: BenchRow) => [plans.findIndex((p) => p.scene.name === r.scene), opts.sizes.findIndex((s) => s.label === r.sizeLabel), SYSTEM_IDS.indexOf(r.system)];
  rows.sort((a, b) => {
    const x = order(a);
    const y = order(b);
    return x[0] - y[0] || x[1] - y[1] || x[2] - y[2];
  });
  await addComparisons(rows, problems);
  for (const r of rows) if (r.status === 'failed') problems.push(`${r.label} failed on ${r.scene} ${r.sizeLabel}: ${r.reason}`);
  for (const s of Object.values(systems)) if (!s.available && s.reason) problems.push(`${s.label} did not run: ${s.reason}`);
  const targets = checkTargets(rows);
  for (const [name, pct] of Object.entries(contention)) {
    if (pct !== null && pct > 15) problems.push(`other processes used ${pct.toFixed(0)}% of the CPUs during the ${name} phase: its timings are inflated; rerun on a quiet machine (--wait-quiet S waits for one)`);
  }

  log(`\n${formatTable(rows)}\n`);
  log(legend());
  log(`\nCPU used by other processes: ${Object.entries(contention).map(([k, v]) => `${k} ${v === null ? 'n/a' : `${v.toFixed(0)}%`}`).join(', ')}`);
  log(`\nTargets (at ${TARGETS.size}, PNG, per frame):\n${formatTargets(targets)}`);
  const uniqueProblems = [...new Set(problems)];
  if (uniqueProblems.length) log(`\nProblems:\n${uniqueProblems.map((p) => `  - ${p}`).join('\n')}`);

  await monitor.stop();
  const finished = new Date();
  const report: BenchReport = {
    startedAt: started.toISOString(),
    finishedAt: finished.toISOString(),
    wallS: (finished.getTime() - started.getTime()) / 1000,
    host: { ...host, othersCpuPct: Object.fromEntries(Object.entries(contention).map(([k, v]) => [k, round(v)])) },
    options: { ...opts, sizes: opts.sizes.map((s) => `${s.width}x${s.height}`), imagesDir },
    systems,
    method: METHOD,
    rows: rows.map((r) => ({
      ...r,
      loadMs: round(r.loadMs),
      firstFrameMs: round(r.firstFrameMs),
      renderMs: round(r.renderMs),
      readbackMs: round(r.readbackMs),
      encodeMs: round(r.encodeMs),
      totalMs: round(r.totalMs),
      vsTessera: round(r.vsTessera, 2),
      animationFps: round(r.animationFps, 2),
      animationFpsFast: round(r.animationFpsFast, 2),
      frames: r.frames.map((f) => ({
        ...f,
        renderMs: round(f.renderMs)!,
        readbackMs: round(f.readbackMs),
        encodeMs: round(f.encodeMs)!,
        totalMs: round(f.totalMs)!,
        ...(f.detail ? { detail: Object.fromEntries(Object.entries(f.detail).map(([k, v]) => [k, round(v)])) as Record<string, number> } : {}),
      })),
    })),
    targets: targets.map((t) => ({ ...t, measured: round(t.measured, 2) })),
    problems: uniqueProblems,
  };
  await mkdir(opts.resultsDir, { recursive: true });
  const json = `${JSON.stringify(report, null, 2)}\n`;
  const file = join(opts.resultsDir, `render-${stamp(started)}.json`);
  await writeFile(file, json);
  await writeFile(join(opts.resultsDir, 'render-latest.json'), json);
  log(`\nWrote ${file} and render-latest.json (${report.wallS.toFixed(0)} s).`);
}

// Ctrl-C / kill: exit through process.exit so that 'exit' handlers stop Tessera's Xvfb and any Blender process group.
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    console.error(`\nrender bench interrupted (${signal})`);
    process.exit(130);
  });
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(`render bench failed: ${(err as Error).stack ?? err}`);
    process.exit(1);
  },
);
