import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { editGlb, grayPng, packGlb, triangleGlb, triangleWithImageGlb } from '../hostile/glb-builder.ts';
import { call } from '../support/api-harness.ts';
import { startTestFarm } from '../support/farm.ts';

let farm: Awaited<ReturnType<typeof startTestFarm>>;
beforeAll(async () => {
  farm = await startTestFarm();
});
afterAll(() => farm?.close());

const upload = (bytes: Uint8Array) =>
  call<{ code?: string; message?: string; sceneId?: string }>(farm.url, 'POST', '/v1/scenes', { body: bytes as Uint8Array<ArrayBuffer>, type: 'model/gltf-binary' });

/** A PNG whose header claims width × height, with almost no data behind it. */
function lyingPng(width: number, height: number): Uint8Array {
  const png = grayPng(4, 4);
  const out = new Uint8Array(png);
  const view = new DataView(out.buffer);
  view.setUint32(16, width);
  view.setUint32(20, height);
  return out;
}

describe('hostile uploads through the API', () => {
  const deep = (n: number) => '['.repeat(n) + ']'.repeat(n);
  const cases: [string, () => Uint8Array, string][] = [
    ['truncated GLB', () => triangleGlb().subarray(0, 40), 'SCENE_MALFORMED'],
    ['wrong magic', () => Object.assign(triangleGlb(), { 3: 0x58 }), 'SCENE_MALFORMED'],
    ['lying chunk length', () => { const b = triangleGlb(); new DataView(b.buffer, b.byteOffset).setUint32(12, 4000, true); return b; }, 'SCENE_MALFORMED'],
    ['accessor out of bounds', () => editGlb(triangleGlb(), (j) => (j.accessors[0].byteOffset = 4000)), 'SCENE_MALFORMED'],
    ['absurd count', () => editGlb(triangleGlb(), (j) => (j.accessors[0].count = 1e12)), 'SCENE'],
    ['node cycle', () => editGlb(triangleGlb(), (j) => { j.nodes.push({ children: [j.nodes.length + 1] }, { children: [j.nodes.length] }); }), 'SCENE_MALFORMED'],
    ['bad transform', () => editGlb(triangleGlb(), (j) => (j.nodes[0].translation = [0, null, 'x'])), 'SCENE_MALFORMED'],
    ['unknown required extension', () => editGlb(triangleGlb(), (j) => { j.extensionsUsed = ['EXT_evil']; j.extensionsRequired = ['EXT_evil']; }), 'SCENE_UNSUPPORTED'],
    ['external http: URI', () => editGlb(triangleGlb(), (j) => { j.images = [{ uri: 'http://example.com/x.png' }]; }), 'SCENE_EXTERNAL_URI'],
    ['file: URI', () => editGlb(triangleGlb(), (j) => { j.buffers.push({ uri: 'file:///etc/passwd', byteLength: 10 }); }), 'SCENE_EXTERNAL_URI'],
    ['deeply nested JSON', () => packGlb(`{"asset":{"version":"2.0"},"extras":${deep(100_000)}}`), 'SCENE'],
    ['texture claiming 30000×30000', () => triangleWithImageGlb(lyingPng(30000, 30000)), 'SCENE_LIMIT_EXCEEDED'],
    ['not glTF at all', () => new TextEncoder().encode('hello, I am a text file'), 'SCENE_MALFORMED'],
  ];

  it.each(cases)('%s → 4xx {code, message}, and the API stays up', async (_name, make, code) => {
    const { status, body } = await upload(make());
    expect(status).toBeGreaterThanOrEqual(400);
    expect(status).toBeLessThan(500);
    expect(body.code).toContain(code);
    expect(body.message?.length).toBeGreaterThan(10);
    const health = await fetch(new URL('/v1/health', farm.url));
    expect(health.status).toBe(200);
  });

  it('still accepts a valid scene after all of them', async () => {
    const { status, body } = await upload(triangleGlb());
    expect(status).toBe(201);
    expect(body.sceneId).toMatch(/^[0-9a-f]{64}$/);
  });
});
