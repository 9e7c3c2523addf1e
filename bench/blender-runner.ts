import { spawn, spawnSync } from 'node:child_process';
import { copyFile, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BenchOptions, FrameSize, SystemId } from './bench-options.ts';
import { emptyRow, type BenchRow, type FrameSample } from './bench-result.ts';
import { summarizeFrames } from './frame-stats.ts';
import type { ScenePlan } from './scene-plan.ts';
import { KEY_LIGHT_INTENSITY, backgroundLinear, frameSequence } from './shared-view.ts';

const SCRIPT = fileURLToPath(new URL('./blender-render.py', import.meta.url));
/** Blender's PNG compression is a percentage mapped to zlib level ⌊p/11.1⌋: 67 → level 6, Tessera's (sharp) level. */
const PNG_COMPRESSION = 67;

export type BlenderEngine = 'BLENDER_WORKBENCH' | 'BLENDER_EEVEE';

export interface BlenderSetup {
  available: boolean;
  reason?: string;
  version?: string;
  /** Equirect studio environment, RGBA float32 (see studio-environment-equirect.ts). */
  env: { path: string; width: number; height: number };
}

interface BlenderPassResult {
  label: string;
  width: number;
  height: number;
  warmup: BlenderFrame[];
  frames: BlenderFrame[];
  image: string;
  writeStillMs?: number;
}

interface BlenderFrame {
  frame: number;
  renderMs: number;
  encodeMs: number;
  totalMs: number;
  pngBytes: number;
}

interface BlenderResult {
  blenderVersion: string;
  engine: string;
  scriptStartedEpochMs: number;
  scriptEndedEpochMs: number;
  spawnedAtMs: number;
  importMs: number;
  setupMs: number;
  triangles: number;
  passes: BlenderPassResult[];
}

const ENGINES: { engine: BlenderEngine; warm: SystemId; cold: SystemId; name: string }[] = [
  { engine: 'BLENDER_WORKBENCH', warm: 'blender-workbench', cold: 'blender-workbench-cold', name: 'Workbench' },
  { engine: 'BLENDER_EEVEE', warm: 'blender-eevee', cold: 'blender-eevee-cold', name: 'EEVEE' },
];

export function blenderLabel(id: SystemId, version = '?'): string {
  const engine = id.includes('eevee') ? 'EEVEE' : 'Workbench';
  return id.endsWith('-cold') ? `Blender ${version} ${engine}, 1 process/frame` : `Blender ${version} ${engine}`;
}

/** Is Blender (and xvfb-run, which gives it an OpenGL display) installed? */
export function checkBlender(bin: string): { available: boolean; version?: string; reason?: string } {
  const v = spawnSync(bin, ['--version'], { encoding: 'utf8', timeout: 60_000 });
  if (v.error || v.status !== 0) {
    return { available: false, reason: `Blender not found (${bin}: ${v.error?.message ?? `exit ${v.status}`}); install it with: apt-get update && apt-get install -y blender python3-numpy` };
  }
  const version = /Blender (\S+)/.exec(v.stdout)?.[1] ?? 'unknown';
  const x = spawnSync('xvfb-run', ['--help'], { encoding: 'utf8' });
  if (x.error) return { available: false, version, reason: 'xvfb-run not found: Blender needs an OpenGL display; install it with: apt-get install -y xvfb' };
  const np = spawnSync('python3', ['-c', 'import numpy'], { encoding: 'utf8' });
  if (np.status !== 0) return { available: false, version, reason: "Blender's glTF importer needs NumPy: apt-get install -y python3-numpy" };
  return { available: true, version };
}

interface RunOutcome {
  result?: BlenderResult;
  wallMs: number;
  error?: string;
}

/** One Blender process: `xvfb-run -a blender -b --factory-startup --python-exit-code 1 --python blender-render.py -- job.json`. */
async function runBlender(opts: BenchOptions, job: Record<string, unknown>, jobDir: string, name: string, log: (m: string) => void): Promise<RunOutcome> {
  await mkdir(jobDir, { recursive: true });
  const jobPath = join(jobDir, `${name}.json`);
  const resultPath = join(jobDir, `${name}.result.json`);
  await rm(resultPath, { force: true });
  const env = { ...process.env };
  delete env.DISPLAY; // xvfb-run starts its own server
  const args = ['-a', opts.blenderBin, '-b', '--factory-startup', '--python-exit-code', '1', '--python', SCRIPT, '--', jobPath];
  const spawnedAtMs = Date.now();
  await writeFile(jobPath, JSON.stringify({ ...job, resultPath, spawnedAtMs }));
  const t0 = performance.now();
  const child = spawn('xvfb-run', args, { env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  const keep = (d: Buffer) => {
    out = (out + d.toString()).slice(-20_000);
    if (opts.verbose) process.stderr.write(d);
  };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  let timedOut = false;
  // xvfb-run leads its own process group (Xvfb + Blender): kill the whole group on timeout or when the bench exits.
  const killGroup = () => {
    try {
      process.kill(-child.pid!, 'SIGKILL');
    } catch {
      // already gone
    }
  };
  process.once('exit', killGroup);
  const timer = setTimeout(() => {
    timedOut = true;
    killGroup();
  }, opts.processTimeoutS * 1000);
  const code = await new Promise<number | null>((resolve) => {
    child.on('error', () => resolve(-1));
    child.on('close', (c) => resolve(c));
  });
  clearTimeout(timer);
  process.off('exit', killGroup);
  const wallMs = performance.now() - t0;
  if (timedOut) return { wallMs, error: `Blender ran past ${opts.processTimeoutS} s and was killed` };
  if (code !== 0) {
    const tail = out.split('\n').filter((l) => /error|exception|traceback|failed/i.test(l)).slice(-4).join(' | ') || out.slice(-400);
    return { wallMs, error: `Blender exited with code ${code}: ${tail.trim()}` };
  }
  try {
    return { wallMs, result: JSON.parse(await readFile(resultPath, 'utf8')) as BlenderResult };
  } catch (err) {
    log(out.slice(-2000));
    return { wallMs, error: `Blender wrote no result (${(err as Error).message})` };
  }
}

function baseJob(opts: BenchOptions, plan: ScenePlan, engine: BlenderEngine, setup: BlenderSetup, outDir: string) {
  return {
    glb: plan.scene.path,
    engine,
    samples: opts.blenderSamples,
    pngCompression: PNG_COMPRESSION,
    outDir,
    fps: plan.fps,
    env: setup.env,
    background: backgroundLinear(),
    keyLightIntensity: KEY_LIGHT_INTENSITY,
  };
}

function pass(plan: ScenePlan, size: FrameSize, label: string, frames: number[], warmup: number, writeStillCheck = false) {
  const view = plan.views.get(size.label)!;
  return { width: size.width, height: size.height, label, frames, warmup, camera: view.camera, keyLight: view.keyLight, writeStillCheck };
}

const sample = (f: BlenderFrame, detail?: Record<string, number>): FrameSample => ({
  frame: f.frame,
  renderMs: f.renderMs,
  readbackMs: null,
  encodeMs: f.encodeMs,
  totalMs: f.totalMs,
  ...(detail ? { detail } : {}),
});

const NOTES: Record<BlenderEngine, string[]> = {
  BLENDER_WORKBENCH: [
    'Workbench lights with its studio light, not the scene environment or key light; base color textures only (ignores texture transforms and the PBR node graph)',
  ],
  BLENDER_EEVEE: [],
};

/**
 * Blender rows for every scene × size: per engine one long-running process (load once, then per frame
 * frame_set + render, and save_render as encode, timed in Python), and `blenderColdRuns` processes of one
 * frame each, timed from spawn to exit (startup, import and shader compiles counted).
 */
export async function runBlenderSystems(plans: ScenePlan[], opts: BenchOptions, setup: BlenderSetup, imagesDir: string, log: (m: string) => void): Promise<BenchRow[]> {
  const rows: BenchRow[] = [];
  const jobDir = join(opts.tmpDir, 'blender-jobs');
  const common = [
    `${opts.blenderSamples} sample(s)/px (Workbench AA ${opts.blenderSamples <= 1 ? 'off' : 'on'}), Standard view transform (3.4 has no Khronos PBR Neutral), no dither, PNG RGBA zlib 6`,
  ];
  for (const { engine, warm, cold, name } of ENGINES) {
    const wantWarm = opts.systems.includes(warm);
    const wantCold = opts.systems.includes(cold) && opts.blenderColdRuns > 0;
    if (!wantWarm && !wantCold) continue;
    for (const plan of plans) {
      const mk = (id: SystemId, size: FrameSize) =>
        emptyRow({ scene: plan.scene.name, width: size.width, height: size.height, sizeLabel: size.label, system: id, label: blenderLabel(id, setup.version) });
      if (!setup.available) {
        for (const size of opts.sizes) {
          if (wantWarm) rows.push({ ...mk(warm, size), status: 'skipped', reason: setup.reason });
          if (wantCold) rows.push({ ...mk(cold, size), status: 'skipped', reason: setup.reason });
        }
        continue;
      }
      const outDir = join(opts.tmpDir, 'blender-out', `${plan.scene.name}-${engine}`);
      if (wantWarm) {
        const frames = frameSequence(plan.lastFrame, 1 + opts.blenderFrames);
        const passes = opts.sizes.map((s) => pass(plan, s, `${s.width}x${s.height}`, frames, 1, s.label === '1080p'));
        log(`  blender ${name} ${plan.scene.name}: one process, ${opts.sizes.length} size(s) × ${frames.length} frames…`);
        const run = await runBlender(opts, { ...baseJob(opts, plan, engine, setup, outDir), passes }, jobDir, `${plan.scene.name}-${engine}-warm`, log);
        for (const size of opts.sizes) {
          const row = mk(warm, size);
          row.notes.push(...NOTES[engine], ...common);
          const p = run.result?.passes.find((x) => x.width === size.width && x.height === size.height);
          if (!run.result || !p) {
            row.status = 'failed';
            row.reason = run.error ?? 'no result for this size';
          } else {
            const r = run.result;
            row.loadMs = r.importMs + r.setupMs;
            row.firstFrameMs = p.warmup[0]?.totalMs ?? null;
            summarizeFrames(row, p.frames.map((f) => sample(f)));
            row.info = {
              blenderVersion: r.blenderVersion,
              startupMs: r.scriptStartedEpochMs - r.spawnedAtMs,
              importMs: r.importMs,
              setupMs: r.setupMs,
              processWallMs: run.wallMs,
              triangles: r.triangles,
              ...(p.writeStillMs !== undefined ? { writeStillCheckMs: p.writeStillMs } : {}),
            };
            row.notes.push(`process startup ${(r.scriptStartedEpochMs - r.spawnedAtMs).toFixed(0)} ms not counted`);
            row.pngBytes = (p.warmup[0] ?? p.frames[0])?.pngBytes;
            row.image = join(imagesDir, `${plan.scene.name}-${size.width}x${size.height}-${warm}.png`);
            await copyFile(join(outDir, `${p.label}-first.png`), row.image).catch(() => (row.image = undefined));
          }
          rows.push(row);
          log(`  ${warm} ${plan.scene.name} ${size.label}: ${row.status === 'ok' ? `${row.totalMs?.toFixed(1)} ms/frame` : row.reason}`);
        }
      }
      if (wantCold) {
        for (const size of opts.sizes) {
          const row = mk(cold, size);
          row.notes.push(...NOTES[engine], ...common, 'one `blender -b` process per frame: total = spawn to exit (startup + import + set-up + first render + encode)');
          const frames = frameSequence(plan.lastFrame, opts.blenderColdRuns);
          const samples: FrameSample[] = [];
          for (let k = 0; k < frames.length; k++) {
            const label = `${size.width}x${size.height}-cold${k}`;
            const run = await runBlender(opts, { ...baseJob(opts, plan, engine, setup, outDir), passes: [pass(plan, size, label, [frames[k]], 0)] }, jobDir, `${plan.scene.name}-${engine}-${label}`, log);
            const p = run.result?.passes[0];
            if (!run.result || !p?.frames[0]) {
              row.status = 'failed';
              row.reason = run.error ?? 'no frame rendered';
              break;
            }
            const r = run.result;
            const f = p.frames[0];
            samples.push({
              ...sample(f, {
                startupMs: r.scriptStartedEpochMs - r.spawnedAtMs,
                importMs: r.importMs,
                setupMs: r.setupMs,
                exitMs: Math.max(0, run.wallMs - (r.scriptEndedEpochMs - r.spawnedAtMs)),
              }),
              totalMs: run.wallMs,
            });
            if (k === 0) {
              row.pngBytes = f.pngBytes;
              row.image = join(imagesDir, `${plan.scene.name}-${size.width}x${size.height}-${cold}.png`);
              await copyFile(join(outDir, `${label}-first.png`), row.image).catch(() => (row.image = undefined));
            }
          }
          if (row.status === 'ok') {
            summarizeFrames(row, samples);
            row.info = { runs: samples.length, startupMs: samples.map((s) => s.detail?.startupMs), importMs: samples.map((s) => s.detail?.importMs) };
          }
          rows.push(row);
          log(`  ${cold} ${plan.scene.name} ${size.label}: ${row.status === 'ok' ? `${row.totalMs?.toFixed(0)} ms/frame (process)` : row.reason}`);
        }
      }
    }
  }
  return rows;
}
