/**
 * Clients that learn: `client.probe()` keeps what it measured per API (memory, localStorage-like storage,
 * or the CLI's file) and comes back to it — it re-probes its best known nodes and explores new ones, and
 * the job carries everything it knows. Stored history is a claim: junk reads as none.
 */
import { mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTesseraClient } from '../../api/client/index.ts';
import { localStorageProbeHistory, memoryProbeHistory, parseProbeMemory, remember, MAX_REMEMBERED_NODES } from '../../api/client/probe-history.ts';
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
  it('re-probes the best node it knows and explores new ones each time; the job carries all it knows', async () => {
    const client = createTesseraClient({ baseUrl: h.url, apiKey: TEST_API_KEY, probeHistory: memoryProbeHistory() });
    const first = await client.probe({ count: 2, timeoutMs: 2000 });
    expect(first.edge).toMatchObject({ pop: 'LAB' });
    expect(first.edge!.rttMs).toBeGreaterThan(0);
    const firstIds = first.candidates.map((c) => c.nodeId);
    expect(firstIds).toHaveLength(2);
    const second = await client.probe({ count: 2, timeoutMs: 2000 });
    // One ping re-probes the best of the first session, the other goes to a node not measured before.
    const best = first.rtts[0].nodeId;
    expect(second.candidates[0].nodeId).toBe(best);
    const fresh = second.candidates.slice(1).map((c) => c.nodeId);
    expect(fresh.every((id) => !firstIds.includes(id))).toBe(true);
    // By now it has measured all three and knows the near one is nearest.
    expect(second.rtts.map((r) => r.nodeId).sort()).toEqual(Object.values(ids).sort());
    expect(second.rtts[0].nodeId).toBe(ids.near);
    // Another client (no shared history) starts over.
    const other = createTesseraClient({ baseUrl: h.url, apiKey: TEST_API_KEY, probeHistory: false });
    expect((await other.probe({ count: 2, timeoutMs: 2000 })).rtts).toHaveLength(2);
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
