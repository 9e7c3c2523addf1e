/** Probe candidates, the client's coordinate fit, and geo lines. */
import { describe, expect, it } from 'vitest';
import { clientGeoLine, estimateClientLocation, geoNearest, locateClient, pickProbeCandidates } from '../../api/core/routing/candidates.ts';
import { fitClientCoordinate } from '../../api/core/routing/client-coordinate.ts';
import { fitGeoLine, fitGeoLines, predictGeoRtt } from '../../api/core/routing/geo-line.ts';
import { greatCircleKm } from '../../api/core/routing/geo.ts';
import { freezeRouterNodes, routeTask, type RouterNode } from '../../api/core/routing/router.ts';
import { createRandom } from '../../api/core/routing/seeded-random.ts';
import { estimateRtt } from '../../api/core/routing/vivaldi.ts';
import { at, card, node } from './routing-fixtures.ts';

const CITIES = { london: { lat: 51.5, lon: -0.13 }, paris: { lat: 48.86, lon: 2.35 }, frankfurt: { lat: 50.11, lon: 8.68 }, newYork: { lat: 40.71, lon: -74 }, tokyo: { lat: 35.68, lon: 139.69 } };

describe('pickProbeCandidates', () => {
  it('never offers unhealthy, busy, incapable, measured or excluded nodes', () => {
    const nodes = [
      node('sick', { x: 1, healthy: false }),
      node('busy', { x: 1, load: { queued: 4, running: 1, concurrency: 1 } }),
      node('small', { x: 1, card: card({ ramBytes: 1 }) }),
      node('measured', { x: 1 }),
      node('self', { x: 1 }),
      node('a', { x: 10 }),
      node('b', { x: 20 }),
      node('c', { x: 90 }),
    ];
    const ids = pickProbeCandidates(nodes, { measuredRttMs: { measured: 3 }, coord: at(0), requirements: { minRamBytes: 1024 }, exclude: ['self'] }, 5);
    expect(ids).toEqual(['a', 'b', 'c']);
  });

  it('ranks a located client by geography and the nodes’ lines, then homes in with each measurement', () => {
    const line = { interceptMs: 1, msPerKm: 0.015 };
    const nodes = freezeRouterNodes([
      node('london', { location: CITIES.london, geoLine: line }),
      node('paris', { location: CITIES.paris, geoLine: { interceptMs: 20, msPerKm: 0.015 } }), // a slow last mile
      node('frankfurt', { location: CITIES.frankfurt, geoLine: line }),
      node('new-york', { location: CITIES.newYork, geoLine: line }),
      node('tokyo', { location: CITIES.tokyo, geoLine: line }),
    ]);
    const inParis = { lat: 48.8, lon: 2.3 };
    // Paris's own node is nearest on the map, but its access delay makes London and Frankfurt faster by the lines.
    expect(pickProbeCandidates(nodes, { measuredRttMs: {}, location: inParis }, 3, { geoNearestFirst: false })).toEqual(['london', 'frankfurt', 'paris']);
    // By default the nearest on the map still gets the first ping (a line misjudges a nearby node often enough),
    // then the lines rank the rest; an excluded or measured nearest node gives way to the next.
    expect(pickProbeCandidates(nodes, { measuredRttMs: {}, location: inParis }, 3)).toEqual(['paris', 'london', 'frankfurt']);
    expect(pickProbeCandidates(nodes, { measuredRttMs: {}, location: inParis, exclude: ['paris'] }, 2)).toEqual(['london', 'frankfurt']);
    // A node's location is a claim: where the PoP's own RTTs prove the map-nearest node slower than another
    // (lower bound 80 − 2 ms against London's upper bound 2 + 12 ms), the first ping goes by the bounds.
    const edge = { pop: 'CDG', rttMs: 2, nodeRttMs: { paris: 80, london: 12, frankfurt: 15, 'new-york': 75, tokyo: 230 } };
    expect(pickProbeCandidates(nodes, { measuredRttMs: {}, location: inParis, edge }, 1)).toEqual(['london']);
    // One measurement gives the client's own access delay; the ranking of the rest follows.
    const line1 = clientGeoLine(nodes, { measuredRttMs: { london: 20 }, location: inParis })!;
    expect(line1.interceptMs).toBeCloseTo(20 - 1 - greatCircleKm(inParis, CITIES.london) * 0.015, 1);
    expect(line1.msPerKm).toBe(0.015);
    expect(pickProbeCandidates(nodes, { measuredRttMs: { london: 20 }, location: inParis }, 2)).toEqual(['frankfurt', 'paris']);
  });

  it('a node that claims to sit next to located clients gets their first ping, never their job: the pings route it', () => {
    const line = { interceptMs: 1, msPerKm: 0.015 };
    const nodes = freezeRouterNodes([
      node('liar', { location: { lat: 48.85, lon: 2.34 }, geoLine: line }), // claims central Paris, answers in 200 ms
      node('london', { location: CITIES.london, geoLine: line }),
      node('frankfurt', { location: CITIES.frankfurt, geoLine: line }),
      node('new-york', { location: CITIES.newYork, geoLine: line }),
      node('tokyo', { location: CITIES.tokyo, geoLine: line }),
    ]);
    const truth: Record<string, number> = { liar: 200, london: 12, frankfurt: 15, 'new-york': 80, tokyo: 250 };
    const inParis = { lat: 48.8, lon: 2.3 };
    const measured: Record<string, number> = {};
    const order: string[] = [];
    for (let p = 0; p < 3; p++) {
      const [id] = pickProbeCandidates(nodes, { measuredRttMs: measured, location: inParis }, 1);
      order.push(id);
      measured[id] = truth[id];
    }
    // No PoP row to refute its claim: it costs the client one ping of three, and the other two find the fast nodes.
    expect(order[0]).toBe('liar');
    expect(order.slice(1).sort()).toEqual(['frankfurt', 'london']);
    const decision = routeTask(nodes, { client: { measuredRttMs: measured, coord: locateClient(nodes, { measuredRttMs: measured, location: inParis }) }, taskPixels: 65536 }, createRandom(1));
    expect(decision?.nodeId).toBe('london');
  });

  it('without any knowledge offers landmarks, and with a session coordinate the nearest by it', () => {
    const rng = createRandom(4);
    const nodes = freezeRouterNodes(Array.from({ length: 40 }, (_, i) => node(`n${i}`, { coord: at(rng() * 300, rng() * 300, 0.1) })));
    const landmarks = pickProbeCandidates(nodes, { measuredRttMs: {} }, 3);
    expect(new Set(landmarks).size).toBe(3);
    const here = at(100, 100, 0.2);
    const nearest = [...nodes].sort((a, b) => estimateRtt(a.coord!, here) - estimateRtt(b.coord!, here))[0].id;
    expect(pickProbeCandidates(nodes, { measuredRttMs: {}, coord: here }, 1)).toEqual([nearest]);
  });

  it('gives the same picks on a frozen snapshot (k-d tree, geo grid) as on a plain array (full scans)', () => {
    const rng = createRandom(6);
    const plain = Array.from({ length: 2000 }, (_, i) =>
      node(`n${i}`, {
        coord: { vec: [rng() * 300, rng() * 300, rng() * 80, rng() * 40], height: rng() * 10, error: 0.2 },
        location: { lat: rng() * 120 - 60, lon: rng() * 340 - 170 },
        geoLine: i % 7 === 0 ? undefined : { interceptMs: rng() * 10, msPerKm: 0.012 + rng() * 0.01 },
        healthy: i % 50 !== 0,
      }),
    );
    const frozen = freezeRouterNodes(plain);
    for (let q = 0; q < 200; q++) {
      const coord = { vec: [rng() * 300, rng() * 300, rng() * 80, rng() * 40], height: 1, error: 0.3 };
      const location = { lat: rng() * 120 - 60, lon: rng() * 340 - 170 };
      const measured = q % 2 ? { [`n${q}`]: 40 + q } : {};
      expect(pickProbeCandidates(frozen, { measuredRttMs: {}, coord }, 8)).toEqual(pickProbeCandidates(plain, { measuredRttMs: {}, coord }, 8));
      expect(pickProbeCandidates(frozen, { measuredRttMs: measured, location }, 3)).toEqual(pickProbeCandidates(plain, { measuredRttMs: measured, location }, 3));
      const brute = plain.filter((n) => n.healthy).sort((a, b) => greatCircleKm(a.location!, location) - greatCircleKm(b.location!, location))[0].id;
      expect(geoNearest(frozen, location)).toBe(brute);
    }
  });

  it('places an unlocated client near where it is from its RTTs to located nodes', () => {
    const line = { interceptMs: 2, msPerKm: 0.015 };
    const places = Object.values(CITIES);
    const nodes = places.map((p, i) => node(`n${i}`, { location: p, geoLine: line }));
    const rttFrom = (p: { lat: number; lon: number }, i: number) => predictGeoRtt({ interceptMs: 3, msPerKm: 0.015 }, line, greatCircleKm(p, places[i]));
    const inBerlin = { lat: 52.52, lon: 13.4 };
    const measured = { n3: rttFrom(inBerlin, 3), n4: rttFrom(inBerlin, 4), n0: rttFrom(inBerlin, 0) };
    expect(estimateClientLocation(nodes, { measuredRttMs: measured })).toEqual(CITIES.frankfurt);
    expect(estimateClientLocation(nodes, { measuredRttMs: {} })).toBeUndefined();
  });

  it('finds an unlocated client from three RTTs: the fitted coordinate predicts the others', () => {
    const rng = createRandom(5);
    const truth = (x: number, y: number) => ({ vec: [x, y], height: 1, error: 0.05 });
    const nodes: RouterNode[] = Array.from({ length: 30 }, (_, i) => node(`n${i}`, { coord: truth(rng() * 200, rng() * 200) }));
    const me = truth(120, 60);
    const measured: Record<string, number> = {};
    for (const id of ['n0', 'n1', 'n2', 'n3']) measured[id] = estimateRtt(me, nodes[Number(id.slice(1))].coord!);
    const fitted = locateClient(nodes, { measuredRttMs: measured })!;
    const errors = nodes.slice(4).map((n) => Math.abs(estimateRtt(fitted, n.coord!) - estimateRtt(me, n.coord!)) / estimateRtt(me, n.coord!));
    errors.sort((a, b) => a - b);
    expect(errors[errors.length >> 1]).toBeLessThan(0.1);
  });
});

describe('fits', () => {
  it('fitClientCoordinate honours the samples and, lacking them, the prior', () => {
    const prior = { vec: [50, 10], spreadMs: 50, typicalHeightMs: 5 };
    expect(fitClientCoordinate([], prior).vec).toEqual([50, 10]);
    const c = fitClientCoordinate([{ coord: at(0), rttMs: 40 }, { coord: at(100), rttMs: 60 }], prior);
    expect(estimateRtt(c, at(0))).toBeCloseTo(40, -0.5);
    expect(estimateRtt(c, at(100))).toBeCloseTo(60, -0.5);
    expect(c.error).toBeGreaterThan(0);
  });

  it('fitGeoLine recovers a host’s access delay and slowness; fitGeoLines a whole set', () => {
    const peer = { interceptMs: 2, msPerKm: 0.014 };
    const me = { interceptMs: 6, msPerKm: 0.02 };
    const samples = [50, 300, 800, 2000, 5000, 9000].map((km) => ({ km, rttMs: predictGeoRtt(me, peer, km), peer }));
    samples.push({ km: 400, rttMs: predictGeoRtt(me, peer, 400) + 40, peer }); // a detour
    const fit = fitGeoLine(samples);
    expect(fit.interceptMs).toBeCloseTo(6, 0);
    expect(fit.msPerKm).toBeCloseTo(0.02, 3);

    const rng = createRandom(8);
    const places = Array.from({ length: 40 }, () => ({ lat: rng() * 120 - 60, lon: rng() * 340 - 170 }));
    const truth = places.map(() => ({ interceptMs: 1 + rng() * 10, msPerKm: 0.012 + rng() * 0.01 }));
    const edges = [];
    for (let a = 0; a < 40; a++) for (let s = 0; s < 12; s++) {
      const b = (a + 1 + Math.floor(rng() * 39)) % 40;
      edges.push({ a, b, rttMs: predictGeoRtt(truth[a], truth[b], greatCircleKm(places[a], places[b])) });
    }
    const lines = fitGeoLines(places, edges);
    const errs = [];
    for (let a = 0; a < 40; a++) for (let b = a + 1; b < 40; b++) {
      const km = greatCircleKm(places[a], places[b]);
      const t = predictGeoRtt(truth[a], truth[b], km);
      errs.push(Math.abs(predictGeoRtt(lines[a]!, lines[b]!, km) - t) / t);
    }
    errs.sort((x, y) => x - y);
    expect(errs[errs.length >> 1]).toBeLessThan(0.05);
    expect(fitGeoLines([undefined, CITIES.paris], [{ a: 0, b: 1, rttMs: 10 }])).toEqual([undefined, undefined]);
  });
});
