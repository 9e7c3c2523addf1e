import { readdirSync, readFileSync } from 'node:fs';

/**
 * CPU seconds per process of a process tree over a window, grouped by role: on a 2-core machine the farm's cost is
 * mostly the other processes' CPU (API, storage, the client, the node's main process) taken from the renderer, so
 * the bench says how much each took. Reads utime + stime (+ cutime + cstime: children reaped in the window) of the
 * root and every descendant from /proc at the window's start and end; a process that started in the window counts
 * from zero, one that ended and was not reaped by a process of the tree is lost (render processes live as long as
 * their node). Linux only: elsewhere `snapshot` returns null.
 */
export interface ProcessSample {
  pid: number;
  ppid: number;
  /** Start time in clock ticks since boot: tells a reused pid apart. */
  start: number;
  /** utime + stime, and cutime + cstime (children already reaped), in seconds. */
  self: number;
  reaped: number;
  role: string;
}

export type Snapshot = Map<number, ProcessSample>;
export type RoleOf = (cmdline: string, pid: number) => string;

const TICKS_PER_SECOND = 100; // USER_HZ on Linux

/** Every descendant of `root` (root included), with its role from `roleOf(cmdline)`. */
export function snapshot(root: number, roleOf: RoleOf): Snapshot | null {
  let names: string[];
  try {
    names = readdirSync('/proc');
  } catch {
    return null;
  }
  const all = new Map<number, Omit<ProcessSample, 'role'>>();
  for (const name of names) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      // Fields after the command: state(0) ppid(1) … utime(11) stime(12) cutime(13) cstime(14) … starttime(19).
      all.set(Number(name), {
        pid: Number(name),
        ppid: Number(f[1]),
        start: Number(f[19]),
        self: (Number(f[11]) + Number(f[12])) / TICKS_PER_SECOND,
        reaped: (Number(f[13]) + Number(f[14])) / TICKS_PER_SECOND,
      });
    } catch {
      // It ended while we looked.
    }
  }
  const ours = new Set([root]);
  for (let grew = true; grew; ) {
    grew = false;
    for (const [pid, p] of all) if (!ours.has(pid) && ours.has(p.ppid)) (ours.add(pid), (grew = true));
  }
  const out: Snapshot = new Map();
  for (const pid of ours) {
    const p = all.get(pid);
    if (!p) continue;
    let cmdline = '';
    try {
      cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ');
    } catch {}
    out.set(pid, { ...p, role: roleOf(cmdline, pid) });
  }
  return out;
}

export interface RoleCpu {
  role: string;
  processes: number;
  /** CPU seconds (user + system) in the window, this role's processes and the children they reaped. */
  cpuS: number;
}

/** CPU seconds per role between two snapshots, largest first. */
export function cpuByRole(a: Snapshot | null, b: Snapshot | null): RoleCpu[] | null {
  if (!a || !b) return null;
  const roles = new Map<string, RoleCpu>();
  for (const [pid, end] of b) {
    const begin = a.get(pid);
    const same = begin && begin.start === end.start;
    const cpu = end.self + end.reaped - (same ? begin.self + begin.reaped : 0);
    const r = roles.get(end.role) ?? { role: end.role, processes: 0, cpuS: 0 };
    r.processes++;
    r.cpuS += Math.max(0, cpu);
    roles.set(end.role, r);
  }
  return [...roles.values()].map((r) => ({ ...r, cpuS: Math.round(r.cpuS * 100) / 100 })).sort((x, y) => y.cpuS - x.cpuS);
}

export function formatRoleCpu(roles: RoleCpu[], wallMs: number, frames: number): string {
  const total = roles.reduce((s, r) => s + r.cpuS, 0);
  const parts = roles.map((r) => `${r.role}${r.processes > 1 ? ` ×${r.processes}` : ''} ${r.cpuS.toFixed(2)} s (${((1000 * r.cpuS) / frames).toFixed(0)} ms/frame)`);
  return `CPU ${total.toFixed(2)} s in ${(wallMs / 1000).toFixed(2)} s wall (${((1000 * total) / frames).toFixed(0)} ms/frame): ${parts.join(', ')}`;
}
