/**
 * The environment background for sessions' `fast` look: its final colours (as three draws them: cube-UV lookup,
 * intensity, rotation, blurriness, tone mapping, exposure, sRGB output) baked once per session into a cube map of
 * RGBA8 display colours, then drawn like DepthTestedBackground (after the opaque surfaces, depth-tested) with one
 * bilinear cube lookup per sky pixel and no further shading. On llvmpipe the background then costs ~1–2 ms instead
 * of ~12 ms of CPU per 2×512² frame of the textured sample; the sky differs from three's by a few levels of 8 bits
 * (bilinear filtering between baked display colours instead of per pixel in linear light).
 *
 * Baking draws the background alone (an empty scene with the same background settings) through six 90° cameras on
 * the default framebuffer, reads each face back and lays it out in GL's cube-map convention (face order +X −X +Y −Y
 * +Z −Z; within a face, s and t as the GL spec's major-axis table says), so the shader samples world directions
 * as they are.
 */
import {
  BackSide,
  BoxGeometry,
  CubeTexture,
  DataTexture,
  LessEqualDepth,
  LinearFilter,
  Mesh,
  NoColorSpace,
  PerspectiveCamera,
  RGBAFormat,
  Scene,
  ShaderMaterial,
  UnsignedByteType,
  Vector3,
} from 'three';
import { drawWithSky, skyBoxMesh } from './sky-box-mesh.ts';
import type { FrameRenderer } from './frame-renderer.ts';

/** GL's cube faces: major axis, and the directions s and t grow along (GL spec, table "cube map face selection"). */
const FACES: { axis: [number, number, number]; s: [number, number, number]; t: [number, number, number] }[] = [
  { axis: [1, 0, 0], s: [0, 0, -1], t: [0, -1, 0] },
  { axis: [-1, 0, 0], s: [0, 0, 1], t: [0, -1, 0] },
  { axis: [0, 1, 0], s: [1, 0, 0], t: [0, 0, 1] },
  { axis: [0, -1, 0], s: [1, 0, 0], t: [0, 0, -1] },
  { axis: [0, 0, 1], s: [1, 0, 0], t: [0, -1, 0] },
  { axis: [0, 0, -1], s: [-1, 0, 0], t: [0, -1, 0] },
];

export interface BakedBackgroundOptions {
  /** Edge of each baked face, in pixels (256: about one texel per pixel for a 512² eye with a 90° field of view). */
  faceSize: number;
}

export const BAKED_BACKGROUND_DEFAULTS: BakedBackgroundOptions = { faceSize: 256 };

export class BakedBackground {
  readonly #options: BakedBackgroundOptions;
  readonly #mesh: Mesh<BoxGeometry, ShaderMaterial>;
  #cube: CubeTexture | null = null;

  constructor(options: Partial<BakedBackgroundOptions> = {}) {
    this.#options = { ...BAKED_BACKGROUND_DEFAULTS, ...options };
    const material = new ShaderMaterial({
      name: 'BakedBackgroundMaterial',
      uniforms: { tCube: { value: null } },
      vertexShader: /* glsl */ `
        varying vec3 vDirection;
        void main() {
          vDirection = (modelMatrix * vec4(position, 0.0)).xyz;
          gl_Position = projectionMatrix * modelViewMatrix * vec4(position, 1.0);
          gl_Position.z = gl_Position.w; // on the far plane
        }`,
      // The baked texels are display colours already: no tone mapping, no colour-space conversion.
      fragmentShader: /* glsl */ `
        uniform samplerCube tCube;
        varying vec3 vDirection;
        void main() {
          gl_FragColor = vec4(textureCube(tCube, vDirection).rgb, 1.0);
        }`,
      side: BackSide,
      depthTest: true,
      depthFunc: LessEqualDepth,
      depthWrite: false,
      toneMapped: false,
      fog: false,
    });
    this.#mesh = skyBoxMesh(material, 'tessera:baked-background');
  }

  /** Whether a cube is baked. */
  get baked(): boolean {
    return this.#cube !== null;
  }

  /**
   * Bake `scene`'s background as `frames`' renderer draws it now (call after FrameRenderer.prepareScene, which sets
   * tone mapping, exposure and the background). Leaves the default framebuffer at the face size.
   */
  bake(frames: FrameRenderer, scene: Scene): void {
    const size = this.#options.faceSize;
    const r = frames.renderer;
    const sky = new Scene();
    sky.background = scene.background;
    sky.backgroundIntensity = scene.backgroundIntensity;
    sky.backgroundBlurriness = scene.backgroundBlurriness;
    sky.backgroundRotation.copy(scene.backgroundRotation);
    const camera = new PerspectiveCamera(90, 1, 0.1, 10);
    frames.backend.resize(size, size);
    r.setSize(size, size, false);
    r.setScissorTest(false);
    r.setViewport(0, 0, size, size);
    const shadows = r.shadowMap.needsUpdate;
    r.shadowMap.needsUpdate = false;
    const up = new Vector3();
    const pixels = new Uint8Array(size * size * 4);
    const faces: DataTexture[] = [];
    for (const face of FACES) {
      // A camera looking down the axis with up = −t and right = s would be mirrored (s × t points out of the cube):
      // draw with up = −t (right = −s) and mirror the columns when laying the face out.
      up.set(-face.t[0], -face.t[1], -face.t[2]);
      camera.up.copy(up);
      camera.position.set(0, 0, 0);
      camera.lookAt(face.axis[0], face.axis[1], face.axis[2]);
      camera.updateMatrixWorld(true);
      r.render(sky, camera);
      frames.backend.context.finish();
      const read = frames.backend.readPixels(0, 0, size, size, pixels);
      const data = new Uint8Array(size * size * 4);
      for (let y = 0; y < size; y++) {
        for (let x = 0; x < size; x++) {
          const from = (y * size + (size - 1 - x)) * 4;
          const to = (y * size + x) * 4;
          data[to] = read[from];
          data[to + 1] = read[from + 1];
          data[to + 2] = read[from + 2];
          data[to + 3] = 255;
        }
      }
      const texture = new DataTexture(data, size, size, RGBAFormat, UnsignedByteType);
      texture.needsUpdate = true;
      faces.push(texture);
    }
    r.shadowMap.needsUpdate = shadows;
    this.#cube?.dispose();
    const cube = new CubeTexture(faces as unknown as HTMLImageElement[]);
    cube.format = RGBAFormat;
    cube.type = UnsignedByteType;
    cube.colorSpace = NoColorSpace;
    cube.minFilter = LinearFilter;
    cube.magFilter = LinearFilter;
    cube.generateMipmaps = false;
    cube.flipY = false;
    cube.needsUpdate = true;
    this.#cube = cube;
    this.#mesh.material.uniforms.tCube.value = cube;
  }

  /**
   * Draw with the baked cube instead of `scene`'s background while `draw` runs: the scene's own background is taken
   * off and put back after. Without a baked cube, or a scene without a background, just runs `draw`.
   */
  around<T>(scene: Scene, draw: () => T): T {
    if (!this.#cube || !scene.background) return draw();
    return drawWithSky(scene, this.#mesh, draw);
  }

  dispose(): void {
    this.#cube?.dispose();
    this.#mesh.geometry.dispose();
    this.#mesh.material.dispose();
  }
}
