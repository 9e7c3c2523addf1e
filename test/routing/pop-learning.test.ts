/** Per-PoP learning (the pure core) and how probe candidates use it. */
import { describe, expect, it } from 'vitest';
import { pickProbeCandidates } from '../../api/core/routing/candidates.ts';
import { learnPop, learnPopTable, parsePopTable, POP_LEARNING_DEFAULTS, suggestFromPop, type PopRecord, type PopTable } from '../../api/core/routing/pop-learning.ts';
import { freezeRouterNodes } from '../../api/core/routing/router.ts';
import { at, card, node } from './routing-fixtures.ts';

const all = () => true;
const DAY = 24 * 3600 * 1000;

describe('learnPop / suggestFromPop', () => {
  it('credits the nodes within 10% (or 5 ms) of a client’s best RTT, and ranks by wins over trials', () => {
    let r: PopRecord | undefined;
    // Three clients of one PoP: b wins every time (once within 5 ms of a), a wins once; c and d never.
    r = learnPop(r, { a: 30, b: 20, c: 90 }, all, 0);
    r = learnPop(r, { a: 12, b: 14, c: 80 }, all, 0); // b within 5 ms of a: both win
    r = learnPop(r, { b: 9, c: 70, d: 60 }, all, 0);
    expect(r!.nodes.b).toEqual({ wins: 3, trials: 3, at: 0 });
    // a lost to the first client, but it was not in the table yet: only winners enter.
    expect(r!.nodes.a).toEqual({ wins: 1, trials: 1, at: 0 });
    // Nodes that never won do not enter the table.
    expect(r!.nodes.c).toBeUndefined();
    expect(r!.nodes.d).toBeUndefined();
    expect(suggestFromPop(r, 0)).toEqual(['b', 'a']);
  });

  it('learns nothing from fewer than two RTTs to known nodes, nor from junk values', () => {
    const known = (id: string) => id !== 'ghost';
    expect(learnPop(undefined, { a: 10 }, all, 0)).toBeUndefined();
    expect(learnPop(undefined, { a: 10, ghost: 12 }, known, 0)).toBeUndefined();
    expect(learnPop(undefined, { a: 10, b: NaN, c: -3, d: Infinity }, all, 0)).toBeUndefined();
    const before: PopRecord = { at: 0, nodes: { a: { wins: 1, trials: 1, at: 0 } } };
    expect(learnPop(before, { a: 10 }, all, 5)).toBe(before);
  });

  it('keeps at most maxNodesPerPop nodes: a new winner replaces the weakest', () => {
    let r: PopRecord | undefined;
    const max = POP_LEARNING_DEFAULTS.maxNodesPerPop;
    for (let i = 0; i < max; i++) r = learnPop(r, { [`n${i}`]: 10, far: 100 }, all, 0);
    // n0 loses twice: its score drops below a fresh winner's.
    r = learnPop(r, { n1: 10, n0: 50 }, all, 0);
    r = learnPop(r, { n2: 10, n0: 50 }, all, 0);
    r = learnPop(r, { fresh: 10, far: 100 }, all, 0);
    expect(Object.keys(r!.nodes)).toHaveLength(max);
    expect(r!.nodes.fresh).toBeDefined();
    expect(r!.nodes.n0).toBeUndefined();
  });

  it('forgets with time: counts halve every half-life, and a stale win falls out of the suggestions', () => {
    let r = learnPop(undefined, { a: 10, b: 40 }, all, 0)!;
    const h = POP_LEARNING_DEFAULTS.halfLifeMs;
    expect(suggestFromPop(r, 0)).toEqual(['a']);
    expect(suggestFromPop(r, 2 * h)).toEqual([]); // 0.25 wins < minWins
    // Newer clients outweigh old ones.
    r = learnPop(r, { b: 10, a: 40 }, all, h)!;
    expect(r.nodes.a.wins).toBeCloseTo(0.5);
    expect(suggestFromPop(r, h)).toEqual(['b', 'a']);
  });

  it('keeps at most maxPops PoPs, dropping the least recently taught', () => {
    let t: PopTable = {};
    for (let i = 0; i < 5; i++) t = learnPopTable(t, `P${i}`, { a: 10, b: 30 }, all, i, { maxPops: 3 });
    expect(Object.keys(t).sort()).toEqual(['P2', 'P3', 'P4']);
    // A PoP code that would reach the prototype is refused.
    expect(learnPopTable(t, '__proto__', { a: 10, b: 30 }, all, 9)).toBe(t);
  });

  it('reads a stored table back, and anything malformed as empty or without the bad entries', () => {
    const t = learnPopTable({}, 'FRA', { a: 10, b: 30 }, all, 7);
    expect(parsePopTable(JSON.stringify(t))).toEqual(t);
    expect(parsePopTable(null)).toEqual({});
    expect(parsePopTable('not json')).toEqual({});
    expect(parsePopTable('[1,2]')).toEqual({});
    const junk = { 'bad pop': t.FRA, AMS: { at: 1, nodes: { x: { wins: -1, trials: 1, at: 0 }, y: { wins: 1, trials: 1, at: 0 } } }, CDG: { at: 'x', nodes: {} } };
    expect(parsePopTable(JSON.stringify(junk))).toEqual({ AMS: { at: 1, nodes: { y: { wins: 1, trials: 1, at: 0 } } } });
  });
});

describe('pickProbeCandidates with what the PoP learned', () => {
  const nodes = freezeRouterNodes([node('n0', { x: 0 }), node('n1', { x: 10 }), node('n2', { x: 200 }), node('n3', { x: 300 }), node('sick', { x: 300, healthy: false }), node('small', { x: 300, card: card({ ramBytes: 1 }) })]);
  const client = { measuredRttMs: {}, coord: at(0) };

  it('pings the learned nodes first (learnedProbes of them), then chooses as before', () => {
    const plain = pickProbeCandidates(nodes, client, 3);
    expect(plain[0]).toBe('n0');
    const one = pickProbeCandidates(nodes, { ...client, learned: ['n3', 'n2'] }, 3, { learnedProbes: 1 });
    expect(one).toEqual(['n3', ...plain.filter((id) => id !== 'n3').slice(0, 2)]);
    expect(pickProbeCandidates(nodes, { ...client, learned: ['n3', 'n2'] }, 3)).toEqual(['n3', 'n2', 'n0']);
  });

  it('skips learned nodes that are unhealthy, incapable, excluded or unknown, and stops leading once the client measured enough', () => {
    expect(pickProbeCandidates(nodes, { ...client, learned: ['ghost', 'sick', 'small', 'n3'], requirements: { minRamBytes: 1024 } }, 1)).toEqual(['n3']);
    expect(pickProbeCandidates(nodes, { ...client, learned: ['n3'], exclude: ['n3'] }, 1)).toEqual(['n0']);
    // Adaptive probing: the learned lead counts the client's pings so far (learnedProbes 2 by default).
    expect(pickProbeCandidates(nodes, { measuredRttMs: { n1: 3 }, coord: at(0), learned: ['n3'] }, 1)).toEqual(['n3']);
    expect(pickProbeCandidates(nodes, { measuredRttMs: { n1: 3 }, coord: at(0), learned: ['n3'] }, 1, { learnedProbes: 1 })).not.toEqual(['n3']);
    expect(pickProbeCandidates(nodes, { measuredRttMs: { n1: 3, n0: 1 }, coord: at(0), learned: ['n3'] }, 1)).not.toEqual(['n3']);
  });
});

describe('pickProbeCandidates where nodes share the client’s PoP', () => {
  it('lets the PoP’s own bounds lead (learned nodes only with learnedWherePopServesNodes)', () => {
    const nodes = freezeRouterNodes([
      { ...node('near', { coord: undefined }), edge: { pop: 'FRA', rttMs: 2 } },
      node('far', { coord: undefined }),
      node('popular', { coord: undefined }),
    ]);
    const client = { measuredRttMs: {}, edge: { pop: 'FRA', rttMs: 3 }, learned: ['popular'] };
    expect(pickProbeCandidates(nodes, client, 1)).toEqual(['near']);
    expect(pickProbeCandidates(nodes, client, 1, { learnedWherePopServesNodes: true })).toEqual(['popular']);
    expect(pickProbeCandidates(nodes, { ...client, edge: { pop: 'AMS', rttMs: 3 } }, 1)).toEqual(['popular']);
  });
});

describe('pickProbeCandidates with the edge’s own RTTs to nodes', () => {
  it('bounds the client’s RTT to every node the PoP timed: the one near the PoP comes first', () => {
    const nodes = freezeRouterNodes(['n0', 'n1', 'n2', 'n3'].map((id) => node(id, { coord: undefined })));
    const edge = { pop: 'FRA', rttMs: 4, nodeRttMs: { n0: 150, n1: 90, n2: 3, n3: 60 } };
    expect(pickProbeCandidates(nodes, { measuredRttMs: {}, edge }, 2)).toEqual(['n2', 'n3']);
  });
});
