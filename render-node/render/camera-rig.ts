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
    const tanV = Math.tan(vfov / 2);
    const target = sphere.center.clone();
    let distance = sphere.radius;
    // Fit, then slide the camera sideways so the picture of the bounds is centered, then fit again.
    for (let pass = 0; pass < 3; pass++) {
      distance = fitDistance(bounds, target, sphere.radius, _dir, tanV, tanV * aspect);
      camera.position.copy(target).addScaledVector(_dir, distance);
      camera.up.set(0, 1, 0);
      camera.lookAt(target);
      camera.updateMatrixWorld(true);
      if (pass === 2 || bounds.isEmpty()) break;
      camera.updateProjectionMatrix();
      const ndc = projectedExtent(bounds, camera);
      _right.setFromMatrixColumn(camera.matrixWorld, 0).multiplyScalar(((ndc.minX + ndc.maxX) / 2) * tanV * aspect * distance);
      _upv.setFromMatrixColumn(camera.matrixWorld, 1).multiplyScalar(((ndc.minY + ndc.maxY) / 2) * tanV * distance);
      target.add(_right).add(_upv);
    }
    const d = camera.position.distanceTo(sphere.center);
    camera.near = Math.max(d - sphere.radius * 1.1, d * 1e-3);
    camera.far = d + sphere.radius * 1.1;
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

const _right = new Vector3();
const _upv = new Vector3();
const _corner = new Vector3();
/** Margin around the framed bounds, as a fraction of the frame. */
const FRAME_MARGIN = 1.06;

/**
 * The smallest distance from the bounds' center along `dir` at which every corner of `bounds` lies inside
 * the frustum (tangents of the half field of view vertically and horizontally), times a small margin.
 * Tighter than fitting the bounding sphere, which leaves long, flat scenes small in the middle of the frame.
 */
function fitDistance(bounds: Box3, center: Vector3, radius: number, dir: Vector3, tanV: number, tanH: number): number {
  if (bounds.isEmpty()) return radius / Math.sin(Math.atan(Math.min(tanV, tanH)));
  // Camera basis looking along -dir with world up (+Y), as lookAt builds it.
  _right.set(0, 1, 0).cross(dir);
  if (_right.lengthSq() < 1e-12) _right.set(1, 0, 0);
  _right.normalize();
  _upv.copy(dir).cross(_right).normalize();
  let distance = 0;
  for (let i = 0; i < 8; i++) {
    _corner.set(i & 1 ? bounds.max.x : bounds.min.x, i & 2 ? bounds.max.y : bounds.min.y, i & 4 ? bounds.max.z : bounds.min.z).sub(center);
    const toward = _corner.dot(dir); // how far the corner sticks out toward the camera
    distance = Math.max(distance, Math.abs(_corner.dot(_right)) * FRAME_MARGIN / tanH + toward, Math.abs(_corner.dot(_upv)) * FRAME_MARGIN / tanV + toward);
  }
  // Never inside the bounds: keep the near plane in front of everything.
  return Math.max(distance, radius * 1.05);
}

/** The NDC rectangle the corners of `bounds` cover as seen by `camera`. */
function projectedExtent(bounds: Box3, camera: PerspectiveCamera) {
  const r = { minX: Infinity, maxX: -Infinity, minY: Infinity, maxY: -Infinity };
  for (let i = 0; i < 8; i++) {
    _corner.set(i & 1 ? bounds.max.x : bounds.min.x, i & 2 ? bounds.max.y : bounds.min.y, i & 4 ? bounds.max.z : bounds.min.z).project(camera);
    r.minX = Math.min(r.minX, _corner.x);
    r.maxX = Math.max(r.maxX, _corner.x);
    r.minY = Math.min(r.minY, _corner.y);
    r.maxY = Math.max(r.maxY, _corner.y);
  }
  return r;
}
