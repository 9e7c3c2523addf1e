/**
 * Nodes hold no storage credentials: each leased task carries presigned URLs that open one object for one
 * method, for a short time. Proven against a gate that checks SigV4 signatures the way S3/R2/MinIO do
 * (s3rver does not), standing where nodes reach storage. The first farm takes no output inline (every output
 * goes up through its PUT URL); the second takes small outputs inside the completion (node protocol 3), so its
 * node writes nothing to storage at all.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnNode, type NodeProcess } from '../support/farm.ts';
import { checkPresigned, startSigV4Gate, type SigV4Gate } from '../support/sigv4-gate.ts';
import { call, fakePng, startHarness, TestNode, uploadSceneFile, type Harness } from '../support/api-harness.ts';

const NODE_URL_SECONDS = 120;
let h: Harness;
let gate: SigV4Gate;
let sceneId: string;

beforeAll(async () => {
  h = await startHarness({
    api: { nodeUrlSeconds: NODE_URL_SECONDS, inlineOutputBytes: 0 },
    storageFront: async (s3) => (gate = await startSigV4Gate(s3.endpoint, s3)),
  });
  sceneId = await uploadSceneFile(h, 'scenes/animated-trs.glb');
});
afterAll(async () => {
  await h?.close();
});

const submit = (json: object, harness = h) => call(harness.url, 'POST', '/v1/jobs', { json: { sceneId, frames: '0', ...json } });

/** Run a 2×2-tile job with a real render node against `harness` (storage behind `gateOf()`); the gate's answers meanwhile. */
async function gatedJob(harness: Harness, gateOf: () => SigV4Gate, name: string) {
  const refusedBefore = gateOf().refused.length;
  const passedBefore = gateOf().passed.length;
  const job = await submit({ size: '96x64', tile: 48 }, harness);
  let proc: NodeProcess | undefined;
  try {
    proc = spawnNode(harness.url, name);
    let state = '';
    for (const end = Date.now() + 90_000; Date.now() < end && state !== 'done' && state !== 'failed'; ) {
      await new Promise((r) => setTimeout(r, 250));
      state = (await call(harness.url, 'GET', `/v1/jobs/${job.body.jobId}`)).body.state;
    }
    expect(state, proc.log.slice(-20).join('\n')).toBe('done');
  } finally {
    proc?.child.kill('SIGKILL');
    await proc?.exited;
  }
  const used = gateOf().passed.slice(passedBefore).map((r) => `${r.method} ${r.path.replace(/^\/tessera\//, '').replace(/^jobs\/job_[0-9a-f]+/, 'JOB')}`);
  return { refused: gateOf().refused.slice(refusedBefore), used };
}

/** Swap the object key in a presigned URL, keeping its signature. */
const withKey = (url: string, from: string, to: string) => url.replace(encodeURI(from), encodeURI(to));

describe('presigned URLs handed to nodes', () => {
  it('name the storage front, live NODE_URL_SECONDS, and open exactly their object for their method', async () => {
    const job = await submit({ size: '64x32', tile: 32 });
    expect(job.status).toBe(201);
    // Two slots: it holds two leases at once (no node may hold more leases than slots).
    const node = await TestNode.register(h, 'scoped', { concurrency: 2 });
    const a = (await node.lease())!;
    const b = (await node.lease())!;
    expect(a.kind).toBe('render');
    // The output's PUT URL comes from reporting the output (node protocol 2), signed for exactly those bytes.
    const ta = await node.uploadTicket(a, fakePng('a'));
    const tb = await node.uploadTicket(b, fakePng('x'));
    expect(new URL(a.scene.url).searchParams.get('X-Amz-Expires')).toBe(String(NODE_URL_SECONDS));
    for (const url of [a.scene.url, ta.url]) {
      expect(url.startsWith(gate.url + '/')).toBe(true);
      const expires = Number(new URL(url).searchParams.get('X-Amz-Expires'));
      expect(expires).toBeLessThanOrEqual(NODE_URL_SECONDS);
      expect(expires).toBeGreaterThan(NODE_URL_SECONDS - 10);
    }

    // The URLs work as given.
    expect((await fetch(a.scene.url)).status).toBe(200);
    expect((await fetch(ta.url, { method: 'PUT', body: fakePng('a'), headers: ta.headers })).status).toBe(200);
    const refusedBefore = gate.refused.length;

    // …and for nothing else: another task's output, the scene, another job's files, another method.
    const tamper: [string, string, RequestInit][] = [
      ['PUT to another tile', withKey(ta.url, ta.key, tb.key), { method: 'PUT', body: fakePng('a'), headers: ta.headers }],
      ['PUT over the scene', withKey(ta.url, ta.key, `scenes/${sceneId}.glb`), { method: 'PUT', body: fakePng('a'), headers: ta.headers }],
      ['PUT without the signed checksum header', ta.url, { method: 'PUT', body: fakePng('a') }],
      ['scene URL used to PUT', a.scene.url, { method: 'PUT', body: fakePng('x') }],
      ['output URL used to GET', ta.url, { method: 'GET' }],
      ['output URL used to DELETE', ta.url, { method: 'DELETE' }],
      ['GET of another object', withKey(a.scene.url, `scenes/${sceneId}.glb`, a.output.key.replace(/[^/]+$/, '9_9.png')), { method: 'GET' }],
      ['no signature', a.scene.url.replace(/X-Amz-Signature=[0-9a-f]+/, ''), { method: 'GET' }],
    ];
    for (const [what, url, init] of tamper) expect((await fetch(url, init)).status, what).toBe(403);
    expect(gate.refused.length - refusedBefore).toBe(tamper.length);

    // After their lifetime they stop working.
    const q = new URL(a.scene.url).searchParams;
    const d = q.get('X-Amz-Date')!;
    const signedAt = Date.UTC(+d.slice(0, 4), +d.slice(4, 6) - 1, +d.slice(6, 8), +d.slice(9, 11), +d.slice(11, 13), +d.slice(13, 15));
    const u = new URL(a.scene.url);
    const at = (ms: number) => checkPresigned({ method: 'GET', url: u.pathname + u.search, host: u.host }, { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' }, ms);
    expect(at(signedAt + (NODE_URL_SECONDS - 1) * 1000)).toBeNull();
    expect(at(signedAt + (NODE_URL_SECONDS + 1) * 1000)).toBe('expired');
    await call(h.url, 'DELETE', `/v1/jobs/${job.body.jobId}`);
  });

  it('a real render node does a whole tiled job through the gate with nothing refused', async () => {
    const { refused, used } = await gatedJob(h, () => gate, 'gated');
    expect(refused).toEqual([]);
    // 2×2 tiles: the node reads the scene once (its cache), PUTs each tile; the stitch reads the four tiles and PUTs the frame.
    expect(used.filter((r) => r.startsWith('PUT JOB/tiles/')), used.join('\n')).toHaveLength(4);
    expect(used.filter((r) => r.startsWith('GET JOB/tiles/'))).toHaveLength(4);
    expect(used.filter((r) => r.startsWith('PUT JOB/frames/'))).toHaveLength(1);
    expect(used.every((r) => /^(GET|PUT) (scenes\/[0-9a-f]{64}\.glb|JOB\/(tiles|frames)\/)/.test(r)), used.join('\n')).toBe(true);
  }, 120_000);
});

describe('presigned URLs handed to nodes, with small outputs inline (protocol 3)', () => {
  let inlineFarm: Harness;
  let inlineGate: SigV4Gate;
  beforeAll(async () => {
    inlineFarm = await startHarness({
      api: { nodeUrlSeconds: NODE_URL_SECONDS },
      storageFront: async (s3) => (inlineGate = await startSigV4Gate(s3.endpoint, s3)),
    });
    await uploadSceneFile(inlineFarm, 'scenes/animated-trs.glb');
  });
  afterAll(async () => {
    await inlineFarm?.close();
  });

  it('a real render node only reads from storage: its tiles and frame go inside the completions', async () => {
    const { refused, used } = await gatedJob(inlineFarm, () => inlineGate, 'gated-inline');
    expect(refused).toEqual([]);
    // The scene once, the four tiles for the stitch; no PUT of any kind reaches storage from the node.
    expect(used.filter((r) => r.startsWith('GET JOB/tiles/')), used.join('\n')).toHaveLength(4);
    expect(used.filter((r) => !r.startsWith('GET ')), used.join('\n')).toEqual([]);
    expect(used.every((r) => /^GET (scenes\/[0-9a-f]{64}\.glb|JOB\/tiles\/)/.test(r)), used.join('\n')).toBe(true);
  }, 120_000);
});
