/**
 * Per-PoP learning through the API: a job's proven RTTs teach its client's PoP which nodes were best, and
 * `GET /v1/nodes/nearby` suggests them first to the next client from that PoP. RTTs without a valid proof
 * teach nothing; on Node a client's PoP is only a claim, so nothing is learned unless the operator trusts it.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { edgeColo, PopLearner } from '../../api/core/pop-learner.ts';
import { silentLogger } from '../../api/core/logger.ts';
import { NearbyNodes, type RttMeasurement } from '../../api/protocol/latency.ts';
import { NodeRegistered } from '../../api/protocol/node-messages.ts';
import { createSqliteJobStore } from '../../api/node/sqlite-job-store.ts';
import { readApiConfig } from '../../api/node/api-config.ts';
import { call, nodeCard, provenRtt, startHarness, TestNode, uploadSceneFile, type Harness, type HarnessOptions } from '../support/api-harness.ts';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

async function farm(options: HarnessOptions = {}) {
  h = await startHarness(options);
  const nodes: TestNode[] = [];
  for (let i = 0; i < 5; i++) {
    const res = await call(h.url, 'POST', '/v1/nodes', { json: { ...nodeCard(`n${i}`), probeUrl: `http://127.0.0.1:${20 + i}/ping` } });
    expect(res.status).toBe(201);
    nodes.push(new TestNode(h, NodeRegistered.parse(res.body)));
  }
  return { h, nodes, sceneId: await uploadSceneFile(h, 'scenes/animated-trs.glb') };
}

const nearby = async (h: Harness, query: string) => {
  const res = await call(h.url, 'GET', `/v1/nodes/nearby?${query}`);
  expect(res.status).toBe(200);
  return NearbyNodes.parse(res.body).candidates.map((c) => c.nodeId);
};

const submit = async (h: Harness, sceneId: string, pop: string, rtts: RttMeasurement[]) => {
  const res = await call(h.url, 'POST', '/v1/jobs', { json: { sceneId, size: '32x32', frames: '0', client: { rtts, edge: { pop, rttMs: 3 } } } });
  expect(res.status).toBe(201);
};

/** The learned table as the API stored it (closes the API: call last). */
async function storedTable(h: Harness): Promise<Record<string, { nodes: Record<string, unknown> }> | null> {
  await h.api.close();
  const store = createSqliteJobStore(path.join(h.dir, 'api'));
  try {
    const text = await store.getMeta('network.pop-best');
    return text === null ? null : JSON.parse(text);
  } finally {
    await store.close();
  }
}

/** A node the API would not suggest first on its own: the one a client of `pop` will find best. */
async function notFirst(h: Harness, nodes: TestNode[], pop: string): Promise<TestNode> {
  const first = (await nearby(h, `pop=${pop}&popRttMs=3&count=1`))[0];
  return nodes.find((n) => n.id !== first)!;
}

describe('per-PoP learning (trusted PoP)', () => {
  it('suggests first to a new client of a PoP the node its earlier clients found best; other PoPs are untouched', async () => {
    const { h, nodes, sceneId } = await farm({ api: { routing: { popLearning: { trustClientPop: true } } } });
    const best = await notFirst(h, nodes, 'FRA');
    const others = nodes.filter((n) => n !== best);
    // Two earlier clients of FRA: best is fastest for both.
    await submit(h, sceneId, 'FRA', await Promise.all([provenRtt(best, 8), provenRtt(others[0], 40), provenRtt(others[1], 95)]));
    await submit(h, sceneId, 'FRA', await Promise.all([provenRtt(best, 11), provenRtt(others[2], 60)]));
    const suggested = await nearby(h, 'pop=FRA&popRttMs=4&count=3');
    expect(suggested[0]).toBe(best.id);
    expect(new Set(suggested).size).toBe(3);
    // The PoP is taken case-insensitively (colo codes are upper case).
    expect((await nearby(h, 'pop=fra&popRttMs=4&count=1'))[0]).toBe(best.id);
    // Only FRA learned; its table holds the nodes that won (best twice, nothing else came within 10%).
    const table = await storedTable(h);
    expect(Object.keys(table!)).toEqual(['FRA']);
    expect(Object.keys(table!.FRA.nodes)).toEqual([best.id]);
  });

  it('learns nothing from RTTs without a valid proof (a client that forges its RTTs teaches nothing)', async () => {
    const { h, nodes, sceneId } = await farm({ api: { routing: { popLearning: { trustClientPop: true } } } });
    const target = await notFirst(h, nodes, 'AMS');
    const before = await nearby(h, 'pop=AMS&popRttMs=3&count=3');
    // Neither of the two others is suggested first already, so what they teach shows.
    const [other, third] = nodes.filter((n) => n !== target && n.id !== before[0]);
    const theirs = await provenRtt(other, 1);
    // No proof at all; the right node's answer to another nonce; another node's answer.
    await submit(h, sceneId, 'AMS', [{ nodeId: target.id, rttMs: 1 }, { nodeId: other.id, rttMs: 90 }]);
    const stale = await provenRtt(target, 1);
    await submit(h, sceneId, 'AMS', [{ ...stale, nonce: 'x'.repeat(32) }, { ...theirs, nodeId: third.id, rttMs: 90 }]);
    await submit(h, sceneId, 'AMS', [{ ...theirs, nodeId: target.id }, { nodeId: other.id, rttMs: 90 }]);
    expect(await nearby(h, 'pop=AMS&popRttMs=3&count=3')).toEqual(before);
    // A forged RTT beside proven ones: only the proven ones teach.
    await submit(h, sceneId, 'AMS', [{ nodeId: target.id, rttMs: 1 }, await provenRtt(third, 50), await provenRtt(other, 90)]);
    expect((await nearby(h, 'pop=AMS&popRttMs=3&count=1'))[0]).toBe(third.id);
    expect(Object.keys((await storedTable(h))!.AMS.nodes)).toEqual([third.id]);
  });
});

describe('per-PoP learning from sessions', () => {
  it('a session request’s proven RTTs teach its PoP as a job’s do', async () => {
    const { h, nodes, sceneId } = await farm({ api: { routing: { popLearning: { trustClientPop: true } } } });
    const rtts = await Promise.all([provenRtt(nodes[3], 6), provenRtt(nodes[1], 80)]);
    // Placed or not (these nodes never ask for work), the measurement has been taken in.
    const res = await call(h.url, 'POST', '/v1/sessions', { json: { sceneId, eye: '64x64', client: { rtts, edge: { pop: 'SYD', rttMs: 2 } } } });
    expect([201, 503]).toContain(res.status);
    expect((await nearby(h, 'pop=SYD&popRttMs=2&count=1'))[0]).toBe(nodes[3].id);
    expect(Object.keys((await storedTable(h))!.SYD.nodes)).toEqual([nodes[3].id]);
  });
});

describe('per-PoP learning (Node, client PoP not trusted)', () => {
  it('a PoP the client merely names teaches nothing', async () => {
    const { h, nodes, sceneId } = await farm();
    const best = await notFirst(h, nodes, 'FRA');
    const others = nodes.filter((n) => n !== best);
    for (let i = 0; i < 3; i++) await submit(h, sceneId, 'FRA', await Promise.all([provenRtt(best, 8), provenRtt(others[0], 40)]));
    expect((await nearby(h, 'pop=FRA&popRttMs=3&count=1'))[0]).not.toBe(best.id);
    expect(await storedTable(h)).toBeNull();
  });
});

describe('which PoP is trusted', () => {
  it('on Workers the edge’s colo, whatever the client claims; on Node a claim only when the operator trusts it', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'tessera-pop-'));
    const store = createSqliteJobStore(dir);
    try {
      const onWorkers = Object.assign(new Request('https://api.example/v1/jobs'), { cf: { colo: 'cdg' } });
      const onNode = new Request('http://127.0.0.1/v1/jobs');
      expect(edgeColo(onWorkers)).toBe('CDG');
      expect(edgeColo(Object.assign(new Request('https://x/'), { cf: { colo: '../../x' } }))).toBeUndefined();
      const strict = new PopLearner(store, silentLogger);
      expect(strict.trustedPop(onWorkers, 'NRT')).toBe('CDG');
      expect(strict.trustedPop(onNode, 'NRT')).toBeUndefined();
      expect(strict.askingPop(onNode, 'nrt')).toBe('NRT');
      // The Node API trusts a named PoP only when the operator says so.
      expect(readApiConfig({}).trustClientPop).toBe(false);
      expect(readApiConfig({ TESSERA_TRUST_CLIENT_POP: '1' }).trustClientPop).toBe(true);
      const trusting = new PopLearner(store, silentLogger, { trustClientPop: true });
      expect(trusting.trustedPop(onNode, 'nrt')).toBe('NRT');
      expect(trusting.trustedPop(onWorkers, 'NRT')).toBe('CDG');
      // Learned and suggested through the store's meta table; unknown node ids are ignored.
      await strict.learn('CDG', { a: 10, b: 30, ghost: 1 }, new Set(['a', 'b']), 1000);
      expect(await new PopLearner(store, silentLogger).suggest('CDG', 1000)).toEqual(['a']);
      expect(await strict.suggest(undefined, 1000)).toEqual([]);
    } finally {
      await store.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
