/**
 * The WebGL 2 flag on Workers: the Worker's scene inspector (WebIO, inside workerd) flags a scene that uses
 * KHR_materials_transmission / KHR_materials_volume exactly as the Node API does, and the flag turns into the
 * job requirement that the Durable Object store leases only to WebGL 2 cards (the JobStore contract suite runs
 * that part on the Durable Object store: test/workers/durable-job-store.test.ts).
 */
import { describe, expect, it } from 'vitest';
import { createEdgeSceneInspector } from '../../api/edge/edge-scene-inspector.ts';
import { sceneRequirements } from '../../api/core/plan-job.ts';
import { meetsRequirements } from '../../api/core/routing/requirements.ts';
import type { NodeCard } from '../../api/protocol/node-card.ts';
import { EDGE_NODE_CARD } from './support/worker-caller.ts';

/** A one-triangle .gltf (data: URI buffer) whose material has `extensions`. */
function triangleGltf(extensions: Record<string, unknown>): Uint8Array {
  const positions = new Float32Array([0, 0, 0, 1, 0, 0, 0, 1, 0]);
  const b64 = btoa(String.fromCharCode(...new Uint8Array(positions.buffer)));
  const used = Object.keys(extensions);
  const gltf = {
    asset: { version: '2.0' },
    ...(used.length ? { extensionsUsed: used } : {}),
    scene: 0,
    scenes: [{ nodes: [0] }],
    nodes: [{ mesh: 0 }],
    meshes: [{ primitives: [{ attributes: { POSITION: 0 }, material: 0 }] }],
    materials: [{ name: 'glass', pbrMetallicRoughness: { baseColorFactor: [1, 1, 1, 1], roughnessFactor: 0 }, extensions }],
    accessors: [{ bufferView: 0, componentType: 5126, count: 3, type: 'VEC3', min: [0, 0, 0], max: [1, 1, 0] }],
    bufferViews: [{ buffer: 0, byteLength: 36 }],
    buffers: [{ byteLength: 36, uri: `data:application/octet-stream;base64,${b64}` }],
  };
  return new TextEncoder().encode(JSON.stringify(gltf));
}

const card = (backends?: NodeCard['backends']): NodeCard => ({ ...EDGE_NODE_CARD, gl: { ...EDGE_NODE_CARD.gl, maxViewport: [8192, 8192] }, region: '', concurrency: 1, ...(backends ? { backends } : {}) });

describe('the WebGL 2 flag in the Worker', () => {
  it('flags transmission and volume at upload; a plain scene is not flagged', async () => {
    const inspector = createEdgeSceneInspector();
    const glass = await inspector.inspect({
      kind: 'bytes',
      name: 'glass.gltf',
      bytes: triangleGltf({ KHR_materials_transmission: { transmissionFactor: 1 }, KHR_materials_volume: { thicknessFactor: 0.5, attenuationColor: [0.4, 0.8, 1] } }),
    });
    expect(glass.info.webgl2).toEqual(['KHR_materials_transmission', 'KHR_materials_volume']);
    const plain = await inspector.inspect({ kind: 'bytes', name: 'plain.gltf', bytes: triangleGltf({}) });
    expect(plain.info.webgl2).toEqual([]);
    // Clearcoat renders on WebGL 1: no flag.
    const coat = await inspector.inspect({ kind: 'bytes', name: 'coat.gltf', bytes: triangleGltf({ KHR_materials_clearcoat: { clearcoatFactor: 1 } }) });
    expect(coat.info.webgl2).toEqual([]);

    // The flag becomes the job's requirement, which only a card with a WebGL 2 backend meets.
    const req = sceneRequirements({ allowedRegions: [] }, glass.info);
    expect(req).toEqual({ allowedRegions: [], webgl2: true });
    expect(sceneRequirements(undefined, plain.info)).toBeNull();
    expect(meetsRequirements(card(), req!)).toBe(false);
    expect(meetsRequirements(card([{ id: 'headless-gl', webgl2: false, version: '1' }]), req!)).toBe(false);
    expect(meetsRequirements(card([{ id: 'headless-gl', webgl2: false, version: '1' }, { id: 'chromium', webgl2: true, version: '2' }]), req!)).toBe(true);
  });
});
