/**
 * The render node's scene cache, one LRU of loaded scenes with an optional disk layer, served over real HTTP
 * and loaded by a real headless-gl renderer. Without a disk (a browser tab's MemorySceneCache): downloaded,
 * then from memory, the least recently used disposed and downloaded again when asked for. With a disk (a
 * Node node's SceneCache): downloaded once per node, from disk in a fresh process's cache. Either way a
 * download whose sha256 is not the scene id is refused and not kept.
 */
import { createHash } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { mkdtemp, readdir } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MemorySceneCache } from '../render-node/agent/memory-scene-cache.ts';
import type { SceneSource } from '../render-node/agent/run-render-task.ts';
import { SceneCache } from '../render-node/agent/scene-cache.ts';
import { readScene } from '../scene-check/read-scene.ts';
import { createTestRenderer, scenePath } from './support/renderer.ts';

const LIMITS = { maxTexturePixels: 256 * 1024 * 1024 };
const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

let t: Awaited<ReturnType<typeof createTestRenderer>>;
let server: Server;
let base: string;
/** Objects the test storage serves by path, and how often each was asked for. */
const objects = new Map<string, Uint8Array>();
const gets = new Map<string, number>();
let cube: { id: string; url: string };
let lights: { id: string; url: string };

beforeAll(async () => {
  t = await createTestRenderer();
  server = createServer((req, res) => {
    const bytes = objects.get(req.url!);
    gets.set(req.url!, (gets.get(req.url!) ?? 0) + 1);
    if (!bytes) return void res.writeHead(404).end();
    res.writeHead(200, { 'content-length': bytes.length }).end(bytes);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const put = async (name: string) => {
    const { glb } = await readScene({ path: scenePath(name) });
    objects.set(`/${name}`, glb);
    return { id: sha256(glb), url: `${base}/${name}` };
  };
  cube = await put('textured-pbr');
  lights = await put('lights');
  objects.set('/corrupt', new Uint8Array([...objects.get('/lights')!].reverse()));
});

afterAll(async () => {
  t?.dispose();
  await new Promise((resolve) => server?.close(resolve));
});

/** Gets `scene` from `cache`, returning where it came from and the loaded scene's mesh count. */
async function get(cache: MemorySceneCache, scene: { id: string; url: string }): Promise<{ source: SceneSource | undefined; meshes: number }> {
  let source: SceneSource | undefined;
  const loaded = await cache.get(scene.id, scene.url, (s) => (source = s));
  let meshes = 0;
  loaded.scenes[loaded.defaultScene].traverse((o) => void ((o as { isMesh?: boolean }).isMesh && meshes++));
  return { source, meshes };
}

const getsOf = (name: string) => gets.get(`/${name}`) ?? 0;

describe('the scene cache', () => {
  it('without a disk: downloads, then serves from memory, disposes the least recently used beyond maxLoaded', async () => {
    const cache = new MemorySceneCache(t.renderer, { maxLoaded: 1, ...LIMITS });
    const before = getsOf('textured-pbr');
    const first = await get(cache, cube);
    expect(first.source).toBe('download');
    expect(first.meshes).toBeGreaterThan(0);
    expect(await get(cache, cube)).toEqual({ source: 'memory', meshes: first.meshes });
    expect(getsOf('textured-pbr')).toBe(before + 1);
    expect((await get(cache, lights)).source).toBe('download');
    // One loaded scene at most: the cube was disposed and comes again from storage.
    expect(await get(cache, cube)).toEqual({ source: 'download', meshes: first.meshes });
    expect(getsOf('textured-pbr')).toBe(before + 2);
    cache.dispose();
  });

  it('with a disk: downloads once per node; a fresh cache on the same folder reads the disk', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tessera-scene-cache-'));
    const before = getsOf('lights');
    const node = new SceneCache(t.renderer, { dir, maxLoaded: 2, ...LIMITS });
    const first = await get(node, lights);
    expect(first.source).toBe('download');
    expect(await get(node, lights)).toEqual({ source: 'memory', meshes: first.meshes });
    expect(await readdir(dir)).toEqual([`${lights.id}.glb`]);
    node.dispose();
    const restarted = new SceneCache(t.renderer, { dir, maxLoaded: 2, ...LIMITS });
    expect(await get(restarted, lights)).toEqual({ source: 'disk', meshes: first.meshes });
    expect(getsOf('lights')).toBe(before + 1);
    restarted.dispose();
  });

  it('refuses a download whose sha256 is not the scene id, and keeps nothing of it', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tessera-scene-cache-'));
    for (const cache of [new MemorySceneCache(t.renderer, { maxLoaded: 2, ...LIMITS }), new SceneCache(t.renderer, { dir, maxLoaded: 2, ...LIMITS })]) {
      const wrong = { id: lights.id, url: `${base}/corrupt` };
      await expect(cache.get(wrong.id, wrong.url)).rejects.toMatchObject({ code: 'STORAGE_FAILED', message: expect.stringMatching(/arrived corrupted \(sha256 mismatch/) });
      // Not kept in memory: the next get fetches again (here the right bytes).
      expect((await get(cache, lights)).source).toBe('download');
      cache.dispose();
    }
    expect(await readdir(dir)).toEqual([`${lights.id}.glb`]);
  });
});
