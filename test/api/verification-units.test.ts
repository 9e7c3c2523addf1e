/** Unit tests of verification's pure parts: seeded sampling, the vote, claimed render time, attempt keys, the state machine's requeue. */
import { describe, expect, it } from 'vitest';
import { compileJob } from '../../api/core/job-compiler.ts';
import { acceptedKey, attemptKey } from '../../api/core/object-keys.ts';
import { reopenForRouting, stepTask, stepVerification } from '../../api/core/state-machine.ts';
import { isSampled } from '../../api/core/verification-policy.ts';
import { tallyVote, weighVote } from '../../api/core/verification-vote.ts';
import { creditStanding, effectiveTilesPerSecond, inflatedClaim, locationsRefuted, measuredTilesPerSecond, priorTilesPerSecond, refutedParties } from '../../api/core/node-trust.ts';
import { toJobLedger, toNodeLedger } from '../../api/core/ledger-view.ts';
import { claimedRenderMs } from '../../api/core/claimed-render-ms.ts';
import { EncodeSpec, ViewSpec } from '../../api/protocol/render-spec.ts';

describe('sampling', () => {
  const ids = Array.from({ length: 20_000 }, (_, i) => `job_s.${i >> 4}.${i & 15}`);

  it('samples the configured share, the same tasks for the same seed, others for another seed or round', () => {
    const picked = (seed: string, round = 0) => ids.filter((id) => isSampled(id, round, 0.03, seed));
    const a = picked('seed-a');
    expect(a.length / ids.length).toBeGreaterThan(0.025);
    expect(a.length / ids.length).toBeLessThan(0.035);
    expect(picked('seed-a')).toEqual(a);
    const b = picked('seed-b');
    expect(b).not.toEqual(a);
    expect(picked('seed-a', 1)).not.toEqual(a);
    expect(ids.every((id) => isSampled(id, 0, 1, 'x'))).toBe(true);
    expect(ids.some((id) => isSampled(id, 0, 0, 'x'))).toBe(false);
  });
});

describe('the vote', () => {
  it('verifies two agreeing results and escalates two disagreeing ones', () => {
    expect(tallyVote(2, [true])).toEqual({ kind: 'verified', winners: [0, 1], losers: [] });
    expect(tallyVote(2, [false])).toEqual({ kind: 'escalate' });
  });

  it('lets the third result decide: majority, both (tolerance), or neither (inconclusive)', () => {
    expect(tallyVote(3, [true, false])).toEqual({ kind: 'verified', winners: [0, 2], losers: [1] });
    expect(tallyVote(3, [false, true])).toEqual({ kind: 'disproven', winners: [1, 2], losers: [0] });
    expect(tallyVote(3, [true, true])).toEqual({ kind: 'verified', winners: [0, 1, 2], losers: [] });
    expect(tallyVote(3, [false, false])).toEqual({ kind: 'inconclusive' });
    expect(() => tallyVote(4, [true, true, true])).toThrow(RangeError);
  });
});

describe('metering inputs', () => {
  it('counts compute timings only, within the lease wall time', () => {
    const timings = { load: 900, render: 300, readback: 20, encode: 30, upload: 500, download: 100, stitch: 50 };
    expect(claimedRenderMs(timings, { leasedAt: 1000 }, 3000, 30_000)).toBe(400);
    // A node cannot claim more than the time it held the lease.
    expect(claimedRenderMs({ render: 1e9 }, { leasedAt: 1000 }, 1250, 30_000)).toBe(250);
    expect(claimedRenderMs({ render: -5, encode: Number.NaN }, { leasedAt: 0 }, 10, 30_000)).toBe(0);
    expect(claimedRenderMs({ render: 1e9 }, { leasedAt: null }, 50_000, 30_000)).toBe(30_000);
  });
});

describe('attempt keys and requeue', () => {
  const { tasks } = compileJob(
    { jobId: 'job_k', sceneId: 's', priority: 50, view: ViewSpec.parse({ width: 64, height: 32 }), encode: EncodeSpec.parse({}), frames: [2], tile: 32 },
    0,
  );

  it('gives every attempt its own key, never the accepted output key, so no node can overwrite accepted output', () => {
    expect(attemptKey({ outputKey: 'jobs/j/tiles/2/32_0.png', attempts: 1 })).toBe('jobs/j/tiles/2/32_0.a1.png');
    expect(attemptKey({ outputKey: 'jobs/j/tiles/2/32_0.png', attempts: 3 })).toBe('jobs/j/tiles/2/32_0.a3.png');
    expect(attemptKey({ outputKey: 'jobs/j/frames/000002.webp', attempts: 0 })).toBe('jobs/j/frames/000002.a1.webp');
    for (const attempts of [0, 1, 2, 3]) expect(attemptKey({ outputKey: 'jobs/j/frames/000002.webp', attempts })).not.toBe(acceptedKey({ outputKey: 'jobs/j/frames/000002.webp' }));
  });

  it('requeues a done or leased task without counting a failure, and refuses other states', () => {
    const leased = stepTask(tasks[0], { type: 'lease', nodeId: 'n', leaseId: 'l', now: 10, leaseMs: 100 }).task;
    expect(leased.leasedAt).toBe(10);
    const done = stepTask(leased, { type: 'complete', result: { bytes: 1, checksum: 'c' }, now: 20 }).task;
    const again = stepTask(done, { type: 'requeue', reason: 'outvoted', now: 30 });
    expect(again.task).toMatchObject({ state: 'queued', attempts: 1, result: null, leaseId: null, error: 'outvoted', notBefore: 30 });
    expect(again.change).toMatchObject({ from: 'done', to: 'queued', reason: 'outvoted' });
    expect(stepTask(leased, { type: 'requeue', reason: 'revoked', now: 30 }).task.state).toBe('queued');
    expect(() => stepTask(tasks[0], { type: 'requeue', reason: 'x', now: 30 })).toThrow(/cannot requeue/);
  });

  it('steps a verification through the state machine, each change logged as old → new, and refuses the rest', () => {
    const done = stepTask(stepTask(tasks[0], { type: 'lease', nodeId: 'a', leaseId: 'l', now: 10, leaseMs: 100 }).task, { type: 'complete', result: { bytes: 1, checksum: 'c' }, now: 20 }).task;
    const held = stepVerification(done, { type: 'hold', now: 30 });
    expect(held.task.verification).toEqual({ state: 'pending', verifiedBy: [], disproven: [] });
    expect(held.change).toMatchObject({ entity: 'verification', id: done.taskId, jobId: 'job_k', from: 'none', to: 'pending', at: 30 });
    const verified = stepVerification(held.task, { type: 'verify', verifiedBy: ['a', 'b'], disproven: ['c'], now: 40 });
    expect(verified.task).toMatchObject({ verification: { state: 'verified', verifiedBy: ['a', 'b'], disproven: ['c'] }, updatedAt: 40 });
    expect(verified.change).toMatchObject({ from: 'pending', to: 'verified' });
    const disproved = stepVerification(held.task, { type: 'disprove', disproven: ['a'], now: 40 });
    expect(disproved.task.verification).toEqual({ state: 'pending', verifiedBy: [], disproven: ['a'] });
    expect(disproved.change).toBeNull(); // no state change: the re-render that follows is the logged one
    const again = stepVerification(disproved.task, { type: 'rerender', reason: 'outvoted', now: 50 });
    expect(again.task).toMatchObject({ round: done.round + 1, verification: { state: 'rerender', verifiedBy: [], disproven: ['a'] } });
    expect(again.change).toMatchObject({ from: 'pending', to: 'rerender', reason: 'outvoted' });
    expect(stepVerification(again.task, { type: 'skip', reason: 'nobody else can check it', now: 60 }).change).toMatchObject({ from: 'rerender', to: 'skipped' });
    expect(stepVerification(held.task, { type: 'skip', reason: 'stranded', now: 60 }).task.verification!.state).toBe('skipped');
    expect(() => stepVerification(done, { type: 'verify', verifiedBy: ['a'], disproven: [], now: 60 })).toThrow(/cannot verify/);
    expect(() => stepVerification(verified.task, { type: 'hold', now: 60 })).toThrow(/cannot hold/);
    expect(() => stepVerification(done, { type: 'skip', reason: 'x', now: 60 })).toThrow(/cannot skip/);
  });

  it('re-opens a queued task for routing the one way: routed jobs wait for the router, verify tasks and first-come jobs are open', () => {
    const routedTask = { ...tasks[0], route: { nodeId: 'n' } as never, openAt: 5 };
    expect(reopenForRouting(routedTask, { routed: true })).toMatchObject({ route: null, openAt: null });
    expect(reopenForRouting(routedTask, { routed: false })).toMatchObject({ route: null, openAt: 0 });
    expect(reopenForRouting({ ...routedTask, kind: 'verify' }, { routed: true })).toMatchObject({ route: null, openAt: 0 });
  });
});

describe('votes weighed by record', () => {
  it('lets no group of nodes on probation overturn an established node, and changes nothing else', () => {
    const disproof = tallyVote(3, [false, true]);
    expect(disproof.kind).toBe('disproven');
    // The original's node has a record, both verifiers are fresh: the original stands, nobody is blamed.
    expect(weighVote(disproof, [true, false, false])).toEqual({ kind: 'verified', winners: [0], losers: [] });
    // One established winner is enough to disprove; so are fresh winners against a fresh original.
    expect(weighVote(disproof, [true, true, false])).toEqual(disproof);
    expect(weighVote(disproof, [false, false, false])).toEqual(disproof);
    for (const other of [tallyVote(2, [true]), tallyVote(2, [false]), tallyVote(3, [true, false]), tallyVote(3, [false, false])]) {
      expect(weighVote(other, [true, false, false])).toEqual(other);
    }
  });
});

describe('node trust', () => {
  const card = { tilesPerSecond: 5000 } as never;
  it('routes on measured speed; a claim is worth at most the prior, and never more than the slowest measured node', () => {
    const fresh = { card, throughput: { pixels: 0, ms: 0, results: 0, best: 0 } };
    const measured = { card, throughput: { pixels: 3 * 65536, ms: 1500, results: 3, best: 2 } };
    expect(measuredTilesPerSecond(measured)).toBe(2);
    expect(effectiveTilesPerSecond(fresh)).toBe(10);
    expect(priorTilesPerSecond([fresh, measured])).toBe(2);
    expect(effectiveTilesPerSecond(fresh, undefined, priorTilesPerSecond([fresh, measured]))).toBe(2);
    expect(effectiveTilesPerSecond({ card: { tilesPerSecond: 0.5 } as never, throughput: fresh.throughput })).toBe(0.5);
  });

  it('refutes locations only when light in fibre could not cover the distance', () => {
    const frankfurt = { lat: 50.11, lon: 8.68 };
    const tokyo = { lat: 35.68, lon: 139.69 };
    expect(locationsRefuted(frankfurt, tokyo, 1)).toBe(true); // ~9,300 km needs ≥ 93 ms
    expect(locationsRefuted(frankfurt, tokyo, 120)).toBe(false);
    expect(refutedParties({ nodeId: 'a', reputation: { verified: 9, disproven: 0, blocklisted: null } }, { nodeId: 'b' }).map((n) => n.nodeId)).toEqual(['b']);
    expect(refutedParties({ nodeId: 'a' }, { nodeId: 'b' }).map((n) => n.nodeId)).toEqual(['a', 'b']);
  });

  it('proves an inflated card only far beyond its measured speed and its peers\' ratio, with enough results', () => {
    const node = (claim: number, best: number, results = 5) => ({ card: { tilesPerSecond: claim } as never, throughput: { pixels: 1, ms: 1, results, best } });
    const peers = [node(30, 1), node(20, 1), node(40, 0.5)]; // claims 20–80× their measured speed: small tiles
    expect(inflatedClaim(node(10_000, 1), peers)).toMatch(/^inflated card: it claims 10000 tiles\/s, 10000× the 1\.00 tiles\/s measured from its fastest of 5 accepted results \(other nodes' claims run 30\.0× ahead/);
    expect(inflatedClaim(node(10_000, 1, 4), peers)).toBeNull(); // too few results
    expect(inflatedClaim(node(10_000, 1), [])).toBeNull(); // nobody to compare with
    expect(inflatedClaim(node(500, 1), peers)).toBeNull(); // 500× but under 20 × the peers' 30×
    expect(inflatedClaim(node(90, 1), [node(1, 1)])).toBeNull(); // the peers claim honestly, but 90× is under the 100× floor
    expect(inflatedClaim(node(10_000, 1), [node(10_000, 1)])).toBeNull(); // the same work, the same ratio: no proof
  });

  it('stands for credit: forfeited when blocklisted, on probation only where credit is held and verification runs', () => {
    const fresh = { reputation: { verified: 1, disproven: 0, blocklisted: null } };
    const hold = { probationResults: 5, holdCreditOnProbation: true };
    expect(creditStanding(fresh, true, hold)).toBe('probation');
    expect(creditStanding(fresh, false, hold)).toBe('good');
    expect(creditStanding(fresh, true, { ...hold, holdCreditOnProbation: false })).toBe('good');
    expect(creditStanding({ reputation: { verified: 5, disproven: 0, blocklisted: null } }, true, hold)).toBe('good');
    expect(creditStanding({ reputation: { verified: 9, disproven: 3, blocklisted: { at: 1, reason: 'x' } } }, true, hold)).toBe('forfeited');
  });

  it('ledger views count credited work of nodes in good standing; held and forfeited work is shown apart', () => {
    const e = (nodeId: string, state: 'credited' | 'forfeited' | 'voided', jobId = 'j') => ({ taskId: `t-${nodeId}`, jobId, nodeId, kind: 'render' as const, renderSeconds: 1, megapixels: 0.5, tiles: 1, state, at: 0 });
    const standing = (id: string) => (id === 'new' ? 'probation' : id === 'liar' ? 'forfeited' : 'good') as never;
    const entries = [e('good', 'credited'), e('new', 'credited'), e('liar', 'forfeited'), e('liar', 'credited'), e('good', 'voided')];
    const job = toJobLedger('j', entries, standing);
    expect(job.total).toEqual({ renderSeconds: 1, megapixels: 0.5, tiles: 1 });
    expect(job.held).toEqual({ renderSeconds: 1, megapixels: 0.5, tiles: 1 });
    expect(job.forfeited).toEqual({ renderSeconds: 2, megapixels: 1, tiles: 2 });
    expect(job.entries.map((x) => x.state)).toEqual(['credited', 'held', 'forfeited', 'forfeited', 'voided']);
    expect(Object.keys(job.byNode)).toEqual(['good']);
    expect(toNodeLedger(entries, standing).nodes.map((n) => [n.nodeId, n.standing, n.tiles, n.held!.tiles, n.forfeited!.tiles, n.jobs])).toEqual([
      ['good', 'good', 1, 0, 0, 1],
      ['liar', 'forfeited', 0, 0, 2, 0],
      ['new', 'probation', 0, 1, 0, 0],
    ]);
  });
});
