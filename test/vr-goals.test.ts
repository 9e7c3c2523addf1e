import { describe, expect, it } from 'vitest';
import { checkVrGoals, goalsTable, rowMeets, VR_GOALS, type VrRow } from '../bench/vr-goals.ts';

const row = (r: Partial<VrRow>): VrRow => ({ scene: 'textured-pbr', eye: '512x512', rttMs: 0, concurrent: 1, fps: 40, p50Ms: 20, p95Ms: 40, batchP50Ms: 300, ...r });
const goal = (id: string) => VR_GOALS.find((g) => g.id === id)!;

describe('bench:vr goals', () => {
  it('checks each goal against its bound, with the RTT added to the latency bounds', () => {
    expect(rowMeets(goal('fps'), row({ fps: 30 }))).toBe(true);
    expect(rowMeets(goal('fps'), row({ fps: 29.9 }))).toBe(false);
    expect(rowMeets(goal('fps'), row({ eye: '1024x1024', fps: 5 }))).toBeNull(); // only 2×512² of the textured sample
    expect(rowMeets(goal('p50'), row({ rttMs: 20, p50Ms: 45 }))).toBe(true);
    expect(rowMeets(goal('p50'), row({ rttMs: 20, p50Ms: 45.1 }))).toBe(false);
    expect(rowMeets(goal('p95'), row({ rttMs: 20, p95Ms: 65 }))).toBe(true);
    expect(rowMeets(goal('p95'), row({ rttMs: 0, p95Ms: 46 }))).toBe(false);
    expect(rowMeets(goal('batch'), row({ p50Ms: 30, batchP50Ms: 300 }))).toBe(true);
    expect(rowMeets(goal('batch'), row({ p50Ms: 31, batchP50Ms: 300 }))).toBe(false);
    expect(rowMeets(goal('batch'), row({ batchP50Ms: null }))).toBeNull();
    // No frame, or an error: the goal is not met.
    expect(rowMeets(goal('p50'), row({ p50Ms: null }))).toBe(false);
    expect(rowMeets(goal('fps'), row({ error: 'no first frame' }))).toBe(false);
  });

  it('passes a goal only when every row it applies to meets it, and names the worst row', () => {
    const verdicts = checkVrGoals([row({}), row({ rttMs: 20, p50Ms: 50, p95Ms: 60 }), row({ scene: 'million', fps: 2, p50Ms: 400, p95Ms: 900 })]);
    const by = Object.fromEntries(verdicts.map((v) => [v.goal.id, v]));
    expect(by.fps).toMatchObject({ rows: 2, passed: 2, pass: true });
    expect(by.p50).toMatchObject({ rows: 3, passed: 1, pass: false });
    expect(by.p50.worst).toMatch(/^million 512x512 0 ms RTT ×1: 400 ms \(bound 25 ms\)/);
    expect(by.p95).toMatchObject({ rows: 3, passed: 2, pass: false });
    const table = goalsTable(verdicts);
    expect(table.split('\n')).toHaveLength(2 + VR_GOALS.length);
    expect(table).toMatch(/≥ 30 Hz.*\| 2\/2 \|.*\| PASS \|/);
    expect(table).toMatch(/p50 ≤ RTT \+ 25 ms \| 1\/3 \|.*\| FAIL \|/);
    // Nothing measured is not a pass, and says so.
    expect(checkVrGoals([]).every((v) => !v.pass)).toBe(true);
    expect(goalsTable(checkVrGoals([row({ batchP50Ms: null })]))).toMatch(/batch job per pose \(p50\) \| 0\/0 \| \(no row measured it\) \| NOT MEASURED \|/);
  });
});
