import { cpus, totalmem } from 'node:os';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { NodeCard, RENDER_FEATURES } from '../../api/protocol/node-card.ts';
import { measureReferenceTile } from './reference-tile.ts';
import type { GLBackendInfo } from '../gl/gl-backend.ts';
import type { CardBackend } from '../../api/protocol/node-card.ts';
import type { MeasurableRenderer } from './reference-tile.ts';
import { readScene } from '../../scene-check/read-scene.ts';

const REFERENCE_SCENE = fileURLToPath(new URL('../../scenes/textured-pbr.glb', import.meta.url));

/** Measure tiles per second on the reference tile (after one warm-up render). */
export async function measureTilesPerSecond<S extends { dispose(): void }>(renderer: MeasurableRenderer<S>, samples = 5): Promise<number> {
  const { glb } = await readScene({ bytes: new Uint8Array(await readFile(REFERENCE_SCENE)) });
  return measureReferenceTile(renderer, glb, samples);
}

/** What a render process reports about its GL and speed (see TaskSandbox.describe). */
export interface RenderCapabilities {
  info: GLBackendInfo;
  version: string;
  tilesPerSecond: number;
  /** The GL backends the node renders on, its default first (absent: the one in `info`, WebGL 1). */
  backends?: CardBackend[];
}

/** This node's resource card: CPU, memory, GL capabilities and measured speed. */
export function createResourceCard(
  gl: RenderCapabilities,
  opts: { name: string; region?: string; concurrency: number; probeUrl?: string; location?: { lat: number; lon: number }; sessionSlots?: number; sessionUrl?: string; sessionWebgl2?: boolean },
): NodeCard {
  const { info } = gl;
  const cpu = cpus();
  return NodeCard.parse({
    name: opts.name,
    region: opts.region ?? '',
    version: gl.version,
    cpu: { model: cpu[0]?.model?.trim() || 'unknown', cores: Math.max(1, cpu.length) },
    ramBytes: totalmem(),
    gl: { renderer: info.renderer, vendor: info.vendor, version: info.version, maxTextureSize: info.maxTextureSize, maxViewport: info.maxViewport, backend: info.backend },
    backends: gl.backends,
    tilesPerSecond: gl.tilesPerSecond,
    // Both backends draw ViewSpec.pose (FrameRenderer): the API may give this node session frames' reference renders.
    renderFeatures: [...RENDER_FEATURES],
    concurrency: opts.concurrency,
    probeUrl: opts.probeUrl,
    location: opts.location,
    sessionSlots: opts.sessionSlots,
    sessionUrl: opts.sessionSlots ? opts.sessionUrl : undefined,
    sessionFeatures: opts.sessionSlots ? ['depth', 'fast', ...(opts.sessionWebgl2 ? (['webgl2'] as const) : [])] : undefined,
  });
}
