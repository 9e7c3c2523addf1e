/** Limits of the Workers deployment that differ from the Node API's defaults. */

/**
 * Largest scene upload on Workers. An isolate has 128 MB; normalizing holds the upload, its resources,
 * the glTF-Transform document and the written GLB at once (a few times the file). The request body limit
 * (100 MB on the Free and Pro plans) would allow more. Larger scenes go to the Node API.
 */
export const EDGE_MAX_SCENE_BYTES = 32 * 1024 * 1024;

/** Event streams re-check the store this often when no wake-up came (wake-ups cross isolates). */
export const EDGE_RECHECK_MS = 5000;

/**
 * Idle lease long-polls do not re-check on a timer: wake-ups reach every waiting isolate through the coordinator,
 * and the store's next deadline (backoff, grace period, lease end) bounds each wait. The longest wait a node may ask.
 */
export const EDGE_LEASE_RECHECK_MS = 25_000;
