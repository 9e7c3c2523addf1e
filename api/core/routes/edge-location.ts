/**
 * Where Cloudflare's edge saw a request come from (`request.cf` on Workers: colo, latitude, longitude),
 * used as a routing hint when the client says nothing of its own position. Absent on Node.
 */
import type { GeoPoint, JobClient } from '../../protocol/latency.ts';

export type EdgeLocation = GeoPoint & { colo: string | null };

/** The request's edge location, or null (not on Workers, or no usable coordinates). */
export function edgeLocation(raw: Request): EdgeLocation | null {
  const cf = (raw as Request & { cf?: { latitude?: unknown; longitude?: unknown; colo?: unknown } }).cf;
  if (!cf || cf.latitude === undefined || cf.longitude === undefined) return null;
  const lat = Number(cf.latitude);
  const lon = Number(cf.longitude);
  if (!Number.isFinite(lat) || !Number.isFinite(lon) || Math.abs(lat) > 90 || Math.abs(lon) > 180) return null;
  return { lat, lon, colo: typeof cf.colo === 'string' ? cf.colo : null };
}

/**
 * The job's client as the router should see it: as sent when it carries probes (RTTs), a coordinate or a
 * location; otherwise located where the edge saw the request, so routing still prefers nearby nodes.
 */
export function withEdgeLocation(client: JobClient | undefined, edge: EdgeLocation | null): { client: JobClient | undefined; hinted: boolean } {
  if (!edge || client?.rtts.length || client?.coordinate || client?.location) return { client, hinted: false };
  return { client: { rtts: [], ...client, location: { lat: edge.lat, lon: edge.lon } }, hinted: true };
}
