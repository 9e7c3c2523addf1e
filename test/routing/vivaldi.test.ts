/** Vivaldi coordinates, the RTT filter and the seeded random numbers: the pure maths under routing. */
import { describe, expect, it } from 'vitest';
import { createCoordinate, CoordinateSchema, estimateRtt, updateCoordinate } from '../../api/core/routing/vivaldi.ts';
import { apiSideRttMs, nodeSideRttMs, RttFilter } from '../../api/protocol/rtt-filter.ts';
import { createRandom, hashUnit } from '../../api/core/routing/seeded-random.ts';

describe('Vivaldi', () => {
  it('converges on a synthetic metric space with access delays (median relative error < 3%)', () => {
    const rng = createRandom(7);
    const n = 60;
    const hosts = Array.from({ length: n }, () => ({ x: rng() * 200, y: rng() * 100, h: 1 + rng() * 9 }));
    const rtt = (a: number, b: number) => Math.hypot(hosts[a].x - hosts[b].x, hosts[a].y - hosts[b].y) + hosts[a].h + hosts[b].h;
    const options = { dimensions: 2 };
    const coords = hosts.map(() => createCoordinate(options));
    for (let round = 0; round < 300; round++) {
      for (let i = 0; i < n; i++) {
        let j = Math.floor(rng() * (n - 1));
        if (j >= i) j++;
        coords[i] = updateCoordinate(coords[i], coords[j], rtt(i, j), options, rng);
      }
    }
    const errors: number[] = [];
    for (let a = 0; a < n; a++) for (let b = a + 1; b < n; b++) errors.push(Math.abs(estimateRtt(coords[a], coords[b]) - rtt(a, b)) / rtt(a, b));
    errors.sort((x, y) => x - y);
    expect(errors[errors.length >> 1]).toBeLessThan(0.03);
    // Confidence grows as the fit improves.
    expect(Math.max(...coords.map((c) => c.error))).toBeLessThan(0.5);
  });

  it('starts knowing nothing, separates coincident points, and ignores bad samples', () => {
    const a = createCoordinate();
    expect(a.vec).toEqual([0, 0, 0, 0]);
    expect(a.error).toBe(1.5);
    const b = updateCoordinate(a, createCoordinate(), 50, undefined, createRandom(1));
    expect(estimateRtt(b, createCoordinate())).toBeGreaterThan(1);
    for (const bad of [0, -3, NaN, Infinity]) expect(updateCoordinate(b, a, bad)).toBe(b);
    expect(b).not.toBe(a); // pure: a new coordinate
    expect(CoordinateSchema.safeParse(b).success).toBe(true);
    expect(CoordinateSchema.safeParse({ vec: [], height: 1, error: 0 }).success).toBe(false);
  });

  it('estimates symmetric RTTs: distance plus both heights', () => {
    const a = { vec: [0, 0], height: 2, error: 0.1 };
    const b = { vec: [3, 4], height: 1, error: 0.2 };
    expect(estimateRtt(a, b)).toBe(8);
    expect(estimateRtt(b, a)).toBe(8);
  });
});

describe('RTT filter', () => {
  it('takes the minimum over the window, then smooths the minima', () => {
    const f = new RttFilter({ window: 3, alpha: 0.5 });
    expect(f.value).toBeUndefined();
    expect(f.add(50)).toBe(50);
    expect(f.add(80)).toBe(50); // queueing spike: the minimum holds
    expect(f.add(40)).toBe(45); // min 40, EWMA 50 → 45
    expect(f.add(90)).toBe(42.5); // window [80, 40, 90] → min 40
    expect(f.add(90)).toBe(41.25); // [40, 90, 90]
    expect(f.add(90)).toBe(65.625); // 40 left the window: min 90, the estimate follows gradually
    expect(f.samples).toBe(3);
  });

  it('ignores invalid samples and timeouts, and checks its options', () => {
    const f = new RttFilter({ maxRttMs: 1000 });
    for (const bad of [0, -1, NaN, Infinity, 5000]) expect(f.add(bad)).toBeUndefined();
    expect(f.add(20)).toBe(20);
    expect(() => new RttFilter({ window: 0 })).toThrow(RangeError);
    expect(() => new RttFilter({ alpha: 0 })).toThrow(RangeError);
  });

  it('times heartbeats on both sides without synchronised clocks', () => {
    expect(nodeSideRttMs(1000, 1042)).toBe(42);
    expect(nodeSideRttMs(1000, 990)).toBeUndefined();
    // The API sent its ack at 5000 (its clock); the node held it 970 ms; the next heartbeat arrives at 6012.
    expect(apiSideRttMs(5000, 970, 6012)).toBe(42);
    expect(apiSideRttMs(5000, 1100, 6012)).toBeUndefined();
  });
});

describe('seeded random', () => {
  it('repeats for a seed and differs between seeds', () => {
    const a = createRandom(1);
    const b = createRandom(1);
    const c = createRandom(2);
    const xs = Array.from({ length: 5 }, () => a());
    expect(Array.from({ length: 5 }, () => b())).toEqual(xs);
    expect(Array.from({ length: 5 }, () => c())).not.toEqual(xs);
    expect(xs.every((x) => x >= 0 && x < 1)).toBe(true);
    expect(hashUnit(1, 2, 3)).toBe(hashUnit(1, 2, 3));
    expect(hashUnit(1, 2, 3)).not.toBe(hashUnit(1, 3, 2));
  });
});
