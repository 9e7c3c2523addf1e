/**
 * A session on the Chromium backend is under the node's memory cap, Chromium included (session-process.ts with
 * process-tree-memory.ts), with real processes and real Chromium: the render process's own resident memory (VmRSS,
 * all the cap counted before) leaves Chromium's processes out, so the cap counts the whole tree (Pss). A cap between the render process's own memory and the
 * tree's stops the session with close code 4023 (OVER_MEMORY_CAP) and a reason naming the cap, and leaves no
 * process of its tree (Chromium's included) behind.
 */
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SESSION_CLOSE } from '../api/protocol/session.ts';
import { stereoPose } from '../api/protocol/session-pose.ts';
import { processTree, treeResidentBytes } from '../render-node/agent/process-tree-memory.ts';
import { SessionProcess } from '../render-node/agent/session-process.ts';
import { waitFor } from './support/farm-checks.ts';
import { anyAlive } from './support/process-tree.ts';
import { ensureRenderHostBuilt } from './support/render-host.ts';
import { scenePath } from './support/renderer.ts';
import { testSessionRender } from './support/session-frames.ts';

const EW = 192;
const EH = 144;
let cacheDir: string;
let sceneId: string;
const live: SessionProcess[] = [];

beforeAll(async () => {
  ensureRenderHostBuilt();
  cacheDir = await mkdtemp(join(tmpdir(), 'tessera-session-memory-'));
  const bytes = await readFile(scenePath('dispersion'));
  sceneId = createHash('sha256').update(bytes).digest('hex');
  await writeFile(join(cacheDir, `${sceneId}.glb`), bytes);
}, 180_000);
afterAll(() => {
  for (const p of live) p.kill();
});

const render = testSessionRender({ width: EW, height: EH });

function start(memoryCapBytes: number) {
  const p = new SessionProcess({ cacheDir, maxTexturePixels: 4096 * 4096, memoryCapBytes, loadTimeoutMs: 120_000, frameTimeoutMs: 60_000, backend: 'chromium' });
  live.push(p);
  return p;
}

async function ownResident(pid: number): Promise<number> {
  const m = /VmRSS:\s+(\d+)\s+kB/.exec(await readFile(`/proc/${pid}/status`, 'utf8'));
  return Number(m![1]) * 1024;
}

describe.runIf(process.platform === 'linux')("a Chromium session's memory", () => {
  it('counts Chromium under the cap: a session over it ends with 4023, its whole process tree gone', async () => {
    // Measure: the render process alone, and with the Chromium it drives.
    const roomy = start(64 * 2 ** 30);
    const { start: view, backend } = await roomy.load({ id: sceneId, url: 'http://127.0.0.1:9/unused' }, render);
    expect(backend).toBe('chromium');
    await roomy.frame(stereoPose(view.position, view.target, { fov: view.fov, aspect: EW / EH })).done;
    const own = await ownResident(roomy.pid!);
    const tree = await treeResidentBytes(roomy.pid);
    const pids = await processTree(roomy.pid!);
    expect(pids.length).toBeGreaterThan(2);
    // Chromium's processes hold most of the session's memory: a cap on the render process alone misses them.
    expect(tree - own).toBeGreaterThan(100 * 2 ** 20);
    roomy.kill();
    await waitFor('the roomy tree to go', async () => (anyAlive(pids) ? undefined : true), 20_000);

    // A cap between the two: the render process alone stays under it, with Chromium it does not.
    const cap = Math.round(own + (tree - own) / 2);
    const tight = start(cap);
    let tightPids: number[] = [];
    const outcome = await (async () => {
      const { start: v } = await tight.load({ id: sceneId, url: 'http://127.0.0.1:9/unused' }, render);
      tightPids = await processTree(tight.pid!);
      // Keep drawing until the cap's poll (every 500 ms) stops it.
      for (let i = 0; i < 200; i++) await tight.frame(stereoPose(v.position, v.target, { fov: v.fov, aspect: EW / EH })).done;
      return 'rendered on';
    })().catch((err: Error) => err.message);
    expect(outcome).toMatch(/^memory cap: .* used \d+ MiB, over the node's cap of \d+ MiB$/);
    expect(tight.closeCode).toBe(SESSION_CLOSE.OVER_MEMORY_CAP);
    await tight.exited;
    if (!tightPids.length) tightPids = [tight.pid!];
    await waitFor('the capped tree to go', async () => (anyAlive(tightPids) ? undefined : true), 20_000);
  }, 300_000);
});
