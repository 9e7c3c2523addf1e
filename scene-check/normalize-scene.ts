/**
 * Runs a checked glTF (JSON plus every resource already in memory) through glTF-Transform and
 * writes it back as one self-contained GLB: Draco decoded into plain geometry, all buffers merged
 * into the BIN chunk, every image embedded. glTF-Transform is given no path, so it cannot read
 * files or fetch anything; its errors become SCENE_MALFORMED with the cause kept.
 */
import type { Document, JSONDocument } from '@gltf-transform/core';
import { TesseraError } from '../api/protocol/errors.ts';
import { malformed } from './gltf-fields.ts';
import { nodeSceneIo, type SceneIoProvider } from './scene-io.ts';
import type { ValidatedGltf } from './validated-gltf.ts';

const DRACO = 'KHR_draco_mesh_compression';

export interface NormalizedScene {
  glb: Uint8Array;
  /** Extensions the normalized GLB uses. */
  extensionsUsed: string[];
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** Draco streams decide their own vertex counts; they must agree with what the JSON declared. */
function checkDracoCounts(doc: Document, gltf: ValidatedGltf): void {
  const meshes = doc.getRoot().listMeshes();
  for (const prim of gltf.primitives) {
    if (prim.dracoBufferView === undefined) continue;
    const where = `mesh ${prim.mesh} primitive ${prim.primitive}`;
    const primitive = meshes[prim.mesh]?.listPrimitives()[prim.primitive];
    if (!primitive) throw malformed(`${where}: missing after Draco decoding`);
    for (const [semantic, index] of prim.attributes) {
      const decoded = primitive.getAttribute(semantic)?.getCount() ?? 0;
      const declared = gltf.accessors[index].count;
      if (decoded !== declared) {
        throw malformed(`${where}: the Draco data decodes to ${decoded} ${semantic} values, but accessor ${index} declares ${declared}`);
      }
    }
    if (prim.indices !== undefined) {
      const decoded = primitive.getIndices()?.getCount() ?? 0;
      const declared = gltf.accessors[prim.indices].count;
      if (decoded !== declared) {
        throw malformed(`${where}: the Draco data decodes to ${decoded} indices, but accessor ${prim.indices} declares ${declared}`);
      }
    }
  }
}

/** GLB holds a single buffer: move every accessor into the first and drop the others. */
function mergeBuffers(doc: Document): void {
  const root = doc.getRoot();
  const buffers = root.listBuffers();
  const needed = root.listAccessors().length > 0 || root.listTextures().length > 0;
  if (!needed) return;
  const first = buffers[0] ?? doc.createBuffer();
  for (const accessor of root.listAccessors()) {
    if (accessor.getBuffer() !== first) accessor.setBuffer(first);
  }
  for (const buffer of buffers.slice(1)) buffer.dispose();
}

export async function normalizeScene(jsonDoc: JSONDocument, gltf: ValidatedGltf, provider: SceneIoProvider = nodeSceneIo): Promise<NormalizedScene> {
  let io;
  try {
    io = await provider.get();
  } catch (err) {
    throw new TesseraError('INTERNAL', `the glTF reader could not be set up: ${message(err)}`, { cause: err });
  }
  const usesDraco = gltf.primitives.some((p) => p.dracoBufferView !== undefined);

  let doc: Document;
  try {
    doc = await io.readJSON(jsonDoc);
  } catch (err) {
    if (usesDraco) provider.reset(); // the decoder's WebAssembly state may be unusable now
    if (err instanceof TesseraError) throw err;
    const text = message(err);
    if (text.startsWith(`[${DRACO}]`)) {
      throw malformed(`the ${DRACO} data could not be decoded: ${text.slice(DRACO.length + 2).trim()}`, err);
    }
    throw malformed(`the scene could not be read: ${text}`, err);
  }
  if (usesDraco) checkDracoCounts(doc, gltf);

  for (const extension of doc.getRoot().listExtensionsUsed()) {
    if (extension.extensionName === DRACO) extension.dispose();
  }
  mergeBuffers(doc);

  let glb: Uint8Array;
  try {
    glb = await io.writeBinary(doc);
  } catch (err) {
    throw malformed(`the scene could not be rewritten as GLB: ${message(err)}`, err);
  }
  const extensionsUsed = doc
    .getRoot()
    .listExtensionsUsed()
    .map((e) => e.extensionName)
    .sort();
  return { glb, extensionsUsed };
}
