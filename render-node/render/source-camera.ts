import { Matrix4, PerspectiveCamera, Vector3, type Camera, type Sphere } from 'three';
import type { SourceView } from './projection-sources.ts';

const _f = new Vector3();
const _u = new Vector3();
const _r = new Vector3();

/**
 * The panorama frame of a camera: at the camera's position, facing its heading levelled to the horizon (the
 * camera's `up`, +Y unless set), so a pitched camera still gives a level horizon. Columns: right, up, back.
 */
export function panoramaFrame(camera: Camera): Matrix4 {
  camera.updateMatrixWorld(true);
  const position = camera.getWorldPosition(new Vector3());
  camera.getWorldDirection(_f);
  _u.copy(camera.up).normalize();
  if (!(_u.lengthSq() > 0.5)) _u.set(0, 1, 0);
  _f.addScaledVector(_u, -_f.dot(_u));
  if (_f.lengthSq() < 1e-12) {
    // Looking straight up or down: take the heading from the camera's own up axis instead.
    _f.setFromMatrixColumn(camera.matrixWorld, 1).multiplyScalar(-Math.sign(camera.getWorldDirection(_r).dot(_u)));
    _f.addScaledVector(_u, -_f.dot(_u));
    if (_f.lengthSq() < 1e-12) _f.set(0, 0, -1);
  }
  _f.normalize();
  _r.crossVectors(_f, _u).normalize();
  _u.crossVectors(_r, _f).normalize();
  const back = _f.clone().negate();
  return new Matrix4().makeBasis(_r, _u, back).setPosition(position);
}

/**
 * A perspective camera for `source` in the world: the panorama frame `frame` applied to its eye offset and
 * axes, with an off-axis frustum for its window, and clip planes that hold the whole scene (`sphere`: its
 * bounds) at any angle the window reaches.
 */
export function sourceCamera(frame: Matrix4, source: SourceView, sphere: Sphere): PerspectiveCamera {
  const eye = new Vector3(...source.eye).applyMatrix4(frame);
  const forward = new Vector3(...source.forward).transformDirection(frame);
  const up = new Vector3(...source.up).transformDirection(frame);
  const right = new Vector3().crossVectors(forward, up).normalize();
  up.crossVectors(right, forward).normalize();
  const camera = new PerspectiveCamera();
  camera.matrixAutoUpdate = false;
  camera.matrix.makeBasis(right, up, forward.clone().negate()).setPosition(eye);
  camera.matrix.decompose(camera.position, camera.quaternion, camera.scale);
  camera.updateMatrixWorld(true);
  const radius = sphere.radius * 1.1;
  const distance = eye.distanceTo(sphere.center);
  const far = distance + radius;
  const tx = Math.max(Math.abs(source.left), Math.abs(source.right));
  const ty = Math.max(Math.abs(source.bottom), Math.abs(source.top));
  // Depth along the axis of the nearest point the window can see is at least its distance × the cosine of its widest angle.
  const near = Math.max((distance - radius) / Math.sqrt(1 + tx * tx + ty * ty), far * 1e-4);
  camera.near = near;
  camera.far = far;
  camera.projectionMatrix.makePerspective(source.left * near, source.right * near, source.top * near, source.bottom * near, near, far);
  camera.projectionMatrixInverse.copy(camera.projectionMatrix).invert();
  return camera;
}
