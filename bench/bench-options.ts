import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

/** Every system the bench can time; the first is the reference the others are compared with. */
export const SYSTEM_IDS = [
  'tessera',
  'blender-workbench',
  'blender-workbench-cold',
  'blender-eevee',
  'blender-eevee-cold',
  'chromium-swiftshader',
  'chromium-llvmpipe',
] as const;
export type SystemId = (typeof SYSTEM_IDS)[number];

export interface FrameSize {
  width: number;
  height: number;
  label: string;
}

export interface BenchOptions {
  quick: boolean;
  /** Scene names (files in scenes/ without .glb) or paths to .glb files. */
  scenes: string[];
  sizes: FrameSize[];
  systems: SystemId[];
  /** Timed frames per scene × size, after one untimed warm-up frame (Tessera and Chromium). */
  frames: number;
  /** Timed frames per scene × size in the long-running Blender process (after one warm-up frame). */
  blenderFrames: number;
  /** Blender processes (one frame each, startup counted) per scene × size × engine. */
  blenderColdRuns: number;
  /** Blender samples per pixel (EEVEE TAA samples; Workbench AA off at 1), to match Tessera's 1 sample. */
  blenderSamples: number;
  /** Seconds to wait for the default scenes to appear (they may still be being generated). */
  waitScenesS: number;
  /** Before each system's phase, wait up to this many seconds for other processes to use < 10 % of the CPUs. */
  waitQuietS: number;
  /** Chromium phases: 2 runs them before and after Tessera's and keeps each row's faster run (a shared machine's load moves). */
  chromiumRuns: number;
  /** Kill an external render process (one Blender run, one browser step) after this many seconds. */
  processTimeoutS: number;
  resultsDir: string;
  /** Scratch folder for jobs, environment maps and every system's sample images. */
  tmpDir: string;
  blenderBin: string;
  chromiumBin: string;
  /** Folder of the latest three.js package, when it is not installed as `three-latest`. */
  threeLatestDir?: string;
  verbose: boolean;
}

export const DEFAULT_SCENES = ['textured-pbr', 'animated-trs', 'million'];
const QUICK_SCENES = ['textured-pbr'];
const DEFAULT_SIZES = '512x512,1920x1080,3840x2160';
const QUICK_SIZES = '512x512,1920x1080';
const SIZE_ALIASES: Record<string, string> = { '512': '512x512', '720p': '1280x720', '1080p': '1920x1080', '1440p': '2560x1440', '4k': '3840x2160', '2160p': '3840x2160' };

const USAGE = `Usage: npm run bench:render -- [options]

Times Tessera against Blender (Workbench, EEVEE) and headless Chromium + the latest three.js, per frame,
on the same GLB, size, camera and lighting. Options (environment variable in brackets):
  --quick                 smoke run: ${QUICK_SCENES.join(',')} at ${QUICK_SIZES}, 2 frames, Blender 1 frame [BENCH_QUICK=1]
  --scenes a,b            scene names in scenes/ or .glb paths (default ${DEFAULT_SCENES.join(',')}) [BENCH_SCENES]
  --sizes WxH,...         frame sizes; aliases 512, 720p, 1080p, 1440p, 4k (default ${DEFAULT_SIZES}) [BENCH_SIZES]
  --systems a,b           subset of ${SYSTEM_IDS.join(', ')} [BENCH_SYSTEMS]
  --frames N              timed frames per scene × size, after 1 warm-up (default 5) [BENCH_FRAMES]
  --blender-frames N      timed frames in the long-running Blender process (default 3) [BENCH_BLENDER_FRAMES]
  --blender-cold-runs N   Blender processes of 1 frame each, startup counted (default 1; 0 = skip) [BENCH_BLENDER_COLD_RUNS]
  --blender-samples N     EEVEE samples / Workbench AA (default 1, like Tessera's ssaa 1) [BENCH_BLENDER_SAMPLES]
  --wait-scenes S         wait up to S seconds for the scenes to be generated (default 120)
  --wait-quiet S          before each system, wait up to S s for other processes to use < 10% CPU (default 0) [BENCH_WAIT_QUIET]
  --chromium-runs N       1: Chromium after Tessera; 2: before and after, each row keeping its faster run (default 2) [BENCH_CHROMIUM_RUNS]
  --timeout S             per external process step (default 600)
  --results DIR           where render-<timestamp>.json goes (default bench/results)
  --tmp DIR               scratch folder: jobs, browser profiles, images-<run>/ with every system's pictures (default ${join(tmpdir(), 'tessera-bench')})
  --blender PATH          Blender binary (default blender) [BLENDER_BIN]
  --chromium PATH         Chromium binary (default /usr/bin/chromium) [CHROMIUM_BIN]
  --three-latest DIR      folder of the latest three package if 'three-latest' is not installed [THREE_LATEST_DIR]
  --verbose               print external processes' output
  --help`;

export function parseSize(text: string): FrameSize {
  const spec = SIZE_ALIASES[text.toLowerCase()] ?? text;
  const m = /^(\d+)x(\d+)$/i.exec(spec);
  if (!m) throw new Error(`bad size "${text}": use WxH (e.g. 1920x1080) or one of ${Object.keys(SIZE_ALIASES).join(', ')}`);
  const width = Number(m[1]);
  const height = Number(m[2]);
  if (!(width > 0 && height > 0 && width <= 16384 && height <= 16384)) throw new Error(`bad size "${text}"`);
  const label = width === 1920 && height === 1080 ? '1080p' : width === 3840 && height === 2160 ? '4K' : `${width}×${height}`;
  return { width, height, label };
}

const list = (s: string | undefined) => (s ?? '').split(',').map((x) => x.trim()).filter(Boolean);

function count(name: string, value: string | undefined, fallback: number, min = 0): number {
  if (value === undefined || value === '') return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min) throw new Error(`--${name} wants an integer ≥ ${min}, got "${value}"`);
  return n;
}

/** Parse the command line (and BENCH_* environment variables); prints usage and exits on --help. */
export function parseBenchOptions(argv: string[], env: NodeJS.ProcessEnv = process.env, repoRoot: string): BenchOptions {
  const { values } = parseArgs({
    args: argv,
    allowPositionals: false,
    options: {
      quick: { type: 'boolean' },
      scenes: { type: 'string' },
      sizes: { type: 'string' },
      systems: { type: 'string' },
      frames: { type: 'string' },
      'blender-frames': { type: 'string' },
      'blender-cold-runs': { type: 'string' },
      'blender-samples': { type: 'string' },
      'wait-scenes': { type: 'string' },
      'wait-quiet': { type: 'string' },
      'chromium-runs': { type: 'string' },
      timeout: { type: 'string' },
      results: { type: 'string' },
      tmp: { type: 'string' },
      blender: { type: 'string' },
      chromium: { type: 'string' },
      'three-latest': { type: 'string' },
      verbose: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  const quick = values.quick ?? ['1', 'true', 'yes'].includes((env.BENCH_QUICK ?? '').toLowerCase());
  const systems = list(values.systems ?? env.BENCH_SYSTEMS);
  for (const s of systems) if (!(SYSTEM_IDS as readonly string[]).includes(s)) throw new Error(`unknown system "${s}"; choose from ${SYSTEM_IDS.join(', ')}`);
  const scenes = list(values.scenes ?? env.BENCH_SCENES);
  return {
    quick,
    scenes: scenes.length ? scenes : quick ? QUICK_SCENES : DEFAULT_SCENES,
    sizes: list(values.sizes ?? env.BENCH_SIZES ?? (quick ? QUICK_SIZES : DEFAULT_SIZES)).map(parseSize),
    systems: systems.length ? (SYSTEM_IDS.filter((s) => systems.includes(s)) as SystemId[]) : [...SYSTEM_IDS],
    frames: count('frames', values.frames ?? env.BENCH_FRAMES, quick ? 2 : 5, 1),
    blenderFrames: count('blender-frames', values['blender-frames'] ?? env.BENCH_BLENDER_FRAMES, quick ? 1 : 3, 1),
    blenderColdRuns: count('blender-cold-runs', values['blender-cold-runs'] ?? env.BENCH_BLENDER_COLD_RUNS, 1),
    blenderSamples: count('blender-samples', values['blender-samples'] ?? env.BENCH_BLENDER_SAMPLES, 1, 1),
    waitScenesS: count('wait-scenes', values['wait-scenes'], 120),
    waitQuietS: count('wait-quiet', values['wait-quiet'] ?? env.BENCH_WAIT_QUIET, 0),
    chromiumRuns: count('chromium-runs', values['chromium-runs'] ?? env.BENCH_CHROMIUM_RUNS, 2, 1),
    processTimeoutS: count('timeout', values.timeout, 600, 1),
    resultsDir: values.results ?? join(repoRoot, 'bench', 'results'),
    tmpDir: values.tmp ?? join(tmpdir(), 'tessera-bench'),
    blenderBin: values.blender ?? env.BLENDER_BIN ?? 'blender',
    chromiumBin: values.chromium ?? env.CHROMIUM_BIN ?? '/usr/bin/chromium',
    threeLatestDir: values['three-latest'] ?? env.THREE_LATEST_DIR,
    verbose: values.verbose ?? false,
  };
}
