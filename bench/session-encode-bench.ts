/**
 * `npm run bench:session-encode`: where a Chromium-backend session frame is cheaper to encode. The same session
 * (both eyes in one pass in the render host page) is driven pose after pose two ways, interleaved round by round:
 *
 * - `page`: the page encodes its canvas (canvas.toBlob, JPEG/WebP in Chromium) and only the encoded frame crosses
 *   page.evaluate (base64);
 * - `node`: the page reads the pixels back (RGBA8, base64 across page.evaluate) and Node encodes them with sharp
 *   (libjpeg-turbo, as headless-gl sessions do).
 *
 * Per mode: median render (both eyes, GL finished), encode (page: toBlob; node: readback + sharp), transfer
 * (page.evaluate round trip less the page's work) and wall time per frame, the bytes that crossed, and the CPU of
 * this process and of Chromium's processes per frame (from /proc). On a shared machine the others' CPU share is
 * recorded. Writes a table to stdout and bench/results/session-encode-latest.json (or `--out NAME` there).
 *
 * - `page-overlap`: as `page`, but the next pose is drawn while the page still encodes the last (sessionDraw: what
 *   sessions do); its wall/frame is the time between frames, `draw → encoded` each frame's own latency.
 *
 *   npm run bench:session-encode -- [--modes page-overlap,page,node] [--out session-encode-overlap-latest.json] [--gpu-process] [--frames 30] [--rounds 3] [--eye 512x512] [--scenes dispersion,textured-pbr] [--format jpeg]
 */
import { readdir, readFile, mkdir, writeFile } from 'node:fs/promises';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SessionRender } from '../api/protocol/session.ts';
import { orbitPosition, stereoPose } from '../api/protocol/session-pose.ts';
import { CHROMIUM_SESSION_FLAGS, startChromiumRenderHost } from '../render-node/chromium/chromium-render-host.ts';
import type { SessionEncodeIn } from '../render-node/chromium/render-host-api.ts';
import { encodeSessionImage } from '../render-node/agent/session-encoder.ts';
import { readScene } from '../scene-check/read-scene.ts';
import { startCpuMonitor } from './cpu-contention.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const args = process.argv.slice(2);
const arg = (name: string) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};
const frames = Number(arg('--frames') ?? 30);
const rounds = Number(arg('--rounds') ?? 3);
const [ew, eh] = (arg('--eye') ?? '512x512').split('x').map(Number);
const scenes = (arg('--scenes') ?? 'dispersion,textured-pbr').split(',');
const format = (arg('--format') ?? 'jpeg') as 'jpeg' | 'webp';
/** `page-overlap`: the page encodes, and the next pose is drawn while it does (sessionDraw, as sessions run now). */
type Mode = SessionEncodeIn | 'page-overlap';
const MODES = (arg('--modes') ?? 'page-overlap,page,node').split(',') as Mode[];

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.floor(s.length / 2)] : NaN;
};

/** CPU seconds (user + system) of every process whose command line holds `marker`, and of their descendants. */
async function cpuOf(marker: string): Promise<number> {
  const tick = 100; // USER_HZ on Linux
  const procs: { pid: string; ppid: string; cpu: number; marked: boolean }[] = [];
  for (const pid of (await readdir('/proc')).filter((p) => /^\d+$/.test(p))) {
    try {
      const stat = await readFile(`/proc/${pid}/stat`, 'latin1');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      procs.push({ pid, ppid: f[1], cpu: (Number(f[11]) + Number(f[12])) / tick, marked: (await readFile(`/proc/${pid}/cmdline`, 'latin1')).includes(marker) });
    } catch {
      // gone
    }
  }
  const ours = new Set(procs.filter((p) => p.marked).map((p) => p.pid));
  for (let grew = true; grew; ) {
    grew = false;
    for (const p of procs) if (!ours.has(p.pid) && ours.has(p.ppid)) (ours.add(p.pid), (grew = true));
  }
  return procs.filter((p) => ours.has(p.pid)).reduce((s, p) => s + p.cpu, 0);
}

interface Row {
  scene: string;
  mode: Mode;
  frames: number;
  renderMs: number;
  encodeMs: number;
  transferMs: number;
  wallMs: number;
  /** Draw start → encoded frame in Node (page-overlap: longer than wall/frame, which is the time between frames). */
  latencyMs: number;
  bytes: number;
  nodeCpuMsPerFrame: number;
  chromiumCpuMsPerFrame: number;
}

const cpu = startCpuMonitor();
const mark0 = cpu.mark();
// As a session's render process starts it (--gpu-process: with a GPU process of its own, as batch renders do).
const host = await startChromiumRenderHost({ extraArgs: args.includes('--gpu-process') ? [] : CHROMIUM_SESSION_FLAGS });
const rows: Row[] = [];
try {
  for (const name of scenes) {
    const { glb } = await readScene({ bytes: new Uint8Array(await readFile(join(ROOT, 'scenes', `${name}.glb`))) });
    const scene = await host.load(glb, { maxTexturePixels: 4096 * 4096 });
    const render = SessionRender.parse({
      eye: { width: ew, height: eh },
      format,
      quality: 80,
      depth: false,
      shadows: true,
      maxFps: 90,
      toneMapping: 'aces',
      exposure: 1,
      background: 'environment',
      environmentIntensity: 1,
      keyLight: true,
      camera: name === 'textured-pbr' ? { kind: 'auto', yaw: 30, pitch: 15, fov: 40 } : { kind: 'gltf', name: 'front' },
    });
    const start = await host.startSession(scene, render);
    const samples = new Map<Mode, Omit<Row, 'scene' | 'mode' | 'frames' | 'nodeCpuMsPerFrame' | 'chromiumCpuMsPerFrame'>[]>(MODES.map((m) => [m, []]));
    const cpuMs = new Map<Mode, { node: number; chromium: number }>(MODES.map((m) => [m, { node: 0, chromium: 0 }]));
    for (let round = 0; round < rounds; round++) {
      for (const mode of round % 2 ? [...MODES].reverse() : MODES) {
        const n0 = process.cpuUsage();
        const c0 = await cpuOf('--tessera-render-host=');
        if (mode === 'page-overlap') {
          // As a session's render process runs: the next pose is drawn as soon as the last one's draw returns, with
          // at most one frame encoding meanwhile (session-host.ts); wall/frame is the time between frames.
          const encoding: Promise<void>[] = [];
          const s0 = performance.now();
          for (let i = 0; i < frames; i++) {
            if (encoding.length > 1) await encoding.shift();
            const position = orbitPosition(start.position, start.target, 1, (i / frames) * 40 - 20, 0);
            const t0 = performance.now();
            const d = await host.sessionDraw(stereoPose(position, start.target, { fov: start.fov, aspect: ew / eh }));
            encoding.push(d.encoded.then((e) => void samples.get(mode)!.push({ renderMs: d.renderMs, encodeMs: e.encodeMs, transferMs: 0, wallMs: 0, latencyMs: performance.now() - t0, bytes: e.image.length })));
          }
          await Promise.all(encoding);
          const per = (performance.now() - s0) / frames;
          for (const x of samples.get(mode)!.slice(-frames)) x.wallMs = per;
        }
        for (let i = 0; i < (mode === 'page-overlap' ? 0 : frames); i++) {
          const position = orbitPosition(start.position, start.target, 1, (i / frames) * 40 - 20, 0);
          const t0 = performance.now();
          const f = await host.sessionFrame(stereoPose(position, start.target, { fov: start.fov, aspect: ew / eh }), mode as SessionEncodeIn);
          let encodeMs = f.encodeMs;
          let bytes = f.image.length;
          if (mode === 'node') {
            const e0 = performance.now();
            bytes = (await encodeSessionImage(f.image, f.width, f.height, render)).length;
            encodeMs += performance.now() - e0;
          }
          samples.get(mode)!.push({ renderMs: f.renderMs, encodeMs, transferMs: f.transferMs, wallMs: performance.now() - t0, latencyMs: performance.now() - t0, bytes: mode === 'node' ? f.image.length : bytes });
        }
        const n1 = process.cpuUsage(n0);
        const c1 = await cpuOf('--tessera-render-host=');
        cpuMs.get(mode)!.node += (n1.user + n1.system) / 1000;
        cpuMs.get(mode)!.chromium += (c1 - c0) * 1000;
      }
    }
    for (const mode of MODES) {
      const s = samples.get(mode)!;
      rows.push({
        scene: name,
        mode,
        frames: s.length,
        renderMs: median(s.map((x) => x.renderMs)),
        encodeMs: median(s.map((x) => x.encodeMs)),
        transferMs: median(s.map((x) => x.transferMs)),
        wallMs: median(s.map((x) => x.wallMs)),
        latencyMs: median(s.map((x) => x.latencyMs)),
        bytes: median(s.map((x) => x.bytes)),
        nodeCpuMsPerFrame: cpuMs.get(mode)!.node / s.length,
        chromiumCpuMsPerFrame: cpuMs.get(mode)!.chromium / s.length,
      });
    }
    await host.unload(scene);
  }
} finally {
  await host.dispose();
}
const others = cpu.othersPct(mark0, cpu.mark());
await cpu.stop();
const f1 = (x: number) => x.toFixed(1);
console.log(`Chromium session frames, eye ${ew}x${eh} ×2, ${format} q80, ${frames} frames × ${rounds} rounds per mode (interleaved); ${cpus().length} cores, other processes' CPU ${others === null ? '?' : `${Math.round(others)}%`}`);
console.log('| scene | encode in | render | encode | transfer | wall/frame | draw → encoded | bytes over page.evaluate | Node CPU/frame | Chromium CPU/frame |');
console.log('|---|---|---|---|---|---|---|---|---|---|');
for (const r of rows) console.log(`| ${r.scene} | ${r.mode} | ${f1(r.renderMs)} ms | ${f1(r.encodeMs)} ms | ${f1(r.transferMs)} ms | ${f1(r.wallMs)} ms | ${f1(r.latencyMs)} ms | ${Math.round(r.bytes / 1024)} KiB | ${f1(r.nodeCpuMsPerFrame)} ms | ${f1(r.chromiumCpuMsPerFrame)} ms |`);
await mkdir(join(ROOT, 'bench', 'results'), { recursive: true });
await writeFile(join(ROOT, 'bench', 'results', arg('--out') ?? 'session-encode-latest.json'), JSON.stringify({ at: new Date().toISOString(), eye: { width: ew, height: eh }, format, frames, rounds, othersCpuPct: others, rows }, null, 2));
