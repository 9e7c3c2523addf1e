/**
 * The differences between the two three.js releases the shared render pipeline runs on, in one place: three 0.162
 * on Node's headless-gl (WebGL 1; the `three` dependency) and the current three in every browser page (WebGL 2; the
 * `three-latest` package, which web/vite.config.ts puts in place of `three`). Each shim asks three what it has, so
 * the pipeline modules import `three` alone and stay the same source for both.
 */
import { PCFShadowMap, PCFSoftShadowMap, REVISION, Texture, type ShadowMapType } from 'three';

/** The three.js revision running here (162 on headless-gl, 187 in the pages). */
export const THREE_REVISION = Number.parseInt(REVISION, 10);

/**
 * three 0.162's `CubeUVReflectionMapping` (306): the mapping of its PMREM atlas. Later releases no longer export it
 * (their PMREM is a mipmapped cube map), so it is named here rather than imported.
 */
export const CUBE_UV_REFLECTION_MAPPING = 306;

let cubePmrem: boolean | undefined;

/**
 * Whether this three's prefiltered environments (PMREM) are mipmapped cube maps flagged `isPMREMTexture`, sampled
 * with `textureLod` at a roughness-derived level (the current three), rather than three 0.162's cube-UV atlas.
 */
export function pmremIsCubeMap(): boolean {
  cubePmrem ??= 'isPMREMTexture' in new Texture();
  return cubePmrem;
}

/**
 * The soft PCF shadow map type: PCFSoftShadowMap on three 0.162; three 0.187 removed it (it warns and falls back to
 * PCFShadowMap, which filters softly itself), so PCFShadowMap there.
 */
export function softShadowMapType(): ShadowMapType {
  return THREE_REVISION <= 162 ? PCFSoftShadowMap : PCFShadowMap;
}
