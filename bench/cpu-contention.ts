import { cpus } from 'node:os';
import { Worker } from 'node:worker_threads';

/**
 * How much CPU other processes take while the bench runs: on a small shared machine a concurrent test run or
 * build can double every number. A worker thread reads utime + stime of every process in /proc once a second
 * and adds up the growth of those that are not this process or its descendants (Blender, Chromium, Xvfb count
 * as ours). It runs off the main thread (a scan costs ~10 ms), so it does not disturb the timed frames.
 * Linux only; elsewhere every share is null.
 */
export interface CpuMark {
  at: number;
  othersTicks: number;
}

export interface CpuMonitor {
  /** The other processes' CPU ticks so far (as of the last scan, at most one interval old). */
  mark(): CpuMark;
  /** Share (%) of all cores used by other processes between two marks. */
  othersPct(a: CpuMark, b: CpuMark): number | null;
  stop(): Promise<void>;
}

const TICKS_PER_SECOND = 100; // USER_HZ on Linux

// Plain JS, evaluated in the worker: slot 0 = other processes' ticks, slot 1 = 1 while /proc is readable,
// slot 2 = performance.timeOrigin + now of the last scan.
const SAMPLER = `
const { readdirSync, readFileSync } = require('node:fs');
const { workerData } = require('node:worker_threads');
const shared = new Float64Array(workerData.buffer);
const root = workerData.pid;
let prev = null;
function scan() {
  const procs = new Map();
  for (const name of readdirSync('/proc')) {
    if (!/^\\d+$/.test(name)) continue;
    try {
      const stat = readFileSync('/proc/' + name + '/stat', 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      procs.set(Number(name), { ppid: Number(f[1]), ticks: Number(f[11]) + Number(f[12]) });
    } catch {}
  }
  const ours = new Set([root]);
  for (let grew = true; grew; ) {
    grew = false;
    for (const [pid, p] of procs) if (!ours.has(pid) && ours.has(p.ppid)) { ours.add(pid); grew = true; }
  }
  const next = new Map();
  let others = 0;
  for (const [pid, p] of procs) {
    next.set(pid, p.ticks);
    if (prev && !ours.has(pid)) others += Math.max(0, p.ticks - (prev.get(pid) ?? 0));
  }
  prev = next;
  shared[0] += others;
  shared[2] = performance.timeOrigin + performance.now();
}
try {
  scan();
  shared[1] = 1;
  setInterval(() => { try { scan(); } catch { shared[1] = 0; } }, workerData.intervalMs);
} catch {
  shared[1] = 0;
}
`;

export function startCpuMonitor(intervalMs = 1000): CpuMonitor {
  const buffer = new SharedArrayBuffer(3 * 8);
  const shared = new Float64Array(buffer);
  let worker: Worker | undefined;
  try {
    worker = new Worker(SAMPLER, { eval: true, workerData: { buffer, pid: process.pid, intervalMs } });
    worker.unref();
    worker.on('error', () => (shared[1] = 0));
  } catch {
    shared[1] = 0;
  }
  return {
    mark() {
      const at = shared[2] ? shared[2] - performance.timeOrigin : performance.now();
      return { at, othersTicks: shared[0] };
    },
    othersPct(a, b) {
      if (shared[1] !== 1 || b.at <= a.at) return null;
      const capacity = ((b.at - a.at) / 1000) * TICKS_PER_SECOND * cpus().length;
      return Math.max(0, Math.min(100, (100 * (b.othersTicks - a.othersTicks)) / capacity));
    },
    async stop() {
      await worker?.terminate();
    },
  };
}

/** Wait (up to `maxS` seconds) until other processes use less than `thresholdPct` of the CPUs over 3 s. */
export async function waitForQuiet(monitor: CpuMonitor, maxS: number, thresholdPct: number, log: (m: string) => void): Promise<number | null> {
  const deadline = performance.now() + maxS * 1000;
  let announced = false;
  for (;;) {
    const a = monitor.mark();
    await new Promise((r) => setTimeout(r, 3100));
    const pct = monitor.othersPct(a, monitor.mark());
    if (pct === null || pct < thresholdPct || performance.now() >= deadline) return pct;
    if (!announced) {
      log(`  waiting up to ${maxS} s for other processes to calm down (they use ${pct.toFixed(0)}% of the CPUs)…`);
      announced = true;
    }
  }
}
