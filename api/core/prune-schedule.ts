/**
 * When an ended job's storage clean-up is due. An attempt whose lease was taken back may still hold an upload URL
 * and PUT after the job has ended: every URL a job's attempts were given expires at most `nodeUrlSeconds` after the
 * job ended (their leases began before it), so the clean-up that catches such late uploads is due then, plus a
 * margin for clock skew between the API and storage. The job store records that time when the job ends (in the same
 * transaction), so a restart of the API, or a Workers isolate going away, cannot lose the clean-up.
 */

/** Added to the upload URLs' lifetime: storage's clock may run behind the API's. */
export const PRUNE_MARGIN_MS = 5_000;

/** How long after a job ended its clean-up is due, for upload URLs valid `nodeUrlSeconds`. */
export function pruneDelayMs(nodeUrlSeconds: number): number {
  return Math.max(0, nodeUrlSeconds) * 1000 + PRUNE_MARGIN_MS;
}

/** The delay for the API's default `nodeUrlSeconds` (900: API_DEFAULTS; a unit test keeps the two equal). */
export const PRUNE_DELAY_DEFAULT_MS = pruneDelayMs(900);

/** The `meta` key under which a job store keeps the delay it stamps on jobs as they end. */
export const PRUNE_DELAY_META = 'prune_delay_ms';
