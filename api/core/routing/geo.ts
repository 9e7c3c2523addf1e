/** Geography for probe-candidate choice and the geo-nearest baseline: never for the routing decision itself. */
import { GeoPointSchema, type GeoPoint } from '../../protocol/geo-point.ts';

export { GeoPointSchema, type GeoPoint };


/** Mean Earth radius (km). */
export const EARTH_RADIUS_KM = 6371;
const RAD = Math.PI / 180;

/** Great-circle distance (km), haversine form (accurate for short distances too). */
export function greatCircleKm(a: GeoPoint, b: GeoPoint): number {
  const dLat = (b.lat - a.lat) * RAD;
  const dLon = (b.lon - a.lon) * RAD;
  const s = Math.sin(dLat / 2) ** 2 + Math.cos(a.lat * RAD) * Math.cos(b.lat * RAD) * Math.sin(dLon / 2) ** 2;
  return 2 * EARTH_RADIUS_KM * Math.asin(Math.min(1, Math.sqrt(s)));
}

/** The unit vector of a point (x, y, z), for fast nearest searches by dot product. */
export function geoUnitVector(p: GeoPoint, out: Float64Array = new Float64Array(3), offset = 0): Float64Array {
  const cl = Math.cos(p.lat * RAD);
  out[offset] = cl * Math.cos(p.lon * RAD);
  out[offset + 1] = cl * Math.sin(p.lon * RAD);
  out[offset + 2] = Math.sin(p.lat * RAD);
  return out;
}

/** Great-circle distance (km) from the dot product of two unit vectors. */
export function kmFromDot(dot: number): number {
  return EARTH_RADIUS_KM * Math.acos(Math.max(-1, Math.min(1, dot)));
}

/** Whether `p` is a usable location (both numbers finite and in range). */
export function isGeoPoint(p: Partial<GeoPoint> | undefined | null): p is GeoPoint {
  return !!p && typeof p.lat === 'number' && typeof p.lon === 'number' && Math.abs(p.lat) <= 90 && Math.abs(p.lon) <= 180;
}
