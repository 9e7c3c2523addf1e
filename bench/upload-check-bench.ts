/**
 * `npm run bench:upload-check`: what checking a task's output costs the API, old way against new, interleaved in
 * one run (so machine load hits both alike): 40 one-frame 1080p jobs on a real API and s3rver, each with a
 * 1.5 MB output. Even tasks: the object stored without a checksum (what an unchecked PUT left), so completing it
 * reads it back and hashes it (the old path, and today's fallback for stores that report no checksum). Odd tasks:
 * report → PUT signed for exactly those bytes → complete, which HEADs and copies in storage. Prints medians (ms)
 * of the report, the PUT and the completion call.
 */
import { randomBytes } from 'node:crypto';
import { createS3BlobStore } from '../api/node/s3-blob-store.ts';
import { call, startHarness, TestNode, uploadSceneFile, sha256 } from '../test/support/api-harness.ts';
const h = await startHarness();
const store = await createS3BlobStore(h.s3);
const sceneId = await uploadSceneFile(h, 'scenes/animated-trs.glb');
const node = await TestNode.register(h, 'micro');
const body = new Uint8Array(randomBytes(1_500_000));
body.set([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
const res: Record<string, number[]> = { oldComplete: [], newReport: [], newPut: [], newComplete: [], oldPut: [] };
const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
for (let i = 0; i < 40; i++) {
  await call(h.url, 'POST', '/v1/jobs', { json: { sceneId, size: '1920x1080', frames: `${i % 100}` } });
  const task = (await node.lease(0))!;
  const bytes = new Uint8Array(body); bytes[100] = i; bytes[101] = i >> 8;
  if (i % 2 === 0) {
    // Old path: the object stored without a checksum (as an unchecked PUT left it); the API reads back and hashes.
    const key = task.output.key.replace(/(\.\w+)$/, `.${sha256(bytes)}$1`);
    let t = performance.now(); await store.put(key, bytes); res.oldPut.push(performance.now() - t);
    t = performance.now(); const c = await node.complete(task, bytes); res.oldComplete.push(performance.now() - t);
    if (c.status !== 200) throw new Error(JSON.stringify(c.body));
  } else {
    let t = performance.now(); const ticket = await node.uploadTicket(task, bytes); res.newReport.push(performance.now() - t);
    t = performance.now(); const put = await fetch(ticket.url, { method: 'PUT', body: bytes, headers: ticket.headers }); await put.arrayBuffer(); res.newPut.push(performance.now() - t);
    t = performance.now(); const c = await node.complete(task, bytes); res.newComplete.push(performance.now() - t);
    if (c.status !== 200) throw new Error(JSON.stringify(c.body));
  }
}
console.log('medians, ms:', Object.fromEntries(Object.entries(res).map(([k, v]) => [k, Math.round(med(v) * 10) / 10])));
store.close();
await h.close();
