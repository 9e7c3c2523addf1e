import { AnimationClip, Box3, Camera, Material, Mesh, NoColorSpace, Object3D, Quaternion, Scene, SkinnedMesh, Texture, Vector3 } from 'three';
import { GLTFLoader, type GLTF } from 'three/examples/jsm/loaders/GLTFLoader.js';
import { TesseraError, isTesseraError } from '../../api/protocol/errors.ts';
import { boneTextureSize, setupThree } from '../render/three-setup.ts';
import { CpuMorph, gpuCannotMorph } from './cpu-morph.ts';
import type { ImageDecoder } from './image-decoder.ts';
import { DECODED_TEXTURE_EXTENSIONS, extensionTextureSource, imageSource, type ImageFailure } from './image-source.ts';

export interface LoadSceneOptions {
  /** Decodes texture images (sharp on Node, createImageBitmap in a browser tab). */
  images: ImageDecoder;
  maxTextureSize: number;
  maxTexturePixels: number;
  /**
   * Whether the GL backend is WebGL 2 and transmission is wanted (see RenderPlatform.transmission). Otherwise
   * transmission and volume are dropped with a warning, as WebGL 1 (headless-gl) needs; on WebGL 2 three r162
   * renders them (default false).
   */
  webgl2?: boolean;
  /**
   * Whether the GL backend is WebGL 2, where three morphs any number of targets from a texture. Otherwise (WebGL 1,
   * default) meshes with more morph targets than three can morph there are morphed on the CPU (cpu-morph.ts), as
   * are, on either, meshes whose targets three cannot morph at all.
   */
  morphTextures?: boolean;
}

/** A glTF file parsed into three.js objects, ready to pose and render many times. */
export interface LoadedScene {
  gltf: GLTF;
  /** One three.js Scene per glTF scene (the glTF scene's root group is its only child). */
  scenes: Scene[];
  sceneNames: string[];
  defaultScene: number;
  clips: AnimationClip[];
  /** glTF cameras in file order (index = glTF camera index). */
  cameras: Camera[];
  hasPunctualLights: boolean;
  /** What the renderer could not reproduce exactly (e.g. features WebGL 1 lacks). */
  warnings: string[];
  /** Put every node and morph weight back to its loaded (rest) state. */
  restorePose(): void;
  /** Bring CPU-morphed meshes (see cpu-morph.ts) up to their current morph weights; call after posing. */
  updateMorphs(): void;
  dispose(): void;
}

// glTF material texture slot → the three.js material property GLTFLoader assigns it to.
const TEXTURE_SLOTS: [(m: any) => unknown, string][] = [
  [(m) => m.pbrMetallicRoughness?.baseColorTexture, 'map'],
  [(m) => m.pbrMetallicRoughness?.metallicRoughnessTexture, 'roughnessMap'],
  [(m) => m.normalTexture, 'normalMap'],
  [(m) => m.occlusionTexture, 'aoMap'],
  [(m) => m.emissiveTexture, 'emissiveMap'],
];

/** Parse a normalized GLB (see readScene) with GLTFLoader, decoding images with the injected decoder. */
export async function loadScene(glb: Uint8Array, options: LoadSceneOptions): Promise<LoadedScene> {
  setupThree();
  const failures: ImageFailure[] = [];
  const loader = new GLTFLoader();
  loader.register(imageSource({ decoder: options.images, maxTextureSize: options.maxTextureSize, maxPixels: options.maxTexturePixels, failures }) as any);
  for (const name of DECODED_TEXTURE_EXTENSIONS) loader.register(extensionTextureSource(name) as any);
  const buffer = glb.buffer.slice(glb.byteOffset, glb.byteOffset + glb.byteLength) as ArrayBuffer;
  let gltf: GLTF;
  try {
    gltf = await loader.parseAsync(buffer, '');
  } catch (cause) {
    throw new TesseraError('SCENE_MALFORMED', `three.js could not build the scene: ${(cause as Error)?.message ?? cause}`, { cause });
  }
  if (failures.length) {
    // A decoder that cannot handle a format on this runtime (KTX2 in a browser tab) is this node's limit, not
    // the scene's fault: that error goes up as it is, so the task is retried on another node.
    const limit = failures.find((x) => isTesseraError(x.cause, 'RENDER_FAILED'));
    if (limit) throw limit.cause;
    const f = failures[0];
    throw new TesseraError(
      'SCENE_TEXTURE_FAILED',
      `${failures.length} texture image(s) failed to decode; image ${f.image} (${f.name}): ${(f.cause as Error)?.message ?? f.cause}`,
      { cause: f.cause },
    );
  }
  await verifyTextures(gltf);
  markShaderDecodedTextures(gltf);

  const json = gltf.parser.json;
  const sceneGroups = gltf.scenes;
  const scenes = sceneGroups.map((group) => {
    const s = new Scene();
    s.add(group);
    return s;
  });
  const warnings: string[] = [];
  const webgl2 = options.webgl2 === true;
  const cpuMorphs: CpuMorph[] = [];
  for (const s of scenes) s.traverse((o) => adaptForBackend(o, webgl2, warnings, options.morphTextures === true, cpuMorphs));
  const cameras: Camera[] = await Promise.all((json.cameras ?? []).map((_: unknown, i: number) => gltf.parser.getDependency('camera', i)));
  // getDependency returns the camera object placed in the graph for nodes; map by association instead.
  const placed = new Map<number, Camera>();
  for (const s of scenes) {
    s.traverse((o) => {
      if ((o as Camera).isCamera) {
        const nodeIndex = gltf.parser.associations.get(o)?.nodes ?? (o.parent ? gltf.parser.associations.get(o.parent)?.nodes : undefined);
        const camIndex = nodeIndex !== undefined ? json.nodes?.[nodeIndex]?.camera : undefined;
        if (camIndex !== undefined && !placed.has(camIndex)) placed.set(camIndex, o as Camera);
      }
    });
  }
  const restState = snapshotPose(scenes);
  let hasPunctualLights = false;
  for (const s of scenes) s.traverse((o) => (hasPunctualLights ||= (o as any).isLight === true));

  return {
    gltf,
    scenes,
    sceneNames: sceneGroups.map((g, i) => json.scenes?.[i]?.name ?? g.name ?? ''),
    defaultScene: json.scene ?? 0,
    clips: gltf.animations,
    cameras: cameras.map((c, i) => placed.get(i) ?? c),
    hasPunctualLights,
    warnings,
    restorePose: restState,
    updateMorphs() {
      for (const m of cpuMorphs) m.update();
    },
    dispose() {
      const textures = new Set<Texture>();
      for (const s of scenes) {
        s.traverse((o) => {
          const mesh = o as Mesh;
          mesh.geometry?.dispose();
          const mats = Array.isArray(mesh.material) ? mesh.material : mesh.material ? [mesh.material] : [];
          for (const m of mats as Material[]) {
            for (const v of Object.values(m)) if (v && (v as Texture).isTexture) textures.add(v as Texture);
            m.dispose();
          }
        });
      }
      for (const t of textures) t.dispose();
    },
  };
}

/**
 * Per-object fixes for the backend: on WebGL 1, transmission (and with it volume and dispersion, which only
 * act through it) is dropped with a warning; skinned meshes get their bone texture size as a shader define
 * (see three-setup.ts; the patched chunk works on both backends), cloning a material shared by skeletons of
 * different sizes; skinned and morphed meshes move outside their bind-pose bounds, so they are never
 * frustum-culled. Meshes whose morph targets three cannot draw on this GL (`morphTextures`: WebGL 2) are morphed
 * on the CPU, into `cpuMorphs`.
 */
function adaptForBackend(o: Object3D, webgl2: boolean, warnings: string[], morphTextures: boolean, cpuMorphs: CpuMorph[]): void {
  const mesh = o as SkinnedMesh;
  for (const m of (Array.isArray(mesh.material) ? mesh.material : mesh.material ? [mesh.material] : []) as (Material & { transmission?: number })[]) {
    // Transmission samples a mip chain with textureSize(), which GLSL ES 1.0 lacks: the shader would not compile.
    // WebGL 2 (GLSL ES 3.0) has it, and three r162 renders the transmission pass there.
    if (!webgl2 && m.transmission && m.transmission > 0) {
      m.transmission = 0;
      const note = `material "${m.name}": KHR_materials_transmission needs WebGL 2; rendered without transmission`;
      if (!warnings.includes(note)) warnings.push(note);
    }
  }
  if (mesh.isSkinnedMesh) {
    const size = boneTextureSize(mesh.skeleton.bones.length);
    const fix = (m: Material) => {
      const defines = (m.defines ??= {});
      if (defines.BONE_TEXTURE_SIZE === undefined) defines.BONE_TEXTURE_SIZE = size;
      else if (defines.BONE_TEXTURE_SIZE !== size) {
        const clone = m.clone();
        clone.defines = { ...defines, BONE_TEXTURE_SIZE: size };
        return clone;
      }
      return m;
    };
    mesh.material = Array.isArray(mesh.material) ? mesh.material.map(fix) : fix(mesh.material);
  }
  if (mesh.isSkinnedMesh || (mesh.morphTargetInfluences && mesh.morphTargetInfluences.length)) o.frustumCulled = false;
  if (mesh.isMesh && mesh.morphTargetInfluences?.length && gpuCannotMorph(mesh.geometry, morphTextures)) cpuMorphs.push(new CpuMorph(mesh));
}

/**
 * Base-color and emissive textures stay sRGB-encoded on the GPU and are decoded in the shader (three-setup.ts).
 * GLTFLoader marks them sRGB, which on WebGL 1 would make three convert them on the CPU as well (twice
 * decoded, alpha included): mark them as raw data instead, before anything is uploaded.
 */
function markShaderDecodedTextures(gltf: GLTF): void {
  for (const s of gltf.scenes) {
    s.traverse((o) => {
      const mesh = o as Mesh;
      const mats = (Array.isArray(mesh.material) ? mesh.material : mesh.material ? [mesh.material] : []) as (Material & { map?: Texture | null; emissiveMap?: Texture | null })[];
      for (const m of mats) {
        if (m.map) m.map.colorSpace = NoColorSpace;
        if (m.emissiveMap) m.emissiveMap.colorSpace = NoColorSpace;
      }
    });
  }
}

/** GLTFLoader drops textures that fail to load; make sure every texture a material names arrived. */
async function verifyTextures(gltf: GLTF): Promise<void> {
  const materials = gltf.parser.json.materials ?? [];
  for (let i = 0; i < materials.length; i++) {
    const def = materials[i];
    const mat = (await gltf.parser.getDependency('material', i)) as Record<string, unknown>;
    for (const [get, slot] of TEXTURE_SLOTS) {
      const info = get(def) as { index: number } | undefined;
      if (info && !mat[slot]) {
        throw new TesseraError(
          'SCENE_TEXTURE_FAILED',
          `material ${i} (${def.name ?? 'unnamed'}) names texture ${info.index} for ${slot}, but it did not load`,
        );
      }
    }
  }
}

/** Record every node's TRS and morph weights; the returned function restores them. */
function snapshotPose(scenes: Scene[]): () => void {
  const nodes: { o: Object3D; p: Vector3; q: Quaternion; s: Vector3; w?: number[] }[] = [];
  const seen = new Set<Object3D>();
  for (const s of scenes) {
    s.traverse((o) => {
      if (seen.has(o)) return;
      seen.add(o);
      const m = o as Mesh;
      nodes.push({ o, p: o.position.clone(), q: o.quaternion.clone(), s: o.scale.clone(), w: m.morphTargetInfluences?.slice() });
    });
  }
  return () => {
    for (const n of nodes) {
      n.o.position.copy(n.p);
      n.o.quaternion.copy(n.q);
      n.o.scale.copy(n.s);
      const m = n.o as Mesh;
      if (n.w && m.morphTargetInfluences) for (let i = 0; i < n.w.length; i++) m.morphTargetInfluences[i] = n.w[i];
    }
  };
}

/** World-space bounds of a scene as posed now. */
export function sceneBounds(scene: Object3D, target = new Box3()): Box3 {
  scene.updateMatrixWorld(true);
  return target.setFromObject(scene);
}
