/**
 * Add up the `.cpuprofile` files that bench/cpu-profile-preload.mjs wrote, per process role (farm-api: the API
 * and local storage; node: a node's main process; render-process: its render processes; other: the bench itself),
 * and print each role's busy time, its top functions by self time and its self time per package / source dir.
 * Usage: tsx bench/summarize-cpu-profiles.ts DIR [--top 25] [--json FILE]
 */
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
}
interface Profile {
  startTime: number;
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

export interface RoleSummary {
  role: string;
  processes: number;
  /** Sampled time that was not idle (ms), and the idle time. */
  busyMs: number;
  idleMs: number;
  top: { fn: string; selfMs: number; pct: number }[];
  byPlace: { place: string; selfMs: number; pct: number }[];
}

/** Where a function lives: its npm package, our top-level dir, node's internals, or a V8 bucket. */
function place(url: string, fn: string): string {
  if (!url) return fn.startsWith('(') ? fn : '(native)';
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (pkg) return pkg[1];
  if (url.startsWith('node:')) return 'node:' + url.slice(5).split('/')[0];
  const ours = /\/(api|render-node|infra|bench|scene-check|node-support)\/(?:([^/]+)\/)?/.exec(url);
  if (ours) return ours[2] && !ours[2].includes('.') ? `${ours[1]}/${ours[2]}` : ours[1];
  return url.replace(/^file:\/\//, '').slice(-40);
}

/**
 * `window`: count only samples taken between these instants (µs of the monotonic clock, which V8's profiles and
 * `process.hrtime` share), e.g. a bench's timed part without the processes' start-up.
 */
export async function summarizeProfiles(dir: string, topN = 25, window?: { fromUs: number; toUs: number }): Promise<RoleSummary[]> {
  const files = (await readdir(dir)).filter((f) => f.endsWith('.cpuprofile'));
  const roles = new Map<string, { pids: Set<string>; fn: Map<string, number>; place: Map<string, number>; busy: number; idle: number }>();
  for (const f of files) {
    const [role, pid] = f.split('.');
    const p = JSON.parse(await readFile(join(dir, f), 'utf8')) as Profile;
    const r = roles.get(role) ?? { pids: new Set(), fn: new Map(), place: new Map(), busy: 0, idle: 0 };
    roles.set(role, r);
    r.pids.add(pid);
    const byId = new Map(p.nodes.map((n) => [n.id, n]));
    let at = p.startTime;
    for (let i = 0; i < p.samples.length; i++) {
      at += p.timeDeltas[i] ?? 0;
      const node = byId.get(p.samples[i]);
      const dt = (p.timeDeltas[i + 1] ?? 0) / 1000;
      if (!node || (window && (at < window.fromUs || at > window.toUs))) continue;
      const { functionName, url, lineNumber } = node.callFrame;
      if (functionName === '(idle)') {
        r.idle += dt;
        continue;
      }
      r.busy += dt;
      const short = url ? url.replace(/^.*\/(node_modules\/|wt\/[^/]+\/)/, '') : '';
      const key = `${functionName || '(anonymous)'} ${short ? `${short}:${lineNumber + 1}` : ''}`.trim();
      r.fn.set(key, (r.fn.get(key) ?? 0) + dt);
      const where = place(url, functionName);
      r.place.set(where, (r.place.get(where) ?? 0) + dt);
    }
  }
  const sorted = (m: Map<string, number>, busy: number, n: number) =>
    [...m.entries()].sort((a, b) => b[1] - a[1]).slice(0, n).map(([k, v]) => ({ k, ms: Math.round(v), pct: Math.round((v / busy) * 1000) / 10 }));
  return [...roles.entries()].sort().map(([role, r]) => ({
    role,
    processes: r.pids.size,
    busyMs: Math.round(r.busy),
    idleMs: Math.round(r.idle),
    top: sorted(r.fn, r.busy, topN).map(({ k, ms, pct }) => ({ fn: k, selfMs: ms, pct })),
    byPlace: sorted(r.place, r.busy, 15).map(({ k, ms, pct }) => ({ place: k, selfMs: ms, pct })),
  }));
}

export function formatProfiles(summaries: RoleSummary[]): string {
  const out: string[] = [];
  for (const s of summaries) {
    out.push(`== ${s.role} (${s.processes} process(es)): busy ${s.busyMs} ms, idle ${s.idleMs} ms`);
    out.push('  self time by place: ' + s.byPlace.map((p) => `${p.place} ${p.pct}%`).join(', '));
    for (const t of s.top) out.push(`  ${String(t.pct).padStart(5)}%  ${String(t.selfMs).padStart(6)} ms  ${t.fn}`);
  }
  return out.join('\n');
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { values, positionals } = parseArgs({ allowPositionals: true, options: { top: { type: 'string', default: '25' }, json: { type: 'string' } } });
  const summaries = await summarizeProfiles(positionals[0], Number(values.top));
  process.stdout.write(formatProfiles(summaries) + '\n');
  if (values.json) await writeFile(values.json, JSON.stringify(summaries, null, 2) + '\n');
}
