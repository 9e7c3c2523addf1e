/**
 * The soak (bench/run-soak.ts), scaled down for CI: 20 small jobs on 2 nodes, one node SIGKILLed and
 * replaced, storage failing 20% of its requests, one API restart. Every job completes with its frames equal
 * to a local render, nothing lost, nothing duplicated. `npm run soak` runs the full size.
 * With liars: one node of three lies (wrong pixels, then doctored stitches under a new id, then a forged probe,
 * hoarding and an inflated card, each under a new id, as far as the 12 jobs last): every frame still equals the
 * local render, the pixel and stitch liars are blocklisted, and no liar is credited a render-second, not even
 * for honest renders (proven liars forfeit everything, new identities' credit is held), while the honest nodes
 * are credited (the soak's problems list also catches a hoarder completing, or a task routed on a forged probe RTT).
 */
import { describe, expect, it } from 'vitest';
import { runSoak } from '../../bench/run-soak.ts';

describe('soak (small)', () => {
  it('20 jobs through a node kill, an API restart and 20% storage faults: all done, 0 lost, 0 duplicated', async () => {
    const report = await runSoak({ jobs: 20, nodes: 2, killEveryMs: 5000, maxKills: 1, s3FailureRate: 0.2, apiRestart: true, seed: 3 });
    expect(report.problems).toEqual([]);
    expect(report.jobs).toMatchObject({ submitted: 20, done: 20, completionRate: 1 });
    expect(report.frames).toMatchObject({ expected: 60, verified: 60, wrongPixels: 0, missing: 0 });
    expect(report.lost).toEqual({ jobs: 0, frames: 0 });
    expect(report.duplicated.total).toBe(0);
    expect(report.faults).toMatchObject({ nodeKills: 1, apiRestarts: 1 });
    expect(Object.values(report.faults.s3Injected).reduce((a, b) => a + b, 0)).toBeGreaterThan(20);
    expect(report.latencyMs.p50).toBeGreaterThan(0);
  }, 90_000);

  it('with liars (1 of 3 nodes, its tricks in turn): 0 lost, 0 wrong, liars blocklisted and unpaid, no honest node blamed', async () => {
    const report = await runSoak({ jobs: 12, nodes: 3, liars: 0.34, killEveryMs: 0, s3FailureRate: 0, apiRestart: false, tiledShare: 1, inFlight: 4, seed: 5 });
    expect(report.problems).toEqual([]);
    expect(report.lost).toEqual({ jobs: 0, frames: 0 });
    expect(report.frames).toMatchObject({ expected: 36, verified: 36, wrongPixels: 0 });
    expect(report.duplicated.total).toBe(0);
    expect(report.liars).toMatchObject({ verifySampleRate: 1, honestBlamed: 0, creditedRenderSeconds: { lie: 0, 'doctor-stitch': 0, 'fake-probe': 0, hoard: 0, 'inflate-card': 0 } });
    expect(report.liars!.honestCreditedRenderSeconds).toBeGreaterThan(0);
    expect(report.liars!.started.lie).toBe(1);
    expect(report.liars!.blocklisted.lie).toBe(1);
    expect(report.liars!.disproven).toBeGreaterThanOrEqual(3);
    expect(report.faults.resultsRedone).toBeGreaterThan(0);
  }, 240_000);
});
