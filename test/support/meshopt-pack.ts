/**
 * Packs a scene the way `gltf-transform meshopt` does (quantized into KHR_mesh_quantization, then
 * EXT_meshopt_compression with meshoptimizer's encoder), as a user's pipeline would before upload.
 * Draco is decoded on reading and dropped, so the result carries meshopt only.
 */
import { createRequire } from 'node:module';
import { NodeIO } from '@gltf-transform/core';
import { ALL_EXTENSIONS } from '@gltf-transform/extensions';
import { meshopt } from '@gltf-transform/functions';
import { MeshoptEncoder } from 'meshoptimizer/encoder';

interface Draco3d {
  createDecoderModule(options?: object): Promise<unknown>;
}

export async function packMeshopt(path: string, level: 'medium' | 'high' = 'high'): Promise<Uint8Array> {
  const draco3d = createRequire(import.meta.url)('draco3dgltf') as Draco3d;
  await MeshoptEncoder.ready;
  const io = new NodeIO()
    .registerExtensions(ALL_EXTENSIONS)
    .registerDependencies({ 'draco3d.decoder': await draco3d.createDecoderModule({}), 'meshopt.encoder': MeshoptEncoder });
  const doc = await io.read(path);
  for (const ext of doc.getRoot().listExtensionsUsed()) {
    if (ext.extensionName === 'KHR_draco_mesh_compression') ext.dispose();
  }
  await doc.transform(meshopt({ encoder: MeshoptEncoder, level }));
  return io.writeBinary(doc);
}
