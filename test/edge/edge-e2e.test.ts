/**
 * The edge API end to end in workerd: `wrangler dev` runs the Worker and its coordinator Durable Object,
 * s3rver holds the blobs, one real render node (`tessera node start`) joins through the Worker's URL.
 * A tiled job renders, and every frame downloaded through its presigned URL equals a local untiled render
 * pixel for pixel. Scenes normalized in the Worker are byte for byte the ones the Node API makes.
 */
import { createHash } from 'node:crypto';
import { readFile, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { zipSync } from 'fflate';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createNodeSceneInspector } from '../../api/node/node-scene-inspector.ts';
import { EDGE_MAX_SCENE_BYTES } from '../../api/edge/edge-limits.ts';
import type { JobFrames, JobStatus } from '../../api/protocol/job-status.ts';
import { NODE_PROTOCOL_VERSION } from '../../api/protocol/task.ts';
import { decodeRaw } from '../../render-node/output/stitch-tiles.ts';
import { startEdgeDev, type EdgeDev } from '../../infra/farm/start-edge-dev.ts';
import { nodeCard, TEST_API_KEY, TEST_AUTH } from '../support/api-harness.ts';
import { spawnNode, type NodeProcess } from '../support/farm.ts';
import { editGlb } from '../hostile/glb-builder.ts';
import { basisuGlb, glbImages } from '../support/ktx2-samples.ts';
import { packMeshopt } from '../support/meshopt-pack.ts';
import { createTestRenderer, scenePath } from '../support/renderer.ts';

let edge: EdgeDev;
const dataDir = `.tmp/edge-e2e-${process.pid}`;
let node: NodeProcess;
let local: Awaited<ReturnType<typeof createTestRenderer>>;
const log: string[] = [];

const freePort = () =>
  new Promise<number>((resolve, reject) => {
    const srv = createServer().listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
    srv.once('error', reject);
  });

async function api<T = any>(method: string, path: string, body?: unknown): Promise<{ status: number; json: T }> {
  const res = await fetch(new URL(path, edge.url), {
    method,
    headers: { ...TEST_AUTH, 'content-type': body instanceof Uint8Array ? 'model/gltf-binary' : 'application/json' },
    body: body === undefined ? undefined : body instanceof Uint8Array ? (body as Uint8Array<ArrayBuffer>) : JSON.stringify(body),
  });
  return { status: res.status, json: (await res.json()) as T };
}

beforeAll(async () => {
  edge = await startEdgeDev({ port: await freePort(), dataDir, apiKey: TEST_API_KEY, log: (line) => log.push(line) });
  node = spawnNode(edge.url, 'edge-1');
  local = await createTestRenderer();
}, 90_000);

afterAll(async () => {
  node?.child.kill('SIGKILL');
  local?.dispose();
  await edge?.close();
  await rm(dataDir, { recursive: true, force: true });
});

describe('the edge API in workerd (wrangler dev, Durable Object, s3rver, a real render node)', () => {
  it('requires the operator key (a Workers secret) on client routes', async () => {
    const res = await fetch(new URL('/v1/jobs/none', edge.url));
    expect(res.status).toBe(401);
    expect(((await res.json()) as { code: string }).code).toBe('UNAUTHORIZED');
    expect((await api('GET', '/v1/jobs/none')).json.code).toBe('JOB_NOT_FOUND');
  });

  it('serves the web dashboard as static assets: hashed files immutable, the page revalidated', async () => {
    const page = await fetch(new URL('/', edge.url));
    expect(page.status).toBe(200);
    expect(page.headers.get('cache-control')).toBe('no-cache');
    const script = /src="(\/assets\/index-[\w-]+\.js)"/.exec(await page.text())?.[1];
    expect(script).toBeDefined();
    const asset = await fetch(new URL(script!, edge.url));
    expect(asset.status).toBe(200);
    expect(asset.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
    await asset.arrayBuffer();
  });

  it('refuses scenes over the Worker\'s cap (an isolate has 128 MB) with 413', async () => {
    const res = await api('POST', '/v1/scenes', new Uint8Array(EDGE_MAX_SCENE_BYTES + 1));
    expect(res.status).toBe(413);
    expect(res.json.code).toBe('PAYLOAD_TOO_LARGE');
  });

  it('normalizes uploaded scenes (Draco decoded in the Worker) to the very bytes the Node API makes', async () => {
    for (const name of ['animated-trs', 'draco']) {
      const bytes = new Uint8Array(await readFile(scenePath(name)));
      const up = await api('POST', '/v1/scenes', bytes);
      expect(up.status, JSON.stringify(up.json)).toBe(201);
      const onNode = await createNodeSceneInspector().inspect({ kind: 'bytes', bytes });
      expect(up.json.sceneId, name).toBe(createHash('sha256').update(onNode.glb).digest('hex'));
      expect(up.json.bytes).toBe(onNode.glb.length);
      expect(up.json.stats).toEqual(onNode.stats);
    }
  });

  it('decodes meshopt-packed scenes in the Worker (its own wasm module) to the very bytes the Node API makes', async () => {
    for (const name of ['animated-trs', 'textured-pbr']) {
      const bytes = await packMeshopt(scenePath(name));
      const up = await api('POST', '/v1/scenes', bytes);
      expect(up.status, JSON.stringify(up.json)).toBe(201);
      expect(up.json.stats.extensionsUsed).toContain('EXT_meshopt_compression');
      const onNode = await createNodeSceneInspector().inspect({ kind: 'bytes', bytes });
      expect(up.json.sceneId, name).toBe(createHash('sha256').update(onNode.glb).digest('hex'));
    }
  });

  it('takes a zip of a .gltf with its .bin and texture, as the Node API does', async () => {
    const dir = scenePath('textured-gltf/scene.gltf').replace(/scene\.gltf$/, '');
    const files = new Map<string, Uint8Array>();
    for (const name of ['scene.gltf', 'scene.bin', 'checker.png']) files.set(`model/${name}`, new Uint8Array(await readFile(dir + name)));
    const res = await fetch(new URL('/v1/scenes', edge.url), {
      method: 'POST',
      headers: { ...TEST_AUTH, 'content-type': 'application/zip' },
      body: zipSync(Object.fromEntries(files)) as Uint8Array<ArrayBuffer>,
    });
    const body = (await res.json()) as { sceneId: string; stats: { textures: number } };
    expect(res.status, JSON.stringify(body)).toBe(201);
    expect(body.stats.textures).toBe(1);
    const onNode = await createNodeSceneInspector().inspect({ kind: 'files', main: 'model/scene.gltf', files });
    expect(body.sceneId).toBe(createHash('sha256').update(onNode.glb).digest('hex'));
  });

  it('renders 2 frames × 4 tiles through the Worker, equal to a local untiled render', async () => {
    const { json: scene } = await api('POST', '/v1/scenes', new Uint8Array(await readFile(scenePath('animated-trs'))));
    const submitted = await api('POST', '/v1/jobs', { sceneId: scene.sceneId, frames: '3,9', size: '160x120', tile: 80 });
    expect(submitted.status).toBe(201);
    const { jobId } = submitted.json;
    let status: JobStatus;
    for (const end = Date.now() + 90_000; ; ) {
      status = (await api<JobStatus>('GET', `/v1/jobs/${jobId}`)).json;
      if (status.state === 'done' || status.state === 'failed') break;
      if (Date.now() > end) throw new Error(`job still ${status.state}; wrangler log:\n${log.slice(-30).join('\n')}\nnode log:\n${node.log.slice(-30).join('\n')}`);
      await new Promise((r) => setTimeout(r, 250));
    }
    expect(status.state).toBe('done');
    expect(status.tiles).toEqual({ done: 8, total: 8 });
    expect(new Set(status.tasks.map((t) => t.node))).toEqual(new Set([expect.stringContaining('edge-1')]));
    // Node protocol 3 through the Worker: every tile and stitched frame went inside its completion (the Worker
    // hashed it and wrote it to storage through its BlobStore), none through the upload report and PUT.
    // The node logs a task's 'task done' once the API answered its completion: the job can read done first.
    const doneLines = () => node.log.map((line) => { try { return JSON.parse(line); } catch { return null; } }).filter((e) => e?.msg === 'task done' && e.jobId === jobId);
    for (const end = Date.now() + 30_000; doneLines().length < 10 && Date.now() < end; ) await new Promise((r) => setTimeout(r, 100));
    const done = doneLines();
    expect(done.length).toBeGreaterThanOrEqual(10);
    for (const e of done) {
      expect(e.costs.timings.inline, JSON.stringify(e.costs)).toBeGreaterThanOrEqual(0);
      expect(e.costs.timings.upload).toBeUndefined();
    }

    const listed = (await api<JobFrames>('GET', `/v1/jobs/${jobId}/frames`)).json;
    expect(listed.frames.map((f) => f.frame)).toEqual([3, 9]);
    for (const f of listed.frames) {
      expect(f.url.startsWith(`${edge.s3.endpoint}/${edge.s3.bucket}/`)).toBe(true);
      const bytes = new Uint8Array(await (await fetch(f.url)).arrayBuffer());
      expect(createHash('sha256').update(bytes).digest('hex')).toBe(f.checksum);
      const got = await decodeRaw(bytes);
      const want = await local.render('animated-trs', { width: 160, height: 120 }, f.frame);
      expect(Buffer.compare(Buffer.from(got.data), Buffer.from(want.data)), `frame ${f.frame}`).toBe(0);
    }
  });

  it('takes a KTX2 (KHR_texture_basisu) scene in the Worker as the Node API does, refuses a corrupt one, and the node renders it', async () => {
    const bytes = new Uint8Array(await readFile(scenePath('ktx2')));
    const up = await api('POST', '/v1/scenes', bytes);
    expect(up.status, JSON.stringify(up.json)).toBe(201);
    expect(up.json.stats.extensionsRequired).toEqual(['KHR_texture_basisu']);
    const onNode = await createNodeSceneInspector().inspect({ kind: 'bytes', bytes });
    expect(up.json.sceneId).toBe(createHash('sha256').update(onNode.glb).digest('hex'));

    const corrupt = await api('POST', '/v1/scenes', basisuGlb(glbImages(bytes)[0].subarray(0, 200)));
    expect(corrupt.status).toBe(422);
    expect(corrupt.json.code).toBe('SCENE_MALFORMED');
    expect(corrupt.json.message).toMatch(/^image 0: KTX2 level index is truncated/);

    const submitted = await api('POST', '/v1/jobs', { sceneId: up.json.sceneId, frames: '0', size: '160x120' });
    expect(submitted.status).toBe(201);
    let status: JobStatus;
    for (const end = Date.now() + 90_000; ; ) {
      status = (await api<JobStatus>('GET', `/v1/jobs/${submitted.json.jobId}`)).json;
      if (status.state === 'done' || status.state === 'failed') break;
      if (Date.now() > end) throw new Error(`job still ${status.state}; node log:\n${node.log.slice(-30).join('\n')}`);
      await new Promise((r) => setTimeout(r, 250));
    }
    expect(status.state, JSON.stringify(status)).toBe('done');
    const [frame] = (await api<JobFrames>('GET', `/v1/jobs/${submitted.json.jobId}/frames`)).json.frames;
    const got = await decodeRaw(new Uint8Array(await (await fetch(frame.url)).arrayBuffer()));
    const want = await local.render('ktx2', { width: 160, height: 120 });
    expect(Buffer.compare(Buffer.from(got.data), Buffer.from(want.data))).toBe(0);
  });

  it('takes an EXT_mesh_gpu_instancing scene in the Worker as the Node API does, and refuses an instance bomb with 413', async () => {
    const bytes = new Uint8Array(await readFile(scenePath('instancing')));
    const up = await api('POST', '/v1/scenes', bytes);
    expect(up.status, JSON.stringify(up.json)).toBe(201);
    const onNode = await createNodeSceneInspector().inspect({ kind: 'bytes', bytes });
    expect(up.json.sceneId).toBe(createHash('sha256').update(onNode.glb).digest('hex'));
    const bomb = editGlb(bytes, (json) => {
      const node = json.nodes.find((n: { extensions?: Record<string, unknown> }) => n.extensions?.EXT_mesh_gpu_instancing);
      for (const index of Object.values(node.extensions.EXT_mesh_gpu_instancing.attributes as Record<string, number>)) {
        json.accessors[index].count = 1_000_000_000;
        delete json.accessors[index].bufferView;
      }
    });
    const refused = await api('POST', '/v1/scenes', bomb);
    expect(refused.status).toBe(413);
    expect(refused.json.code).toBe('SCENE_LIMIT_EXCEEDED');
    expect(refused.json.message).toMatch(/1000000000 times with EXT_mesh_gpu_instancing/);
  });

  // Last: the extra node it registers would otherwise take a share of the render test's tasks.
  it('ends a node\'s oldest long-poll when it opens more than its slots, without touching that request\'s I/O from another', async () => {
    const reg = await fetch(new URL('/v1/nodes', edge.url), { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ ...nodeCard('poll-flood'), concurrency: 1 }) });
    expect(reg.status).toBe(201);
    const { nodeId, nodeToken } = (await reg.json()) as { nodeId: string; nodeToken: string };
    const lease = () =>
      fetch(new URL(`/v1/nodes/${nodeId}/lease`, edge.url), { method: 'POST', headers: { authorization: `Bearer ${nodeToken}`, 'content-type': 'application/json' }, body: JSON.stringify({ waitSeconds: 8, protocol: NODE_PROTOCOL_VERSION }) });
    const started = Date.now();
    const first = lease();
    await new Promise((r) => setTimeout(r, 500));
    const second = lease();
    // The first answers 204 as soon as the second displaces it (not after its 8 s wait), and nothing fails.
    expect((await first).status).toBe(204);
    expect(Date.now() - started).toBeLessThan(6_000);
    expect(log.join('\n')).not.toMatch(/different request/);
    await second.then((r) => r.body?.cancel());
  });
});
