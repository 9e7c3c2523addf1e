/**
 * Pose helpers for clients without a headset (the CLI bench, tests, the sample page's desktop mode):
 * column-major view and projection matrices for a head at `position` looking at `target`, both eyes apart
 * by `ipd` along the head's right axis. Pure math, no dependencies.
 */
import type { EyePose } from './session.ts';

type Vec3 = readonly [number, number, number];

const sub = (a: Vec3, b: Vec3): [number, number, number] => [a[0] - b[0], a[1] - b[1], a[2] - b[2]];
const cross = (a: Vec3, b: Vec3): [number, number, number] => [a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]];
const norm = (a: Vec3): [number, number, number] => {
  const l = Math.hypot(a[0], a[1], a[2]) || 1;
  return [a[0] / l, a[1] / l, a[2] / l];
};
const dot = (a: Vec3, b: Vec3) => a[0] * b[0] + a[1] * b[1] + a[2] * b[2];

/** World → eye matrix of a camera at `eye` looking at `target` (OpenGL convention: looks down −z). */
export function lookAtView(eye: Vec3, target: Vec3, up: Vec3 = [0, 1, 0]): number[] {
  const z = norm(sub(eye, target));
  let x = cross(up, z);
  if (Math.hypot(...x) < 1e-9) x = cross([0, 0, 1], z);
  x = norm(x);
  const y = cross(z, x);
  return [x[0], y[0], z[0], 0, x[1], y[1], z[1], 0, x[2], y[2], z[2], 0, -dot(x, eye), -dot(y, eye), -dot(z, eye), 1];
}

/** Perspective projection (vertical fov in degrees). */
export function perspective(fovDeg: number, aspect: number, near: number, far: number): number[] {
  const f = 1 / Math.tan((fovDeg * Math.PI) / 360);
  const nf = 1 / (near - far);
  return [f / aspect, 0, 0, 0, 0, f, 0, 0, 0, 0, (far + near) * nf, -1, 0, 0, 2 * far * near * nf, 0];
}

/** Both eyes of a head at `position` looking at `target`. */
export function stereoPose(position: Vec3, target: Vec3, options: { fov?: number; aspect?: number; ipd?: number; near?: number; far?: number } = {}): EyePose[] {
  const { fov = 60, aspect = 1, ipd = 0.064, near = 0.05, far = 1000 } = options;
  const forward = norm(sub(target, position));
  let right = cross(forward, [0, 1, 0]);
  if (Math.hypot(...right) < 1e-9) right = [1, 0, 0];
  right = norm(right);
  const projection = perspective(fov, aspect, near, far);
  return [-0.5, 0.5].map((side) => {
    const offset: [number, number, number] = [right[0] * ipd * side, right[1] * ipd * side, right[2] * ipd * side];
    const eye: Vec3 = [position[0] + offset[0], position[1] + offset[1], position[2] + offset[2]];
    const at: Vec3 = [target[0] + offset[0], target[1] + offset[1], target[2] + offset[2]];
    return { view: lookAtView(eye, at), projection };
  });
}

/** A smooth head motion for benches: yaw swings ±`degrees` around `target` at `hz`, at time `t` (s). */
export function orbitPosition(start: Vec3, target: Vec3, t: number, degrees = 20, hz = 0.25): [number, number, number] {
  const a = ((degrees * Math.PI) / 180) * Math.sin(2 * Math.PI * hz * t);
  const d = sub(start, target);
  const c = Math.cos(a), s = Math.sin(a);
  return [target[0] + d[0] * c + d[2] * s, start[1], target[2] - d[0] * s + d[2] * c];
}
