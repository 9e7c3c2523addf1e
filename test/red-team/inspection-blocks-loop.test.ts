/**
 * Red team: a hostile but in-bounds scene, checked on the API's own event loop. 15,000 materials, each drawn by its
 * own primitive of one shared triangle, are well under maxObjects and 1 MB, yet take seconds of CPU to check and
 * normalize; while they did, every other request of the Node API (node heartbeats, leases, /v1/health) waited, and a
 * scene that ballooned the heap could take the whole process down. Now the Node API inspects in worker threads
 * (api/node/node-scene-inspector.ts) with a heap cap and a time limit: /v1/health answers at once throughout, and a
 * scene past either limit is refused with 413 SCENE_LIMIT_EXCEEDED naming it, the thread replaced, the API serving.
 *
 * The first test bounds how long /v1/health takes while an inspection runs, so this file is in infra/timing-tests.txt
 * (run alone): before the fix every call made during the inspection waited for all of it (about 3 s here).
 */
import { afterAll, describe, expect, it } from 'vitest';
import { readApiConfig } from '../../api/node/api-config.ts';
import { createNodeSceneInspector } from '../../api/node/node-scene-inspector.ts';
import { triangleGlb } from '../hostile/glb-builder.ts';
import { call, startHarness, type Harness } from '../support/api-harness.ts';

/** One triangle drawn by `n` primitives, each with its own material: 2n objects, n × 50 bytes of JSON. */
function materialBomb(n: number, name = 'bomb'): Uint8Array {
  return triangleGlb((j) => {
    j.scenes[0].name = name;
    j.materials = Array.from({ length: n }, () => ({}));
    j.meshes[0].primitives = Array.from({ length: n }, (_, i) => ({ attributes: { POSITION: 0 }, material: i }));
  });
}
const upload = (h: Harness, glb: Uint8Array) => call(h.url, 'POST', '/v1/scenes', { body: glb as Uint8Array<ArrayBuffer>, type: 'model/gltf-binary' });

const harnesses: Harness[] = [];
async function harness(options: Parameters<typeof startHarness>[0] = {}): Promise<Harness> {
  const h = await startHarness(options);
  harnesses.push(h);
  return h;
}
afterAll(async () => {
  await Promise.all(harnesses.map((h) => h.close()));
});

describe('a scene that takes seconds to check', () => {
  it('is checked off the event loop: /v1/health answers within 500 ms all the while, and the scene is stored', async () => {
    const h = await harness();
    // A first upload starts the inspection thread, so the attack below measures the inspection itself.
    expect((await upload(h, triangleGlb())).status).toBe(201);
    const bomb = materialBomb(15_000);
    expect(bomb.length).toBeLessThan(1024 * 1024);
    let done = false;
    const uploaded = upload(h, bomb).finally(() => (done = true));
    const waits: number[] = [];
    while (!done) {
      const asked = performance.now();
      const health = await call(h.url, 'GET', '/v1/health');
      waits.push(performance.now() - asked);
      expect(health.status).toBe(200);
      await new Promise((r) => setTimeout(r, 25));
    }
    const res = await uploaded;
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    expect(res.body.stats).toMatchObject({ materials: 15_000, primitives: 15_000 });
    expect(Math.max(...waits), `/v1/health waits (ms): ${waits.map(Math.round).join(', ')}`).toBeLessThan(500);
    // Many answers while the scene was checked (on the loop: one or two, each waiting for the whole check).
    expect(waits.length).toBeGreaterThan(5);
  }, 60_000);
});

describe('a scene past the inspection limits', () => {
  it('past the heap cap → 413 SCENE_LIMIT_EXCEEDED naming it; the API keeps serving and the next upload is stored', async () => {
    const h = await harness({ inspection: { maxHeapMb: 64 } });
    const refused = await upload(h, materialBomb(20_000));
    expect(refused.status, JSON.stringify(refused.body)).toBe(413);
    expect(refused.body.code).toBe('SCENE_LIMIT_EXCEEDED');
    expect(refused.body.message).toMatch(/64 MiB of memory.*TESSERA_INSPECTION_HEAP_MB/);
    expect((await call(h.url, 'GET', '/v1/health')).status).toBe(200);
    const next = await upload(h, triangleGlb());
    expect(next.status, JSON.stringify(next.body)).toBe(201);
  }, 60_000);

  it('past the time limit → 413 SCENE_LIMIT_EXCEEDED naming it; the API keeps serving and the next upload is stored', async () => {
    const h = await harness({ inspection: { timeoutMs: 1000 } });
    const refused = await upload(h, materialBomb(40_000, 'slow'));
    expect(refused.status, JSON.stringify(refused.body)).toBe(413);
    expect(refused.body.code).toBe('SCENE_LIMIT_EXCEEDED');
    expect(refused.body.message).toMatch(/longer than the 1 s.*TESSERA_INSPECTION_TIMEOUT_MS/);
    expect((await call(h.url, 'GET', '/v1/health')).status).toBe(200);
    const next = await upload(h, triangleGlb());
    expect(next.status, JSON.stringify(next.body)).toBe(201);
  }, 60_000);
});

describe('the inspection limits as an operator sets them', () => {
  it('TESSERA_INSPECTION_HEAP_MB and TESSERA_INSPECTION_TIMEOUT_MS are read, bounded, and unset keeps the defaults', () => {
    expect(readApiConfig({ TESSERA_INSPECTION_HEAP_MB: '512', TESSERA_INSPECTION_TIMEOUT_MS: '30000' }).inspection).toEqual({ maxHeapMb: 512, timeoutMs: 30_000 });
    expect(readApiConfig({}).inspection).toEqual({ maxHeapMb: undefined, timeoutMs: undefined });
    expect(() => readApiConfig({ TESSERA_INSPECTION_HEAP_MB: '8' })).toThrow(/TESSERA_INSPECTION_HEAP_MB/);
    expect(() => readApiConfig({ TESSERA_INSPECTION_TIMEOUT_MS: 'soon' })).toThrow(/TESSERA_INSPECTION_TIMEOUT_MS/);
  });
});

describe('the input bytes', () => {
  it('stay the caller\'s unless it hands them over (transferInput, as the API\'s own inspector does: then moved, not copied)', async () => {
    const kept = createNodeSceneInspector({ threads: 1 });
    const moved = createNodeSceneInspector({ threads: 1, transferInput: true });
    try {
      const bytes = triangleGlb();
      const length = bytes.length;
      expect((await kept.inspect({ kind: 'bytes', bytes })).stats).toMatchObject({ primitives: 1 });
      expect(bytes.length).toBe(length);
      expect((await moved.inspect({ kind: 'bytes', bytes })).stats).toMatchObject({ primitives: 1 });
      expect(bytes.buffer.byteLength).toBe(0);
    } finally {
      await Promise.all([kept.close(), moved.close()]);
    }
  });
});

describe('a server\'s inspector', () => {
  it('starts a thread right away with prewarm (tessera api start, tessera farm up), so its first upload does not wait for one', async () => {
    const warm = createNodeSceneInspector({ threads: 1, prewarm: 1 });
    const cold = createNodeSceneInspector({ threads: 1 });
    try {
      // A thread starts in ~0.7 s on a quiet machine; give it ample time on a busy one.
      await new Promise((r) => setTimeout(r, 5000));
      const timed = async (inspector: typeof warm) => {
        const t0 = performance.now();
        expect((await inspector.inspect({ kind: 'bytes', bytes: triangleGlb() })).stats).toMatchObject({ primitives: 1 });
        return performance.now() - t0;
      };
      const warmMs = await timed(warm);
      const coldMs = await timed(cold);
      expect(warmMs, `first inspection: ${warmMs.toFixed(0)} ms prewarmed, ${coldMs.toFixed(0)} ms cold`).toBeLessThan(coldMs / 2);
    } finally {
      await Promise.all([warm.close(), cold.close()]);
    }
  }, 30_000);
});
