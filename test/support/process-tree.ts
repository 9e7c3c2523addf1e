/** The live process tree under a pid, read from Linux's /proc (tests that check which processes a farm or node runs). */
import { readdirSync, readFileSync } from 'node:fs';

/** Every live descendant of `root` with its command line (Linux /proc); zombies (ended, waiting to be reaped) left out. */
export function descendants(root: number): Map<number, string> {
  const parent = new Map<number, number>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      // A zombie (state Z) has ended: it only waits for its parent to reap it.
      const [state, ppid] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (state !== 'Z') parent.set(Number(name), Number(ppid));
    } catch {
      // Gone while we looked.
    }
  }
  const ours = new Map<number, string>();
  for (let grew = true; grew; ) {
    grew = false;
    for (const [pid, ppid] of parent) {
      if (ours.has(pid) || (ppid !== root && !ours.has(ppid))) continue;
      let cmdline = '';
      try {
        cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ');
      } catch {}
      ours.set(pid, cmdline);
      grew = true;
    }
  }
  return ours;
}

/** Whether any of `pids` is still running (a zombie, dead but not yet reaped by its new parent, is not). */
export function anyAlive(pids: readonly number[]): boolean {
  return pids.some((pid) => {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
    } catch {
      return false;
    }
  });
}
