/**
 * When a render node heartbeats (render-node/agent/heartbeat-schedule.ts): every interval while it holds leases or
 * sessions or has measurements to send; idle, every IDLE_HEARTBEAT_EVERY intervals, its long-polls proving it alive
 * meanwhile, but only where a poll alone keeps it inside the API's health window (3 intervals).
 */
import { describe, expect, it } from 'vitest';
import { HEALTH_INTERVALS, heartbeatDue, IDLE_HEARTBEAT_EVERY, POLL_SLACK_MS, type HeartbeatState } from '../render-node/agent/heartbeat-schedule.ts';
import { heartbeatIntervalMs, TASK_POLICY_DEFAULTS } from '../api/core/task-policy.ts';
import { ROUTING_POLICY_DEFAULTS } from '../api/core/routing-policy.ts';
import { RENDER_NODE_DEFAULTS } from '../render-node/agent/start-render-node.ts';

const interval = heartbeatIntervalMs(TASK_POLICY_DEFAULTS);
const idle: HeartbeatState = { leases: 0, sessions: 0, unsentMeasurements: 0, intervalsSinceLast: 1, leaseWaitMs: RENDER_NODE_DEFAULTS.leaseWaitSeconds * 1000, heartbeatIntervalMs: interval, pollsForTasks: true };
const sent = (state: HeartbeatState, ticks: number) => {
  const out: number[] = [];
  let since = 0;
  for (let t = 1; t <= ticks; t++) {
    since++;
    if (heartbeatDue({ ...state, intervalsSinceLast: since })) {
      out.push(t);
      since = 0;
    }
  }
  return out;
};

describe('heartbeat schedule', () => {
  it('with the default leases, an idle node long-polls inside the health window, so it heartbeats every 12th interval', () => {
    // The premise: a default long-poll (25 s) leaves 5 s of the API's health window (3 intervals of 10 s).
    expect(HEALTH_INTERVALS).toBe(ROUTING_POLICY_DEFAULTS.healthIntervals);
    expect(idle.leaseWaitMs + POLL_SLACK_MS).toBeLessThanOrEqual(ROUTING_POLICY_DEFAULTS.healthIntervals * interval);
    expect(sent(idle, 48)).toEqual([12, 24, 36, 48]);
    expect(IDLE_HEARTBEAT_EVERY).toBe(12);
  });

  it('busy (leases or sessions) or with measurements to send, every interval', () => {
    for (const busy of [{ leases: 1 }, { sessions: 1 }, { unsentMeasurements: 2 }]) expect(sent({ ...idle, ...busy }, 6)).toEqual([1, 2, 3, 4, 5, 6]);
  });

  it('every interval when a poll alone would leave the health window (short leases) or the node polls for no tasks', () => {
    expect(sent({ ...idle, heartbeatIntervalMs: 1000 }, 4)).toEqual([1, 2, 3, 4]);
    expect(sent({ ...idle, pollsForTasks: false }, 4)).toEqual([1, 2, 3, 4]);
  });
});
