/** How long leases last and how failures are retried; named constants, overridable per API (tests). */
export interface TaskPolicy {
  /** A lease lasts this long unless a heartbeat extends it. */
  leaseMs: number;
  /** Retry backoff after a failed attempt n: min(retryMaxMs, retryBaseMs · 2^n). */
  retryBaseMs: number;
  retryMaxMs: number;
  /** A task that failed on this many different nodes fails its job. */
  maxNodeFailures: number;
  /** A task leased this many times without finishing fails its job (e.g. one node failing it forever). */
  maxAttempts: number;
  /** Heartbeats never extend a lease past this long after it began: a node cannot sit on a task forever. */
  maxLeaseLifetimeMs: number;
  /**
   * A node with fewer verified results than this is untrusted (on probation): while a trusted node is around,
   * untrusted nodes' failures count toward maxNodeFailures and maxAttempts only as far as trusted nodes'
   * failures back them (at most as many again), and an untrusted node that failed a task does not get it
   * again. Fresh ids are cheap, so they alone cannot fail an honest job. In a farm with no trusted node every
   * failure counts. 0: every node is trusted. The API sets it to the trust options' probationResults.
   */
  trustedAfterVerified: number;
}

export const LEASE_MS = 30_000;
export const RETRY_BASE_MS = 1_000;
export const RETRY_MAX_MS = 30_000;
export const MAX_NODE_FAILURES = 3;
export const MAX_ATTEMPTS = 8;
/** As long as the presigned URLs a task carries (nodeUrlSeconds): past it the node could not upload anyway. */
export const MAX_LEASE_LIFETIME_MS = 15 * 60_000;

/** As node-trust.ts's PROBATION_RESULTS (the API keeps the two equal). */
export const TRUSTED_AFTER_VERIFIED = 5;

export const TASK_POLICY_DEFAULTS: Required<TaskPolicy> = {
  trustedAfterVerified: TRUSTED_AFTER_VERIFIED,
  leaseMs: LEASE_MS,
  retryBaseMs: RETRY_BASE_MS,
  retryMaxMs: RETRY_MAX_MS,
  maxNodeFailures: MAX_NODE_FAILURES,
  maxAttempts: MAX_ATTEMPTS,
  maxLeaseLifetimeMs: MAX_LEASE_LIFETIME_MS,
};

/** Delay before a task whose attempt `attempt` failed may be leased again. */
export function retryDelayMs(attempt: number, policy: TaskPolicy): number {
  return Math.min(policy.retryMaxMs, policy.retryBaseMs * 2 ** Math.max(0, attempt));
}

/** How often nodes heartbeat: three times per lease, so one lost heartbeat does not cost a lease. */
export function heartbeatIntervalMs(policy: TaskPolicy): number {
  return Math.max(1, Math.floor(policy.leaseMs / 3));
}

/**
 * The first lease of a lease-ahead task (a task leased beyond a node's slots): half a lease, so a node that
 * vanishes right after leasing ahead gives it back soon, while one heartbeat (every third of a lease) still
 * reaches it in time to extend it.
 */
export function aheadLeaseMs(policy: TaskPolicy): number {
  return Math.max(1, Math.ceil(policy.leaseMs / 2));
}
