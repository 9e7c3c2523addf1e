import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { waitFor } from '../support/farm-checks.ts';
import { descendants } from '../support/process-tree.ts';
import { BIN, ROOT } from '../support/tessera-cli.ts';

const alive = (pid: number) => {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
};

// Linux only: it finds farm up's descendants, their environments and their threads in /proc (CI and every render
// node the project supports run Linux; the behaviour it checks, a stdin pipe and a parent-pid watch, is not Linux-specific).
describe.skipIf(process.platform !== 'linux')("tessera farm up's processes", () => {
  it('render without per-core llvmpipe threads when they fill the cores, and exit when farm up is killed outright (SIGKILL) instead of staying behind as orphans', async () => {
    const data = mkdtempSync(join(tmpdir(), 'tessera-farm-orphan-'));
    const readyFile = join(data, 'ready');
    const farm = spawn(process.execPath, [BIN, 'farm', 'up', '--nodes', '2', '--node-concurrency', '1', '--port', '0', '--data', data, '--ready-file', readyFile], {
      cwd: ROOT,
      env: { ...process.env, DISPLAY: '', TESSERA_API_KEY: '' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let log = '';
    farm.stdout!.on('data', (d) => (log += d));
    farm.stderr!.on('data', (d) => (log += d));
    let everyone: number[] = [];
    try {
      await waitFor('the farm to be ready', async () => {
        if (farm.exitCode !== null) throw Object.assign(new Error(`farm up exited with ${farm.exitCode}:\n${log}`), { fatal: true });
        return existsSync(readyFile) ? true : undefined;
      }, 170_000);
      const tree = descendants(farm.pid!);
      const nodes = [...tree].filter(([, cmd]) => / node start /.test(cmd)).map(([pid]) => pid);
      const renderProcesses = [...tree].filter(([, cmd]) => /task-worker/.test(cmd)).map(([pid]) => pid);
      // Two nodes, each with its render process (started at registration to measure the reference tile).
      expect(nodes, log).toHaveLength(2);
      expect(renderProcesses.length, log).toBeGreaterThanOrEqual(2);
      everyone = [...tree.keys()];
      // Two render processes on this machine's cores: when they fill the cores (CI's 2), farm up gives each no
      // llvmpipe rasterizer threads of its own (LP_NUM_THREADS=0) rather than one per core each.
      if (!process.env.LP_NUM_THREADS && availableParallelism() <= 2) {
        // Through the node's --raster-threads, not its environment: a session's render process inherits the node's
        // environment and keeps Mesa's rasterizer thread per core (a person waits on each session frame).
        for (const pid of nodes) {
          expect(readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ')).toContain('--raster-threads 0');
          expect(readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0').filter((v) => v.startsWith('LP_NUM_THREADS='))).toEqual([]);
        }
        for (const pid of renderProcesses) {
          expect(readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0')).toContain('LP_NUM_THREADS=0');
          const threads = readdirSync(`/proc/${pid}/task`).map((tid) => readFileSync(`/proc/${pid}/task/${tid}/comm`, 'utf8').trim());
          expect(threads.filter((name) => /^llvmpipe/.test(name)), threads.join(',')).toEqual([]);
        }
      }

      farm.kill('SIGKILL');
      // The nodes see their stdin end, drain (at most a few seconds: the API died with farm up) and exit; their
      // render processes see the IPC channel close and exit too. Generous: CI's 2 cores may be busy.
      const left = await waitFor('the nodes and their render processes to exit', async () => {
        const still = everyone.filter(alive);
        return still.length === 0 ? still : undefined;
      }, 60_000).catch(() => everyone.filter(alive));
      expect(left.map((pid) => `${pid}: ${tree.get(pid)}`)).toEqual([]);
    } finally {
      if (farm.exitCode === null) farm.kill('SIGKILL');
      for (const pid of everyone) if (alive(pid)) process.kill(pid, 'SIGKILL');
    }
  }, 240_000);
});
