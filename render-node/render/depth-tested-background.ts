/**
 * The environment background drawn AFTER the opaque surfaces, depth-tested, instead of before them with the depth
 * test off (three.js's WebGLBackground). Same mesh, same shader (ShaderLib.backgroundCube), same uniforms, so every
 * pixel the background shows through is the same colour; but on a software rasterizer (llvmpipe) the cube-UV lookup
 * (several texel fetches, per pixel) is no longer run for the pixels the scene covers. For the textured sample at
 * 2×512² that was ~15–20 ms of the ~45 ms CPU a session frame took (render-node session bench, 2026-12).
 *
 * Order: the mesh has the highest renderOrder, so it is the last of the opaque list and is still drawn before
 * transparent surfaces (as three's background is); its vertex shader puts it on the far plane (z = w), and it passes
 * LESS_EQUAL only where nothing opaque wrote depth. Alpha-tested cut-outs write no depth where they discard, so the
 * background shows through them as before. Not for shadow maps (it casts none) nor the depth pass (detach first).
 */
import {
  BackSide,
  BoxGeometry,
  ColorManagement,
  Euler,
  LessEqualDepth,
  Matrix4,
  Mesh,
  ShaderLib,
  ShaderMaterial,
  SRGBTransfer,
  UniformsUtils,
  type Scene,
  type Texture,
} from 'three';
import { drawWithSky, skyBoxMesh } from './sky-box-mesh.ts';
import { CUBE_UV_REFLECTION_MAPPING } from './three-compat.ts';

export class DepthTestedBackground {
  readonly #mesh: Mesh<BoxGeometry, ShaderMaterial>;
  readonly #m = new Matrix4();
  readonly #e = new Euler();
  #texture: Texture | null = null;
  #toneMapped: boolean | null = null;

  constructor() {
    const material = new ShaderMaterial({
      name: 'DepthTestedBackgroundCubeMaterial',
      uniforms: UniformsUtils.clone(ShaderLib.backgroundCube.uniforms),
      vertexShader: ShaderLib.backgroundCube.vertexShader,
      fragmentShader: ShaderLib.backgroundCube.fragmentShader,
      side: BackSide,
      depthTest: true,
      depthFunc: LessEqualDepth,
      depthWrite: false,
      fog: false,
    });
    // As three does: an `envMap` property so the program gets the cube-UV defines (ENVMAP_TYPE_CUBE_UV, texel sizes).
    Object.defineProperty(material, 'envMap', { get: () => material.uniforms.envMap.value });
    this.#mesh = skyBoxMesh(material, 'tessera:background');
  }

  /** Whether `scene`'s background is one this can draw (the cube-UV environment of FrameRenderer). */
  static handles(scene: Scene): boolean {
    const bg = scene.background as Texture | null;
    return !!bg && (bg as Texture).isTexture === true && bg.mapping === CUBE_UV_REFLECTION_MAPPING;
  }

  /**
   * Draw with `scene`'s background this way while `draw` runs: the scene's own background is taken off (the clear
   * colour shows only where the background mesh then covers it) and put back after.
   */
  around<T>(scene: Scene, draw: () => T): T {
    if (!DepthTestedBackground.handles(scene)) return draw();
    const texture = scene.background as Texture;
    const u = this.#mesh.material.uniforms;
    // Uniforms as WebGLBackground sets them for a cube-UV texture (not a CubeTexture: no flip, no extra rotation).
    this.#e.copy(scene.backgroundRotation);
    this.#e.x *= -1;
    this.#e.y *= -1;
    this.#e.z *= -1;
    u.envMap.value = texture;
    u.flipEnvMap.value = 1;
    u.backgroundBlurriness.value = scene.backgroundBlurriness;
    u.backgroundIntensity.value = scene.backgroundIntensity;
    u.backgroundRotation.value.setFromMatrix4(this.#m.makeRotationFromEuler(this.#e));
    const toneMapped = ColorManagement.getTransfer(texture.colorSpace) !== SRGBTransfer;
    if (this.#texture !== texture || this.#toneMapped !== toneMapped) {
      this.#mesh.material.toneMapped = toneMapped;
      this.#mesh.material.needsUpdate = true;
      this.#texture = texture;
      this.#toneMapped = toneMapped;
    }
    return drawWithSky(scene, this.#mesh, draw);
  }

  dispose(): void {
    this.#mesh.geometry.dispose();
    this.#mesh.material.dispose();
  }
}
