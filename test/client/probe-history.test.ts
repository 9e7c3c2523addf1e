/**
 * Clients that learn: `client.probe()` keeps what it measured per API (memory, localStorage-like storage,
 * or the CLI's file) and comes back to it — it explores new nodes and re-probes the best it knows when stale, and
 * the job carries everything it knows. Stored history is a claim: junk reads as none.
 */
import { mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTesseraClient } from '../../api/client/index.ts';
import { localStorageProbeHistory, memoryProbeHistory, parseProbeMemory, remember, MAX_REMEMBERED_NODES, type ProbeHistoryStore, type ProbeMemory } from '../../api/client/probe-history.ts';
import { fileProbeHistory } from '../../infra/cli/probe-history-file.ts';
import { startHarness, TEST_API_KEY, type Harness } from '../support/api-harness.ts';
import { PingOnlyNodes } from '../support/ping-only-nodes.ts';

let h: Harness;
const nodes = new PingOnlyNodes();
const ids = nodes.ids;

async function pingOnlyNode(name: string, delayMs: number): Promise<void> {
  const node = await nodes.add(h.url, name, delayMs);
  node.server.setNodeId(node.nodeId);
}

beforeAll(async () => {
  h = await startHarness({ api: { edgePop: { pop: 'LAB' } } });
  // Registration order is the API's fallback order: the nearest node comes last.
  await pingOnlyNode('far', 40);
  await pingOnlyNode('mid', 15);
  await pingOnlyNode('near', 2);
});

afterAll(async () => {
  await nodes.close();
  await h?.close();
});

describe('probe history', () => {
  it('explores new nodes first each time and re-measures what it knows last; the job carries all it knows', async () => {
    const client = createTesseraClient({ baseUrl: h.url, apiKey: TEST_API_KEY, probeHistory: memoryProbeHistory() });
    const first = await client.probe({ count: 2, timeoutMs: 2000 });
    expect(first.edge).toMatchObject({ pop: 'LAB' });
    expect(first.edge!.rttMs).toBeGreaterThan(0);
    const firstIds = first.candidates.map((c) => c.nodeId);
    expect(firstIds).toHaveLength(2);
    const second = await client.probe({ count: 2, timeoutMs: 2000 });
    // The first ping goes to the node not measured before; with none left new, the other re-measures the best
    // remembered one (a stale RTT must not stick).
    const best = first.rtts[0].nodeId;
    expect(firstIds).not.toContain(second.candidates[0].nodeId);
    expect(second.candidates.map((c) => c.nodeId)).toEqual([second.candidates[0].nodeId, best]);
    // By now it has measured all three and knows the near one is nearest.
    expect(second.rtts.map((r) => r.nodeId).sort()).toEqual(Object.values(ids).sort());
    expect(second.rtts[0].nodeId).toBe(ids.near);
    // Another client (no shared history) starts over.
    const other = createTesseraClient({ baseUrl: h.url, apiKey: TEST_API_KEY, probeHistory: false });
    expect((await other.probe({ count: 2, timeoutMs: 2000 })).rtts).toHaveLength(2);
  });

  it('re-probes a remembered node only when it is the fastest it holds and stale (older than reprobeAfterMs, or another PoP); else explores', async () => {
    const store = memoryProbeHistory();
    await createTesseraClient({ baseUrl: h.url, apiKey: TEST_API_KEY, probeHistory: store }).probe({ count: 3, timeoutMs: 2000 });
    const full = (await store.load(h.url))!;
    expect(Object.keys(full.nodes).sort()).toEqual(Object.values(ids).sort());
    // What it remembers: the mid and far nodes (not the near one), measured `ageMs` ago, at PoP `pop`.
    const remembered = (ageMs: number, pop = full.edge!.pop): ProbeMemory => ({
      version: 1,
      nodes: Object.fromEntries(Object.entries(full.nodes).filter(([id]) => id !== ids.near).map(([id, n]) => [id, { ...n, at: Date.now() - ageMs }])),
      edge: { ...full.edge!, pop },
    });
    const fixed = (m: ProbeMemory): ProbeHistoryStore => ({ load: async () => m, save: async () => {} });
    const once = async (m: ProbeMemory, reprobeAfterMs?: number) =>
      (await createTesseraClient({ baseUrl: h.url, apiKey: TEST_API_KEY, probeHistory: fixed(m) }).probe({ count: 1, timeoutMs: 2000, reprobeAfterMs })).candidates.map((c) => c.nodeId);
    // Fresh history: its one ping explores (the near node, never measured).
    expect(await once(remembered(60_000))).toEqual([ids.near]);
    // Two hours old (the default window is one): it re-probes its fastest remembered node, the mid one.
    expect(await once(remembered(2 * 3600_000))).toEqual([ids.mid]);
    expect(await once(remembered(60_000), 30_000)).toEqual([ids.mid]);
    // Fresh, but measured from another PoP: its network changed, so it re-probes.
    expect(await once(remembered(60_000, 'ELSEWHERE'))).toEqual([ids.mid]);
    // All at once (sequential: false): the same rule, decided before any ping.
    const allAtOnce = async (m: ProbeMemory) =>
      (await createTesseraClient({ baseUrl: h.url, apiKey: TEST_API_KEY, probeHistory: fixed(m) }).probe({ count: 1, timeoutMs: 2000, sequential: false })).candidates.map((c) => c.nodeId);
    expect(await allAtOnce(remembered(60_000))).toEqual([ids.near]);
    expect(await allAtOnce(remembered(2 * 3600_000))).toEqual([ids.mid]);
    // A day old but stable for a day before (stableSince: two agreeing measurements a day apart): trusted for
    // two days, so it explores; stable for an hour only: re-probed.
    const stable = (spanMs: number): ProbeMemory => {
      const m = remembered(24 * 3600_000);
      return { ...m, nodes: Object.fromEntries(Object.entries(m.nodes).map(([id, n]) => [id, { ...n, stableSince: n.at - spanMs }])) };
    };
    expect(await once(stable(24 * 3600_000))).toEqual([ids.near]);
    expect(await allAtOnce(stable(24 * 3600_000))).toEqual([ids.near]);
    expect(await once(stable(3600_000))).toEqual([ids.mid]);
  });

  it('keeps how long a path held its RTT: an agreeing re-measurement extends the run, one that moved ends it', () => {
    const day = 24 * 3600_000;
    const t0 = 1_000_000_000_000;
    const url = 'http://a.example/ping';
    const m1 = remember(undefined, [{ nodeId: 'a', probeUrl: url, rttMs: 100 }], undefined, t0);
    expect(m1.nodes.a.stableSince).toBeUndefined();
    const m2 = remember(m1, [{ nodeId: 'a', probeUrl: url, rttMs: 95 }], undefined, t0 + day);
    expect(m2.nodes.a).toMatchObject({ rttMs: 95, at: t0 + day, stableSince: t0 });
    // It survives the store's parse (a claim, bounded by the schema).
    expect(parseProbeMemory(JSON.stringify(m2), t0 + day)!.nodes.a.stableSince).toBe(t0);
    expect(parseProbeMemory(JSON.stringify({ ...m2, nodes: { a: { ...m2.nodes.a, stableSince: -1 } } }), t0 + day)).toBeUndefined();
    const m3 = remember(m2, [{ nodeId: 'a', probeUrl: url, rttMs: 150 }], undefined, t0 + 2 * day);
    expect(m3.nodes.a.stableSince).toBeUndefined();
  });

  it('keeps history in a file per API (the CLI) and in localStorage-like storage; junk reads as none', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tessera-history-'));
    const a = createTesseraClient({ baseUrl: h.url, apiKey: TEST_API_KEY, probeHistory: fileProbeHistory(dir) });
    await a.probe({ count: 3, timeoutMs: 2000 });
    const files = readdirSync(dir);
    expect(files).toHaveLength(1);
    const loaded = await fileProbeHistory(dir).load(h.url);
    expect(Object.keys(loaded!.nodes).sort()).toEqual(Object.values(ids).sort());
    writeFileSync(join(dir, files[0]), '{"version":1,"nodes":{"x":{"probeUrl":"javascript:alert(1)","rttMs":-1,"at":0}}}');
    expect(await fileProbeHistory(dir).load(h.url)).toBeUndefined();

    const items = new Map<string, string>();
    const storage = { getItem: (k: string) => items.get(k) ?? null, setItem: (k: string, v: string) => void items.set(k, v) };
    const b = createTesseraClient({ baseUrl: h.url, apiKey: TEST_API_KEY, probeHistory: localStorageProbeHistory(storage) });
    await b.probe({ count: 1, timeoutMs: 2000 });
    expect([...items.keys()]).toEqual([`tessera.probe-history:${h.url}`]);
    expect(Object.keys(parseProbeMemory(items.get(`tessera.probe-history:${h.url}`))!.nodes)).toHaveLength(1);
  });

  it('bounds what it keeps: the fastest nodes, nothing stale or from the future', () => {
    const now = 1_000_000_000_000;
    const many = Array.from({ length: 200 }, (_, i) => ({ nodeId: `n${i}`, probeUrl: `http://n${i}.example/ping`, rttMs: 200 - i }));
    const m = remember(undefined, many, undefined, now);
    expect(Object.keys(m.nodes)).toHaveLength(MAX_REMEMBERED_NODES);
    expect(m.nodes.n199.rttMs).toBe(1);
    const stale = parseProbeMemory(JSON.stringify({ version: 1, nodes: { old: { probeUrl: 'http://a.example/ping', rttMs: 5, at: now - 30 * 24 * 3600 * 1000 }, future: { probeUrl: 'http://b.example/ping', rttMs: 5, at: now + 3600_000 } } }), now);
    expect(stale?.nodes).toEqual({});
    expect(parseProbeMemory('not json')).toBeUndefined();
  });
});
