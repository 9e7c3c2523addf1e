/**
 * When a render node heartbeats. Busy (a task leased or queued, a session open or still to report), every interval:
 * heartbeats extend its leases and carry its sessions' reports. Idle, its lease long-polls already prove it alive
 * (the API records each one as the node being seen), so it heartbeats only every `idleEvery` intervals, and
 * whenever it has peer RTTs to report: an idle farm of N nodes then costs the API N heartbeats every 2 minutes, not 12.
 * That holds only while a poll alone keeps the node inside the API's health window (3 intervals) with 5 s to spare:
 * with short leases (every test farm's), the node heartbeats every interval as before.
 */

/**
 * Idle, a node heartbeats every this many intervals (2 minutes at the default 30 s leases): with its 25 s long-polls
 * (one Durable Object request each on Workers: 0.04/s) an idle node costs 0.04 + 1/120 ≈ 0.048 requests/s, within
 * the 0.05 goal (`npm run bench:edge-load`); heartbeating every interval it cost 0.14/s.
 */
export const IDLE_HEARTBEAT_EVERY = 12;

export interface HeartbeatState {
  /** Tasks leased (running or queued). */
  leases: number;
  /** Sessions open, or ended and still to report. */
  sessions: number;
  /** Peer RTT measurements not yet sent. */
  unsentMeasurements: number;
  /** Intervals since the last heartbeat sent (1 at the first tick after it). */
  intervalsSinceLast: number;
  /** The node's long-poll wait and the API's heartbeat interval, in ms. */
  leaseWaitMs: number;
  heartbeatIntervalMs: number;
  /** Whether the node long-polls for tasks at all (it has task slots). */
  pollsForTasks: boolean;
}

/** The API's health window in heartbeat intervals (RoutingPolicy.healthIntervals' default). */
export const HEALTH_INTERVALS = 3;
/** What a long-poll must leave of the health window: the time between one poll's end and the next one's record. */
export const POLL_SLACK_MS = 5000;

/** Whether this interval's heartbeat is sent. */
export function heartbeatDue(s: HeartbeatState, idleEvery = IDLE_HEARTBEAT_EVERY): boolean {
  if (s.leases > 0 || s.sessions > 0 || s.unsentMeasurements > 0) return true;
  // Its polls must keep it healthy alone: each records it as seen, one long-poll after the other.
  if (!s.pollsForTasks || s.leaseWaitMs + POLL_SLACK_MS > HEALTH_INTERVALS * s.heartbeatIntervalMs) return true;
  return s.intervalsSinceLast >= idleEvery;
}
