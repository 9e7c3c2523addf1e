/** A point on the Earth: the wire schema shared by node cards, job clients and the routing core. */
import { z } from 'zod';

/** A point on the Earth in degrees. */
export interface GeoPoint {
  readonly lat: number;
  readonly lon: number;
}

/** The wire form of a point on the Earth (degrees, bounded). */
export const GeoPointSchema = z.object({ lat: z.number().min(-90).max(90), lon: z.number().min(-180).max(180) });
