import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Document, NodeIO, type Node as GltfNode } from '@gltf-transform/core';
import { KHRDracoMeshCompression } from '@gltf-transform/extensions';
import { createRequire } from 'node:module';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TesseraError, type ErrorCode } from '../api/protocol/errors.ts';
import { readScene, type SceneSource } from '../scene-check/read-scene.ts';
import { readImageSize } from '../scene-check/read-image-size.ts';
import type { SceneLimits } from '../api/protocol/render-spec.ts';
import {
  bytesOf,
  editGlb,
  grayPng,
  packGlb,
  triangleGlb,
  triangleGltf,
  triangleGltfBytes,
  triangleWithImageGlb,
  type Json,
} from './hostile/glb-builder.ts';

const plainIo = new NodeIO(); // no extensions, no Draco: what a normalized GLB must satisfy

function triangleDoc(): { doc: Document; node: GltfNode } {
  const doc = new Document();
  const buffer = doc.createBuffer();
  const position = doc
    .createAccessor()
    .setType('VEC3')
    .setArray(new Float32Array([0, 0, 0, 1, 0, 0, 0, 1, 0]))
    .setBuffer(buffer);
  const indices = doc.createAccessor().setType('SCALAR').setArray(new Uint16Array([0, 1, 2])).setBuffer(buffer);
  const prim = doc.createPrimitive().setAttribute('POSITION', position).setIndices(indices);
  const mesh = doc.createMesh('triangle').addPrimitive(prim);
  const node = doc.createNode('triangle').setMesh(mesh);
  doc.createScene().addChild(node);
  return { doc, node };
}

async function errorOf(promise: Promise<unknown>): Promise<{ code: string; message: string }> {
  try {
    await promise;
  } catch (err) {
    if (!(err instanceof TesseraError)) throw err;
    return { code: err.code, message: err.message };
  }
  throw new Error('expected readScene to fail');
}

async function expectRefused(
  source: SceneSource,
  code: ErrorCode,
  fragment: string,
  limits?: Partial<SceneLimits>,
): Promise<void> {
  const err = await errorOf(readScene(source, limits));
  expect(err).toMatchObject({ code, message: expect.stringContaining(fragment) });
}

const glb = (bytes: Uint8Array, name = 'scene.glb'): SceneSource => ({ bytes, name });

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'tessera-read-scene-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('readScene: valid scenes', () => {
  it('reads a triangle GLB and returns stats and a GLB glTF-Transform reads back', async () => {
    const { doc } = triangleDoc();
    const input = await plainIo.writeBinary(doc);
    const result = await readScene({ bytes: input });
    expect(result.stats).toMatchObject({
      bytes: input.length,
      scenes: 1,
      nodes: 1,
      meshes: 1,
      primitives: 1,
      vertices: 3,
      triangles: 1,
      materials: 0,
      textures: 0,
      texturePixels: 0,
      animations: 0,
      animationSeconds: 0,
      cameras: 0,
      lights: 0,
      extensionsUsed: [],
      extensionsRequired: [],
    });
    const back = await plainIo.readBinary(result.glb);
    const prim = back.getRoot().listMeshes()[0].listPrimitives()[0];
    expect(Array.from(prim.getAttribute('POSITION')!.getArray()!)).toEqual([0, 0, 0, 1, 0, 0, 0, 1, 0]);
    expect(Array.from(prim.getIndices()!.getArray()!)).toEqual([0, 1, 2]);
  });

  it('reads a textured quad with an embedded PNG, counting pixels from the header', async () => {
    const png = await sharp({ create: { width: 8, height: 4, channels: 4, background: '#ff8800' } }).png().toBuffer();
    const doc = new Document();
    const buffer = doc.createBuffer();
    const pos = doc
      .createAccessor()
      .setType('VEC3')
      .setArray(new Float32Array([-1, -1, 0, 1, -1, 0, 1, 1, 0, -1, 1, 0]))
      .setBuffer(buffer);
    const uv = doc.createAccessor().setType('VEC2').setArray(new Float32Array([0, 1, 1, 1, 1, 0, 0, 0])).setBuffer(buffer);
    const idx = doc.createAccessor().setType('SCALAR').setArray(new Uint16Array([0, 1, 2, 0, 2, 3])).setBuffer(buffer);
    const texture = doc.createTexture('orange').setImage(new Uint8Array(png)).setMimeType('image/png');
    const material = doc.createMaterial().setBaseColorTexture(texture);
    const prim = doc
      .createPrimitive()
      .setAttribute('POSITION', pos)
      .setAttribute('TEXCOORD_0', uv)
      .setIndices(idx)
      .setMaterial(material);
    doc.createScene().addChild(doc.createNode().setMesh(doc.createMesh().addPrimitive(prim)));
    const result = await readScene({ bytes: await plainIo.writeBinary(doc) });
    expect(result.stats).toMatchObject({ vertices: 4, triangles: 2, materials: 1, textures: 1, texturePixels: 32 });
    const back = await plainIo.readBinary(result.glb);
    const tex = back.getRoot().listTextures()[0];
    expect(tex.getMimeType()).toBe('image/png');
    expect(Buffer.from(tex.getImage()!).equals(png)).toBe(true);
    expect(tex.getURI()).toBe('');
  });

  it('keeps a node hierarchy', async () => {
    const { doc, node } = triangleDoc();
    const root = doc.createNode('root').setTranslation([1, 2, 3]);
    doc.getRoot().listScenes()[0].removeChild(node).addChild(root);
    const a = doc.createNode('a').addChild(node);
    const b = doc.createNode('b').addChild(doc.createNode('b1')).addChild(doc.createNode('b2'));
    root.addChild(a).addChild(b);
    const result = await readScene({ bytes: await plainIo.writeBinary(doc) });
    expect(result.stats.nodes).toBe(6);
    const back = await plainIo.readBinary(result.glb);
    const backRoot = back.getRoot().listScenes()[0].listChildren()[0];
    expect(backRoot.getName()).toBe('root');
    expect(backRoot.getTranslation()).toEqual([1, 2, 3]);
    expect(backRoot.listChildren().map((n) => n.getName())).toEqual(['a', 'b']);
    expect(backRoot.listChildren()[1].listChildren().map((n) => n.getName())).toEqual(['b1', 'b2']);
  });

  it('measures an animation from its key times', async () => {
    const { doc, node } = triangleDoc();
    const buffer = doc.getRoot().listBuffers()[0];
    const input = doc.createAccessor().setType('SCALAR').setArray(new Float32Array([0, 1, 2.5])).setBuffer(buffer);
    const output = doc
      .createAccessor()
      .setType('VEC3')
      .setArray(new Float32Array([0, 0, 0, 0, 1, 0, 0, 0, 0]))
      .setBuffer(buffer);
    const sampler = doc.createAnimationSampler().setInput(input).setOutput(output).setInterpolation('LINEAR');
    const channel = doc.createAnimationChannel().setTargetNode(node).setTargetPath('translation').setSampler(sampler);
    doc.createAnimation('bounce').addSampler(sampler).addChannel(channel);
    const result = await readScene({ bytes: await plainIo.writeBinary(doc) });
    expect(result.stats).toMatchObject({ animations: 1, animationSeconds: 2.5 });
    const back = await plainIo.readBinary(result.glb);
    expect(back.getRoot().listAnimations()[0].getName()).toBe('bounce');
  });

  it('decodes Draco into plain geometry', async () => {
    const draco3d = createRequire(import.meta.url)('draco3dgltf');
    const io = new NodeIO().registerExtensions([KHRDracoMeshCompression]).registerDependencies({
      'draco3d.encoder': await draco3d.createEncoderModule(),
      'draco3d.decoder': await draco3d.createDecoderModule(),
    });
    const { doc } = triangleDoc();
    doc.createExtension(KHRDracoMeshCompression).setRequired(true);
    const input = await io.writeBinary(doc);
    const inputJson = (await io.binaryToJSON(input)).json;
    expect(inputJson.extensionsRequired).toContain('KHR_draco_mesh_compression');

    const result = await readScene({ bytes: input });
    expect(result.stats.extensionsRequired).toEqual(['KHR_draco_mesh_compression']);
    expect(result.extensionsUsed).not.toContain('KHR_draco_mesh_compression');
    const back = await plainIo.readBinary(result.glb); // would throw if Draco were still required
    const prim = back.getRoot().listMeshes()[0].listPrimitives()[0];
    expect(prim.getAttribute('POSITION')!.getCount()).toBe(3);
    expect(prim.getIndices()!.getCount()).toBe(3);

    // Draco streams decide their own counts; a JSON that disagrees is refused.
    const lying = editGlb(input, (j) => (j.accessors[j.meshes[0].primitives[0].attributes.POSITION].count = 4));
    await expectRefused(glb(lying), 'SCENE_MALFORMED', 'the Draco data decodes to 3 POSITION values, but accessor');
  });

  it('accepts two scenes sharing a root node', async () => {
    const result = await readScene(glb(triangleGlb((j) => (j.scenes = [{ nodes: [0] }, { nodes: [0] }]))));
    expect(result.stats.scenes).toBe(2);
    const back = await plainIo.readBinary(result.glb);
    expect(back.getRoot().listScenes().map((s) => s.listChildren().length)).toEqual([1, 1]);
  });

  it('reads .gltf JSON given as bytes with data: URIs', async () => {
    const result = await readScene({ bytes: triangleGltfBytes(), name: 'tri.gltf' });
    expect(result.stats).toMatchObject({ vertices: 3, meshes: 1 });
    expect((await plainIo.readBinary(result.glb)).getRoot().listAccessors()).toHaveLength(1);
  });

  it('reads a .gltf on disk with relative .bin and .png files, merging buffers', async () => {
    const folder = path.join(dir, 'ok-scene');
    await mkdir(path.join(folder, 'tex'), { recursive: true });
    const { json, bin } = triangleGltf();
    const png = await sharp({ create: { width: 4, height: 2, channels: 3, background: '#00ff00' } }).png().toBuffer();
    await writeFile(path.join(folder, 'tri.bin'), bin);
    await writeFile(path.join(folder, 'tex', 'green tile.png'), png);
    const uvs = new Float32Array([0, 0, 1, 0, 0, 1]);
    await writeFile(path.join(folder, 'uv.bin'), bytesOf(uvs));
    json.buffers = [{ uri: 'tri.bin', byteLength: 36 }, { uri: 'uv.bin', byteLength: 24 }];
    json.bufferViews.push({ buffer: 1, byteLength: 24 });
    json.accessors.push({ bufferView: 1, componentType: 5126, count: 3, type: 'VEC2' });
    json.meshes[0].primitives[0].attributes.TEXCOORD_0 = 1;
    json.meshes[0].primitives[0].material = 0;
    json.images = [{ uri: 'tex/green%20tile.png' }];
    json.textures = [{ source: 0 }];
    json.materials = [{ pbrMetallicRoughness: { baseColorTexture: { index: 0 } } }];
    const text = JSON.stringify(json);
    await writeFile(path.join(folder, 'scene.gltf'), text);

    const result = await readScene({ path: path.join(folder, 'scene.gltf') });
    expect(result.stats).toMatchObject({ bytes: text.length + 36 + 24 + png.length, textures: 1, texturePixels: 8 });
    const back = await plainIo.readBinary(result.glb);
    expect(back.getRoot().listBuffers()).toHaveLength(1);
    expect(Buffer.from(back.getRoot().listTextures()[0].getImage()!).equals(png)).toBe(true);
  });

  it('produces a GLB that three.js GLTFLoader parses', async () => {
    const { GLTFLoader } = await import('three/examples/jsm/loaders/GLTFLoader.js');
    const { doc } = triangleDoc();
    const result = await readScene({ bytes: await plainIo.writeBinary(doc) });
    const ab = result.glb.buffer.slice(result.glb.byteOffset, result.glb.byteOffset + result.glb.byteLength);
    const gltf = await new Promise<{ scene: { children: unknown[] } }>((resolve, reject) =>
      new GLTFLoader().parse(ab as ArrayBuffer, '', resolve as never, reject),
    );
    expect(gltf.scene.children).toHaveLength(1);
  });

  it('reads a 1M-triangle GLB quickly', async () => {
    // A 1000×500 grid of quads: ~0.5M vertices with normals and UVs, 1M triangles, ~29 MB.
    const cols = 1000;
    const rows = 500;
    const vertexCount = (cols + 1) * (rows + 1);
    const pos = new Float32Array(vertexCount * 3);
    const nrm = new Float32Array(vertexCount * 3);
    const uv = new Float32Array(vertexCount * 2);
    for (let y = 0, v = 0; y <= rows; y++) {
      for (let x = 0; x <= cols; x++, v++) {
        pos[v * 3] = x / cols;
        pos[v * 3 + 1] = y / rows;
        nrm[v * 3 + 2] = 1;
        uv[v * 2] = x / cols;
        uv[v * 2 + 1] = y / rows;
      }
    }
    const idx = new Uint32Array(cols * rows * 6);
    for (let y = 0, k = 0; y < rows; y++) {
      for (let x = 0; x < cols; x++) {
        const a = y * (cols + 1) + x;
        const b = a + cols + 1;
        idx.set([a, a + 1, b, a + 1, b + 1, b], k);
        k += 6;
      }
    }
    const parts = [pos, nrm, uv, idx].map(bytesOf);
    const bin = Buffer.concat(parts);
    let offset = 0;
    const bufferViews = parts.map((p) => {
      const view = { buffer: 0, byteOffset: offset, byteLength: p.length };
      offset += p.length;
      return view;
    });
    const json: Json = {
      asset: { version: '2.0' },
      scenes: [{ nodes: [0] }],
      nodes: [{ mesh: 0 }],
      meshes: [{ primitives: [{ attributes: { POSITION: 0, NORMAL: 1, TEXCOORD_0: 2 }, indices: 3 }] }],
      accessors: [
        { bufferView: 0, componentType: 5126, count: vertexCount, type: 'VEC3', min: [0, 0, 0], max: [1, 1, 0] },
        { bufferView: 1, componentType: 5126, count: vertexCount, type: 'VEC3' },
        { bufferView: 2, componentType: 5126, count: vertexCount, type: 'VEC2' },
        { bufferView: 3, componentType: 5125, count: idx.length, type: 'SCALAR' },
      ],
      bufferViews,
      buffers: [{ byteLength: bin.length }],
    };
    const input = packGlb(json, bin);
    const start = performance.now();
    const result = await readScene({ bytes: input });
    const ms = performance.now() - start;
    expect(result.stats).toMatchObject({ vertices: vertexCount, triangles: 1_000_000 });
    console.log(`readScene of a ${(input.length / 1e6).toFixed(1)} MB, 1M-triangle GLB: ${ms.toFixed(0)} ms`);
    expect(ms).toBeLessThan(2500);
  });
});

describe('readScene: the GLB container', () => {
  it('refuses a missing file', async () => {
    await expectRefused({ path: path.join(dir, 'nope.glb') }, 'SCENE_NOT_FOUND', '"nope.glb" does not exist');
  });

  it('refuses a file over maxFileBytes before reading it', async () => {
    const file = path.join(dir, 'big.glb');
    await writeFile(file, triangleGlb());
    await expectRefused({ path: file }, 'SCENE_LIMIT_EXCEEDED', 'more than maxFileBytes 100', { maxFileBytes: 100 });
  });

  it('refuses a truncated GLB', async () => {
    const bytes = triangleGlb();
    await expectRefused(glb(bytes.subarray(0, bytes.length - 12)), 'SCENE_MALFORMED', 'GLB is truncated: the header says');
    await expectRefused(glb(bytes.subarray(0, 8)), 'SCENE_MALFORMED', 'GLB is truncated: 8 bytes');
  });

  it('refuses a wrong magic', async () => {
    const bytes = triangleGlb();
    bytes[3] = 0x58; // 'glTX'
    await expectRefused(glb(bytes), 'SCENE_MALFORMED', 'wrong magic "glTX"');
    await expectRefused({ bytes, name: 'upload' }, 'SCENE_MALFORMED', 'neither GLB nor glTF JSON: wrong magic');
  });

  it('refuses a GLB of version 1', async () => {
    const bytes = triangleGlb();
    new DataView(bytes.buffer, bytes.byteOffset).setUint32(4, 1, true);
    await expectRefused(glb(bytes), 'SCENE_UNSUPPORTED', 'GLB version 1 is not supported');
  });

  it('refuses a chunk length that lies', async () => {
    const bytes = triangleGlb();
    new DataView(bytes.buffer, bytes.byteOffset).setUint32(12, 4000, true); // JSON chunk length
    await expectRefused(glb(bytes), 'SCENE_MALFORMED', 'GLB chunk 0 (JSON) claims 4000 bytes at byte 20');
    const unaligned = triangleGlb();
    const view = new DataView(unaligned.buffer, unaligned.byteOffset);
    view.setUint32(12, view.getUint32(12, true) - 1, true);
    await expectRefused(glb(unaligned), 'SCENE_MALFORMED', 'is not a multiple of 4');
  });

  it('refuses a JSON chunk over maxJsonBytes', async () => {
    await expectRefused(glb(triangleGlb()), 'SCENE_LIMIT_EXCEEDED', 'more than maxJsonBytes 64', { maxJsonBytes: 64 });
  });
});

describe('readScene: JSON', () => {
  it('refuses a syntax error, saying where', async () => {
    const text = '{\n  "asset": {"version": "2.0"},\n  "nodes": [{"name": "a"},]\n}';
    await expectRefused(glb(packGlb(text)), 'SCENE_MALFORMED', "syntax error at line 3, column 27 (character 59): expected a value, found ']'");
  });

  it('refuses JSON nested a million levels deep without overflowing the stack', async () => {
    const depth = 1_000_000;
    const text = `{"asset":{"version":"2.0"},"extras":${'['.repeat(depth)}${']'.repeat(depth)}}`;
    await expectRefused({ bytes: Buffer.from(text), name: 'deep.gltf' }, 'SCENE_LIMIT_EXCEEDED', 'nested more than 128 levels');
  });

  it('refuses a non-2.x asset version and a missing asset', async () => {
    await expectRefused(glb(triangleGlb((j) => (j.asset.version = '1.0'))), 'SCENE_UNSUPPORTED', 'glTF version 1.0');
    await expectRefused(glb(triangleGlb((j) => delete j.asset)), 'SCENE_MALFORMED', 'asset is missing');
    await expectRefused(glb(triangleGlb((j) => (j.asset.minVersion = '2.1'))), 'SCENE_UNSUPPORTED', 'minVersion is 2.1');
  });

  it('accepts a 2.x version without minVersion', async () => {
    const result = await readScene(glb(triangleGlb((j) => (j.asset.version = '2.1'))));
    expect(result.stats.vertices).toBe(3);
  });

  it('refuses an unknown required extension but not an unknown used one', async () => {
    await expectRefused(
      glb(triangleGlb((j) => ((j.extensionsUsed = ['EXT_foo']), (j.extensionsRequired = ['EXT_foo'])))),
      'SCENE_UNSUPPORTED',
      'extensionsRequired has EXT_foo, which this renderer does not support',
    );
    const ok = await readScene(glb(triangleGlb((j) => (j.extensionsUsed = ['EXT_foo']))));
    expect(ok.stats.extensionsUsed).toEqual(['EXT_foo']);
    expect(ok.extensionsUsed).toEqual([]);
  });
});

describe('readScene: index references and numbers', () => {
  it('refuses an accessor beyond its bufferView', async () => {
    const bytes = triangleGlb((j) => {
      j.buffers[0].byteLength = 36;
      j.accessors[0] = { bufferView: 0, byteOffset: 0, componentType: 5126, count: 4, type: 'VEC3' };
    });
    await expectRefused(glb(bytes), 'SCENE_MALFORMED', 'accessor 0: byteOffset 0 + 12×4 exceeds bufferView 0 length 36');
    const bin = new Uint8Array(800);
    const json = triangleGltf().json;
    json.buffers[0].byteLength = 800;
    json.bufferViews = [{ buffer: 0, byteLength: 800 }];
    json.accessors[0] = { bufferView: 0, byteOffset: 400, componentType: 5126, count: 100, type: 'VEC3' };
    await expectRefused(glb(packGlb(json, bin)), 'SCENE_MALFORMED', 'accessor 0: byteOffset 400 + 12×100 exceeds bufferView 0 length 800');
  });

  it('refuses an interleaved accessor overrunning its stride', async () => {
    const bytes = triangleGlb((j) => {
      j.bufferViews[0].byteStride = 16;
    });
    await expectRefused(glb(bytes), 'SCENE_MALFORMED', 'accessor 0: byteOffset 0 + 16×2 + 12 exceeds bufferView 0 length 36');
  });

  it('refuses an absurd accessor count', async () => {
    const bytes = triangleGlb((j) => (j.accessors[0].count = 1e12));
    await expectRefused(glb(bytes), 'SCENE_MALFORMED', '12×1000000000000 exceeds bufferView 0 length 36');
    const zeros = triangleGlb((j) => j.accessors.push({ componentType: 5126, count: 1e12, type: 'VEC3' }));
    await expectRefused(glb(zeros), 'SCENE_MALFORMED', 'accessor 1: count 1000000000000 is more than 2^32 - 1');
  });

  it('refuses a huge zero-filled accessor by its decoded size', async () => {
    const zeros = triangleGlb((j) => j.accessors.push({ componentType: 5126, count: 4e9, type: 'MAT4' }));
    await expectRefused(glb(zeros), 'SCENE_LIMIT_EXCEEDED', 'more than maxDecodedBytes');
  });

  it('refuses a bufferView beyond its buffer', async () => {
    const bytes = triangleGlb((j) => (j.bufferViews[0].byteOffset = 8));
    await expectRefused(glb(bytes), 'SCENE_MALFORMED', 'bufferView 0: byteOffset 8 + byteLength 36 exceeds buffer 0 length 36');
  });

  it('refuses a buffer longer than its data', async () => {
    const bytes = triangleGltfBytes((j) => {
      j.buffers[0].byteLength = 100;
      j.bufferViews[0].byteLength = 100;
    });
    await expectRefused({ bytes }, 'SCENE_MALFORMED', 'buffer 0: byteLength is 100 but its data: URI holds only 36 bytes');
  });

  it('refuses invalid componentType and type', async () => {
    await expectRefused(glb(triangleGlb((j) => (j.accessors[0].componentType = 5124))), 'SCENE_MALFORMED', 'accessor 0: componentType must be');
    await expectRefused(glb(triangleGlb((j) => (j.accessors[0].type = 'VEC5'))), 'SCENE_MALFORMED', 'accessor 0: type must be');
  });

  it('refuses a node cycle, naming it', async () => {
    const bytes = triangleGlb((j) => {
      j.nodes = Array.from({ length: 8 }, () => ({}));
      j.nodes[5].children = [7];
      j.nodes[7].children = [5];
    });
    await expectRefused(glb(bytes), 'SCENE_MALFORMED', 'node 5 is its own ancestor (cycle 5→7→5)');
    const self = triangleGlb((j) => (j.nodes[0].children = [0]));
    await expectRefused(glb(self), 'SCENE_MALFORMED', 'node 0 is its own ancestor');
  });

  it('refuses a node with two parents', async () => {
    const bytes = triangleGlb((j) => {
      j.nodes = [{ children: [2] }, { children: [2] }, { mesh: 0 }];
      j.scenes[0].nodes = [0, 1];
    });
    await expectRefused(glb(bytes), 'SCENE_MALFORMED', 'node 2 has two parents: node 0 and node 1');
  });

  it('refuses a scene root that is a child', async () => {
    const bytes = triangleGlb((j) => {
      j.nodes = [{ children: [1] }, { mesh: 0 }];
      j.scenes[0].nodes = [0, 1];
    });
    await expectRefused(glb(bytes), 'SCENE_MALFORMED', 'scene 0 lists node 1 as a root, but node 1 is a child of node 0');
  });

  it('refuses bad indices', async () => {
    await expectRefused(
      glb(triangleGlb((j) => (j.nodes[0].children = [9]))),
      'SCENE_MALFORMED',
      'node 0: children[0] refers to node 9, which does not exist (the file has 1 node)',
    );
    await expectRefused(glb(triangleGlb((j) => (j.nodes[0].mesh = 3))), 'SCENE_MALFORMED', 'node 0: mesh refers to mesh 3');
    await expectRefused(glb(triangleGlb((j) => (j.scene = 2))), 'SCENE_MALFORMED', 'scene refers to scene 2');
    await expectRefused(
      glb(triangleGlb((j) => (j.meshes[0].primitives[0].material = 0))),
      'SCENE_MALFORMED',
      'mesh 0 primitive 0: material refers to material 0, which does not exist (the file has 0 materials)',
    );
    await expectRefused(
      glb(triangleGlb((j) => (j.meshes[0].primitives[0].attributes.NORMAL = -1))),
      'SCENE_MALFORMED',
      'attributes.NORMAL must be an index',
    );
    await expectRefused(
      glb(triangleGlb((j) => (j.materials = [{ extensions: { KHR_materials_clearcoat: { clearcoatTexture: { index: 4 } } } }]))),
      'SCENE_MALFORMED',
      'material 0 extensions.KHR_materials_clearcoat.clearcoatTexture: index refers to texture 4',
    );
  });

  it('refuses bad node transforms', async () => {
    await expectRefused(
      glb(triangleGlb((j) => (j.nodes[0].translation = [0, null, 0]))),
      'SCENE_MALFORMED',
      'node 0: translation must be 3 finite numbers, got [0,null,0]',
    );
    await expectRefused(
      glb(triangleGlb((j) => (j.nodes[0].translation = [1, 2, 3, 4]))),
      'SCENE_MALFORMED',
      'node 0: translation must be 3 finite numbers, got [1,2,3,4]',
    );
    await expectRefused(glb(triangleGlb((j) => (j.nodes[0].scale = [1, 2]))), 'SCENE_MALFORMED', 'node 0: scale must be 3 finite numbers');
    await expectRefused(glb(triangleGlb((j) => (j.nodes[0].rotation = '0,0,0,1'))), 'SCENE_MALFORMED', 'node 0: rotation must be 4');
    await expectRefused(glb(packGlb(JSON.stringify(triangleGltf().json).replace('"mesh":0', '"mesh":0,"matrix":[1e999]'))), 'SCENE_MALFORMED', 'matrix must be 16 finite numbers');
  });

  it('refuses a sparse index beyond the accessor', async () => {
    const { json, bin } = triangleGltf();
    const extra = new Uint8Array(36 + 4 + 12);
    extra.set(bin);
    new DataView(extra.buffer).setUint32(36, 7, true); // sparse index 7 of a 3-element accessor
    json.buffers[0].byteLength = extra.length;
    json.bufferViews.push({ buffer: 0, byteOffset: 36, byteLength: 4 }, { buffer: 0, byteOffset: 40, byteLength: 12 });
    json.accessors[0].sparse = { count: 1, indices: { bufferView: 1, componentType: 5125 }, values: { bufferView: 2 } };
    await expectRefused(glb(packGlb(json, extra)), 'SCENE_MALFORMED', 'accessor 0: sparse index 7 (entry 0) is beyond its count 3');
  });

  it('refuses a vertex index beyond the vertices', async () => {
    const { json, bin } = triangleGltf();
    const all = new Uint8Array(36 + 8);
    all.set(bin);
    all.set(bytesOf(new Uint16Array([0, 1, 3, 0])), 36);
    json.buffers[0].byteLength = all.length;
    json.bufferViews.push({ buffer: 0, byteOffset: 36, byteLength: 6 });
    json.accessors.push({ bufferView: 1, componentType: 5123, count: 3, type: 'SCALAR' });
    json.meshes[0].primitives[0].indices = 1;
    await expectRefused(glb(packGlb(json, all)), 'SCENE_MALFORMED', 'index 3 in accessor 1 is beyond its 3 vertices');
  });

  it('refuses Draco data that does not decode', async () => {
    const { json, bin } = triangleGltf();
    json.extensionsUsed = json.extensionsRequired = ['KHR_draco_mesh_compression'];
    json.meshes[0].primitives[0].extensions = { KHR_draco_mesh_compression: { bufferView: 0, attributes: { POSITION: 0 } } };
    json.accessors[0] = { componentType: 5126, count: 3, type: 'VEC3' };
    await expectRefused(glb(packGlb(json, bin)), 'SCENE_MALFORMED', 'the KHR_draco_mesh_compression data could not be decoded');
    // The decoder still works afterwards.
    expect((await readScene(glb(triangleGlb()))).stats.vertices).toBe(3);
  });
});

describe('readScene: resource URIs', () => {
  let folder: string;
  beforeAll(async () => {
    folder = path.join(dir, 'uri-scene');
    await mkdir(folder, { recursive: true });
    await writeFile(path.join(dir, 'outside.bin'), triangleGltf().bin);
    await writeFile(path.join(folder, 'tri.bin'), triangleGltf().bin);
    await symlink(path.join(dir, 'outside.bin'), path.join(folder, 'link.bin'));
  });

  async function withBufferUri(uri: string): Promise<SceneSource> {
    const { json } = triangleGltf();
    json.buffers[0].uri = uri;
    const file = path.join(folder, `scene-${Math.random().toString(36).slice(2)}.gltf`);
    await writeFile(file, JSON.stringify(json));
    return { path: file };
  }

  it('reads a relative .bin inside the folder', async () => {
    expect((await readScene(await withBufferUri('tri.bin'))).stats.vertices).toBe(3);
  });

  it('refuses http:, https: and file: URIs', async () => {
    await expectRefused(await withBufferUri('http://example.com/tri.bin'), 'SCENE_EXTERNAL_URI', 'buffer 0 uri "http://example.com/tri.bin" uses the http: scheme');
    await expectRefused(await withBufferUri('https://example.com/tri.bin'), 'SCENE_EXTERNAL_URI', 'uses the https: scheme');
    await expectRefused(await withBufferUri('file:///etc/passwd'), 'SCENE_EXTERNAL_URI', 'uses the file: scheme');
    await expectRefused(
      { bytes: triangleGltfBytes((j) => (j.buffers[0].uri = 'http://example.com/a.bin')) },
      'SCENE_EXTERNAL_URI',
      'uses the http: scheme',
    );
  });

  it('refuses absolute paths', async () => {
    await expectRefused(await withBufferUri(path.join(folder, 'tri.bin')), 'SCENE_EXTERNAL_URI', 'is an absolute path');
    await expectRefused(await withBufferUri('%2Fetc%2Fpasswd'), 'SCENE_EXTERNAL_URI', 'decodes to the absolute path "/etc/passwd"');
  });

  it('refuses ../ escapes, also percent-encoded, to a file that exists', async () => {
    await expectRefused(await withBufferUri('../outside.bin'), 'SCENE_EXTERNAL_URI', 'points outside the scene folder');
    await expectRefused(await withBufferUri('%2e%2e/outside.bin'), 'SCENE_EXTERNAL_URI', 'points outside the scene folder');
    await expectRefused(await withBufferUri('sub/..%2f..%2foutside.bin'), 'SCENE_EXTERNAL_URI', 'points outside the scene folder');
    await expectRefused(await withBufferUri('file%3A%2F%2F%2Fetc%2Fpasswd'), 'SCENE_EXTERNAL_URI', 'which uses the file: scheme');
  });

  it('refuses a symlink that leads outside the folder', async () => {
    await expectRefused(await withBufferUri('link.bin'), 'SCENE_EXTERNAL_URI', 'is a symbolic link to a file outside the scene folder');
  });

  it('refuses a missing file, naming the uri', async () => {
    await expectRefused(await withBufferUri('missing.bin'), 'SCENE_MALFORMED', 'buffer 0 uri "missing.bin": file not found');
  });

  it('refuses a relative uri when the scene came as bytes', async () => {
    await expectRefused(
      { bytes: triangleGltfBytes((j) => (j.buffers[0].uri = 'tri.bin')) },
      'SCENE_EXTERNAL_URI',
      'the scene was given as bytes with no folder',
    );
  });

  it('refuses bad base64 in a data: URI', async () => {
    await expectRefused(
      { bytes: triangleGltfBytes((j) => (j.buffers[0].uri = 'data:application/octet-stream;base64,AAA*AAAA')) },
      'SCENE_MALFORMED',
      'not valid base64 (bad character "*" at offset 3)',
    );
  });
});

describe('readScene: files given in memory (uploads)', () => {
  /** The triangle .gltf in `model/` of an upload, its buffer at `uri`; `outside.bin` is uploaded too, beside `model/`. */
  function upload(uri: string): SceneSource {
    const { json, bin } = triangleGltf();
    json.buffers[0].uri = uri;
    const files = new Map<string, Uint8Array>([
      ['model/scene.gltf', new TextEncoder().encode(JSON.stringify(json))],
      ['model/tri.bin', bin],
      ['model/sub/tri.bin', bin],
      ['outside.bin', bin],
    ]);
    return { files, main: 'model/scene.gltf' };
  }

  it('resolves relative URIs among the uploaded files, also through sub/..', async () => {
    expect((await readScene(upload('tri.bin'))).stats.vertices).toBe(3);
    expect((await readScene(upload('sub/tri.bin'))).stats.vertices).toBe(3);
    expect((await readScene(upload('sub/../tri.bin'))).stats.vertices).toBe(3);
  });

  it('refuses URIs that leave the scene folder or the upload, schemes and absolute paths, like on disk', async () => {
    await expectRefused(upload('../outside.bin'), 'SCENE_EXTERNAL_URI', 'points outside the scene folder');
    await expectRefused(upload('%2e%2e/outside.bin'), 'SCENE_EXTERNAL_URI', 'points outside the scene folder');
    await expectRefused(upload('sub/..%2f..%2foutside.bin'), 'SCENE_EXTERNAL_URI', 'points outside the scene folder');
    await expectRefused(upload('http://example.com/tri.bin'), 'SCENE_EXTERNAL_URI', 'uses the http: scheme');
    await expectRefused(upload('%2Fetc%2Fpasswd'), 'SCENE_EXTERNAL_URI', 'decodes to the absolute path "/etc/passwd"');
  });

  it('refuses a file the upload does not have, and a main file that is not there', async () => {
    await expectRefused(upload('missing.bin'), 'SCENE_MALFORMED', 'buffer 0 uri "missing.bin": file not found in the upload');
    await expectRefused({ files: new Map(), main: 'scene.gltf' }, 'SCENE_NOT_FOUND', 'is not among the files given');
  });
});

describe('readScene: cost limits', () => {
  it('refuses a PNG whose header claims 30000×30000, without decoding it', async () => {
    await expectRefused(glb(triangleWithImageGlb(grayPng(30000, 30000))), 'SCENE_LIMIT_EXCEEDED', 'image 0 is 30000×30000 pixels');
  });

  it('refuses a real PNG decompression bomb by its header', async () => {
    const bomb = grayPng(12000, 12000, true); // ~140 KB that inflates to 144 MB
    expect(bomb.length).toBeLessThan(200_000);
    await expectRefused(glb(triangleWithImageGlb(bomb)), 'SCENE_LIMIT_EXCEEDED', 'image 0 is 12000×12000 = 144000000 pixels, more than maxTexturePixels');
  });

  it('refuses textures over the pixel total and decoded size', async () => {
    await expectRefused(glb(triangleWithImageGlb(grayPng(100, 100))), 'SCENE_LIMIT_EXCEEDED', 'more than maxTexturePixels 5000', {
      maxTexturePixels: 5000,
    });
    await expectRefused(glb(triangleWithImageGlb(grayPng(100, 100))), 'SCENE_LIMIT_EXCEEDED', 'more than maxDecodedBytes', {
      maxDecodedBytes: 40_000,
    });
  });

  it('refuses an image that is not PNG, JPEG, WebP, KTX2 or AVIF', async () => {
    const gif = Buffer.from('GIF89a\x01\x00\x01\x00\x00\x00\x00;', 'latin1');
    await expectRefused(glb(triangleWithImageGlb(gif, 'image/gif')), 'SCENE_TEXTURE_FAILED', 'image 0: not a PNG, JPEG, WebP, KTX2 or AVIF image');
  });

  it('reads image sizes from JPEG and WebP headers', async () => {
    const jpeg = await sharp({ create: { width: 20, height: 10, channels: 3, background: '#123456' } }).jpeg().toBuffer();
    const webp = await sharp({ create: { width: 6, height: 5, channels: 4, background: '#123456' } }).webp({ lossless: true }).toBuffer();
    const webpLossy = await sharp({ create: { width: 7, height: 3, channels: 3, background: '#123456' } }).webp().toBuffer();
    expect((await readScene(glb(triangleWithImageGlb(jpeg, 'image/jpeg')))).stats.texturePixels).toBe(200);
    expect((await readScene(glb(triangleWithImageGlb(webp, 'image/webp')))).stats.texturePixels).toBe(30);
    expect((await readScene(glb(triangleWithImageGlb(webpLossy, 'image/webp')))).stats.texturePixels).toBe(21);
  });

  it('reads KTX2 and AVIF sizes from their headers', async () => {
    const avif = await sharp({ create: { width: 9, height: 5, channels: 3, background: '#123456' } }).avif().toBuffer();
    expect(readImageSize(avif)).toMatchObject({ format: 'avif', width: 9, height: 5 });
    const ktx2 = new Uint8Array(80);
    ktx2.set([0xab, 0x4b, 0x54, 0x58, 0x20, 0x32, 0x30, 0xbb, 0x0d, 0x0a, 0x1a, 0x0a]);
    const view = new DataView(ktx2.buffer);
    view.setUint32(20, 512, true);
    view.setUint32(24, 256, true);
    view.setUint32(36, 6, true); // a cube map: 6 faces
    expect(readImageSize(ktx2)).toMatchObject({ format: 'ktx2', width: 512, height: 256, pixels: 512 * 256 * 6 });
    expect(readImageSize(grayPng(0, 5))).toMatchObject({ problem: 'PNG header gives a size of 0×5' });
  });

  it('refuses a texture only available in a format the renderer cannot decode', async () => {
    const bytes = triangleWithImageGlb(grayPng(4, 4));
    // (KHR_texture_basisu, EXT_texture_webp and EXT_texture_avif are decoded: test/ktx2.test.ts, test/gltf-coverage.test.ts.
    // A source only in an extension this renderer does not know, e.g. a JPEG XL one, is not.)
    const jxlOnly = editGlb(bytes, (j) => {
      j.extensionsUsed = ['EXT_texture_jxl'];
      j.textures = [{ extensions: { EXT_texture_jxl: { source: 0 } } }];
    });
    await expectRefused(glb(jxlOnly), 'SCENE_UNSUPPORTED', 'texture 0 has no PNG, JPEG, WebP, AVIF or KTX2 (KHR_texture_basisu) source, only EXT_texture_jxl');
    // With a core source beside it, that fallback is what the normalized scene keeps.
    const withFallback = editGlb(bytes, (j) => {
      j.extensionsUsed = ['EXT_texture_jxl'];
      j.textures = [{ source: 0, extensions: { EXT_texture_jxl: { source: 0 } } }];
    });
    const kept = await readScene({ bytes: withFallback });
    const json = JSON.parse(new TextDecoder().decode(kept.glb.subarray(20, 20 + new DataView(kept.glb.buffer, kept.glb.byteOffset).getUint32(12, true))));
    expect(json.textures).toMatchObject([{ source: 0 }]);
    expect(json.textures[0].extensions).toBeUndefined();
  });

  it('refuses too many nodes', async () => {
    const bytes = triangleGlb((j) => (j.nodes = Array.from({ length: 6 }, () => ({}))));
    await expectRefused(glb(bytes), 'SCENE_LIMIT_EXCEEDED', 'the scene has 6 nodes, more than maxNodes 5', { maxNodes: 5 });
  });

  it('refuses more glTF objects than maxObjects, counting primitives, morph targets, skin joints, lights and animation channels', async () => {
    // The triangle declares 7 objects (scene, node, mesh, primitive, accessor, bufferView, buffer).
    await expect(readScene(glb(triangleGlb()), { maxObjects: 7 })).resolves.toBeDefined();
    const nested: Array<[string, (j: Json) => void]> = [
      ['a second primitive', (j) => j.meshes[0].primitives.push({ attributes: { POSITION: 0 } })],
      ['a morph target', (j) => (j.meshes[0].primitives[0].targets = [{ POSITION: 0 }])],
      ['a skin joint', (j) => (j.skins = [{ joints: [0] }])], // the skin and its joint: 9, against 8
      ['a light', (j) => (j.extensions = { KHR_lights_punctual: { lights: [{ type: 'point' }] } })],
    ];
    for (const [what, edit] of nested) {
      const limits = { maxObjects: what === 'a skin joint' ? 8 : 7 };
      await expectRefused(glb(triangleGlb(edit)), 'SCENE_LIMIT_EXCEEDED', `more than maxObjects ${limits.maxObjects}`, limits);
    }
  });

  it('refuses a node hierarchy too deep to traverse recursively', async () => {
    const bytes = triangleGlb((j) => {
      j.nodes = Array.from({ length: 5000 }, (_, i) => (i < 4999 ? { children: [i + 1] } : {}));
    });
    await expectRefused(glb(bytes), 'SCENE_LIMIT_EXCEEDED', 'node hierarchy is more than 1000 levels deep');
  });

  it('refuses too many vertices', async () => {
    await expectRefused(glb(triangleGlb()), 'SCENE_LIMIT_EXCEEDED', 'the scene has 3 vertices, more than maxVertices 2', { maxVertices: 2 });
  });

  it('refuses an animation that is too long, by its key times', async () => {
    const { json, bin } = triangleGltf();
    const all = new Uint8Array(36 + 8 + 24);
    all.set(bin);
    all.set(bytesOf(new Float32Array([0, 5000])), 36);
    json.buffers[0].byteLength = all.length;
    json.bufferViews.push({ buffer: 0, byteOffset: 36, byteLength: 8 }, { buffer: 0, byteOffset: 44, byteLength: 24 });
    json.accessors.push(
      { bufferView: 1, componentType: 5126, count: 2, type: 'SCALAR', min: [0], max: [1] }, // max lies
      { bufferView: 2, componentType: 5126, count: 2, type: 'VEC3' },
    );
    json.animations = [{ samplers: [{ input: 1, output: 2 }], channels: [{ sampler: 0, target: { node: 0, path: 'translation' } }] }];
    await expectRefused(glb(packGlb(json, all)), 'SCENE_LIMIT_EXCEEDED', 'animation 0 lasts 5000 s, more than maxAnimationSeconds 3600');

    json.animations[0].samplers[0].interpolation = 'CUBICSPLINE'; // needs 3 values per key time, has 1
    await expectRefused(glb(packGlb(json, all)), 'SCENE_MALFORMED', 'animation 0 channel 0: output accessor 2 has 2 values for 2 key times');
  });
});

describe('readScene: random damage', () => {
  it('answers every mutated file with a result or a TesseraError, and every result is a readable GLB', async () => {
    // A scene touching most of the format, then hundreds of random edits to its JSON.
    const { doc, node } = triangleDoc();
    const buffer = doc.getRoot().listBuffers()[0];
    const prim = doc.getRoot().listMeshes()[0].listPrimitives()[0];
    prim.setAttribute('TEXCOORD_0', doc.createAccessor().setType('VEC2').setArray(new Float32Array(6)).setBuffer(buffer));
    prim.addTarget(
      doc.createPrimitiveTarget().setAttribute('POSITION', doc.createAccessor().setType('VEC3').setArray(new Float32Array(9)).setBuffer(buffer)),
    );
    doc.getRoot().listMeshes()[0].setWeights([0]);
    const texture = doc.createTexture().setImage(grayPng(4, 4)).setMimeType('image/png');
    prim.setMaterial(doc.createMaterial().setBaseColorTexture(texture).setNormalTexture(texture));
    const joint = doc.createNode('joint').setCamera(doc.createCamera().setYFov(1).setZNear(0.1));
    const child = doc.createNode('child').setTranslation([1, 2, 3]).addChild(joint);
    node.addChild(child);
    child.setSkin(
      doc.createSkin().addJoint(joint).setInverseBindMatrices(doc.createAccessor().setType('MAT4').setArray(new Float32Array(16)).setBuffer(buffer)),
    );
    const times = doc.createAccessor().setType('SCALAR').setArray(new Float32Array([0, 1, 2])).setBuffer(buffer);
    const values = doc.createAccessor().setType('VEC3').setArray(new Float32Array(9)).setBuffer(buffer);
    const sampler = doc.createAnimationSampler().setInput(times).setOutput(values);
    doc.createAnimation().addSampler(sampler).addChannel(
      doc.createAnimationChannel().setSampler(sampler).setTargetNode(node).setTargetPath('translation'),
    );
    const input = await plainIo.writeBinary(doc);

    let seed = 20240611;
    const random = (): number => {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      return seed / 2147483648;
    };
    const replacements: unknown[] = [null, -1, 0, 1, 2, 7, 1e12, 4294967296, 1.5, 'x', '', [], {}, true, [0, 0, 0], { index: 0 }, '../x', 5126, 'VEC3'];
    const outcomes: Record<string, number> = {};
    for (let i = 0; i < 400; i++) {
      const mutated = editGlb(input, (json) => {
        const paths: Array<Array<string | number>> = [];
        const walk = (value: unknown, at: Array<string | number>): void => {
          if (value === null || typeof value !== 'object') return;
          for (const key of Object.keys(value)) {
            const next = [...at, Array.isArray(value) ? Number(key) : key];
            paths.push(next);
            walk((value as Json)[key], next);
          }
        };
        walk(json, []);
        const at = paths[Math.floor(random() * paths.length)];
        let parent: Json = json;
        for (const key of at.slice(0, -1)) parent = parent[key];
        if (random() < 0.15) delete parent[at[at.length - 1]];
        else parent[at[at.length - 1]] = structuredClone(replacements[Math.floor(random() * replacements.length)]);
      });
      try {
        const result = await readScene(glb(mutated));
        await plainIo.readBinary(result.glb);
        outcomes.ok = (outcomes.ok ?? 0) + 1;
      } catch (err) {
        if (!(err instanceof TesseraError)) throw new Error(`mutation ${i} escaped as ${String(err)}`, { cause: err });
        expect(err.message).not.toMatch(/could not be (read|rewritten)/); // caught by readScene's own checks
        outcomes[err.code] = (outcomes[err.code] ?? 0) + 1;
      }
    }
    expect(outcomes.ok).toBeGreaterThan(20);
    expect(outcomes.SCENE_MALFORMED).toBeGreaterThan(200);
  });
});
