/**
 * Red team: zip bombs and lying zips. Each attack is refused with a 4xx {code, message}, quickly and without
 * stalling the API's event loop, and an honest zip (plain, or streamed with data descriptors) still uploads
 * to the very scene a multipart upload of the same files gives.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { deflateSync, strToU8, Zip, ZipDeflate, ZipPassThrough, zipSync } from 'fflate';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readZip, ZipRejected } from '../../api/core/zip-reader.ts';
import { call, ROOT, startHarness, type Harness } from '../api/support/api-harness.ts';
import { rawZip, zipCrc } from './support/raw-zip.ts';

const MiB = 1024 * 1024;
let h: Harness;
let files: Record<string, Uint8Array<ArrayBuffer>>;
let honestId: string;
/** 64 MiB of zeros deflated (~64 KiB), and that data's CRC-32: built once, so no test idles long between requests. */
let bomb64: Uint8Array;
let crc64: number;

beforeAll(async () => {
  // The caps as shipped on the edge (32 MiB), so the bombs' sizes are meaningful.
  h = await startHarness({ api: { maxSceneBytes: 32 * MiB, maxUnpackedBytes: 32 * MiB, maxSceneFiles: 1000 } });
  const dir = path.join(ROOT, 'scenes/textured-gltf');
  files = {};
  for (const name of ['scene.gltf', 'scene.bin', 'checker.png']) files[name] = new Uint8Array(await readFile(path.join(dir, name)));
  const form = new FormData();
  for (const [name, bytes] of Object.entries(files)) form.append(name, new Blob([bytes]), name);
  const res = await call(h.url, 'POST', '/v1/scenes', { body: form });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  honestId = res.body.sceneId;
  const zeros = new Uint8Array(64 * MiB);
  bomb64 = deflateSync(zeros, { level: 9 });
  crc64 = zipCrc(zeros);
});
afterAll(async () => {
  await h?.close();
});

/** Upload `zip`, measuring the longest stall of this process's event loop (the API runs in it) meanwhile. */
async function uploadZip(zip: Uint8Array): Promise<{ status: number; body: any; stallMs: number }> {
  let last = performance.now();
  let stallMs = 0;
  const ticker = setInterval(() => {
    const now = performance.now();
    stallMs = Math.max(stallMs, now - last);
    last = now;
  }, 5);
  try {
    const res = await call(h.url, 'POST', '/v1/scenes', { body: zip as Uint8Array<ArrayBuffer>, type: 'application/zip' });
    return { ...res, stallMs };
  } finally {
    clearInterval(ticker);
  }
}

const gltfEntry = () => ({ name: 'scene.gltf', data: files['scene.gltf'], method: 0 as const, size: files['scene.gltf'].length, crc: zipCrc(files['scene.gltf']) });

describe('zip bombs', () => {
  it('250 central-directory entries pointing at one stored 4 MiB entry that declares 0 bytes → refused', async () => {
    const blob = new Uint8Array(4 * MiB).fill(7);
    const zip = rawZip([gltfEntry(), { name: 'a.bin', data: blob, method: 0, size: 0, crc: 0 }], (records) => [
      records[0],
      ...Array.from({ length: 250 }, (_, i) => ({ ...records[1], name: `f${i}.bin` })),
    ]);
    const { status, body, stallMs } = await uploadZip(zip);
    expect(status).toBe(422);
    expect(body.code).toMatch(/^SCENE_(MALFORMED|LIMIT_EXCEEDED)$/);
    expect(body.message).toMatch(/zip/);
    expect(stallMs).toBeLessThan(1000);
  });

  it('the same with one name (the entries truly share data) → refused as overlapping', async () => {
    const blob = new Uint8Array(MiB).fill(7);
    const zip = rawZip([gltfEntry(), { name: 'a.bin', data: blob, method: 0, size: MiB, crc: zipCrc(blob) }], (records) => [
      records[0],
      ...Array.from({ length: 20 }, () => records[1]),
    ]);
    const { status, body } = await uploadZip(zip);
    expect(status).toBe(422);
    expect(body.code).toBe('SCENE_MALFORMED');
    expect(body.message).toMatch(/overlap/);
  });

  it('deflated entries declaring 1 byte that inflate to 64 MiB each → refused after producing little, without stalling', async () => {
    const bomb = bomb64;
    expect(bomb.length).toBeLessThan(MiB);
    const entries = [gltfEntry(), ...Array.from({ length: 8 }, (_, i) => ({ name: `b${i}.bin`, data: bomb, method: 8 as const, size: 1, crc: 0 }))];
    const started = performance.now();
    const { status, body, stallMs } = await uploadZip(rawZip(entries));
    expect(status).toBe(422);
    expect(body.code).toBe('SCENE_MALFORMED');
    expect(body.message).toMatch(/more than the 1 bytes it declares/);
    // fflate's unzipSync would inflate 512 MiB in one synchronous call (seconds on this machine); the bound is
    // loose because other processes share the 2 cores (a 4 KiB chunk inflates in a few ms).
    expect(stallMs).toBeLessThan(1000);
    expect(performance.now() - started).toBeLessThan(5000);
  });

  it('deflated entries that honestly declare 64 MiB each → refused by the unpacked cap before inflating', async () => {
    const entries = [gltfEntry(), ...Array.from({ length: 4 }, (_, i) => ({ name: `b${i}.bin`, data: bomb64, method: 8 as const, size: 64 * MiB, crc: crc64 }))];
    const { status, body } = await uploadZip(rawZip(entries));
    expect(status).toBe(413);
    expect(body.code).toBe('SCENE_LIMIT_EXCEEDED');
  });

  it('sizes that disagree between local header and central directory → refused', async () => {
    const bomb = deflateSync(new Uint8Array(8 * MiB), { level: 9 });
    // The local header tells the truth (8 MiB), the central directory a small lie (1 KiB).
    const zip = rawZip([gltfEntry(), { name: 'x.bin', data: bomb, method: 8, size: 1024, crc: 0, local: { size: 8 * MiB } }]);
    const { status, body } = await uploadZip(zip);
    expect(status).toBe(422);
    expect(body.code).toBe('SCENE_MALFORMED');
    expect(body.message).toMatch(/disagree/);
  });

  it('an entry that inflates to less than it declares, or whose CRC is wrong → refused', async () => {
    const data = strToU8('x'.repeat(10_000));
    const short = rawZip([gltfEntry(), { name: 'x.bin', data: deflateSync(data), method: 8, size: 20_000, crc: zipCrc(data) }]);
    const a = await uploadZip(short);
    expect(a.status).toBe(422);
    expect(a.body.message).toMatch(/inflates to 10000 bytes, not the 20000/);
    const badCrc = rawZip([gltfEntry(), { name: 'x.bin', data: deflateSync(data), method: 8, size: 10_000, crc: 1234 }]);
    const b = await uploadZip(badCrc);
    expect(b.status).toBe(422);
    expect(b.body.message).toMatch(/CRC-32/);
  });

  it('a stored entry whose compressed and unpacked sizes differ → refused', async () => {
    const blob = new Uint8Array(1000);
    const zip = rawZip([gltfEntry(), { name: 'x.bin', data: blob, method: 0, size: 10, crc: zipCrc(blob), local: { size: 10 } }]);
    const { status, body } = await uploadZip(zip);
    expect(status).toBe(422);
    expect(body.message).toMatch(/stored, yet its sizes differ/);
  });

  it('more entries than allowed (directories and __MACOSX/ padding included) → refused', async () => {
    const padding: Record<string, Uint8Array> = { 'scene.gltf': files['scene.gltf'] };
    for (let i = 0; i < 1100; i++) padding[`__MACOSX/p${i}`] = new Uint8Array(0);
    const { status, body } = await uploadZip(zipSync(padding));
    expect(status).toBe(413);
    expect(body.code).toBe('SCENE_LIMIT_EXCEEDED');
  });

  it('the zip reader never inflates more than a chunk past a cap (counted, not declared)', async () => {
    const bomb = bomb64;
    const zip = rawZip([{ name: 'b.bin', data: bomb, method: 8, size: 1, crc: 0 }]);
    const err = await readZip(zip, { maxEntries: 10, maxUnpackedBytes: MiB }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ZipRejected);
    expect((err as ZipRejected).reason).toBe('malformed');
    // Honest declaration, over the running cap: stops at the cap, not at 64 MiB.
    const big = rawZip([{ name: 'b.bin', data: bomb, method: 8, size: 16 * MiB, crc: 0 }]);
    const err2 = await readZip(big, { maxEntries: 10, maxUnpackedBytes: 8 * MiB }).catch((e: unknown) => e);
    expect((err2 as ZipRejected).reason).toBe('limit');
  });
});

describe('honest zips still upload', () => {
  it('a plain zip of a .gltf with its files gives the same scene as the multipart upload', async () => {
    const zip = zipSync({ 'model/scene.gltf': files['scene.gltf'], 'model/scene.bin': files['scene.bin'], 'model/checker.png': files['checker.png'] });
    const { status, body } = await uploadZip(zip);
    expect(status, JSON.stringify(body)).toBe(201);
    expect(body.sceneId).toBe(honestId);
  });

  it('a streamed zip (data descriptors, deflated and stored entries, a directory entry) gives the same scene', async () => {
    const parts: Uint8Array[] = [];
    const done = new Promise<void>((resolve, reject) => {
      const zip = new Zip((err, chunk, final) => {
        if (err) return reject(err);
        parts.push(chunk);
        if (final) resolve();
      });
      const dir = new ZipPassThrough('model/');
      zip.add(dir);
      dir.push(new Uint8Array(0), true);
      for (const [name, bytes] of Object.entries(files)) {
        const entry = name.endsWith('.png') ? new ZipPassThrough(`model/${name}`) : new ZipDeflate(`model/${name}`, { level: 6 });
        zip.add(entry);
        entry.push(bytes, true);
      }
      zip.end();
    });
    await done;
    const zip = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
    let o = 0;
    for (const p of parts) {
      zip.set(p, o);
      o += p.length;
    }
    // It really uses data descriptors (bit 3), the case where local headers carry no sizes.
    expect(new DataView(zip.buffer).getUint16(6, true) & 8).toBe(8);
    const { status, body } = await uploadZip(zip);
    expect(status, JSON.stringify(body)).toBe(201);
    expect(body.sceneId).toBe(honestId);
  });
});
