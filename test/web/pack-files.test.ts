/** The page's packing of dropped files: a .gltf and its resources become the zip the API resolves, as the CLI's. */
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { unzipSync, zipSync } from 'fflate';
import { describe, expect, it } from 'vitest';
import { packFiles, type PickedFile } from '../../web/src/pack-files.ts';
import { packScene } from '../../infra/cli/pack-scene.ts';
import { ROOT } from '../support/tessera-cli.ts';

const pick = (path: string, bytes: Uint8Array | string): PickedFile => ({ path, file: new File([typeof bytes === 'string' ? bytes : (bytes as BlobPart)], path.split('/').pop()!) });
const folder = join(ROOT, 'scenes/textured-gltf');
const folderFiles = () => readdirSync(folder).map((n) => pick(`textured-gltf/${n}`, readFileSync(join(folder, n))));

describe('packFiles', () => {
  it('uploads a .glb as it is', async () => {
    const glb = readFileSync(join(ROOT, 'scenes/animated-trs.glb'));
    const packed = await packFiles([pick('animated-trs.glb', glb)]);
    expect(packed.contentType).toBe('model/gltf-binary');
    expect(Buffer.compare(Buffer.from(packed.bytes), glb)).toBe(0);
  });

  it('zips a dropped folder with a .gltf into the same entries the CLI packs', async () => {
    const packed = await packFiles(folderFiles());
    const cli = await packScene(join(folder, 'scene.gltf'));
    expect(packed.contentType).toBe('application/zip');
    const mine = unzipSync(packed.bytes);
    const theirs = unzipSync(cli.bytes);
    expect(Object.keys(mine).sort()).toEqual(Object.keys(theirs).sort());
    for (const name of Object.keys(theirs)) expect(Buffer.compare(Buffer.from(mine[name]), Buffer.from(theirs[name])), name).toBe(0);
    expect([...packed.files.keys()].sort()).toEqual(cli.files.sort());
    // Packed again, the same bytes (fixed entry timestamps): the API recognizes an upload it has seen.
    expect(Buffer.compare(Buffer.from((await packFiles(folderFiles())).bytes), Buffer.from(packed.bytes))).toBe(0);
  });

  it('names the resource that was not dropped', async () => {
    const only = folderFiles().filter((f) => !f.path.endsWith('.png'));
    await expect(packFiles(only)).rejects.toThrow(/needs image 0 "checker\.png", which was not among the dropped files/);
  });

  it('refuses URIs that leave the folder or name a scheme, before anything is uploaded', async () => {
    const gltf = (uri: string) => JSON.stringify({ asset: { version: '2.0' }, buffers: [{ uri, byteLength: 4 }] });
    await expect(packFiles([pick('s/scene.gltf', gltf('../secret.bin')), pick('secret.bin', 'abcd')])).rejects.toThrow(/outside the scene's folder/);
    await expect(packFiles([pick('scene.gltf', gltf('https://example.com/x.bin'))])).rejects.toThrow(/only relative paths/);
    await expect(packFiles([pick('scene.gltf', gltf('/etc/passwd'))])).rejects.toThrow(/only relative paths/);
  });

  it('takes a zip as it is and finds its scene for the preview', async () => {
    const zip = zipSync({ 'model/scene.gltf': new TextEncoder().encode('{}'), 'model/scene.bin': new Uint8Array(4) });
    const packed = await packFiles([pick('model.zip', zip)]);
    expect(packed.bytes).toEqual(zip);
    expect(packed.main).toBe('scene.gltf');
    expect([...packed.files.keys()].sort()).toEqual(['scene.bin', 'scene.gltf']);
  });

  it('says what to drop when nothing is a scene, and refuses two scenes at once', async () => {
    await expect(packFiles([pick('notes.txt', 'hi')])).rejects.toThrow(/Drop a \.glb, a \.gltf/);
    await expect(packFiles([pick('a.glb', 'glTF'), pick('b.glb', 'glTF')])).rejects.toThrow(/one scene at a time \(found a\.glb, b\.glb\)/);
  });
});
