/**
 * The cameras ("sources") a projection is rendered from, and where each output pixel looks. Pure maths, no GL.
 *
 * Everything is in the panorama frame: the camera's position, its heading levelled to the horizon, X right,
 * Y up, Z back (three's camera convention). A direction at longitude θ (0 straight ahead, positive to the
 * right) and latitude φ (positive up) is (cos φ sin θ, sin φ, −cos φ cos θ).
 *
 * Every number here is a function of the output size, the supersampling and the ipd only, never of the tile
 * asked for, so a tile of a panorama equals the same rectangle of the whole panorama bit for bit.
 */
import type { TileRect } from '../../api/protocol/render-spec.ts';

export type Vec3 = [number, number, number];

/** A perspective camera to render and sample: where it is, where it looks, and its window in tangent space. */
export interface SourceView {
  /** Eye position relative to the panorama's center, in world units, panorama frame. */
  eye: Vec3;
  /** Unit viewing direction and up vector; the camera's right is forward × up. */
  forward: Vec3;
  up: Vec3;
  /** The window at unit distance: x from left to right, y from bottom to top (an off-axis frustum). */
  left: number;
  right: number;
  bottom: number;
  top: number;
  /** Framebuffer size in pixels (supersampling included). */
  width: number;
  height: number;
}

/** A rectangle of the output rendered straight from one camera (stereo eyes, cube faces, a perspective frame). */
export interface Pane {
  rect: TileRect;
  source: SourceView;
  /** Output columns run right to left in the camera's image (GL cube faces are mirrored). */
  mirrored: boolean;
}

/** Cross product a × b. */
export const cross = (a: Vec3, b: Vec3): Vec3 => [a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]];
/** Dot product a · b. */
export const dot = (a: Vec3, b: Vec3): number => a[0] * b[0] + a[1] * b[1] + a[2] * b[2];
function normalize(v: Vec3): Vec3 {
  const l = Math.hypot(v[0], v[1], v[2]);
  return [v[0] / l, v[1] / l, v[2] / l];
}

/** Unit direction at longitude θ and latitude φ (radians) in the panorama frame. */
export function sphereDirection(theta: number, phi: number): Vec3 {
  const c = Math.cos(phi);
  return [c * Math.sin(theta), Math.sin(phi), -c * Math.cos(theta)];
}

/**
 * The six faces in GL cube-map order (+X, −X, +Y, −Y, +Z, −Z) with the GL orientation of each face image:
 * `right` is where its columns grow (s), `up` is toward its first row (−t). GL faces are mirrored as seen from
 * the center, so each is rendered by an ordinary camera (right = forward × up) and flipped left to right.
 */
export const CUBE_FACES: { name: string; forward: Vec3; right: Vec3; up: Vec3 }[] = [
  { name: '+X', forward: [1, 0, 0], right: [0, 0, -1], up: [0, 1, 0] },
  { name: '-X', forward: [-1, 0, 0], right: [0, 0, 1], up: [0, 1, 0] },
  { name: '+Y', forward: [0, 1, 0], right: [1, 0, 0], up: [0, 0, -1] },
  { name: '-Y', forward: [0, -1, 0], right: [1, 0, 0], up: [0, 0, 1] },
  { name: '+Z', forward: [0, 0, 1], right: [1, 0, 0], up: [0, 1, 0] },
  { name: '-Z', forward: [0, 0, -1], right: [-1, 0, 0], up: [0, 1, 0] },
];

/** The direction a GL cube face's texel center (i, j) (row j from the top) of an n×n face looks along. */
export function cubeFaceDirection(face: number, i: number, j: number, n: number): Vec3 {
  const f = CUBE_FACES[face];
  const s = (2 * (i + 0.5)) / n - 1;
  const t = 1 - (2 * (j + 0.5)) / n;
  return normalize([f.forward[0] + s * f.right[0] + t * f.up[0], f.forward[1] + s * f.right[1] + t * f.up[1], f.forward[2] + s * f.right[2] + t * f.up[2]]);
}

/** Cube: six height×height faces in a 6×1 strip, GL order and orientation. */
export function cubePanes(height: number, ssaa: number): Pane[] {
  return CUBE_FACES.map((f, i) => ({
    rect: { x: i * height, y: 0, width: height, height },
    source: { eye: [0, 0, 0], forward: f.forward, up: f.up, left: -1, right: 1, bottom: -1, top: 1, width: height * ssaa, height: height * ssaa },
    mirrored: true,
  }));
}

/**
 * The six cube faces an equirect is resampled from: each covers its 90° plus one texel of gutter on every
 * side, so bilinear taps never leave the face. The edge follows the equator's resolution (width/4 per 90°).
 */
export function equirectFaces(width: number, ssaa: number): SourceView[] {
  const n = Math.max(4, Math.ceil(width / 4)) * ssaa;
  const reach = 1 + 2 / n;
  return CUBE_FACES.map((f) => ({ eye: [0, 0, 0], forward: f.forward, up: f.up, left: -reach, right: reach, bottom: -reach, top: reach, width: n + 2, height: n + 2 }));
}

/** Which equirect face (index into CUBE_FACES) a direction falls on: its major axis. */
export function majorFace(x: number, y: number, z: number): number {
  const ax = Math.abs(x);
  const ay = Math.abs(y);
  const az = Math.abs(z);
  if (ax >= ay && ax >= az) return x >= 0 ? 0 : 1;
  if (ay >= az) return y >= 0 ? 2 : 3;
  return z >= 0 ? 4 : 5;
}

/** Output columns per omni-directional stereo slice: each slice is rendered by its own camera. */
export const ODS_SLICE_COLUMNS = 16;
/** Latitude (degrees) up to which the eyes keep the full ipd; above it the circle shrinks to nothing at the poles. */
export const ODS_TAPER_START = 60;
/** Latitude bands between the taper's start and each pole, each with its own (constant) eye circle. */
export const ODS_POLAR_BANDS = 6;

/** The eye circle's scale at latitude φ (radians): 1 up to ODS_TAPER_START, then a cosine ramp to 0 at the poles. */
export function odsTaper(phi: number): number {
  const start = (ODS_TAPER_START * Math.PI) / 180;
  const a = Math.abs(phi);
  if (a <= start) return 1;
  if (a >= Math.PI / 2) return 0; // exactly: the band at the pole is mono
  return Math.cos(((a - start) / (Math.PI / 2 - start)) * (Math.PI / 2));
}

/**
 * Rows [y0, y1) of one eye; the taper is taken at the band's edge nearest its pole, so the band at each pole is
 * drawn from the centre (mono, seamless at the pole) and the middle band keeps the full ipd.
 */
export interface OdsBand {
  y0: number;
  y1: number;
  taper: number;
}

/** Latitude of row edge y of an eye `eyeHeight` rows tall. */
const rowLatitude = (y: number, eyeHeight: number) => (0.5 - y / eyeHeight) * Math.PI;
/** Longitude of column edge x of a panorama `width` columns wide. */
const columnLongitude = (x: number, width: number) => (x / width - 0.5) * 2 * Math.PI;

/** Split an eye's rows into the middle band (full ipd) and polar bands (shrinking eye circle), on row edges. */
export function odsBands(eyeHeight: number): OdsBand[] {
  const edges = new Set<number>([0, eyeHeight]);
  const start = ODS_TAPER_START / 180;
  for (let k = 0; k < ODS_POLAR_BANDS; k++) {
    // Latitude fraction from the pole, as a row edge: bands equal in latitude.
    const f = (k / ODS_POLAR_BANDS) * (0.5 - start);
    edges.add(Math.round(f * eyeHeight));
    edges.add(eyeHeight - Math.round(f * eyeHeight));
  }
  edges.add(Math.round((0.5 - start) * eyeHeight));
  edges.add(eyeHeight - Math.round((0.5 - start) * eyeHeight));
  const sorted = [...edges].sort((a, b) => a - b);
  const bands: OdsBand[] = [];
  for (let i = 0; i + 1 < sorted.length; i++) {
    const [y0, y1] = [sorted[i], sorted[i + 1]];
    if (y1 <= y0) continue;
    const poleward = Math.max(Math.abs(rowLatitude(y0, eyeHeight)), Math.abs(rowLatitude(y1, eyeHeight)));
    bands.push({ y0, y1, taper: odsTaper(poleward) });
  }
  return bands;
}

/** One omni-directional stereo source: an eye, a slice of columns and a band of rows of that eye. */
export interface OdsSource {
  /** 0 = left eye (top half), 1 = right eye (bottom half). */
  eye: 0 | 1;
  /** Output rectangle (full frame coordinates) this source fills. */
  rect: TileRect;
  view: SourceView;
}

/**
 * The camera of one slice of one band of one eye. The eye sits on a circle of diameter ipd·taper, at right
 * angles to the slice's middle longitude (left eye to the left); the window covers the slice's directions
 * plus a margin of two texels, at the equator's resolution.
 */
export function odsSource(width: number, ssaa: number, ipd: number, eye: 0 | 1, band: OdsBand, x0: number, x1: number): OdsSource {
  const eyeHeight = width / 2;
  const thetaA = columnLongitude(x0, width);
  const thetaB = columnLongitude(x1, width);
  const phiA = rowLatitude(band.y1, eyeHeight);
  const phiB = rowLatitude(band.y0, eyeHeight);
  const thetaC = (thetaA + thetaB) / 2;
  const phiC = (phiA + phiB) / 2;
  const forward = sphereDirection(thetaC, phiC);
  // Up: the direction of growing latitude at the center, so slices stay upright even at the poles.
  const up = sphereDirection(thetaC, phiC + Math.PI / 2);
  const right = cross(forward, up);
  let left = Infinity, rightX = -Infinity, bottom = Infinity, top = -Infinity;
  const steps = 16;
  for (let i = 0; i <= steps; i++) {
    for (let j = 0; j <= steps; j++) {
      const d = sphereDirection(thetaA + ((thetaB - thetaA) * i) / steps, phiA + ((phiB - phiA) * j) / steps);
      const z = dot(d, forward);
      const tx = dot(d, right) / z;
      const ty = dot(d, up) / z;
      left = Math.min(left, tx);
      rightX = Math.max(rightX, tx);
      bottom = Math.min(bottom, ty);
      top = Math.max(top, ty);
    }
  }
  const density = (ssaa * width) / (2 * Math.PI); // texels per unit of tangent: the equator's resolution
  const margin = 2 / density;
  left -= margin;
  bottom -= margin;
  const w = Math.ceil((rightX + margin - left) * density);
  const h = Math.ceil((top + margin - bottom) * density);
  const side = eye === 0 ? -1 : 1;
  const offset = (side * ipd * band.taper) / 2;
  return {
    eye,
    rect: { x: x0, y: eye * eyeHeight + band.y0, width: x1 - x0, height: band.y1 - band.y0 },
    view: {
      eye: [offset * Math.cos(thetaC), 0, offset * Math.sin(thetaC)],
      forward,
      up,
      left,
      right: left + w / density,
      bottom,
      top: bottom + h / density,
      width: w,
      height: h,
    },
  };
}

/** The omni-directional stereo sources whose rectangles meet `tile`, band by band (fewest framebuffer resizes). */
export function odsSourcesFor(width: number, ssaa: number, ipd: number, tile: TileRect): OdsSource[] {
  const eyeHeight = width / 2;
  const out: OdsSource[] = [];
  for (const band of odsBands(eyeHeight)) {
    for (const eye of [0, 1] as const) {
      const y0 = eye * eyeHeight + band.y0;
      const y1 = eye * eyeHeight + band.y1;
      if (y1 <= tile.y || y0 >= tile.y + tile.height) continue;
      for (let x0 = 0; x0 < width; x0 += ODS_SLICE_COLUMNS) {
        const x1 = Math.min(width, x0 + ODS_SLICE_COLUMNS);
        if (x1 <= tile.x || x0 >= tile.x + tile.width) continue;
        out.push(odsSource(width, ssaa, ipd, eye, band, x0, x1));
      }
    }
  }
  return out;
}

/** The intersection of two rectangles, or null. */
export function intersect(a: TileRect, b: TileRect): TileRect | null {
  const x = Math.max(a.x, b.x);
  const y = Math.max(a.y, b.y);
  const x1 = Math.min(a.x + a.width, b.x + b.width);
  const y1 = Math.min(a.y + a.height, b.y + b.height);
  return x1 > x && y1 > y ? { x, y, width: x1 - x, height: y1 - y } : null;
}
