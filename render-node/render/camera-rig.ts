import { Box3, Camera, OrthographicCamera, PerspectiveCamera, Sphere, Vector3 } from 'three';
import type { CameraSpec } from '../../api/protocol/render-spec.ts';
import { TesseraError } from '../../api/protocol/errors.ts';
import type { LoadedScene } from '../scene/load-scene.ts';

const DEG = Math.PI / 180;
const _sphere = new Sphere();
const _dir = new Vector3();

/** Bounding sphere of a box; an empty box gives a unit sphere at the origin. */
export function boundsSphere(box: Box3, target = new Sphere()): Sphere {
  if (box.isEmpty()) return target.set(new Vector3(), 1);
  box.getBoundingSphere(target);
  if (!(target.radius > 0) || !Number.isFinite(target.radius)) target.radius = 1;
  return target;
}

/** Find a glTF camera by index or name (camera name first, then its node's name). */
export function findGltfCamera(loaded: LoadedScene, spec: { index?: number; name?: string }): Camera {
  const json = loaded.gltf.parser.json;
  const defs: { name?: string }[] = json.cameras ?? [];
  let index = spec.index;
  if (spec.name !== undefined) {
    index = defs.findIndex((c) => c.name === spec.name);
    if (index < 0) {
      const node = (json.nodes ?? []).find((n: { name?: string; camera?: number }) => n.camera !== undefined && n.name === spec.name);
      index = node ? node.camera : -1;
    }
  }
  const camera = index !== undefined && index >= 0 ? loaded.cameras[index] : undefined;
  if (!camera) {
    const names = defs.map((c, i) => c.name ?? `#${i}`);
    const what = spec.name !== undefined ? `named "${spec.name}"` : `with index ${spec.index}`;
    throw new TesseraError('CAMERA_NOT_FOUND', `The scene has no camera ${what}; its cameras are: ${names.length ? names.join(', ') : '(none — use --camera auto)'}.`);
  }
  return camera;
}

/**
 * Build the camera for one frame. `bounds` frames auto cameras and sets clip planes for explicit ones;
 * the aspect ratio always follows the output size.
 */
export function createCamera(loaded: LoadedScene, spec: CameraSpec, aspect: number, bounds: Box3): Camera {
  const sphere = boundsSphere(bounds, _sphere);
  if (spec.kind === 'gltf') {
    const camera = findGltfCamera(loaded, spec);
    camera.updateMatrixWorld(true);
    if ((camera as PerspectiveCamera).isPerspectiveCamera) {
      const p = camera as PerspectiveCamera;
      p.aspect = aspect;
      p.updateProjectionMatrix();
    } else if ((camera as OrthographicCamera).isOrthographicCamera) {
      const o = camera as OrthographicCamera;
      const ymag = (o.top - o.bottom) / 2;
      o.left = -ymag * aspect;
      o.right = ymag * aspect;
      o.updateProjectionMatrix();
    }
    return camera;
  }
  const camera = new PerspectiveCamera(spec.fov, aspect);
  if (spec.kind === 'auto') {
    const yaw = spec.yaw * DEG;
    const pitch = spec.pitch * DEG;
    _dir.set(Math.sin(yaw) * Math.cos(pitch), Math.sin(pitch), Math.cos(yaw) * Math.cos(pitch));
    const vfov = spec.fov * DEG;
    const hfov = 2 * Math.atan(Math.tan(vfov / 2) * aspect);
    const distance = (sphere.radius / Math.sin(Math.min(vfov, hfov) / 2)) * 1.02;
    camera.position.copy(sphere.center).addScaledVector(_dir, distance);
    camera.up.set(0, 1, 0);
    camera.lookAt(sphere.center);
    camera.near = Math.max(distance - sphere.radius * 1.1, distance * 1e-3);
    camera.far = distance + sphere.radius * 1.1;
  } else {
    camera.position.fromArray(spec.position);
    camera.up.fromArray(spec.up).normalize();
    camera.lookAt(new Vector3().fromArray(spec.target));
    const d = camera.position.distanceTo(sphere.center);
    camera.near = Math.max(d - sphere.radius * 1.1, (d + sphere.radius) * 1e-4, 1e-4);
    camera.far = Math.max(d + sphere.radius * 1.1, camera.near * 10);
  }
  camera.updateProjectionMatrix();
  camera.updateMatrixWorld(true);
  return camera;
}
