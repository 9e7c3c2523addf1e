import { NodeIO } from '@gltf-transform/core';
import { ALL_EXTENSIONS } from '@gltf-transform/extensions';

interface Draco3d {
  createEncoderModule(options?: object): Promise<unknown>;
  createDecoderModule(options?: object): Promise<unknown>;
}

/**
 * `draco3dgltf` ships no typings; importing it through a non-literal specifier keeps this file from
 * declaring a global ambient module that could clash with other parts of the project.
 */
async function loadDraco(): Promise<Draco3d> {
  const specifier = 'draco3dgltf';
  const mod = (await import(specifier)) as { default: Draco3d };
  return mod.default;
}

let cached: Promise<NodeIO> | undefined;

/** NodeIO with every extension gltf-transform knows and the Draco encoder/decoder registered. */
export function createIO(): Promise<NodeIO> {
  cached ??= (async () => {
    const draco3d = await loadDraco();
    const [encoder, decoder] = await Promise.all([draco3d.createEncoderModule(), draco3d.createDecoderModule()]);
    return new NodeIO()
      .registerExtensions(ALL_EXTENSIONS)
      .registerDependencies({ 'draco3d.encoder': encoder, 'draco3d.decoder': decoder });
  })();
  return cached;
}
