import { ShaderChunk } from 'three';

/**
 * Patches three r162's shader chunks for WebGL 1 without EXT_sRGB (headless-gl).
 *
 * There, three converts sRGB textures to linear *8-bit* on the CPU (crushing the darks, and converting
 * alpha too, which breaks alpha masks). We upload base-color and emissive textures as their raw sRGB bytes
 * instead (see load-scene.ts) and decode in the shader, the way three decodes video textures.
 */
const SRGB_DECODE = (v: string) =>
  `${v} = vec4( mix( pow( ${v}.rgb * 0.9478672986 + vec3( 0.0521327014 ), vec3( 2.4 ) ), ${v}.rgb * 0.0773993808, vec3( lessThanEqual( ${v}.rgb, vec3( 0.04045 ) ) ) ), ${v}.w );`;

let patched = false;

/** Apply the patches once per process (idempotent). */
export function setupThree(): void {
  if (patched) return;
  patched = true;
  const chunks = ShaderChunk as unknown as Record<string, string>;
  chunks.map_fragment = `
#ifdef USE_MAP
	vec4 sampledDiffuseColor = texture2D( map, vMapUv );
	${SRGB_DECODE('sampledDiffuseColor')}
	diffuseColor *= sampledDiffuseColor;
#endif
`;
  chunks.map_particle_fragment = chunks.map_particle_fragment.replace(
    'diffuseColor *= texture2D( map, uv );',
    `vec4 sampledDiffuseColor = texture2D( map, uv );\n\t${SRGB_DECODE('sampledDiffuseColor')}\n\tdiffuseColor *= sampledDiffuseColor;`,
  );
  chunks.emissivemap_fragment = `
#ifdef USE_EMISSIVEMAP
	vec4 emissiveColor = texture2D( emissiveMap, vEmissiveMapUv );
	${SRGB_DECODE('emissiveColor')}
	totalEmissiveRadiance *= emissiveColor.rgb;
#endif
`;
}
