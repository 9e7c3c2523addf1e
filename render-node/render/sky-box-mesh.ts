/**
 * The unit box a background shader draws the sky on: positions only, drawn after everything else (so the
 * depth test keeps it behind the scene), never culled, casting or receiving no shadow, and kept centred on
 * the camera that draws it. Shared by the depth-tested environment background and the session's baked one.
 */
import { BoxGeometry, Mesh, type Scene, type ShaderMaterial, type Texture } from 'three';

/** renderOrder that puts the sky after every other object. */
const LAST = 2 ** 30;

export function skyBoxMesh(material: ShaderMaterial, name: string): Mesh<BoxGeometry, ShaderMaterial> {
  const geometry = new BoxGeometry(1, 1, 1);
  geometry.deleteAttribute('normal');
  geometry.deleteAttribute('uv');
  const mesh = new Mesh(geometry, material);
  mesh.name = name;
  mesh.renderOrder = LAST;
  mesh.frustumCulled = false;
  mesh.castShadow = false;
  mesh.receiveShadow = false;
  mesh.onBeforeRender = (_r, _s, camera) => {
    mesh.matrixWorld.copyPosition(camera.matrixWorld);
  };
  return mesh;
}

/**
 * Run `draw` with `sky` in place of `scene`'s background: the background is taken off (so three draws none) and
 * `sky` added, then both put back as they were, even when `draw` throws.
 */
export function drawWithSky<T>(scene: Scene, sky: Mesh, draw: () => T): T {
  const background = scene.background as Texture | null;
  scene.background = null;
  scene.add(sky);
  try {
    return draw();
  } finally {
    scene.remove(sky);
    scene.background = background;
  }
}
