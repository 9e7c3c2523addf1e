/**
 * Red team: concurrent near-cap uploads. Checking and normalizing a scene runs on the API's own event loop and a
 * near-cap one takes seconds and up to about a gigabyte, with nothing bounding how many run at once: a few clients
 * uploading together stalled every route or exhausted the process. Now at most `sceneInspections.concurrent` run per
 * API process with `queued` more waiting; the rest are refused at once with 503 UNAVAILABLE and Retry-After (the
 * SDK retries scene uploads, direct or completed), the API keeps answering, and uploads succeed once slots free.
 * The slow inspections are the real inspector held at a gate, so the test needs no timing.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTesseraClient } from '../../api/client/tessera-client.ts';
import { createNodeSceneInspector } from '../../api/node/node-scene-inspector.ts';
import type { SceneInspector } from '../../scene-check/scene-inspector.ts';
import { triangleGlb } from '../hostile/glb-builder.ts';
import { call, startHarness, TEST_API_KEY, type Harness } from '../support/api-harness.ts';

let h: Harness;
let gate: Promise<void> = Promise.resolve();
let openGate = () => {};
let entered = 0;
let enteredWaiter: { count: number; resolve: () => void } | undefined;

const real = createNodeSceneInspector();
const slowInspector: SceneInspector = {
  async inspect(input) {
    entered++;
    if (enteredWaiter && entered >= enteredWaiter.count) enteredWaiter.resolve();
    await gate;
    return real.inspect(input);
  },
};

function closeGate(): void {
  gate = new Promise((resolve) => (openGate = resolve));
}
function untilEntered(count: number): Promise<void> {
  return entered >= count ? Promise.resolve() : new Promise((resolve) => (enteredWaiter = { count, resolve }));
}
/** Distinct bytes for each upload (a scene's name), so none is answered from an earlier upload of the same bytes. */
function scene(i: number): Uint8Array {
  return triangleGlb((json) => (json.scenes[0].name = `flood ${i}`));
}
const upload = (i: number) => call(h.url, 'POST', '/v1/scenes', { body: scene(i) as Uint8Array<ArrayBuffer>, type: 'model/gltf-binary' });

beforeAll(async () => {
  h = await startHarness({ inspector: slowInspector, api: { sceneInspections: { concurrent: 2, queued: 1, retryAfterSeconds: 1 } } });
});
afterAll(async () => {
  openGate();
  await h?.close();
});

describe('a flood of concurrent scene inspections', () => {
  it('past 2 running and 1 waiting → 503 UNAVAILABLE with Retry-After; /v1/health still answers; the rest then succeed, and so does the next upload', async () => {
    closeGate();
    entered = 0;
    const uploads = [0, 1, 2, 3, 4].map((i) => upload(i));
    await untilEntered(2);
    // The two refused answer while both slots are held (the gate is still closed).
    const settled: Array<Awaited<ReturnType<typeof upload>>> = [];
    const refused = await new Promise<typeof settled>((resolve) => {
      for (const p of uploads) {
        void p.then((a) => {
          settled.push(a);
          if (settled.length === 2) resolve(settled.slice());
        });
      }
    });
    for (const a of refused) {
      expect(a.status).toBe(503);
      expect(a.body.code).toBe('UNAVAILABLE');
      expect(a.headers.get('retry-after')).toBe('1');
    }
    const health = await call(h.url, 'GET', '/v1/health');
    expect(health.status).toBe(200);
    expect(entered).toBe(2);
    openGate();
    const all = await Promise.all(uploads);
    expect(all.map((a) => a.status).sort()).toEqual([201, 201, 201, 503, 503]);
    expect(entered).toBe(3);
    // Slots freed: an upload goes through, and one of the refused scenes retried is stored.
    expect((await upload(5)).status).toBe(201);
    const retried = all.findIndex((a) => a.status === 503);
    expect((await upload(retried)).status).toBe(201);
  }, 20_000); // unbounded, no upload is refused while the gate is closed: this fails by timing out

  it('a presigned upload completed while the slots are full → 503, the upload kept; the retried complete stores it', async () => {
    closeGate();
    entered = 0;
    const holders = [10, 11, 12].map((i) => upload(i));
    await untilEntered(2);
    const ticket = await call(h.url, 'POST', '/v1/scenes/uploads', { json: {} });
    expect(ticket.status).toBe(201);
    expect((await fetch(ticket.body.url, { method: 'PUT', body: scene(13) as Uint8Array<ArrayBuffer> })).status).toBe(200);
    const busy = await call(h.url, 'POST', `/v1/scenes/uploads/${ticket.body.uploadId}/complete`);
    expect(busy.status).toBe(503);
    expect(busy.body.code).toBe('UNAVAILABLE');
    openGate();
    expect((await Promise.all(holders)).map((a) => a.status)).toEqual([201, 201, 201]);
    const done = await call(h.url, 'POST', `/v1/scenes/uploads/${ticket.body.uploadId}/complete`);
    expect(done.status).toBe(201);
    expect(done.body.sceneId).toMatch(/^[0-9a-f]{64}$/);
  });

  it('the SDK retries an upload refused as busy (direct, and a presigned one\'s complete) after Retry-After, and it is stored', async () => {
    for (const directUploadMaxBytes of [1 << 20, 1]) {
      closeGate();
      entered = 0;
      const holders = [20, 21, 22].map((i) => upload(i + directUploadMaxBytes));
      await untilEntered(2);
      const busy: string[] = [];
      const client = createTesseraClient({
        baseUrl: h.url,
        apiKey: TEST_API_KEY,
        directUploadMaxBytes,
        askBeforeUploadMinBytes: Infinity,
        // Sees the API's answers as the SDK does; the first 503 frees the slots, so the SDK's retry finds room.
        fetch: async (input, init) => {
          const res = await fetch(input, init);
          if (res.status === 503) {
            busy.push(`${init?.method} ${new URL(String(input)).pathname}`);
            openGate();
          }
          return res;
        },
      });
      const stored = await client.uploadScene(scene(30 + directUploadMaxBytes), { contentType: 'model/gltf-binary' });
      expect(stored.sceneId).toMatch(/^[0-9a-f]{64}$/);
      // At least one refusal, each of the call the SDK retried (more only if the holders were slow to finish).
      expect(busy.length).toBeGreaterThanOrEqual(1);
      for (const what of busy) expect(what).toMatch(directUploadMaxBytes > 1 ? /^POST \/v1\/scenes$/ : /^POST \/v1\/scenes\/uploads\/upl_[0-9a-f]{32}\/complete$/);
      expect((await Promise.all(holders)).map((a) => a.status)).toEqual([201, 201, 201]);
    }
  });
});
