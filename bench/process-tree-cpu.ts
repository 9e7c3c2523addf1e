import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

let ticksPerSecond: number | undefined;

/**
 * CPU time (user + system, all threads, ms) of `root` and every process below it whose command name `match`es
 * (default: all), from /proc. On a shared machine this is the figure that holds still while wall times swing
 * with other people's load. Processes that ended in between are not counted. null where /proc is missing.
 */
export function processTreeCpuMs(root = process.pid, match: (comm: string) => boolean = () => true): number | null {
  let pids: string[];
  try {
    pids = readdirSync('/proc').filter((d) => /^\d+$/.test(d));
  } catch {
    return null;
  }
  ticksPerSecond ??= Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  const stats = new Map<number, { ppid: number; comm: string; ticks: number }>();
  for (const pid of pids) {
    try {
      const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const close = text.lastIndexOf(')');
      const comm = text.slice(text.indexOf('(') + 1, close);
      const f = text.slice(close + 2).split(' ');
      // After "pid (comm) ": state ppid … utime (field 14) stime (15), i.e. f[11], f[12].
      stats.set(Number(pid), { ppid: Number(f[1]), comm, ticks: Number(f[11]) + Number(f[12]) });
    } catch {
      // gone meanwhile
    }
  }
  const below = (pid: number): boolean => {
    for (let p: number | undefined = pid, hops = 0; p && hops < 64; p = stats.get(p)?.ppid, hops++) if (p === root) return true;
    return false;
  };
  let ticks = 0;
  for (const [pid, s] of stats) if (below(pid) && match(s.comm)) ticks += s.ticks;
  return (ticks * 1000) / ticksPerSecond;
}
