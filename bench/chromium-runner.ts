import { existsSync } from 'node:fs';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BenchOptions, SystemId } from './bench-options.ts';
import { emptyRow, type BenchRow, type FrameSample } from './bench-result.ts';
import { summarizeFrames } from './frame-stats.ts';
import type { ScenePlan } from './scene-plan.ts';
import { KEY_LIGHT_INTENSITY, VIEW_DEFAULTS, frameSequence } from './shared-view.ts';
import { processTreeCpuMs } from './process-tree-cpu.ts';
import { startStaticServer } from './static-server.ts';
import type { ThreeLatest } from './three-latest.ts';

/** The two ways a screenshot service runs WebGL without a GPU. */
export const CHROMIUM_CONFIGS: { id: SystemId; name: string; args: string[]; expect: RegExp }[] = [
  { id: 'chromium-swiftshader', name: 'SwiftShader, default flags', args: [], expect: /swiftshader/i },
  { id: 'chromium-llvmpipe', name: 'ANGLE GL-EGL, Mesa llvmpipe', args: ['--use-angle=gl-egl', '--ignore-gpu-blocklist'], expect: /llvmpipe/i },
];

const isChromium = (comm: string) => /chrom/i.test(comm);
/** Frames of the overlapped animation pass (Tessera's passes have as many). */
const ANIMATION_FRAMES = 24;

/** Flags for a machine with no network: nothing phones home, nothing updates. */
const QUIET_ARGS = ['--headless=new', '--no-sandbox', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic', '--disable-dev-shm-usage'];

const PAGE_HTML = fileURLToPath(new URL('./chromium-page.html', import.meta.url));
const PAGE_JS = fileURLToPath(new URL('./chromium-page.js', import.meta.url));

export function chromiumLabel(id: SystemId, version = '?', three = '?'): string {
  const cfg = CHROMIUM_CONFIGS.find((c) => c.id === id)!;
  return `Chromium ${version} + three r${three} (${cfg.name})`;
}

export interface ChromiumSetup {
  available: boolean;
  reason?: string;
  three?: ThreeLatest;
  env: { data: Float32Array; width: number; height: number };
}

interface FrameResult {
  submitMs: number;
  readPixelsMs: number;
  encodeMs: number;
  totalMs: number;
  pngBytes: number;
  glError: number;
  png?: string;
}

type Playwright = typeof import('playwright-core');

/** Is Chromium installed, and playwright-core importable? (Never downloads a browser.) */
export async function checkChromium(bin: string): Promise<{ available: boolean; reason?: string; pw?: Playwright }> {
  if (!existsSync(bin)) return { available: false, reason: `Chromium not found at ${bin}; install it with: apt-get update && apt-get install -y chromium (or pass --chromium PATH)` };
  try {
    const pw = (await import('playwright-core')) as Playwright;
    return { available: true, pw };
  } catch (err) {
    return { available: false, reason: `playwright-core is not installed (npm install): ${(err as Error).message}` };
  }
}

/**
 * Chromium rows: per configuration one browser (fresh profile), per scene one page that loads the GLB with the
 * latest three.js; per frame pose + render + readPixels (render column; readPixels is what makes the frame finish
 * on these backends) and canvas.toBlob PNG (encode column), all timed inside the page.
 */
export async function runChromiumSystems(plans: ScenePlan[], opts: BenchOptions, setup: ChromiumSetup, imagesDir: string, log: (m: string) => void): Promise<{ rows: BenchRow[]; info: Record<string, unknown> }> {
  const rows: BenchRow[] = [];
  const info: Record<string, unknown> = {};
  const configs = CHROMIUM_CONFIGS.filter((c) => opts.systems.includes(c.id));
  if (!configs.length) return { rows, info };
  const skipAll = (reason: string, ids = configs.map((c) => c.id)) => {
    for (const id of ids)
      for (const plan of plans)
        for (const size of opts.sizes)
          rows.push({ ...emptyRow({ scene: plan.scene.name, width: size.width, height: size.height, sizeLabel: size.label, system: id, label: chromiumLabel(id, undefined, setup.three?.version.replace(/^0\./, '').replace(/\.\d+$/, '')) }), status: 'skipped', reason });
  };
  if (!setup.available || !setup.three) {
    skipAll(setup.reason ?? 'unavailable');
    return { rows, info };
  }
  const check = await checkChromium(opts.chromiumBin);
  if (!check.available || !check.pw) {
    skipAll(check.reason ?? 'unavailable');
    return { rows, info };
  }
  const threeRev = setup.three.version.replace(/^0\./, '').replace(/\.\d+$/, '');
  const sceneFiles = Object.fromEntries(plans.map((p, i) => [`/scene-${i}.glb`, p.scene.path]));
  const server = await startStaticServer({
    files: { '/': PAGE_HTML, '/chromium-page.js': PAGE_JS, ...sceneFiles },
    dirs: { '/three/': setup.three.dir },
    buffers: { '/env.f32': new Uint8Array(setup.env.data.buffer, setup.env.data.byteOffset, setup.env.data.byteLength) },
  });
  try {
    for (const cfg of configs) {
      const profile = join(opts.tmpDir, `chromium-profile-${cfg.id}`);
      await rm(profile, { recursive: true, force: true });
      await mkdir(profile, { recursive: true });
      const l0 = performance.now();
      let context;
      try {
        context = await check.pw.chromium.launchPersistentContext(profile, {
          executablePath: opts.chromiumBin,
          headless: true,
          args: [...QUIET_ARGS, ...cfg.args],
          timeout: opts.processTimeoutS * 1000,
          viewport: { width: 800, height: 600 },
        });
      } catch (err) {
        skipAll(`Chromium did not start: ${(err as Error).message.split('\n')[0]}`, [cfg.id]);
        continue;
      }
      const launchMs = performance.now() - l0;
      const version = context.browser()?.version() ?? (await (async () => 'unknown')());
      try {
        const probe = await context.newPage();
        await probe.goto(`${server.url}/`);
        await probe.waitForFunction(() => (window as unknown as { benchApi?: unknown }).benchApi !== undefined, undefined, { timeout: 60_000 });
        const pageInfo = (await probe.evaluate(() => (window as any).benchApi.info())) as { threeRevision: string; userAgent: string; webgl2: boolean; glRenderer: string | null; glVersion: string | null };
        await probe.close();
        const browserVersion = /Chrome\/(\S+)/.exec(pageInfo.userAgent)?.[1] ?? version;
        const label = chromiumLabel(cfg.id, browserVersion.split('.')[0], pageInfo.threeRevision ?? threeRev);
        info[cfg.id] = { label, launchMs, browserVersion, args: [...QUIET_ARGS, ...cfg.args], threeVersion: setup.three.version, threeVia: setup.three.via, ...pageInfo };
        const backendNote = pageInfo.glRenderer && !cfg.expect.test(pageInfo.glRenderer) ? `expected ${cfg.expect.source} but WebGL reports "${pageInfo.glRenderer}"` : undefined;
        log(`  ${cfg.id}: Chromium ${browserVersion}, WebGL ${pageInfo.webgl2 ? '2' : 'unavailable'}: ${pageInfo.glRenderer}`);
        if (!pageInfo.webgl2) {
          skipAll(`WebGL 2 unavailable in this configuration (${pageInfo.glRenderer ?? 'no context'}); try adding --enable-unsafe-swiftshader`, [cfg.id]);
          continue;
        }
        for (let si = 0; si < plans.length; si++) {
          const plan = plans[si];
          const page = await context.newPage();
          const mk = (size: { width: number; height: number; label: string }) =>
            emptyRow({ scene: plan.scene.name, width: size.width, height: size.height, sizeLabel: size.label, system: cfg.id, label });
          let load: { loadMs: number; [k: string]: number };
          try {
            await page.goto(`${server.url}/`);
            await page.waitForFunction(() => (window as unknown as { benchApi?: unknown }).benchApi !== undefined, undefined, { timeout: 60_000 });
            const anyView = plan.views.values().next().value!;
            load = (await page.evaluate((o) => (window as any).benchApi.load(o), {
              glbUrl: `/scene-${si}.glb`,
              envUrl: '/env.f32',
              envWidth: setup.env.width,
              envHeight: setup.env.height,
              background: VIEW_DEFAULTS.background,
              keyLight: anyView.keyLight !== null,
              keyLightIntensity: KEY_LIGHT_INTENSITY,
            })) as typeof load;
          } catch (err) {
            for (const size of opts.sizes) rows.push({ ...mk(size), status: 'failed', reason: `load failed: ${(err as Error).message.split('\n')[0]}` });
            await page.close().catch(() => {});
            continue;
          }
          for (const size of opts.sizes) {
            const row = mk(size);
            row.loadMs = load.loadMs;
            row.info = { ...load, glRenderer: pageInfo.glRenderer };
            if (backendNote) row.notes.push(backendNote);
            row.notes.push('render = pose + draw + readPixels (the GPU work finishes inside readPixels); encode = canvas.toBlob PNG');
            const view = plan.views.get(size.label)!;
            const frames = frameSequence(plan.lastFrame, 1 + opts.frames);
            const samples: FrameSample[] = [];
            // CPU of every Chromium process (browser, GPU process with its llvmpipe/SwiftShader threads, renderer)
            // over the timed frames: what the baseline uses of the machine, beside its wall time.
            let cpu0: number | null = null;
            let wall0 = 0;
            try {
              for (let i = 0; i < frames.length; i++) {
                if (i === 1) {
                  cpu0 = processTreeCpuMs(process.pid, isChromium);
                  wall0 = performance.now();
                }
                const r = (await page.evaluate((o) => (window as any).benchApi.frame(o), {
                  width: size.width,
                  height: size.height,
                  time: frames[i] / plan.fps,
                  camera: view.camera,
                  keyLight: view.keyLight,
                  wantPng: i === 0,
                })) as FrameResult;
                if (r.glError) row.notes.push(`WebGL error 0x${r.glError.toString(16)} on frame ${frames[i]}`);
                const sample: FrameSample = {
                  frame: frames[i],
                  renderMs: r.submitMs + r.readPixelsMs,
                  readbackMs: null,
                  encodeMs: r.encodeMs,
                  totalMs: r.totalMs,
                  detail: { submitMs: r.submitMs, readPixelsMs: r.readPixelsMs },
                };
                if (i === 0) {
                  row.firstFrameMs = r.totalMs;
                  row.pngBytes = r.pngBytes;
                  if (r.png) {
                    row.image = join(imagesDir, `${plan.scene.name}-${size.width}x${size.height}-${cfg.id}.png`);
                    await writeFile(row.image, Buffer.from(r.png, 'base64'));
                  }
                } else samples.push(sample);
              }
              summarizeFrames(row, samples);
              const cpu1 = processTreeCpuMs(process.pid, isChromium);
              if (cpu0 !== null && cpu1 !== null && samples.length) {
                const wall = performance.now() - wall0;
                row.info = { ...row.info, cpuMsPerFrame: (cpu1 - cpu0) / samples.length, coresUsed: (cpu1 - cpu0) / wall };
              }
              // The animation overlapped too (frame N+1 draws while frame N's toBlob is pending), as many frames
              // as Tessera's pass: the baseline's frames/s is the faster of the two ways.
              const times = frameSequence(plan.lastFrame, Math.max(ANIMATION_FRAMES, opts.frames)).map((f) => f / plan.fps);
              const a0 = processTreeCpuMs(process.pid, isChromium);
              const anim = (await page.evaluate((o) => (window as any).benchApi.animation(o), { width: size.width, height: size.height, times, camera: view.camera, keyLight: view.keyLight })) as { ms: number; fps: number; bytes: number; glError: number };
              const a1 = processTreeCpuMs(process.pid, isChromium);
              if (anim.glError) row.notes.push(`WebGL error 0x${anim.glError.toString(16)} in the animation pass`);
              const serialFps = row.animationFps ?? null;
              const pipelined = { frames: times.length, fps: anim.fps, ms: anim.ms, bytesPerFrame: anim.bytes / times.length, ...(a0 !== null && a1 !== null ? { cpuMsPerFrame: (a1 - a0) / times.length, coresUsed: (a1 - a0) / anim.ms } : {}) };
              row.animationFps = Math.max(serialFps ?? 0, anim.fps);
              row.info = { ...row.info, animation: { serialFps, pipelined, best: serialFps !== null && serialFps >= anim.fps ? 'serial' : 'pipelined' } };
            } catch (err) {
              row.status = 'failed';
              row.reason = `render failed: ${(err as Error).message.split('\n')[0]}`;
            }
            rows.push(row);
            log(`  ${cfg.id} ${plan.scene.name} ${size.label}: ${row.status === 'ok' ? `${row.totalMs?.toFixed(1)} ms/frame` : row.reason}`);
          }
          await page.evaluate(() => (window as any).benchApi.dispose()).catch(() => {});
          await page.close().catch(() => {});
        }
      } finally {
        await context.close().catch(() => {});
      }
    }
  } finally {
    await server.close();
  }
  return { rows, info };
}
