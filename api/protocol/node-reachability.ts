import { z } from 'zod';

/**
 * `POST /v1/nodes/:id/reachability`: whether the API could fetch the node's own advertised probe URL (from its
 * card, never from the request) and got the node's own `{"nodeId": …}` back. Only yes or no: no status code,
 * no timing, no body of whatever answered, so the route tells nothing about other services.
 */
export const NodeReachability = z.object({
  probeUrl: z.string(),
  reachable: z.boolean(),
  /** What to do when it is not reachable. */
  message: z.string(),
});
export type NodeReachability = z.infer<typeof NodeReachability>;
