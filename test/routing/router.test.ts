/** The router: earliest expected finish among capable nodes, never a bad one, seeded ties, a fallback, a reason. */
import { describe, expect, it } from 'vitest';
import { JobRequirements, meetsRequirements, unmetRequirement } from '../../api/core/routing/requirements.ts';
import {
  expectedQueueMs,
  expectedRenderMs,
  explainNoRoute,
  freezeRouterNodes,
  nodeIndex,
  routeTask,
  type ClientView,
  type RouterNode,
} from '../../api/core/routing/router.ts';
import { createRandom } from '../../api/core/routing/seeded-random.ts';
import { at, card, node } from './routing-fixtures.ts';

const TILE = 256 * 256;
const client = (measuredRttMs: Record<string, number> = {}, x = 0): ClientView => ({ measuredRttMs, coord: at(x, 0, 0) });
const route = (nodes: readonly RouterNode[], c: ClientView, req?: JobRequirements, seed = 1) => routeTask(nodes, { client: c, taskPixels: TILE, requirements: req }, createRandom(seed));

describe('requirements', () => {
  const big = card({ ramBytes: 64 * 2 ** 30, region: 'us-east', gl: { ...card().gl, maxTextureSize: 16384 } });
  it('parses strictly and checks every field', () => {
    expect(() => JobRequirements.parse({ minRam: 1 })).toThrow();
    expect(() => JobRequirements.parse({ maxRttMs: 0 })).toThrow();
    const req = JobRequirements.parse({ minRamBytes: 32 * 2 ** 30, minTextureSize: 16384, allowedRegions: ['us-east', 'eu-west'], deniedRegions: ['eu-west'], maxRttMs: 80 });
    expect(meetsRequirements(big, req)).toBe(true);
    expect(meetsRequirements(card(), req)).toBe(false);
    expect(meetsRequirements(card(), undefined)).toBe(true);
    expect(meetsRequirements(big, { allowedRegions: [] })).toBe(true);
    expect(unmetRequirement(card(), { minRamBytes: 32 * 2 ** 30 })).toMatch(/RAM/);
    expect(unmetRequirement(card(), { minTextureSize: 16384 })).toMatch(/texture/);
    expect(unmetRequirement(card(), { allowedRegions: ['us-east'] })).toMatch(/not allowed/);
    expect(unmetRequirement(card(), { deniedRegions: ['eu-west'] })).toMatch(/denied/);
    expect(unmetRequirement(big, req)).toBeNull();
  });
});

describe('the WebGL 2 requirement (scenes with transmission or volume)', () => {
  const webgl2 = card({ backends: [{ id: 'headless-gl', webgl2: false, version: 'a' }, { id: 'chromium', webgl2: true, version: 'b' }] });
  it('only a card listing a WebGL 2 backend meets it', () => {
    expect(meetsRequirements(webgl2, { webgl2: true })).toBe(true);
    expect(meetsRequirements(card(), { webgl2: true })).toBe(false);
    expect(meetsRequirements(card({ backends: [{ id: 'headless-gl', webgl2: false, version: 'a' }] }), { webgl2: true })).toBe(false);
    expect(meetsRequirements(card(), { webgl2: false })).toBe(true);
    expect(unmetRequirement(card(), { webgl2: true })).toMatch(/no WebGL 2 backend/);
  });
  it('routes past nearer WebGL 1 nodes to the WebGL 2 one, on a live list and on a frozen snapshot alike', () => {
    const nodes = [node('near-gl1', { x: 5 }), node('mid-gl1', { x: 20 }), node('far-gl2', { x: 120, card: webgl2 })];
    const rtts = { 'near-gl1': 5, 'mid-gl1': 20, 'far-gl2': 120 };
    for (const list of [nodes, freezeRouterNodes(nodes)]) {
      const pick = (req?: JobRequirements, only = list) => routeTask(only, { client: { measuredRttMs: rtts }, taskPixels: TILE, requirements: req }, createRandom(1));
      expect(pick()!.nodeId).toBe('near-gl1');
      expect(pick({ webgl2: true })!.nodeId).toBe('far-gl2');
      expect(pick({ webgl2: true }, list === nodes ? nodes.slice(0, 2) : freezeRouterNodes(nodes.slice(0, 2)))).toBeNull();
    }
    expect(explainNoRoute(nodes.slice(0, 2), { client: { measuredRttMs: rtts }, taskPixels: TILE, requirements: { webgl2: true } })).toMatch(/2 lack the requirements/);
  });
});

describe('routeTask', () => {
  it('expects render time from tiles/s and the task size, queue wait from load and slots', () => {
    expect(expectedRenderMs(card({ tilesPerSecond: 4 }), TILE)).toBe(250);
    expect(expectedRenderMs(card({ tilesPerSecond: 4 }), 4 * TILE)).toBe(1000);
    expect(expectedRenderMs(card({ tilesPerSecond: 0 }), TILE)).toBe(Infinity);
    expect(expectedQueueMs({ queued: 0, running: 1, concurrency: 2 }, 100)).toBe(0); // a slot is free
    expect(expectedQueueMs({ queued: 0, running: 1, concurrency: 1 }, 100)).toBe(100);
    expect(expectedQueueMs({ queued: 3, running: 2, concurrency: 2 }, 100)).toBe(200);
  });

  it('picks the earliest finish: RTT + queue + render, not merely the nearest', () => {
    const nodes = [
      node('near-busy', { x: 5, load: { queued: 1, running: 1, concurrency: 1 } }), // 5 + 200 + 100
      node('near-slow', { x: 5, card: card({ tilesPerSecond: 2 }) }), // 5 + 0 + 500
      node('mid', { x: 40 }), // 40 + 0 + 100 = 140
      node('far', { x: 120 }), // 220
    ];
    const d = route(nodes, { measuredRttMs: { 'near-busy': 5, 'near-slow': 5, mid: 40, far: 120 } })!;
    expect(d.nodeId).toBe('mid');
    expect(d.predictedRttMs).toBe(40);
    expect(d.rttSource).toBe('measured');
    expect(d.queueMs).toBe(0);
    expect(d.renderMs).toBe(100);
    expect(d.score).toBe(140);
    expect(d.fallbackId).toBe('far');
    expect(d.fallbackScore).toBe(220);
    expect(d.reason).toMatch(/earliest expected finish 140\.0 ms = RTT 40\.0 ms \(measured\) \+ queue 0\.0 ms \+ render 100\.0 ms/);
    expect(d.reason).toMatch(/best of 4 capable nodes; fallback far at 220\.0 ms/);
  });

  it('never chooses an unhealthy, busy, incapable or too-distant node', () => {
    const nodes = [
      node('sick', { x: 1, healthy: false }),
      node('full', { x: 1, load: { queued: 8, running: 2, concurrency: 2 } }),
      node('small', { x: 1, card: card({ ramBytes: 2 ** 30 }) }),
      node('nospeed', { x: 1, card: card({ tilesPerSecond: 0 }) }),
      node('denied', { x: 1, card: card({ region: 'cn-north' }) }),
      node('faraway', { x: 300 }),
      node('ok', { x: 50 }),
    ];
    const req = { minRamBytes: 8 * 2 ** 30, deniedRegions: ['cn-north'], maxRttMs: 200 };
    for (let seed = 0; seed < 20; seed++) {
      const d = route(nodes, client({}, 0), req, seed)!;
      expect(d.nodeId).toBe('ok');
      expect(d.fallbackId).toBeNull();
      expect(d.skipped).toEqual({ unhealthy: 1, busy: 1, incapable: 3, tooFar: 1 });
    }
    const none = route(nodes.slice(0, 6), client({}, 0), req);
    expect(none).toBeNull();
    expect(explainNoRoute(nodes.slice(0, 6), { client: client({}, 0), taskPixels: TILE, requirements: req })).toBe(
      'no node can take the task: 6 registered, 1 unhealthy, 3 lack the requirements, 1 busy, 1 beyond maxRttMs',
    );
    // maxRttMs needs a known RTT: without measurements or coordinates no node can be shown to meet it.
    expect(route([node('blind', { coord: undefined })], { measuredRttMs: {} }, { maxRttMs: 100 })).toBeNull();
  });

  it('breaks ties at random, repeatably for a seed, and keeps another tied node as the fallback', () => {
    const nodes = ['a', 'b', 'c', 'd'].map((id) => node(id, { x: 10 }));
    const picks = new Map<string, number>();
    for (let seed = 0; seed < 400; seed++) {
      const d = route(nodes, client({}, 0), undefined, seed)!;
      expect(route(nodes, client({}, 0), undefined, seed)!.nodeId).toBe(d.nodeId);
      expect(d.fallbackId).not.toBeNull();
      expect(d.fallbackId).not.toBe(d.nodeId);
      expect(d.reason).toMatch(/tie among 4/);
      picks.set(d.nodeId, (picks.get(d.nodeId) ?? 0) + 1);
    }
    expect([...picks.keys()].sort()).toEqual(['a', 'b', 'c', 'd']);
    for (const n of picks.values()) expect(n).toBeGreaterThan(60); // ~100 each
  });

  it('prefers a measurement to a slightly better estimate, and uses estimates for unmeasured nodes', () => {
    const nodes = [node('measured', { x: 30 }), node('guessed', { x: 27 }), node('clearly-better', { x: 2 })];
    const d = route(nodes.slice(0, 2), client({ measured: 30 }))!;
    expect(d.nodeId).toBe('measured');
    const e = route(nodes, client({ measured: 30 }))!;
    expect(e.nodeId).toBe('clearly-better');
    expect(e.rttSource).toBe('estimated');
    expect(e.reason).toMatch(/\(estimated\)/);
    // No coordinates and no measurement: RTT unknown, the other terms decide.
    const blind = route([node('slow', { coord: undefined, card: card({ tilesPerSecond: 5 }) }), node('fast', { coord: undefined })], { measuredRttMs: {} })!;
    expect(blind.nodeId).toBe('fast');
    expect(blind.rttSource).toBe('unknown');
  });

  it('adds the scene load on nodes that do not hold the scene (plain and frozen alike), and leaves the flags clean', () => {
    const nodes = [node('a', { x: 20 }), node('b', { x: 20 }), node('c', { x: 20 })];
    const c = { measuredRttMs: { a: 20, b: 20, c: 20 } };
    // 150 ms + 2 MB at 20 MB/s = 250 ms for the others; b holds the scene and wins every tie.
    for (const list of [nodes, freezeRouterNodes(nodes)]) {
      for (let seed = 1; seed <= 20; seed++) {
        const d = routeTask(list, { client: c, taskPixels: TILE, scene: { bytes: 2_000_000, cachedOn: new Set(['b', 'unknown-node']) } }, createRandom(seed))!;
        expect(d).toMatchObject({ nodeId: 'b', sceneLoadMs: 0, score: 120 });
        expect(d.fallbackScore).toBe(370);
        expect(d.reason).toMatch(/\+ scene load 0\.0 ms \(cached\)/);
      }
      // Without a scene, or with none holding it, the ranking is RTT + queue + render as before (a tie).
      const chosen = new Set<string>();
      for (let seed = 1; seed <= 20; seed++) {
        chosen.add(routeTask(list, { client: c, taskPixels: TILE }, createRandom(seed))!.nodeId);
        const none = routeTask(list, { client: c, taskPixels: TILE, scene: { bytes: 2_000_000, cachedOn: new Set() } }, createRandom(seed))!;
        expect(none).toMatchObject({ sceneLoadMs: 250, score: 370 });
      }
      expect(chosen.size).toBeGreaterThan(1);
    }
  });

  it('decides the same on a frozen snapshot (typed-array index) as on a plain array, and tracks edits', () => {
    const rng = createRandom(3);
    const plain = Array.from({ length: 500 }, (_, i) => node(`n${i}`, { x: rng() * 200, coord: at(rng() * 200, rng() * 200, rng() * 0.5) }));
    const frozen = freezeRouterNodes(plain.map((n) => ({ ...n })));
    for (let k = 0; k < 50; k++) {
      const c = { measuredRttMs: { [`n${k}`]: 20 + k }, coord: at(rng() * 200, rng() * 200, 0.3) };
      expect(route([...frozen], c, undefined, k)?.nodeId).toBe(routeTask(frozen, { client: c, taskPixels: TILE }, createRandom(k))?.nodeId);
      expect(route(plain, c, undefined, k)?.nodeId).toBe(routeTask(frozen, { client: c, taskPixels: TILE }, createRandom(k))?.nodeId);
    }
    expect(nodeIndex(plain, 'n7')).toBe(7);
    plain[7] = node('new', { x: 0 });
    expect(nodeIndex(plain, 'new')).toBe(7);
    expect(nodeIndex(plain, 'n7')).toBe(-1);
    expect(route(plain, { measuredRttMs: { new: 0.5 }, coord: at(500) })!.nodeId).toBe('new');
  });

  it('decides in well under a millisecond with 10,000 nodes', () => {
    const rng = createRandom(9);
    const nodes = freezeRouterNodes(Array.from({ length: 10_000 }, (_, i) => node(`n${i}`, { coord: { vec: [rng() * 300, rng() * 300, rng() * 300, rng() * 300], height: rng() * 5, error: 0.2 } })));
    const c: ClientView = { measuredRttMs: { n1: 40, n2: 50, n3: 60 }, coord: { vec: [150, 150, 150, 150], height: 3, error: 0.3 } };
    const times: number[] = [];
    for (let k = 0; k < 300; k++) {
      const t = performance.now();
      routeTask(nodes, { client: c, taskPixels: TILE }, rng);
      times.push(performance.now() - t);
    }
    times.sort((a, b) => a - b);
    // Generous for a shared CI machine; bench:route measures the real p50/p99.
    expect(times[150]).toBeLessThan(5);
  });
});

describe("the client's edge row bounds the nodes it did not ping", () => {
  // The client pinged only "far" (80 ms). Its PoP is 2 ms away and timed "near" at 3 ms and "off" at 200 ms:
  // near is at most 5 ms away (r + d), off at least 198 ms (|r − d|), whatever the coordinates say.
  const edge = { pop: 'FRA', rttMs: 2, nodeRttMs: { near: 3, off: 200, far: 70 } };
  const build = () => [node('far', { x: 80 }), node('near', { x: 150 }), node('off', { x: 1 }), node('plain', { x: 120 })];

  for (const frozen of [false, true]) {
    it(`routes by the bounds where they beat the estimates (${frozen ? 'frozen snapshot' : 'live array'})`, () => {
      const nodes = frozen ? freezeRouterNodes(build()) : build();
      // Without the row the coordinates decide: off looks 1 ms away (estimated), near 150 ms.
      const plain = route(nodes, { measuredRttMs: { far: 80 }, coord: at(0, 0, 0.1) });
      expect(plain).toMatchObject({ nodeId: 'off', rttSource: 'estimated' });
      const bounded = route(nodes, { measuredRttMs: { far: 80 }, coord: at(0, 0, 0.1), edge });
      expect(bounded).toMatchObject({ nodeId: 'near', rttSource: 'estimated', predictedRttMs: 5 });
      // The measured RTT stands for a node the client pinged, whatever its row says; off never wins on its coordinate.
      const noCoord = route(nodes, { measuredRttMs: { far: 80 }, edge: { ...edge, nodeRttMs: { far: 1, off: 200 } } });
      expect(noCoord?.nodeId).toBe('far');
      expect(noCoord?.predictedRttMs).toBe(80);
      // Junk in the row bounds nothing (the coordinates decide again).
      const junk = route(nodes, { measuredRttMs: { far: 80 }, coord: at(0, 0, 0.1), edge: { ...edge, rttMs: Number.NaN } });
      expect(junk?.nodeId).toBe('off');
    });
  }
});
