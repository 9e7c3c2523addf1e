/**
 * Generates Tessera's sample glTF 2.0 scenes (procedural geometry and textures, deterministic output) into scenes/.
 * Run: npx tsx scenes/generate.ts   (see scenes/README.md for what each file contains)
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Document, Format, type GLTF } from '@gltf-transform/core';
import { buildAlpha } from './lib/builders/alpha.ts';
import { buildAnimatedTrs } from './lib/builders/animated-trs.ts';
import { buildCameras } from './lib/builders/cameras.ts';
import { buildDispersion } from './lib/builders/dispersion.ts';
import { buildDraco } from './lib/builders/draco.ts';
import { buildFeatures } from './lib/builders/features.ts';
import { buildInstancing } from './lib/builders/instancing.ts';
import { buildKtx2 } from './lib/builders/ktx2.ts';
import { buildLights } from './lib/builders/lights.ts';
import { buildMaterials } from './lib/builders/materials.ts';
import { buildMillion } from './lib/builders/million.ts';
import { buildMorph } from './lib/builders/morph.ts';
import { buildSkinned } from './lib/builders/skinned.ts';
import { buildTexturedGltf } from './lib/builders/textured-gltf.ts';
import { buildTexturedPbr } from './lib/builders/textured-pbr.ts';
import { buildTransmission } from './lib/builders/transmission.ts';
import { packGlb } from './lib/glb-pack.ts';
import { createIO } from './lib/io.ts';
import { applySparseSubstitutions } from './lib/sparse-accessor.ts';
import { checkJson, glbJson, summarize } from './lib/validate.ts';

const OUT_DIR = dirname(fileURLToPath(import.meta.url));

interface SceneJob {
  file: string;
  build: () => Promise<Document>;
  /** Upper bound for the written size (all files of the scene), to catch accidental bloat. */
  maxBytes: number;
}

const JOBS: SceneJob[] = [
  { file: 'textured-pbr.glb', build: buildTexturedPbr, maxBytes: 1 << 20 },
  { file: 'alpha.glb', build: buildAlpha, maxBytes: 1 << 20 },
  { file: 'animated-trs.glb', build: buildAnimatedTrs, maxBytes: 1 << 20 },
  { file: 'skinned.glb', build: buildSkinned, maxBytes: 1 << 20 },
  { file: 'morph.glb', build: buildMorph, maxBytes: 1 << 20 },
  { file: 'cameras.glb', build: buildCameras, maxBytes: 1 << 20 },
  { file: 'lights.glb', build: buildLights, maxBytes: 1 << 20 },
  { file: 'million.glb', build: buildMillion, maxBytes: 64 << 20 },
  { file: 'features.glb', build: buildFeatures, maxBytes: 1 << 20 },
  { file: 'draco.glb', build: buildDraco, maxBytes: 1 << 20 },
  { file: 'textured-gltf/scene.gltf', build: buildTexturedGltf, maxBytes: 1 << 20 },
  { file: 'materials.glb', build: buildMaterials, maxBytes: 1 << 20 },
  { file: 'ktx2.glb', build: buildKtx2, maxBytes: 1 << 20 },
  { file: 'instancing.glb', build: () => buildInstancing(), maxBytes: 1 << 20 },
  { file: 'transmission.glb', build: buildTransmission, maxBytes: 1 << 20 },
  { file: 'dispersion.glb', build: buildDispersion, maxBytes: 1 << 20 },
];

/** Writes one scene; returns the paths written. */
async function writeScene(doc: Document, path: string): Promise<string[]> {
  const io = await createIO();
  await mkdir(dirname(path), { recursive: true });
  if (path.endsWith('.glb')) {
    const jsonDoc = await io.writeJSON(doc, { format: Format.GLB });
    applySparseSubstitutions(jsonDoc);
    await writeFile(path, packGlb(jsonDoc));
    return [path];
  }
  const jsonDoc = await io.writeJSON(doc, { format: Format.GLTF });
  if (applySparseSubstitutions(jsonDoc)) throw new Error('sparse substitution is only implemented for .glb');
  // gltf-transform 4.5 can record an external image's length as its buffer's byteLength: take it from the bytes.
  for (const buffer of jsonDoc.json.buffers ?? []) {
    if (buffer.uri && jsonDoc.resources[buffer.uri]) buffer.byteLength = jsonDoc.resources[buffer.uri].byteLength;
  }
  await writeFile(path, JSON.stringify(jsonDoc.json, null, 2) + '\n');
  const written = [path];
  for (const [uri, bytes] of Object.entries(jsonDoc.resources)) {
    const out = join(dirname(path), uri);
    await writeFile(out, bytes);
    written.push(out);
  }
  return written;
}

async function main(): Promise<void> {
  const only = process.argv.slice(2);
  const io = await createIO();
  const started = performance.now();
  for (const job of JOBS) {
    if (only.length && !only.some((o) => job.file.startsWith(o))) continue;
    const t0 = performance.now();
    const path = join(OUT_DIR, job.file);
    const written = await writeScene(await job.build(), path);
    const t1 = performance.now();

    // Read back and validate.
    const bytes = await readFile(path);
    const json: GLTF.IGLTF = path.endsWith('.glb') ? glbJson(bytes) : JSON.parse(bytes.toString('utf8'));
    checkJson(json, job.file);
    const s = summarize(await io.read(path), job.file);
    let size = 0;
    for (const w of written) size += (await readFile(w)).byteLength;
    if (size > job.maxBytes) throw new Error(`${job.file}: ${size} bytes exceeds ${job.maxBytes}`);
    const t2 = performance.now();

    const extras = [
      s.animations.length ? `clips=${s.animations.join(',')}` : '',
      s.cameras.length ? `cameras=${s.cameras.join(',')}` : '',
      s.extensionsUsed.length ? `ext=${s.extensionsUsed.join(',')}` : '',
      s.extensionsRequired.length ? `required=${s.extensionsRequired.join(',')}` : '',
    ].filter(Boolean);
    console.log(
      `${job.file.padEnd(26)} ${(size / 1024).toFixed(1).padStart(9)} KiB  scenes=${s.scenes.join('|')} nodes=${s.nodes} ` +
        `meshes=${s.meshes} prims=${s.primitives} verts=${s.vertices} tris=${s.triangles} ` +
        `modes=${Object.entries(s.modes).map(([m, n]) => `${m}x${n}`).join(',')} materials=${s.materials} ` +
        `textures=${s.textures} ${extras.join(' ')}  [build+write ${(t1 - t0).toFixed(0)} ms, check ${(t2 - t1).toFixed(0)} ms]`,
    );
    if (written.length > 1) console.log(`  files: ${written.map((w) => relative(OUT_DIR, w)).join(', ')}`);
  }
  console.log(`done in ${((performance.now() - started) / 1000).toFixed(1)} s`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
