import { ShaderChunk } from 'three';

/**
 * Patches three r162's shader chunks for WebGL 1 (headless-gl).
 *
 * Skinning: r162 fetches bone matrices with textureSize/texelFetch, which GLSL ES 1.0 lacks, so skinned
 * meshes fail to compile. The patched chunk samples the bone texture with texture2D at texel centers; the
 * texture's edge comes in as the BONE_TEXTURE_SIZE define (set per material by load-scene.ts).
 *
 * sRGB textures, without EXT_sRGB:
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
  chunks.skinning_pars_vertex = `
#ifdef USE_SKINNING
	uniform mat4 bindMatrix;
	uniform mat4 bindMatrixInverse;
	uniform highp sampler2D boneTexture;
	#ifndef BONE_TEXTURE_SIZE
		#define BONE_TEXTURE_SIZE 4
	#endif
	mat4 getBoneMatrix( const in float i ) {
		float size = float( BONE_TEXTURE_SIZE );
		float j = i * 4.0;
		float x = mod( j, size );
		float y = floor( j / size );
		float d = 1.0 / size;
		float v = d * ( y + 0.5 );
		vec4 v1 = texture2D( boneTexture, vec2( d * ( x + 0.5 ), v ) );
		vec4 v2 = texture2D( boneTexture, vec2( d * ( x + 1.5 ), v ) );
		vec4 v3 = texture2D( boneTexture, vec2( d * ( x + 2.5 ), v ) );
		vec4 v4 = texture2D( boneTexture, vec2( d * ( x + 3.5 ), v ) );
		return mat4( v1, v2, v3, v4 );
	}
#endif
`;
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

/** The bone texture edge three's Skeleton.computeBoneTexture picks for `bones` bones. */
export function boneTextureSize(bones: number): number {
  return Math.max(4, Math.ceil(Math.sqrt(bones * 4) / 4) * 4);
}
