import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { treeResidentBytes, treeResidentBytesOver } from '../../render-node/agent/process-tree-memory.ts';

// Linux /proc only: the memory cap reads VmRSS and Pss of the process tree there.
describe.runIf(process.platform === 'linux')('a process tree against a memory cap', () => {
  it('reads Pss only past the VmRSS pre-check, with the same answer as treeResidentBytes', async () => {
    // A child holding 64 MiB of touched memory, so the tree has two processes and a known floor.
    const child = spawn(process.execPath, ['-e', 'const b = Buffer.alloc(64 * 2 ** 20, 1); setInterval(() => b[0]++, 1000); process.send?.("up")'], { stdio: ['ignore', 'ignore', 'ignore', 'ipc'] });
    try {
      await new Promise<void>((resolve) => child.once('message', () => resolve()));
      const pss = await treeResidentBytes(process.pid);
      expect(pss).toBeGreaterThan(64 * 2 ** 20);
      // Far above the tree: within the cap (null), whatever Pss reads.
      expect(await treeResidentBytesOver(process.pid, 64 * 2 ** 30)).toBeNull();
      // Below the tree: over the cap, and the figure is the tree's Pss (child's 64 MiB counted), as treeResidentBytes says.
      const over = await treeResidentBytesOver(process.pid, 16 * 2 ** 20);
      expect(over).not.toBeNull();
      expect(over!).toBeGreaterThan(64 * 2 ** 20);
      expect(Math.abs(over! - pss) / pss).toBeLessThan(0.25);
      // A gone process: nothing to stop.
      expect(await treeResidentBytesOver(undefined, 0)).toBeNull();
    } finally {
      child.kill('SIGKILL');
    }
  });
});
