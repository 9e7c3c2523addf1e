/**
 * The depth pass of sessions: a material that writes each fragment's linear eye-space depth (distance along the
 * eye's forward axis, −z in view space) in millimetres into R (high byte) and G (low byte) of an RGBA8
 * framebuffer, which the node reads back like a colour image and sends as the `rg8-mm-png` depth image.
 *
 * Why a packing pass and not a depth texture: headless-gl is WebGL 1 and offers no WEBGL_depth_texture (its
 * extension list has none), and WebGL 1 cannot readPixels a depth buffer at all, so even with the extension a
 * second pass would be needed to copy depth into colour. One override-material pass over the posed scene gives
 * the exact value straight from the vertex shader (view-space z, interpolated perspective-correctly), instead of
 * three's RGBADepthPacking of the non-linear window depth, which would have to be linearised on the CPU from the
 * projection and loses precision far from the near plane.
 *
 * It uses three's own vertex chunks, so skinned, morphed, instanced and batched meshes land where the colour pass
 * drew them. Every surface counts as opaque (alpha-blended and alpha-masked surfaces write their depth too) and
 * is drawn double-sided (the nearest surface wins the depth test either way).
 */
import { DoubleSide, ShaderMaterial } from 'three';
import { DEPTH_FAR_MM } from '../../api/protocol/session-depth.ts';

const vertexShader = /* glsl */ `
#include <common>
#include <batching_pars_vertex>
#include <morphtarget_pars_vertex>
#include <skinning_pars_vertex>
#include <logdepthbuf_pars_vertex>
#include <clipping_planes_pars_vertex>
varying float vViewDepth;
void main() {
  #include <batching_vertex>
  #include <skinbase_vertex>
  #include <morphinstance_vertex>
  #include <begin_vertex>
  #include <morphtarget_vertex>
  #include <skinning_vertex>
  #include <project_vertex>
  #include <logdepthbuf_vertex>
  #include <clipping_planes_vertex>
  vViewDepth = -mvPosition.z;
}
`;

const fragmentShader = /* glsl */ `
#include <common>
#include <logdepthbuf_pars_fragment>
#include <clipping_planes_pars_fragment>
varying float vViewDepth;
void main() {
  #include <clipping_planes_fragment>
  #include <logdepthbuf_fragment>
  // Millimetres, rounded, clamped to 16 bits: high byte in R, low byte in G (k/255 stores exactly k in RGBA8).
  float mm = clamp(floor(vViewDepth * 1000.0 + 0.5), 0.0, ${DEPTH_FAR_MM}.0);
  float hi = floor(mm / 256.0);
  float lo = mm - hi * 256.0;
  gl_FragColor = vec4(hi / 255.0, lo / 255.0, 0.0, 1.0);
}
`;

/** A material that draws linear eye depth in millimetres as R (high byte), G (low byte). */
export function createLinearDepthMaterial(): ShaderMaterial {
  const material = new ShaderMaterial({ vertexShader, fragmentShader, side: DoubleSide, transparent: false, depthTest: true, depthWrite: true });
  material.name = 'tessera.linear-depth';
  material.toneMapped = false;
  return material;
}
