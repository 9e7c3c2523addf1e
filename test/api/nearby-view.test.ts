/**
 * `GET /v1/nodes/nearby` keeps one array of probe-able nodes while the same nodes are healthy (probeViewMs): the
 * candidate search caches what it derives from an array (index, learned landmark, nodes by PoP) per array, so a
 * new array per request redid that work on every request.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { NodeDirectory } from '../../api/core/node-directory.ts';
import { ROUTING_POLICY_DEFAULTS } from '../../api/core/routing-policy.ts';
import { TASK_POLICY_DEFAULTS } from '../../api/core/task-policy.ts';
import type { JobStore } from '../../api/core/job-store.ts';
import { createSqliteJobStore } from '../../api/node/sqlite-job-store.ts';
import { card } from '../routing/routing-fixtures.ts';

const HEARTBEAT_MS = 1000;
let dir: string;
let store: JobStore;
let t = 1_000_000;
const clock = { now: () => t };

const beat = (id: string) => store.heartbeat({ nodeId: id, leaseIds: [], load: 0, now: t, policy: TASK_POLICY_DEFAULTS });
const register = (id: string, probe = true) =>
  store.registerNode({ nodeId: id, tokenHash: id.padEnd(64, '0'), card: card({ probeUrl: probe ? `http://${id}.example/ping` : undefined }), registeredAt: t, lastSeenAt: t, load: 0, peerRttMs: { a: 10, b: 20, c: 30 } });

beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'tessera-nearby-view-'));
  store = createSqliteJobStore(dir);
  for (const id of ['a', 'b', 'c']) await register(id);
  await register('noprobe', false);
});
afterEach(async () => {
  await store.close();
  await rm(dir, { recursive: true, force: true });
});

describe('the probe view of nearby()', () => {
  it('is one array while the same nodes are healthy, rebuilt when they change, when it ages or on invalidate', async () => {
    const directory = new NodeDirectory(store, clock, { ...ROUTING_POLICY_DEFAULTS, probeViewMs: 2000 }, HEARTBEAT_MS);
    const first = await directory.probeNodes();
    expect(first.nodes.map((n) => n.id)).toEqual(['a', 'b', 'c']);
    // Later requests, past the store list's own cache (nodeCacheMs), get the same array and the same node objects.
    t += 500;
    const again = await directory.probeNodes();
    expect(again.nodes).toBe(first.nodes);
    const answer = await directory.nearby(null, 2);
    expect(answer.candidates).toHaveLength(2);
    expect((await directory.probeNodes()).nodes).toBe(first.nodes);
    // Older than probeViewMs: rebuilt (coordinates and peer RTTs are re-read).
    t += 2000;
    for (const id of ['a', 'b', 'c']) await beat(id);
    const aged = await directory.probeNodes();
    expect(aged.nodes).not.toBe(first.nodes);
    // A node registering invalidates the directory: the next view holds it.
    await register('d');
    directory.invalidate();
    const withD = await directory.probeNodes();
    expect(withD.nodes.map((n) => n.id)).toEqual(['a', 'b', 'c', 'd']);
    // A node falling silent changes the set: rebuilt at once (within probeViewMs, no invalidate), without it.
    const window = directory.healthWindowMs;
    t += window - 200;
    for (const id of ['a', 'b', 'd']) await beat(id);
    const before = await directory.probeNodes();
    expect(before.nodes.map((n) => n.id)).toEqual(['a', 'b', 'c', 'd']);
    t += 400;
    const view = await directory.probeNodes();
    expect(view.nodes.map((n) => n.id)).toEqual(['a', 'b', 'd']);
    expect(view.nodes).not.toBe(before.nodes);
  });
});
