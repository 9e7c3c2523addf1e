/**
 * `npm run bench:farm`: what the farm costs over rendering on this machine, in one run.
 *   1. raw: renderLocal (no farm) renders the animation into files;
 *   2. the farm end to end (pack + upload + submit + render + download every frame) with 1 node, then 2 nodes,
 *      once per leasing mode of the nodes: `batched` (several tasks per lease call, the next ones with each report,
 *      one task ahead) and `per-slot` (one lease call and one report per task: the farm before batching), so the
 *      before/after of batching comes from one run on the same machine load;
 *   3. time to first frame: one frame as a job of its own on a warm node (scene uploaded and cached),
 *      from submitting to the file on disk, against render+encode+write of the same frame on a warm renderer.
 * Each timed part also records the CPU seconds of every process it used, by role (bench/process-cpu.ts): the
 * client (this process: the CLI's upload, submit and downloads, or the raw renderer), `farm up` (API + local
 * storage), each node's main process, its render processes, Xvfb.
 * Prints a table, writes bench/results/farm-<timestamp>.json and farm-latest.json.
 * Options: --frames 0-120 --fps 60 --size 1920x1080 --tile N --ssaa N --nodes 1,2 --leasing batched,per-slot
 *          --single-repeats 15 --scene PATH --node-concurrency N
 *          --quiet-wait S --results-dir DIR
 *          --warm-up-frames N: before timing each farm, render N frames of another scene (--warm-up-scene, default
 *            scenes/skinned.glb, so the timed job still loads its own scene in the render processes, as the raw run
 *            does) at 320×180 on it, untimed: new
 *            nodes are on probation (the API re-renders about half of a new node's first results on another node to
 *            verify them), so a farm of 2 fresh nodes does ~10% more tasks than 1 node, which nothing can verify;
 *            after a warm-up the timed job sees established nodes, as a long-running farm has (default 0: fresh)
 *          --cpu-profile DIR: CPU-profile the farm's processes (API + storage, each node, its render processes;
 *            bench/cpu-profile-preload.mjs) per farm run into DIR/<run>/, and print and record each role's top
 *            self-time functions (profiling slows the farm: time such a run for the profile, not the figures)
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { createTesseraClient } from '../api/client/index.ts';
import { newApiKey } from '../api/core/client-keys.ts';
import { parseFrameList, parseSize } from '../api/protocol/frame-list.ts';
import { EncodeSpec, SCENE_LIMITS_DEFAULTS, ViewSpec } from '../api/protocol/render-spec.ts';
import { renderOnFarm, type FarmRenderSummary } from '../infra/cli/render-on-farm.ts';
import { farmNodeConcurrency } from '../infra/farm/start-farm.ts';
import { startCpuMonitor, waitForQuiet } from './cpu-contention.ts';
import { cpuByRole, formatRoleCpu, snapshot, type RoleCpu } from './process-cpu.ts';
import { formatProfiles, summarizeProfiles, type RoleSummary } from './summarize-cpu-profiles.ts';
import { renderLocal } from '../render-node/local-render.ts';
import { createHeadlessGLBackend } from '../render-node/gl/headless-gl-backend.ts';
import { encodeImage } from '../render-node/output/encode-image.ts';
import { decodeRaw } from '../render-node/output/stitch-tiles.ts';
import { FrameRenderer } from '../render-node/render/frame-renderer.ts';
import { NODE_RENDER_PLATFORM } from '../render-node/render/node-render-platform.ts';
import { readScene } from '../scene-check/read-scene.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
/** Targets from the farm issue. */
const TARGETS = { overhead: 0.1, singleFrameRatio: 1.5 };

const { values: args } = parseArgs({
  options: {
    scene: { type: 'string', default: join(ROOT, 'scenes', 'animated-trs.glb') },
    frames: { type: 'string', default: '0-120' },
    fps: { type: 'string', default: '60' },
    /** Supersampling makes each frame heavier (N² pixels rendered) at the same output size and farm traffic. */
    ssaa: { type: 'string', default: '1' },
    size: { type: 'string', default: '1920x1080' },
    tile: { type: 'string' },
    nodes: { type: 'string', default: '1,2' },
    /** Render slots per node (farm up --node-concurrency); the farm's default when absent. */
    'node-concurrency': { type: 'string' },
    /** The nodes' leasing modes to compare (RenderNodeOptions.leasing); the first is the one the targets judge. */
    leasing: { type: 'string', default: 'batched,per-slot' },
    'single-frame': { type: 'string', default: '60' },
    'single-repeats': { type: 'string', default: '15' },
    /**
     * Idle time (ms) before each timed raw single frame, as a warm node's render process has before each of the
     * single frames here (its answer to one → the next task's start: ~65-70 ms measured, printed with the result).
     * A frame drawn after idle takes a few ms longer than one drawn right after another, in this process as in a
     * render process (bench/draw-ab.ts measures both); the raw frames back to back (gap 0: the bench's baseline
     * before) are timed and reported beside.
     */
    'single-gap': { type: 'string', default: '70' },
    'results-dir': { type: 'string', default: join(ROOT, 'bench', 'results') },
    /** Before each timed part, wait up to this many seconds for other processes to use under 15% of the CPUs. */
    'quiet-wait': { type: 'string', default: '120' },
    'cpu-profile': { type: 'string' },
    'warm-up-frames': { type: 'string', default: '0' },
    'warm-up-scene': { type: 'string', default: join(ROOT, 'scenes', 'skinned.glb') },
  },
});

const frames = parseFrameList(args.frames!);
const { width, height } = parseSize(args.size!);
const fps = Number(args.fps);
const tile = args.tile ? Number(args.tile) : undefined;
const nodeCounts = args.nodes!.split(',').map(Number);
type Leasing = 'batched' | 'per-slot';
const leasings = args.leasing!.split(',').map((m) => {
  if (m !== 'batched' && m !== 'per-slot') throw new RangeError(`--leasing takes batched and/or per-slot (got "${m}")`);
  return m as Leasing;
});
const singleFrame = Number(args['single-frame']);
const singleRepeats = Number(args['single-repeats']);
const singleGapMs = Number(args['single-gap']);
const ssaa = Number(args.ssaa);
const view = ViewSpec.parse({ width, height, fps, ssaa });
const encode = EncodeSpec.parse({ format: 'png' });
const request = { frames: args.frames!, size: { width, height }, fps, ssaa, tile, format: 'png' as const };

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
// Other processes' share of the CPUs during each timed part (this process and its children, the nodes, are ours).
const monitor = startCpuMonitor();
const contention: Record<string, number | null> = {};
async function timed<T>(name: string, part: () => Promise<T>): Promise<T> {
  await waitForQuiet(monitor, Number(args['quiet-wait']), 15, log);
  const a = monitor.mark();
  try {
    return await part();
  } finally {
    contention[name] = monitor.othersPct(a, monitor.mark());
  }
}
const started = new Date();
const load0 = loadavg();
log(`farm bench: ${basename(args.scene!)}, ${frames.length} frames ${width}×${height} at ${fps} fps${ssaa > 1 ? `, ssaa ${ssaa}` : ''}${tile ? `, tiles of ${tile}` : ''}; work in ${work}`);

// 1. Raw: the renderer alone, in this process, writing files. Like a farm node when its job arrives, the process
// already has its GL context (an untimed warm-up frame starts it) and loads the scene inside the timing. It runs
// before and after the farm runs and the baseline is their mean: load from other work on this machine that comes
// and goes then shows up as the spread between the two rather than skewing one side.
/** The role of a process of this bench's tree, from its command line (see bench/process-cpu.ts). */
const roleOf = (cmdline: string, pid: number): string =>
  pid === process.pid
    ? 'client'
    : /task-worker/.test(cmdline)
      ? 'render process'
      : /session-(process|worker)/.test(cmdline)
        ? 'session process'
        : / node start /.test(cmdline)
          ? 'node main'
          : / farm up /.test(cmdline)
            ? 'farm up (API + storage)'
            : /Xvfb/.test(cmdline)
              ? 'Xvfb'
              : `other (${cmdline.split(' ')[0].split('/').pop()})`;

interface RawRun {
  totalMs: number;
  /** CPU seconds by process role during the run (this process renders; Xvfb beside it). */
  cpu: RoleCpu[] | null;
  ms: Awaited<ReturnType<typeof renderLocal>>['ms'];
  files: string[];
  renderer: string;
  gl: string;
}
async function rawRun(tag: string): Promise<RawRun> {
  const before = snapshot(process.pid, roleOf);
  const r = await renderLocal({ scene: args.scene!, frames, view, encode, tile, outDir: join(work, `raw-${tag}`) });
  const cpu = cpuByRole(before, snapshot(process.pid, roleOf));
  log(`raw (${tag}): ${s(r.ms.total)} for ${r.frames.length} frames (scene load ${ms(r.ms.load)})${cpu ? `; ${formatRoleCpu(cpu, r.ms.total, r.frames.length)}` : ''}`);
  return { totalMs: r.ms.total, cpu, ms: r.ms, files: r.files, renderer: r.renderer, gl: r.gl };
}

/**
 * The raw cost of one frame on a warm renderer, as a warm node has it (GL up, scene loaded, shaders compiled):
 * render + read back + encode + write, the median of `singleRepeats` after one untimed frame.
 */
async function rawSingle(tag: string): Promise<{ medianMs: number; samplesMs: number[]; partsMs: Record<string, number>; gapMs: number; backToBack: { medianMs: number; samplesMs: number[]; partsMs: Record<string, number> } }> {
  const renderer = new FrameRenderer(await createHeadlessGLBackend(), NODE_RENDER_PLATFORM);
  try {
    const loaded = await renderer.loadScene((await readScene({ path: args.scene! })).glb, SCENE_LIMITS_DEFAULTS);
    await mkdir(join(work, 'raw-single'), { recursive: true });
    /** `singleRepeats` timed frames after one untimed one, each after `gapMs` idle (0: back to back). */
    const series = async (gapMs: number, name: string) => {
      const samplesMs: number[] = [];
      const parts: Record<'render' | 'readback' | 'encode' | 'write', number[]> = { render: [], readback: [], encode: [], write: [] };
      for (let i = 0; i <= singleRepeats; i++) {
        if (gapMs > 0) await new Promise((r) => setTimeout(r, gapMs));
        const t0 = performance.now();
        const image = renderer.render(loaded, view, singleFrame);
        const t1 = performance.now();
        const bytes = await encodeImage(image, encode, { software: renderer.version, description: `frame ${singleFrame}` });
        const t2 = performance.now();
        await writeFile(join(work, 'raw-single', `${tag}-${name}-${i}.png`), bytes);
        if (i === 0) continue;
        samplesMs.push(performance.now() - t0);
        // The same parts as a node's render process reports (render = pose + draw, readback = read + resolve).
        parts.render.push(image.timings.pose + image.timings.render);
        parts.readback.push(image.timings.readback + image.timings.resolve);
        parts.encode.push(t2 - t1);
        parts.write.push(performance.now() - t2);
      }
      const partsMs = Object.fromEntries(Object.entries(parts).map(([k, v]) => [k, Math.round(median(v) * 10) / 10]));
      log(`raw single frame ${singleFrame} (${tag}, warm, ${gapMs > 0 ? `each after ${gapMs} ms idle` : 'back to back'}): render+encode+write median ${ms(median(samplesMs))} of ${samplesMs.map((v) => v.toFixed(0)).join(', ')} ms (medians: ${Object.entries(partsMs).map(([k, v]) => `${k} ${v}`).join(', ')})`);
      return { medianMs: median(samplesMs), samplesMs, partsMs };
    };
    const spaced = await series(singleGapMs, 'spaced');
    const backToBack = singleGapMs > 0 ? await series(0, 'back-to-back') : spaced;
    return { ...spaced, gapMs: singleGapMs, backToBack };
  } finally {
    renderer.dispose();
  }
}

interface FarmRun {
  nodes: number;
  /** Render slots per node (--node-concurrency, else farm up's default: the cores shared by the nodes). */
  slotsPerNode: number;
  leasing: Leasing;
  totalMs: number;
  summary: Omit<FarmRenderSummary, 'files' | 'frames'>;
  framesWithRawPixels: number;
  perTask: ReturnType<typeof costBreakdown>;
  /**
   * CPU seconds by process role during the timed farm part (Linux /proc; null elsewhere): the client (this process:
   * upload, submit, event stream, downloads; its CPU monitor thread too, ~1%), farm up (API + storage), the nodes'
   * main processes, their render processes, Xvfb.
   */
  cpu: RoleCpu[] | null;
  /** With --cpu-profile: each process role's busy time and top self-time functions during the timed farm part (121 frames). */
  profile?: RoleSummary[];
  single?: {
    repeats: number;
    medianMs: number;
    samplesMs: number[];
    reuploadMs: number;
    nodes: string[];
    perTask: ReturnType<typeof costBreakdown>;
    /** Per-hop medians of the single frames' timelines (submit request sent → file written), and each job's. */
    timeline?: ReturnType<typeof medianTimeline>;
    timelines: SingleTimeline[];
    /** Median idle time of the render process before each single frame after the first (its previous answer → this task's start; null without stamps). */
    renderIdleGapMs: number | null;
    /** CPU ms per single-frame job of each of the bench's processes (this client, the farm, node, render process). */
    cpuPerFrameMs: Record<string, number>;
  };
}

/**
 * `tessera farm up` in its own process, as a user runs it: storage and the API do not share this process's
 * event loop (or its CPU time) with the client, which runs here like `tessera render --api` does.
 */
/** What a node logs per task ('task done' costs=…): its slot's wait for it (lease call), its render process's run, its report. */
interface TaskCost {
  /** The task's job (from the log line). */
  jobId?: string;
  /** Epoch-ms stamps: the task reached the node, its render process started and answered, its completion was acknowledged. */
  at?: { received: number; started: number; ran: number; acked: number };
  leaseMs: number;
  /** The task ran on the node's wide render process (a rasterizer thread per core: it ran alone on the node). */
  wide?: boolean;
  /** How long the task held its render slot (until drawn, when the node pipelines; absent from older nodes). */
  slotMs?: number;
  runMs: number;
  completeMs: number;
  timings: Record<string, number>;
}

/**
 * Per-task costs, medians over the tasks: the node's lease call (idle waiting included), its render process's
 * parts (scene load, render, read-back, encode, then either `inline`: the output readied to go inside the
 * completion, or `report` for the upload URL and `upload`: the render process's own timings), what the sandbox adds
 * (IPC, process hops: run − the parts) and the completion report (HTTP hop, auth, the API's check and store of the
 * output, SQLite). `wallPerTaskMs` is the farm's end-to-end time per task per node slot.
 */
function costBreakdown(costs: TaskCost[], wallMs: number, slots: number, jobTasks = costs.length) {
  if (!costs.length) return null;
  const keys = [...new Set(costs.flatMap((c) => Object.keys(c.timings)))];
  const med = (f: (c: TaskCost) => number) => Math.round(median(costs.map(f)) * 10) / 10;
  const parts = Object.fromEntries(keys.map((k) => [k, med((c) => c.timings[k] ?? 0)]));
  const sum = (c: TaskCost) => Object.values(c.timings).reduce((a, b) => a + b, 0);
  return {
    tasks: costs.length,
    /**
     * Tasks run beyond the job's own (frames × tiles): verification re-renders (a new node's first results are
     * re-rendered by another node far more often: probation) and retries. Nodes cannot tell which is which.
     */
    extraTasks: costs.length - jobTasks,
    /** Tasks drawn by a node's wide render process (alone on their node: a rasterizer thread per core). */
    wideTasks: costs.filter((c) => c.wide).length,
    wallPerTaskMs: Math.round((wallMs * slots * 10) / costs.length) / 10,
    leaseMs: med((c) => c.leaseMs),
    slotMs: med((c) => c.slotMs ?? c.runMs),
    runMs: med((c) => c.runMs),
    parts,
    sandboxMs: med((c) => c.runMs - sum(c)),
    completeMs: med((c) => c.completeMs),
  };
}

function formatBreakdown(b: NonNullable<ReturnType<typeof costBreakdown>>): string {
  const parts = Object.entries(b.parts).map(([k, v]) => `${k} ${v}`).join(', ');
  return `${b.tasks} tasks (${b.extraTasks} beyond the job's: verification re-renders, retries; ${b.wideTasks} drawn alone on a node's wide render process); ${b.wallPerTaskMs ? `wall ${b.wallPerTaskMs} ms per task per node; ` : ''}slot idle before the task ${b.leaseMs} ms (its lease call, or batched the gap since the slot's previous task; waiting for work included); slot held ${b.slotMs} ms (until drawn: encode and upload overlap the next task); render process ${b.runMs} ms (${parts}; sandbox hop ${b.sandboxMs}); completion report ${b.completeMs} ms (HTTP, auth, the output's check and store: sha256 and one write for an inline output, HEAD and copy in storage for an uploaded one; SQLite; batched: the next lease too, while the slot renders its next task)`;
}

/**
 * CPU time (ms, utime + stime from /proc) of this process and each of its descendants, by pid, with a role read from
 * the command line: where a single frame's CPU goes on this 2-core machine (llvmpipe draws on every core, so any
 * other process's work during the draw slows it). Linux only: empty elsewhere.
 */
async function ourCpuMs(): Promise<Map<number, { role: string; ms: number }>> {
  const procs = new Map<number, { ppid: number; ticks: number }>();
  for (const name of await readdir('/proc').catch(() => [] as string[])) {
    if (!/^\d+$/.test(name)) continue;
    const stat = await readFile(`/proc/${name}/stat`, 'utf8').catch(() => '');
    if (!stat) continue;
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    procs.set(Number(name), { ppid: Number(f[1]), ticks: Number(f[11]) + Number(f[12]) });
  }
  const ours = new Set([process.pid]);
  for (let grew = true; grew; ) {
    grew = false;
    for (const [pid, p] of procs) if (!ours.has(pid) && ours.has(p.ppid)) (ours.add(pid), (grew = true));
  }
  const out = new Map<number, { role: string; ms: number }>();
  for (const pid of ours) {
    const cmd = (await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '')).split('\0').filter(Boolean);
    const text = cmd.join(' ');
    const role =
      pid === process.pid ? 'client (bench)'
      : / farm up /.test(text) ? 'farm (API + storage)'
      : /task-worker|render-process|sandbox/.test(text) ? 'render process'
      : /node start|farm-node|render-node/.test(text) ? 'node'
      : basename(cmd[0] ?? '?') + (cmd[1] ? ` ${basename(cmd[1])}` : '');
    out.set(pid, { role, ms: procs.get(pid)!.ticks * 10 });
  }
  return out;
}

/** CPU ms per role between two ourCpuMs() readings, divided by `per`. */
function cpuDelta(a: Map<number, { role: string; ms: number }>, b: Map<number, { role: string; ms: number }>, per: number): Record<string, number> {
  const roles: Record<string, number> = {};
  for (const [pid, x] of b) roles[x.role] = (roles[x.role] ?? 0) + (x.ms - (a.get(pid)?.ms ?? 0)) / per;
  return Object.fromEntries(Object.entries(roles).filter(([, v]) => v > 0).map(([k, v]) => [k, Math.round(v * 10) / 10]));
}

/** One stamp of the API's timeline (api/core/timeline.ts) or the client's (renderOnFarm's onTimeline). */
interface TimelineStamp {
  step: string;
  jobId?: string;
  taskId?: string;
  frame?: number;
  at: number;
}

/**
 * The way of one single-frame job, hop by hop, from the client's submit request to its file on disk: each hop runs
 * from one step's stamp to the next's, across the three processes (client here, API + storage in the farm process,
 * the node and its render process). Stamps come from each process's high-resolution clock on this host.
 */
const TIMELINE_HOPS: { name: string; to: string; process: string }[] = [
  { name: 'submit request reaches the API (HTTP, auth, body check)', to: 'job-received', process: 'client → API' },
  { name: 'job created (scene check, plan, SQLite)', to: 'job-created', process: 'API' },
  { name: "node's waiting long-poll woken", to: 'lease-woken', process: 'API' },
  { name: 'lease step: verification sweep', to: 'lease-swept', process: 'API' },
  { name: 'lease step: routing pass', to: 'lease-routed', process: 'API' },
  { name: 'lease step: store (auth, expiry, SQLite lease)', to: 'lease-stored', process: 'API' },
  { name: 'lease step: presign (scene URL, upload token)', to: 'lease-presigned', process: 'API' },
  { name: 'lease step: changes logged and announced, answer made', to: 'lease-answered', process: 'API' },
  { name: 'lease answer reaches the node (HTTP, JSON, zod)', to: 'node-received', process: 'API → node' },
  { name: 'task to its render slot', to: 'node-started', process: 'node' },
  { name: 'render process (render, read-back, encode, IPC)', to: 'node-ran', process: 'render process' },
  { name: 'completion reaches the API (base64, JSON, HTTP)', to: 'complete-received', process: 'node → API' },
  { name: 'completion authenticated and read (store step start)', to: 'output-check', process: 'API' },
  { name: 'inline output hashed and written to storage', to: 'output-stored', process: 'API + storage' },
  { name: 'completion recorded (SQLite)', to: 'complete-recorded', process: 'API' },
  { name: 'inline output checked (length, sha256), offered to the event streams', to: 'output-offered', process: 'API' },
  { name: 'event stream woken', to: 'events-woken', process: 'API' },
  { name: 'frame event made and sent (store reads, presign)', to: 'frame-sent', process: 'API' },
  { name: 'frame event reaches the client (SSE)', to: 'frame-event', process: 'API → client' },
  { name: 'frame downloaded from storage and checked (sha256)', to: 'downloaded', process: 'client + storage' },
  { name: 'file written', to: 'written', process: 'client' },
];

interface SingleTimeline {
  jobId: string;
  /** Submit request sent → file written (the bench's figure starts at the 201, `submitted`). */
  totalMs: number;
  hops: Record<string, number>;
  /** Steps off the frame's path: when the client had its 201, the node its completion's acknowledgement (ms after submit-sent). */
  side: Record<string, number>;
  /** The render process's own parts (render, readback, encode, …). */
  renderParts: Record<string, number>;
}

function singleTimeline(jobId: string, clientStamps: TimelineStamp[], apiStamps: TimelineStamp[], cost: TaskCost | undefined): SingleTimeline | null {
  const all = [...clientStamps, ...apiStamps.filter((x) => x.jobId === jobId)];
  if (cost?.at) for (const [k, v] of Object.entries(cost.at)) all.push({ step: `node-${k}`, jobId, at: v });
  const start = all.find((x) => x.step === 'submit-sent')?.at;
  if (start === undefined) return null;
  const hops: Record<string, number> = {};
  let cursor = start;
  // A frame offered to the event streams ahead of its store and record goes out while both run: they leave its path.
  const offered = all.some((x) => x.step === 'output-offered');
  const offPath = offered ? ['output-stored', 'complete-recorded'] : ['output-offered'];
  for (const hop of TIMELINE_HOPS.filter((h) => !offPath.includes(h.to))) {
    // A step stamped more than once (the event stream wakes at each change) counts from the first after the last hop;
    // 2 ms of slack for the clocks of different processes.
    const found = all.filter((x) => x.step === hop.to).map((x) => x.at).sort((a, b) => a - b);
    const at = found.find((v) => v >= cursor - 2) ?? found[found.length - 1];
    if (at === undefined) continue;
    hops[hop.name] = Math.round((at - cursor) * 10) / 10;
    cursor = at;
  }
  const side: Record<string, number> = {};
  for (const step of ['submitted', 'job-answered', ...(offered ? ['output-stored', 'complete-recorded'] : []), 'prune-start', 'prune-end', 'complete-answered', 'node-acked', 'frame-sent']) {
    const at = all.find((x) => x.step === step)?.at;
    if (at !== undefined) side[step] = Math.round((at - start) * 10) / 10;
  }
  return { jobId, totalMs: Math.round((cursor - start) * 10) / 10, hops, side, renderParts: cost?.timings ?? {} };
}

/** Medians per hop over the single frames' timelines. */
function medianTimeline(timelines: SingleTimeline[]) {
  const med = (xs: number[]) => Math.round(median(xs) * 10) / 10;
  const pick = (f: (t: SingleTimeline) => Record<string, number>) => {
    const keys = [...new Set(timelines.flatMap((t) => Object.keys(f(t))))];
    return Object.fromEntries(keys.map((k) => [k, med(timelines.map((t) => f(t)[k]).filter((v) => v !== undefined))]));
  };
  return { jobs: timelines.length, totalMs: med(timelines.map((t) => t.totalMs)), hops: pick((t) => t.hops), side: pick((t) => t.side), renderParts: pick((t) => t.renderParts) };
}

function formatTimeline(t: ReturnType<typeof medianTimeline>): string {
  const lines = TIMELINE_HOPS.filter((h) => t.hops[h.name] !== undefined).map((h) => `  ${String(t.hops[h.name]).padStart(6)} ms  ${h.process.padEnd(17)} ${h.name}`);
  const parts = Object.entries(t.renderParts).map(([k, v]) => `${k} ${v}`).join(', ');
  const side = Object.entries(t.side).map(([k, v]) => `${k} +${v}`).join(', ');
  return `timeline of a single warm frame, medians of ${t.jobs} (submit request sent → file written ${t.totalMs} ms):\n${lines.join('\n')}\n  render process parts: ${parts}\n  off the path (ms after the submit was sent): ${side}`;
}

async function farmUp(nodes: number, leasing: Leasing, dataDir: string, profileDir?: string): Promise<{ url: string; stop(): Promise<void>; costs: TaskCost[]; stamps: TimelineStamp[] }> {
  const readyFile = join(dataDir, 'ready');
  // One admin key for the farm (it inherits the environment) and for the SDK in this process, which reads it too.
  process.env.TESSERA_API_KEY ||= newApiKey();
  const child = spawn(process.execPath, [join(ROOT, 'infra', 'bin', 'tessera.mjs'), 'farm', 'up', '--nodes', String(nodes), '--port', '0', '--node-leasing', leasing, ...(args['node-concurrency'] ? ['--node-concurrency', args['node-concurrency']] : []), '--data', dataDir, '--ready-file', readyFile], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
    // TESSERA_TIMELINE: the API logs each task's per-hop stamps (api/core/timeline.ts) for the single frames' timeline.
    env: profileDir
      ? { ...process.env, TESSERA_TIMELINE: '1', TESSERA_CPU_PROFILE_DIR: profileDir, NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --import=${join(ROOT, 'bench', 'cpu-profile-preload.mjs')}`.trim() }
      : { ...process.env, TESSERA_TIMELINE: '1' },
  });
  let logTail = '';
  const keep = (d: Buffer) => (logTail = (logTail + d).slice(-4000));
  const costs: TaskCost[] = [];
  const stamps: TimelineStamp[] = [];
  let partial = '';
  child.stdout!.on('data', (d: Buffer) => {
    const lines = (partial + d).split('\n');
    partial = lines.pop()!;
    for (const line of lines) {
      const m = / task done .*costs=(\{\S*\})/.exec(line);
      if (m) costs.push({ ...(JSON.parse(m[1]) as TaskCost), jobId: / jobId=(\S+)/.exec(line)?.[1] });
      const t = / timeline=(\[\S*\])/.exec(line);
      if (t) stamps.push(...(JSON.parse(t[1]) as TimelineStamp[]));
    }
  });
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  for (const end = Date.now() + 180_000; ; ) {
    const url = await readFile(readyFile, 'utf8').then((t) => t.trim(), () => '');
    if (url) return { url, costs, stamps, stop: async () => void (child.kill('SIGTERM'), await exited) };
    if (child.exitCode !== null || Date.now() > end) {
      child.kill('SIGKILL');
      throw new Error(`farm up did not get ready:\n${logTail}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** 2 and 3. The farm end to end, and (on the first farm) one frame at a time on a warm node. */
async function farmRun(n: number, leasing: Leasing, rawFiles: string[], withSingle: boolean): Promise<FarmRun> {
  log(`farm with ${n} node(s), ${leasing} leasing: starting …`);
  const tag = `${n}-${leasing}`;
  const profileDir = args['cpu-profile'] ? join(args['cpu-profile'], `farm-${tag}`) : undefined;
  const farm = await farmUp(n, leasing, join(work, `farm-${tag}`), profileDir);
  let run: FarmRun | undefined;
  let window: { fromUs: number; toUs: number } | undefined;
  try {
    const warmUpFrames = Number(args['warm-up-frames']);
    if (warmUpFrames > 0) {
      const w0 = performance.now();
      const warm = await renderOnFarm({ api: farm.url, scene: args['warm-up-scene']!, request: { ...request, frames: `0-${warmUpFrames - 1}`, size: { width: 320, height: 180 }, tile: undefined }, outDir: join(work, `warm-${tag}`) });
      log(`warm-up (untimed): ${warmUpFrames} frames of ${basename(args['warm-up-scene']!)} at 320×180 in ${s(performance.now() - w0)}, ${farm.costs.length} tasks (nodes: ${warm.nodes.map((x) => `${x.node.slice(0, 16)} ${x.tiles}`).join(', ')})`);
      await new Promise((r) => setTimeout(r, 300));
    }
    const before = farm.costs.length;
    const fromUs = Number(process.hrtime.bigint() / 1000n);
    let cpu: RoleCpu[] | null = null;
    const { summary, totalMs } = await timed(`farm-${tag}`, async () => {
      const t0 = performance.now();
      const cpu0 = snapshot(process.pid, roleOf);
      const summary = await renderOnFarm({ api: farm.url, scene: args.scene!, request, outDir: join(work, `farm-${tag}-out`) });
      const totalMs = performance.now() - t0;
      cpu = cpuByRole(cpu0, snapshot(process.pid, roleOf));
      return { summary, totalMs };
    });
    // Same renderer, same options: the farm's frames must have the raw run's pixels (metadata may differ).
    window = { fromUs, toUs: Number(process.hrtime.bigint() / 1000n) };
    let same = 0;
    for (let i = 0; i < rawFiles.length; i++) if (await samePixels(rawFiles[i], summary.files[i])) same++;
    const { files: _files, frames: _frames, ...rest } = summary;
    // Let the last 'task done' lines arrive (they are logged after the completion report).
    await new Promise((r) => setTimeout(r, 300));
    const perTask = costBreakdown(farm.costs.slice(before), totalMs, n, summary.frames.length * summary.tilesPerFrame + summary.frames.length * (summary.tilesPerFrame > 1 ? 1 : 0));
    run = { nodes: n, slotsPerNode: args['node-concurrency'] ? Number(args['node-concurrency']) : farmNodeConcurrency(n), leasing, totalMs, summary: rest, framesWithRawPixels: same, perTask, cpu };
    if (cpu) log(`CPU by process (${n} node(s), ${leasing}): ${formatRoleCpu(cpu, totalMs, summary.frames.length)}`);
    if (perTask) log(`per task (${n} node(s), ${leasing}, medians of ${perTask.tasks}): ${formatBreakdown(perTask)}`);
    log(`farm (${n} node(s), ${leasing}): ${s(totalMs)} end to end (job ${s(summary.ms.job)}, first frame ${ms(summary.ms.firstFrame)}); ${same}/${rawFiles.length} frames with the raw run's pixels`);
    if (withSingle) {
      // The scene is stored and cached on the node, which has rendered it: the upload is a re-upload (deduplicated),
      // and the time counted is from submitting the job to the frame's file on disk.
      const client = createTesseraClient({ baseUrl: farm.url });
      const tu = performance.now();
      await client.uploadScene(new Uint8Array(await readFile(args.scene!)));
      const reuploadMs = performance.now() - tu;
      const samplesMs: number[] = [];
      const nodes: string[] = [];
      const jobs: { jobId: string; stamps: TimelineStamp[] }[] = [];
      const cpu0 = await ourCpuMs();
      await timed(`farm-${tag}-single`, async () => {
        for (let i = 0; i < singleRepeats; i++) {
          const stamps: TimelineStamp[] = [];
          const one = await renderOnFarm({
            api: farm.url,
            scene: args.scene!,
            request: { ...request, frames: String(singleFrame), tile: undefined },
            outDir: join(work, `single-${tag}-${i}`),
            onTimeline: (step, at, frame) => stamps.push({ step, at, frame }),
          });
          samplesMs.push(one.ms.firstFrame);
          nodes.push(one.nodes.map((x) => x.node).join('+'));
          jobs.push({ jobId: one.jobId, stamps });
        }
      });
      const cpuPerFrame = cpuDelta(cpu0, await ourCpuMs(), singleRepeats);
      log(`CPU per single frame (ms, /proc, whole job: upload of the cached scene, probe, submit, render, download): ${Object.entries(cpuPerFrame).map(([k, v]) => `${k} ${v}`).join(', ')}`);
      // Let the last 'task done' and timeline lines arrive.
      await new Promise((r) => setTimeout(r, 300));
      const timelines = jobs
        .map((j) => singleTimeline(j.jobId, j.stamps, farm.stamps, farm.costs.find((c) => c.jobId === j.jobId)))
        .filter((t): t is SingleTimeline => t !== null);
      const singleCosts = jobs.map((j) => farm.costs.find((c) => c.jobId === j.jobId)?.at);
      const idleGaps = singleCosts.slice(1).flatMap((at, i) => (at && singleCosts[i] ? [at.started - singleCosts[i]!.ran] : []));
      run.single = {
        renderIdleGapMs: idleGaps.length ? Math.round(median(idleGaps)) : null,
        repeats: singleRepeats,
        medianMs: median(samplesMs),
        samplesMs,
        reuploadMs,
        nodes,
        perTask: costBreakdown(farm.costs.slice(-singleRepeats), 0, 1),
        timeline: timelines.length ? medianTimeline(timelines) : undefined,
        cpuPerFrameMs: cpuPerFrame,
        timelines,
      };
      if (run.single.perTask) log(`per task (single frames): ${formatBreakdown(run.single.perTask)}`);
      if (run.single.timeline) log(formatTimeline(run.single.timeline));
      log(`single frame ${singleFrame} (${n} node(s), ${leasing}): submit → file on disk, median ${ms(run.single.medianMs)} of ${samplesMs.map((v) => v.toFixed(0)).join(', ')} ms`);
    }
    return run;
  } finally {
    await farm.stop();
    if (profileDir && run && window) {
      run.profile = await summarizeProfiles(profileDir, 15, window);
      log(`CPU profiles (${n} node(s), ${leasing}):\n${formatProfiles(run.profile)}`);
    }
  }
}

await renderLocal({ scene: args.scene!, frames: [0], view: ViewSpec.parse({ width: 64, height: 64 }), encode, outDir: join(work, 'warm-up') });
const sourcesBefore = await hashSources();
const rawBefore = await timed('raw-before', () => rawRun('before'));
const singleBefore = await timed('raw-single-before', () => rawSingle('before'));
const farmRuns: FarmRun[] = [];
// Modes alternate per node count, so load that comes and goes hits both sides of the before/after alike.
for (const n of nodeCounts) for (const leasing of leasings) farmRuns.push(await farmRun(n, leasing, rawBefore.files, n === nodeCounts[0]));
const rawAfter = await timed('raw-after', () => rawRun('after'));
const singleAfter = await timed('raw-single-after', () => rawSingle('after'));
await monitor.stop();
const sourcesChanged = (await hashSources()) !== sourcesBefore;
const rawMs = (rawBefore.totalMs + rawAfter.totalMs) / 2;
const rawFrameMs = (singleBefore.medianMs + singleAfter.medianMs) / 2;
const rawFrameBackToBackMs = (singleBefore.backToBack.medianMs + singleAfter.backToBack.medianMs) / 2;

// The table.
const cells = (label: string, total: number, spread = ''): string[] => [label, s(total) + spread, (frames.length / (total / 1000)).toFixed(2), `${(total / rawMs).toFixed(2)}×`];
const rows: string[][] = [
  ['run', 'total', 'frames/s', 'vs raw'],
  cells('raw local (renderLocal), mean of before/after', rawMs, ` (${s(rawBefore.totalMs)} / ${s(rawAfter.totalMs)})`),
  ...farmRuns.map((r) => cells(`farm end to end, ${r.nodes} node(s) × ${r.slotsPerNode} slot(s), ${r.leasing} leasing${r.leasing === 'per-slot' ? ' (before batching)' : ''}`, r.totalMs)),
];
const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
const table = rows.map((r) => r.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]) : cell.padStart(widths[c]))).join('   ')).join('\n');

// The targets judge the first leasing mode (the nodes' default, batched, unless --leasing says otherwise).
const judged = farmRuns.filter((r) => r.leasing === leasings[0]);
const one = judged.find((r) => r.nodes === 1);
const two = judged.find((r) => r.nodes === 2);
const overhead = one ? one.totalMs / rawMs - 1 : null;
const single = judged.find((r) => r.single)?.single;
const singleRatio = single ? single.medianMs / rawFrameMs : null;
const checks = [
  {
    name: `farm overhead over raw, 1 node (${frames.length} frames end to end: upload, render, download)`,
    required: `≤ ${TARGETS.overhead * 100}%`,
    measured: overhead === null ? null : `${(overhead * 100).toFixed(1)}%`,
    met: overhead === null ? null : overhead <= TARGETS.overhead,
  },
  {
    name: `2 nodes vs 1 node (${leasings[0]} leasing), end to end`,
    required: '≤ 1.00×',
    measured: one && two ? `${(two.totalMs / one.totalMs).toFixed(2)}× (${s(two.totalMs)} vs ${s(one.totalMs)})` : null,
    met: one && two ? two.totalMs <= one.totalMs : null,
  },
  {
    name: `single ${width}×${height} frame on a warm node, submit → file, vs raw render+encode+write of one frame`,
    required: `≤ ${TARGETS.singleFrameRatio}×`,
    measured: singleRatio === null ? null : `${singleRatio.toFixed(2)}× (${ms(single!.medianMs)} vs ${ms(rawFrameMs)}, raw frames each after ${singleGapMs} ms idle as the node's are${single!.renderIdleGapMs === null ? '' : ` (its render process idled ${ms(single!.renderIdleGapMs)} before each)`}; ${(single!.medianMs / rawFrameBackToBackMs).toFixed(2)}× of ${ms(rawFrameBackToBackMs)} raw back to back)`,
    met: singleRatio === null ? null : singleRatio <= TARGETS.singleFrameRatio,
  },
];
const load1 = loadavg();
const report = {
  startedAt: started.toISOString(),
  finishedAt: new Date().toISOString(),
  host: { cpus: cpus().length, cpuModel: cpus()[0]?.model, memGiB: Math.round(totalmem() / 2 ** 30), node: process.version, loadAvg1mBefore: load0[0], loadAvg1mAfter: load1[0] },
  options: { warmUpFrames: Number(args['warm-up-frames']), warmUpScene: basename(args['warm-up-scene']!), leasing: leasings, nodeConcurrency: args['node-concurrency'] ? Number(args['node-concurrency']) : null, scene: basename(args.scene!), frames: args.frames, frameCount: frames.length, fps, width, height, ssaa, tile: tile ?? null, format: 'png', singleFrame, singleRepeats },
  raw: {
    meanMs: rawMs,
    singleFrameMs: rawFrameMs,
    /** The raw single frames back to back (no idle before each): the bench's single-frame baseline before --single-gap. */
    singleFrameBackToBackMs: rawFrameBackToBackMs,
    singleGapMs,
    before: { ...rawBefore, files: undefined, single: singleBefore },
    after: { ...rawAfter, files: undefined, single: singleAfter },
  },
  sourcesChangedDuringRun: sourcesChanged,
  /** Other processes' share (%) of all CPUs during each timed part. */
  othersCpuPct: contention,
  farm: farmRuns,
  targets: checks,
};

process.stdout.write(`\n${table}\n\n`);
for (const c of checks) process.stdout.write(`${c.met === null ? 'n/a    ' : c.met ? 'met    ' : 'NOT MET'}  ${c.name}: ${c.measured ?? 'not measured'} (target ${c.required})\n`);
for (const r of farmRuns) if (r.perTask) process.stdout.write(`per task, ${r.nodes} node(s), ${r.leasing}: ${formatBreakdown(r.perTask)}\n`);
for (const raw of [rawBefore, rawAfter]) if (raw.cpu) process.stdout.write(`CPU by process, raw: ${formatRoleCpu(raw.cpu, raw.totalMs, frames.length)}\n`);
for (const r of farmRuns) if (r.cpu) process.stdout.write(`CPU by process, ${r.nodes} node(s) × ${r.slotsPerNode} slot(s), ${r.leasing}: ${formatRoleCpu(r.cpu, r.totalMs, frames.length)}\n`);
for (const r of farmRuns) if (r.single?.perTask) process.stdout.write(`per task, single warm frames, ${r.leasing}: ${formatBreakdown(r.single.perTask)}; submit → file median ${ms(r.single.medianMs)} (${(r.single.medianMs / rawFrameMs).toFixed(2)}× raw)\n`);
for (const r of farmRuns) if (r.single?.timeline) process.stdout.write(`${r.nodes} node(s), ${r.leasing}: ${formatTimeline(r.single.timeline)}\n`);
const busiest = Math.max(0, ...Object.values(contention).map((v) => v ?? 0));
if (busiest > 10) {
  const parts = Object.entries(contention).map(([k, v]) => `${k} ${v === null ? '?' : v.toFixed(0)}%`).join(', ');
  process.stdout.write(`note: other processes used up to ${busiest.toFixed(0)}% of the CPUs during timed parts (${parts}): these numbers are skewed\n`);
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
