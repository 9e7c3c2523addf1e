/**
 * `npm run bench:upload-check`: what handing a task's output over costs, the three ways, interleaved in one run
 * (so machine load hits them alike), on a real API and s3rver with a node driven by plain HTTP calls: one-frame
 * 1080p jobs, per output size (`--sizes`, bytes; default 22000, a 1080p frame of the animated sample, and
 * 1500000, a textured one):
 *   - `readback`: the object stored without a checksum (what an unchecked PUT left); completing it reads it back
 *     and hashes it (the old path, and today's fallback for stores that report no checksum);
 *   - `upload`: report → PUT signed for exactly those bytes → complete, which HEADs and copies in storage;
 *   - `inline` (node protocol 3): the bytes inside the completion; the API hashes them and writes them once.
 * Prints, per way and size, the medians (ms) of each call a node waits for and their sum (its wall time per task
 * after drawing), and the CPU time of this process (API, storage and the driving node together) per task.
 * Options: --sizes 22000,1500000 --tasks 30 (per way and size)
 */
import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import { createS3BlobStore } from '../api/node/s3-blob-store.ts';
import { call, startHarness, TestNode, uploadSceneFile, sha256 } from '../test/support/api-harness.ts';

const { values: args } = parseArgs({ options: { sizes: { type: 'string', default: '22000,1500000' }, tasks: { type: 'string', default: '30' } } });
const sizes = args.sizes!.split(',').map(Number);
const perWay = Number(args.tasks);
const WAYS = ['readback', 'upload', 'inline'] as const;
type Way = (typeof WAYS)[number];

// Outputs up to 2 MiB inline, so the 1.5 MB case can go both ways.
const h = await startHarness({ api: { inlineOutputBytes: 2 * 1024 * 1024, maxJsonBytes: 1024 * 1024 } });
const store = await createS3BlobStore(h.s3);
const sceneId = await uploadSceneFile(h, 'scenes/animated-trs.glb');
const node = await TestNode.register(h, 'micro');
const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1] ?? 0;
const r1 = (x: number) => Math.round(x * 10) / 10;

async function once(way: Way, bytes: Uint8Array<ArrayBuffer>, i: number): Promise<{ calls: Record<string, number>; cpuMs: number }> {
  const job = await call(h.url, 'POST', '/v1/jobs', { json: { sceneId, size: '1920x1080', frames: `${i % 48}` } });
  if (job.status !== 201) throw new Error(JSON.stringify(job.body));
  const task = (await node.lease(5))!;
  const calls: Record<string, number> = {};
  const cpu0 = process.cpuUsage();
  const timed = async <T>(name: string, f: () => Promise<T>) => {
    const t = performance.now();
    const out = await f();
    calls[name] = performance.now() - t;
    return out;
  };
  let done;
  if (way === 'readback') {
    // The object as an unchecked PUT left it (not timed: the node's PUT), then the completion reads it back.
    await store.put(task.output.key.replace(/(\.\w+)$/, `.${sha256(bytes)}$1`), bytes);
    done = await timed('complete', () => node.complete(task, bytes));
  } else if (way === 'upload') {
    const ticket = await timed('report', () => node.uploadTicket(task, bytes));
    await timed('put', async () => (await fetch(ticket.url, { method: 'PUT', body: bytes, headers: ticket.headers })).arrayBuffer());
    done = await timed('complete', () => node.complete(task, bytes));
  } else {
    done = await timed('complete', () =>
      call(h.url, 'POST', `/v1/tasks/${task.taskId}/complete`, {
        json: { leaseId: task.leaseId, checksum: sha256(bytes), bytes: bytes.length, inline: Buffer.from(bytes).toString('base64'), timings: {} },
        token: node.reg.nodeToken,
      }),
    );
  }
  const cpu = process.cpuUsage(cpu0);
  if (done.status !== 200) throw new Error(`${way}: ${done.status} ${JSON.stringify(done.body)}`);
  return { calls, cpuMs: (cpu.user + cpu.system) / 1000 };
}

const rows: Record<string, unknown>[] = [];
for (const size of sizes) {
  const base = new Uint8Array(randomBytes(size));
  base.set([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  const got: Record<Way, { calls: Record<string, number>; cpuMs: number }[]> = { readback: [], upload: [], inline: [] };
  for (let i = 0; i < perWay * WAYS.length; i++) {
    const way = WAYS[i % WAYS.length];
    const bytes = new Uint8Array(base);
    bytes[100] = i & 255;
    bytes[101] = i >> 8;
    got[way].push(await once(way, bytes, i));
  }
  for (const way of WAYS) {
    const names = Object.keys(got[way][0].calls);
    const calls = Object.fromEntries(names.map((n) => [n, r1(med(got[way].map((g) => g.calls[n])))]));
    rows.push({ bytes: size, way, ...calls, waitedMs: r1(med(got[way].map((g) => Object.values(g.calls).reduce((a, b) => a + b, 0)))), cpuMsPerTask: r1(med(got[way].map((g) => g.cpuMs))) });
  }
}
console.log(`medians of ${perWay} tasks per way and size (ms; waitedMs: the calls a node waits for after encoding; cpuMsPerTask: API + storage + the driving node, this process):`);
console.table(rows);
store.close();
await h.close();
process.exit(0);
