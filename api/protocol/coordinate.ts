/** A Vivaldi network coordinate as it crosses the wire; the maths on it lives in `api/core/routing/vivaldi.ts`. */
import { z } from 'zod';

/** A network coordinate: `vec` in milliseconds, `height` (ms, ≥ 0), `error` (relative, 0 = certain). */
export interface Coordinate {
  readonly vec: readonly number[];
  readonly height: number;
  readonly error: number;
}

/** The wire form of a coordinate (a client sends its session's coordinate with a job, for example). */
export const CoordinateSchema = z.object({
  vec: z.array(z.number().finite().min(-1e6).max(1e6)).min(1).max(16),
  height: z.number().finite().min(0).max(1e6),
  error: z.number().finite().min(0).max(100),
});
