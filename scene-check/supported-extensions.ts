/**
 * glTF extensions a scene may list in `extensionsRequired`: those three.js's GLTFLoader renders without extra
 * decoders (r162 on headless-gl; the current three on WebGL 2 nodes adds KHR_materials_dispersion), plus Draco and meshopt (decoded here before the renderer sees the scene)
 * and KHR_texture_basisu (KTX2 containers checked here, transcoded to RGBA8 by the render node), EXT_texture_webp and
 * EXT_texture_avif (decoded by the render node: sharp on Node, the browser in a tab).
 * A scene may *use* any extension; unknown optional ones are dropped by the normalization.
 */
export const SUPPORTED_EXTENSIONS: ReadonlySet<string> = new Set([
  'EXT_mesh_gpu_instancing',
  'EXT_meshopt_compression',
  'KHR_draco_mesh_compression',
  'KHR_meshopt_compression',
  'KHR_lights_punctual',
  'KHR_materials_anisotropy',
  'KHR_materials_clearcoat',
  'KHR_materials_dispersion',
  'KHR_materials_emissive_strength',
  'KHR_materials_ior',
  'KHR_materials_iridescence',
  'KHR_materials_sheen',
  'KHR_materials_specular',
  'KHR_materials_transmission',
  'KHR_materials_unlit',
  'KHR_materials_volume',
  'KHR_mesh_quantization',
  'KHR_texture_basisu',
  'KHR_texture_transform',
  'EXT_texture_webp',
  'EXT_texture_avif',
]);

/**
 * Extensions refused even when only used: their data cannot be read without a decoder this
 * module does not load, and the fallback they promise is often missing.
 */
export const REFUSED_EXTENSIONS: ReadonlySet<string> = new Set<string>([]);

/**
 * Extensions rendered only on WebGL 2 nodes (volume and dispersion act through three's transmission pass, which
 * needs WebGL 2; dispersion is drawn by three from r163 on, and every WebGL 2 backend runs the current three, see
 * web/vite.config.ts). A scene that uses one is flagged at upload (SceneInfo.webgl2) and its jobs go only to nodes
 * with a WebGL 2 backend. headless-gl (three 0.162, WebGL 1) draws such materials opaque, without dispersion.
 */
export const WEBGL2_EXTENSIONS: readonly string[] = ['KHR_materials_transmission', 'KHR_materials_volume', 'KHR_materials_dispersion'];

/** The extensions of `extensionsUsed` that need WebGL 2, in WEBGL2_EXTENSIONS order. */
export function webgl2ExtensionsOf(extensionsUsed: readonly string[]): string[] {
  return WEBGL2_EXTENSIONS.filter((e) => extensionsUsed.includes(e));
}
