/**
 * The shared glTF-Transform NodeIO for scene normalization: every extension registered, Draco
 * decoder and encoder loaded once, network disabled, log output silenced (problems surface as
 * errors instead). `resetSceneIo` drops it, e.g. after a Draco failure that could have left the
 * WebAssembly module in a bad state.
 */
import { createRequire } from 'node:module';
import { Logger, NodeIO, type PlatformIO } from '@gltf-transform/core';
import { ALL_EXTENSIONS } from '@gltf-transform/extensions';
import type { MeshoptDecoder } from './decode-meshopt-views.ts';

interface Draco3d {
  createDecoderModule(options?: object): Promise<unknown>;
  createEncoderModule(options?: object): Promise<unknown>;
}

/**
 * Where normalization gets its glTF-Transform IO: the Node one here, a WebIO on Workers
 * (api/edge/web-scene-io.ts). `reset` drops a cached IO whose Draco state may be broken.
 */
export interface SceneIoProvider {
  get(): Promise<PlatformIO>;
  reset(): void;
  /** The meshopt decoder (meshoptimizer's wasm), loaded on first use. */
  meshoptDecoder(): Promise<MeshoptDecoder>;
}

let pending: Promise<NodeIO> | undefined;

async function create(): Promise<NodeIO> {
  // draco3dgltf is CommonJS without type declarations.
  const draco3d = createRequire(import.meta.url)('draco3dgltf') as Draco3d;
  const [decoder, encoder] = await Promise.all([draco3d.createDecoderModule({}), draco3d.createEncoderModule({})]);
  return new NodeIO()
    .setAllowNetwork(false)
    .setLogger(new Logger(Logger.Verbosity.SILENT))
    .registerExtensions(ALL_EXTENSIONS)
    .registerDependencies({ 'draco3d.decoder': decoder, 'draco3d.encoder': encoder });
}

export function getSceneIo(): Promise<NodeIO> {
  pending ??= create().catch((err: unknown) => {
    pending = undefined;
    throw err;
  });
  return pending;
}

export function resetSceneIo(): void {
  pending = undefined;
}

async function nodeMeshoptDecoder(): Promise<MeshoptDecoder> {
  const { MeshoptDecoder } = await import('meshoptimizer/decoder');
  await MeshoptDecoder.ready;
  return MeshoptDecoder;
}

/** The Node IO (NodeIO, Draco decoder and encoder from draco3dgltf) and meshoptimizer's decoder. */
export const nodeSceneIo: SceneIoProvider = { get: getSceneIo, reset: resetSceneIo, meshoptDecoder: nodeMeshoptDecoder };
