/**
 * When a render node heartbeats. Busy (a task leased or queued, a session open or still to report), every interval:
 * heartbeats extend its leases and carry its sessions' reports. Idle, its lease long-polls already prove it alive
 * (the API records each one as the node being seen), so it heartbeats only every `idleEvery` intervals, and
 * whenever it has peer RTTs to report: an idle farm of N nodes then costs the API N heartbeats a minute, not six.
 * That holds only while a poll alone keeps the node inside the API's health window (3 intervals): with a long-poll
 * longer than 2 intervals (short leases), the node heartbeats every interval as before.
 */

/** Idle, a node heartbeats every this many intervals (60 s at the default 30 s leases). */
export const IDLE_HEARTBEAT_EVERY = 6;

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

/** Whether this interval's heartbeat is sent. */
export function heartbeatDue(s: HeartbeatState, idleEvery = IDLE_HEARTBEAT_EVERY): boolean {
  if (s.leases > 0 || s.sessions > 0 || s.unsentMeasurements > 0) return true;
  // Its polls must keep it healthy alone: a poll refreshes it at least every leaseWait (+ one interval of slack).
  if (!s.pollsForTasks || s.leaseWaitMs > 2 * s.heartbeatIntervalMs) return true;
  return s.intervalsSinceLast >= idleEvery;
}
