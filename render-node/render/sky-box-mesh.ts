/**
 * The unit box a background shader draws the sky on: positions only, drawn after everything else (so the
 * depth test keeps it behind the scene), never culled, casting or receiving no shadow, and kept centred on
 * the camera that draws it. Shared by the depth-tested environment background and the session's baked one.
 */
import { BoxGeometry, Mesh, type ShaderMaterial } from 'three';

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
