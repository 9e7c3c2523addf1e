/**
 * `tessera node doctor`: checks, before a node takes work, everything that would stop it or make it a bad
 * node — the API answers, Xvfb is there (when DISPLAY is unset), a GL context renders the reference tile (GL
 * renderer, tiles/s), memory and the cache disk suffice, the advertised probe URL is reachable *from the API*
 * (so a node behind NAT learns it), and the clock agrees with the API's. Each finding is one line saying what
 * to do; `fail` means the node would not work.
 */
import { execFileSync } from 'node:child_process';
import { mkdir, readFile, rm, statfs, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { isTesseraError } from '../../api/protocol/errors.ts';
import type { Logger } from '../logger.ts';
import { NodeApi } from './node-api.ts';
import { startProbeServer } from './probe-server.ts';
import { createResourceCard, type RenderCapabilities } from './resource-card.ts';
import { TaskSandbox } from './task-sandbox.ts';

export type Severity = 'ok' | 'warn' | 'fail';

export interface DoctorFinding {
  check: string;
  severity: Severity;
  /** What was found and, unless ok, what to do. One line. */
  message: string;
}

export interface DoctorOptions {
  api: string;
  /** Sent when the doctor registers its short-lived node (APIs that require join tokens). */
  joinToken?: string;
  name?: string;
  concurrency?: number;
  cacheDir?: string;
  probePort?: number;
  probeHost?: string;
  probeUrl?: string;
  location?: { lat: number; lon: number };
  log: Logger;
}

export const DOCTOR_LIMITS = {
  /** Less available memory than this fails; less than this per slot warns. */
  minMemoryBytes: 1024 ** 3,
  /** Less free cache disk than this fails; less than `warnDiskBytes` warns. */
  minDiskBytes: 1024 ** 3,
  warnDiskBytes: 5 * 1024 ** 3,
  /** Clock skew against the API: warn above, fail above. */
  warnSkewMs: 1000,
  failSkewMs: 300_000,
};

const GiB = (b: number) => `${(b / 1024 ** 3).toFixed(1)} GiB`;

/** Run every check; never throws for a failed check (it becomes a finding). */
export async function runDoctor(options: DoctorOptions): Promise<DoctorFinding[]> {
  const findings: DoctorFinding[] = [];
  const add = (check: string, severity: Severity, message: string) => findings.push({ check, severity, message });
  const concurrency = options.concurrency ?? 2;

  // 1. The API, and the clock against it (serverTime, else the Date header), halfway through the round trip.
  let apiUp = false;
  try {
    const t0 = Date.now();
    const res = await fetch(new URL('/v1/health', options.api), { signal: AbortSignal.timeout(10_000) });
    const t1 = Date.now();
    const body = (await res.json().catch(() => ({}))) as { status?: string; version?: string; serverTime?: number };
    if (!res.ok || body.status !== 'ok') throw new Error(`GET /v1/health answered ${res.status}`);
    apiUp = true;
    add('api', 'ok', `API ${options.api} answers (version ${body.version ?? '?'}, ${t1 - t0} ms round trip)`);
    const serverTime = typeof body.serverTime === 'number' ? body.serverTime : Date.parse(res.headers.get('date') ?? '');
    if (Number.isFinite(serverTime)) {
      const skew = Math.round(Date.now() - (t1 - t0) / 2 - serverTime);
      const what = `clock is ${Math.abs(skew)} ms ${skew > 0 ? 'ahead of' : 'behind'} the API's`;
      if (Math.abs(skew) > DOCTOR_LIMITS.failSkewMs) add('clock', 'fail', `${what}: turn on time sync (timedatectl set-ntp true, or chrony) and check the time zone`);
      else if (Math.abs(skew) > DOCTOR_LIMITS.warnSkewMs) add('clock', 'warn', `${what}: turn on time sync (timedatectl set-ntp true, or chrony); logs and timings will disagree`);
      else add('clock', 'ok', what);
    } else add('clock', 'warn', 'the API sent no time (serverTime or Date header): cannot check clock skew');
  } catch (err) {
    add('api', 'fail', `cannot reach the API at ${options.api} (${(err as Error).message}): check --api, DNS and that outbound HTTPS is allowed`);
  }

  // 2. Xvfb (the node starts its own when DISPLAY is unset).
  if (process.env.DISPLAY) add('xvfb', 'ok', `DISPLAY=${process.env.DISPLAY} is set: the node renders on that X server`);
  else {
    try {
      const path = execFileSync('sh', ['-c', 'command -v Xvfb'], { encoding: 'utf8' }).trim();
      add('xvfb', 'ok', `Xvfb at ${path} (DISPLAY is unset: the node starts its own)`);
    } catch {
      add('xvfb', 'fail', 'Xvfb is not installed and DISPLAY is unset: run `tessera setup` (or sudo apt-get install xvfb xauth)');
    }
  }

  // 3. GL: a render process measures the reference tile, as the node does at start.
  const cacheDir = options.cacheDir ?? join(tmpdir(), 'tessera-scene-cache');
  let gl: RenderCapabilities | undefined;
  const sandbox = new TaskSandbox({ cacheDir, maxLoadedScenes: 1, maxTexturePixels: 64 * 1024 * 1024, timeCapMs: 120_000, memoryCapBytes: 4 * 1024 ** 3, log: options.log });
  try {
    gl = await sandbox.describe();
    add('gl', 'ok', `GL renderer ${gl.info.renderer} (${gl.info.vendor}, ${gl.info.version}), max texture ${gl.info.maxTextureSize}; reference tile: ${gl.tilesPerSecond} tiles/s`);
  } catch (err) {
    add('gl', 'fail', `no GL context renders here (${(err as Error).message}): run \`tessera setup\`, then \`npm rebuild gl\` where Tessera is installed`);
  } finally {
    await sandbox.dispose();
  }

  // 4. Memory: what the kernel says is available (MemAvailable), against the slots.
  const available = await availableMemory();
  if (available < DOCTOR_LIMITS.minMemoryBytes) add('memory', 'fail', `${GiB(available)} of memory available, under ${GiB(DOCTOR_LIMITS.minMemoryBytes)}: free memory or add some`);
  else if (available < DOCTOR_LIMITS.minMemoryBytes * concurrency) add('memory', 'warn', `${GiB(available)} available for ${concurrency} task slots: use --concurrency ${Math.max(1, Math.floor(available / DOCTOR_LIMITS.minMemoryBytes))} or add memory`);
  else add('memory', 'ok', `${GiB(available)} of memory available for ${concurrency} task slots`);

  // 5. Cache disk: writable, and room for scenes.
  try {
    await mkdir(cacheDir, { recursive: true });
    const probeFile = join(cacheDir, `.doctor-${process.pid}`);
    await writeFile(probeFile, 'ok');
    await rm(probeFile, { force: true });
    const fs = await statfs(cacheDir);
    const free = fs.bavail * fs.bsize;
    if (free < DOCTOR_LIMITS.minDiskBytes) add('cache', 'fail', `scene cache ${cacheDir} has ${GiB(free)} free: free disk space or point --cache at a larger disk`);
    else if (free < DOCTOR_LIMITS.warnDiskBytes) add('cache', 'warn', `scene cache ${cacheDir} has ${GiB(free)} free: large scenes may not fit; free space or move --cache`);
    else add('cache', 'ok', `scene cache ${cacheDir} is writable, ${GiB(free)} free`);
  } catch (err) {
    add('cache', 'fail', `scene cache ${cacheDir} is not writable (${(err as Error).message}): create it for the node's user or set --cache`);
  }

  // 6. The probe URL, from the API's side: register a short-lived doctor node advertising it and ask the API
  //    to fetch it. It reports itself fully loaded, so no task is routed to it, and counts as gone after three missed heartbeats.
  if (!apiUp) add('probe', 'fail', 'not checked: the API is unreachable');
  else if (!gl) add('probe', 'fail', 'not checked: a node registers with its GL card, and GL failed');
  else {
    let probe: Awaited<ReturnType<typeof startProbeServer>> | undefined;
    try {
      probe = await startProbeServer({ port: options.probePort, host: options.probeHost, publicUrl: options.probeUrl });
      const card = createResourceCard(gl, { name: `${options.name ?? hostname()}-doctor`.slice(0, 64), concurrency: 1, probeUrl: probe.url, location: options.location });
      const api = new NodeApi(options.api, options.joinToken);
      const registered = await api.register(card);
      probe.setNodeId(registered.nodeId, registered.probeKey);
      await api.heartbeat({ leaseIds: [], load: 1, peers: [] }).catch(() => {});
      const r = await api.reachability();
      add('probe', r.reachable ? 'ok' : 'fail', r.reachable ? `probe URL ${r.probeUrl} is reachable from the API` : `probe URL ${r.probeUrl} is not reachable from the API: ${r.message}`);
    } catch (err) {
      const inUse = (err as NodeJS.ErrnoException)?.code === 'EADDRINUSE';
      add(
        'probe',
        'fail',
        inUse
          ? `probe port ${options.probePort} is in use (a node already running there? stop it first, or check with another --probe-port)`
          : `could not check the probe URL (${isTesseraError(err) ? `${err.code}: ${err.message}` : (err as Error).message})`,
      );
    } finally {
      await probe?.close();
    }
  }
  return findings;
}

/** MemAvailable from /proc/meminfo (Linux), else os.freemem(). */
async function availableMemory(): Promise<number> {
  try {
    const m = /MemAvailable:\s+(\d+) kB/.exec(await readFile('/proc/meminfo', 'utf8'));
    if (m) return Number(m[1]) * 1024;
  } catch {
    // not Linux
  }
  return (await import('node:os')).freemem();
}
