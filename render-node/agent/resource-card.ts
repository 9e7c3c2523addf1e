import { cpus, totalmem } from 'node:os';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { NodeCard } from '../../api/protocol/node-card.ts';
import { ViewSpec } from '../../api/protocol/render-spec.ts';
import type { GLBackendInfo } from '../gl/gl-backend.ts';
import type { FrameRenderer } from '../render/frame-renderer.ts';
import { readScene } from '../../scene-check/read-scene.ts';

const REFERENCE_SCENE = fileURLToPath(new URL('../../scenes/textured-pbr.glb', import.meta.url));
/** The reference tile: 256×256 of the textured sample scene in a 1024×1024 frame, as a task would render it. */
const REFERENCE_VIEW = ViewSpec.parse({ width: 1024, height: 1024 });
const REFERENCE_TILE = { x: 384, y: 384, width: 256, height: 256 };

/** Measure tiles per second on the reference tile (after one warm-up render). */
export async function measureTilesPerSecond(renderer: FrameRenderer, samples = 5): Promise<number> {
  const { glb } = await readScene({ bytes: new Uint8Array(await readFile(REFERENCE_SCENE)) });
  const loaded = await renderer.loadScene(glb, { maxTexturePixels: 64 * 1024 * 1024 });
  try {
    renderer.render(loaded, REFERENCE_VIEW, 0, REFERENCE_TILE);
    const t0 = performance.now();
    for (let i = 0; i < samples; i++) renderer.render(loaded, REFERENCE_VIEW, 0, REFERENCE_TILE);
    return Math.round((samples / ((performance.now() - t0) / 1000)) * 10) / 10;
  } finally {
    loaded.dispose();
  }
}

/** What a render process reports about its GL and speed (see TaskSandbox.describe). */
export interface RenderCapabilities {
  info: GLBackendInfo;
  version: string;
  tilesPerSecond: number;
}

/** This node's resource card: CPU, memory, GL capabilities and measured speed. */
export function createResourceCard(
  gl: RenderCapabilities,
  opts: { name: string; region?: string; concurrency: number; probeUrl?: string; location?: { lat: number; lon: number }; sessionSlots?: number; sessionUrl?: string },
): NodeCard {
  const { info } = gl;
  const cpu = cpus();
  return NodeCard.parse({
    name: opts.name,
    region: opts.region ?? '',
    version: gl.version,
    cpu: { model: cpu[0]?.model?.trim() || 'unknown', cores: Math.max(1, cpu.length) },
    ramBytes: totalmem(),
    gl: { renderer: info.renderer, vendor: info.vendor, version: info.version, maxTextureSize: info.maxTextureSize, maxViewport: info.maxViewport },
    tilesPerSecond: gl.tilesPerSecond,
    concurrency: opts.concurrency,
    probeUrl: opts.probeUrl,
    location: opts.location,
    sessionSlots: opts.sessionSlots,
    sessionUrl: opts.sessionSlots ? opts.sessionUrl : undefined,
    sessionFeatures: opts.sessionSlots ? ['depth'] : undefined,
  });
}
