/**
 * Resident memory of a process and all its descendants (Linux /proc), shared pages split between their sharers (Pss). A render process (a
 * session's, session-process.ts, or a batch slot's, task-sandbox.ts) on the Chromium backend launches Chromium (its
 * browser, GPU, renderer and utility processes), whose memory the process's own VmRSS does not count: the memory cap
 * must cover the whole tree, and stopping the process must stop the tree (killProcessTree). Descendants come from /proc/PID/task/TID/children (every thread's
 * children); where the kernel lacks that file, from a scan of every process's parent in /proc/N/stat.
 */
import { readdir, readFile } from 'node:fs/promises';

/** Most processes one tree may count (a runaway fork bomb is stopped by its memory long before). */
const MAX_TREE = 512;

/**
 * A process's share of resident memory: its proportional set size (Pss, /proc/PID/smaps_rollup: a page shared by n
 * processes counts 1/n in each), so Chromium's processes, which share most of their code and some memory, are not
 * counted several times over; VmRSS where the kernel has no smaps_rollup (before 4.14).
 */
async function residentOf(pid: number): Promise<number> {
  try {
    const pss = /^Pss:\s+(\d+)\s+kB/m.exec(await readFile(`/proc/${pid}/smaps_rollup`, 'utf8'));
    if (pss) return Number(pss[1]) * 1024;
  } catch {
    // no smaps_rollup here (or the process is gone): try status
  }
  try {
    const m = /VmRSS:\s+(\d+)\s+kB/.exec(await readFile(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0; // gone meanwhile
  }
}

async function childrenOf(pid: number): Promise<number[] | null> {
  let tids: string[];
  try {
    tids = await readdir(`/proc/${pid}/task`);
  } catch {
    return [];
  }
  const out: number[] = [];
  for (const tid of tids) {
    try {
      for (const c of (await readFile(`/proc/${pid}/task/${tid}/children`, 'utf8')).split(/\s+/)) if (c) out.push(Number(c));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT' && tid === String(pid)) return null; // no children files here
    }
  }
  return out;
}

/** Every process's parent, from /proc/N/stat (the fallback). */
async function parents(): Promise<Map<number, number[]>> {
  const byParent = new Map<number, number[]>();
  for (const name of await readdir('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = await readFile(`/proc/${name}/stat`, 'utf8');
      // pid (comm) state ppid …: comm may hold spaces and parentheses, so read after the last ')'.
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      const list = byParent.get(ppid) ?? [];
      list.push(Number(name));
      byParent.set(ppid, list);
    } catch {
      // gone meanwhile
    }
  }
  return byParent;
}

/** The pids of `pid` and its descendants. */
export async function processTree(pid: number): Promise<number[]> {
  const seen = [pid];
  let byParent: Map<number, number[]> | null = null;
  for (let i = 0; i < seen.length && seen.length < MAX_TREE; i++) {
    let kids = byParent ? (byParent.get(seen[i]) ?? []) : await childrenOf(seen[i]);
    if (kids === null) kids = (byParent = await parents()).get(seen[i]) ?? [];
    for (const k of kids) if (!seen.includes(k)) seen.push(k);
  }
  return seen;
}

/** Resident bytes (proportional: shared pages split between their sharers) of `pid` and its descendants together (0 when it is gone). */
export async function treeResidentBytes(pid: number | undefined): Promise<number> {
  if (!pid) return 0;
  let total = 0;
  for (const p of await processTree(pid)) total += await residentOf(p);
  return total;
}

/** A process's VmRSS (/proc/PID/status), 0 when it is gone or the file lacks it. */
async function rssOf(pid: number): Promise<number> {
  try {
    const m = /VmRSS:\s+(\d+)\s+kB/.exec(await readFile(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0; // gone meanwhile
  }
}

/**
 * `treeResidentBytes(pid)` when it passes `capBytes`, else null, read cheaply: a process's Pss is at most its VmRSS,
 * so a tree whose VmRSS sum (/proc/PID/status: ~0.1 ms a process) is within the cap is within it by Pss too, and
 * only a tree whose VmRSS sum passes the cap has its Pss read. smaps_rollup walks every mapping of its process in
 * the kernel: ~7-10 ms of CPU per read of a render process holding a 1080p context, which a memory poll every
 * 200 ms took from the draws it watched (llvmpipe draws on every core). The decision is the same as comparing
 * treeResidentBytes with the cap.
 */
export async function treeResidentBytesOver(pid: number | undefined, capBytes: number): Promise<number | null> {
  if (!pid) return null;
  const tree = await processTree(pid);
  let rss = 0;
  for (const p of tree) rss += await rssOf(p);
  if (rss <= capBytes) return null;
  let pss = 0;
  for (const p of tree) pss += await residentOf(p);
  return pss > capBytes ? pss : null;
}

/**
 * Stop `pid`'s descendants (SIGKILL: Chromium's processes, which a SIGKILLed parent cannot close and which would
 * otherwise live on as orphans) and then the process itself with `killRoot` (its ChildProcess's own kill, so Node
 * records how it ended). Descendants go first: once the root is gone they are re-parented and no longer found.
 */
export async function killProcessTree(pid: number | undefined, killRoot: () => void): Promise<void> {
  try {
    for (const p of pid ? (await processTree(pid)).slice(1) : []) {
      try {
        process.kill(p, 'SIGKILL');
      } catch {
        // gone already
      }
    }
  } catch {
    // /proc unreadable: the root still goes
  } finally {
    killRoot();
  }
}
