/**
 * An idle node's long-polls prove it alive: each lease call records the node as seen, so a node that heartbeats
 * rarely while idle (render-node/agent/heartbeat-schedule.ts) stays healthy as long as it polls, and a node that
 * stops calling at all is unhealthy once the health window (3 heartbeat intervals) has passed.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NodeList } from '../../api/protocol/latency.ts';
import { call, startHarness, TestNode, type Harness } from '../support/api-harness.ts';

/** Heartbeat interval 1 s, health window 3 s. */
const LEASE_MS = 3000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let h: Harness;
beforeAll(async () => {
  h = await startHarness({ leaseMs: LEASE_MS });
});
afterAll(async () => {
  await h?.close();
});

const healthOf = async (nodeId: string) => NodeList.parse((await call(h.url, 'GET', '/v1/nodes')).body).nodes.find((n) => n.nodeId === nodeId)?.healthy;

describe('idle liveness', () => {
  it('a node that only long-polls stays healthy past the window; once silent it is unhealthy', async () => {
    const node = await TestNode.register(h, 'poller');
    const silent = await TestNode.register(h, 'silent');
    // Twice the health window of polls of 1 s (no heartbeat at all): healthy throughout.
    const until = Date.now() + 2 * LEASE_MS;
    while (Date.now() < until) {
      expect(await node.leaseBatch(1, { waitSeconds: 1 })).toEqual([]);
      expect(await healthOf(node.id)).toBe(true);
    }
    // The node that registered alongside and never called again is dead.
    expect(await healthOf(silent.id)).toBe(false);
    // Silent now too: unhealthy once the window has passed.
    await sleep(LEASE_MS + 500);
    expect(await healthOf(node.id)).toBe(false);
  });
});
