/**
 * The issue's goals for interactive sessions, checked against `npm run bench:vr` rows: per row (which goals apply
 * to it and whether it meets them) and per goal (how many rows meet it, the worst row, PASS/FAIL). Pure.
 *
 * - fps:   ≥ 30 frames per second sustained per session, textured sample at 2 × 512²;
 * - p50:   pose → frame decoded p50 ≤ RTT + 25 ms;
 * - p95:   pose → frame decoded p95 ≤ RTT + 45 ms;
 * - batch: ≥ 10× lower latency than the batch path (a one-frame job per pose), p50 against p50.
 * A row that failed (error, or no frame: null latencies) fails every goal that applies to it.
 */

export interface VrRow {
  scene: string;
  eye: string;
  rttMs: number;
  concurrent: number;
  shadows?: boolean;
  /** The sessions' look (`full` when absent). */
  fidelity?: 'full' | 'fast';
  fps?: number | null;
  p50Ms?: number | null;
  p95Ms?: number | null;
  batchP50Ms?: number | null;
  error?: string;
}

export interface VrGoal {
  id: 'fps' | 'p50' | 'p95' | 'batch';
  text: string;
  applies(row: VrRow): boolean;
  /** The row's figure for this goal (null: none measured), and the bound it must meet. */
  measure(row: VrRow): { value: number | null; bound: number; unit: string };
  /** true when `value` meets `bound`. */
  meets(value: number, bound: number): boolean;
}

export const VR_GOALS: VrGoal[] = [
  {
    id: 'fps',
    text: '≥ 30 Hz per session, textured sample, 2×512²',
    applies: (r) => r.scene === 'textured-pbr' && r.eye === '512x512',
    measure: (r) => ({ value: r.fps ?? null, bound: 30, unit: 'fps' }),
    meets: (v, b) => v >= b,
  },
  {
    id: 'p50',
    text: 'pose→frame p50 ≤ RTT + 25 ms',
    applies: () => true,
    measure: (r) => ({ value: r.p50Ms ?? null, bound: r.rttMs + 25, unit: 'ms' }),
    meets: (v, b) => v <= b,
  },
  {
    id: 'p95',
    text: 'pose→frame p95 ≤ RTT + 45 ms',
    applies: () => true,
    measure: (r) => ({ value: r.p95Ms ?? null, bound: r.rttMs + 45, unit: 'ms' }),
    meets: (v, b) => v <= b,
  },
  {
    id: 'batch',
    text: '≥ 10× lower latency than a batch job per pose (p50)',
    applies: (r) => r.batchP50Ms !== undefined && r.batchP50Ms !== null,
    measure: (r) => ({ value: r.p50Ms && r.batchP50Ms ? r.batchP50Ms / r.p50Ms : null, bound: 10, unit: '×' }),
    meets: (v, b) => v >= b,
  },
];

export interface GoalVerdict {
  goal: VrGoal;
  rows: number;
  passed: number;
  /** The row furthest from the bound (or one with no figure), described. */
  worst: string | null;
  pass: boolean;
}

const describe = (r: VrRow) => `${r.scene} ${r.eye} ${r.rttMs} ms RTT ×${r.concurrent}${r.shadows === false ? ' no shadows' : ''}${r.fidelity === 'fast' ? ' fast' : ''}`;

/** Whether a row meets a goal (null: the goal does not apply). */
export function rowMeets(goal: VrGoal, row: VrRow): boolean | null {
  if (!goal.applies(row)) return null;
  if (row.error !== undefined) return false;
  const { value, bound } = goal.measure(row);
  return value !== null && goal.meets(value, bound);
}

/** Per goal: rows it applies to, how many pass, the worst one. A goal with no row is not passed. */
export function checkVrGoals(rows: readonly VrRow[]): GoalVerdict[] {
  return VR_GOALS.map((goal) => {
    const applicable = rows.filter((r) => goal.applies(r));
    let worst: { row: VrRow; margin: number } | null = null;
    let passed = 0;
    for (const row of applicable) {
      const { value, bound } = goal.measure(row);
      const ok = rowMeets(goal, row)!;
      if (ok) passed++;
      // Margin: how far past the bound in the goal's direction (−Infinity: nothing measured).
      const margin = value === null || row.error !== undefined ? -Infinity : goal.meets(bound + 1, bound) ? value - bound : bound - value;
      if (!worst || margin < worst.margin) worst = { row, margin };
    }
    const text = worst
      ? (() => {
          const { value, bound, unit } = goal.measure(worst.row);
          return `${describe(worst.row)}: ${value === null || worst.row.error !== undefined ? 'no figure' : `${Math.round(value * 10) / 10} ${unit}`} (bound ${bound} ${unit})`;
        })()
      : null;
    return { goal, rows: applicable.length, passed, worst: text, pass: applicable.length > 0 && passed === applicable.length };
  });
}

/** The goals as a Markdown table: PASS, FAIL, or NOT MEASURED (no row it applies to; not a pass either). */
export function goalsTable(verdicts: readonly GoalVerdict[]): string {
  const lines = ['| goal | rows meeting it | worst row | verdict |', '|---|---|---|---|'];
  for (const v of verdicts) lines.push(`| ${v.goal.text} | ${v.passed}/${v.rows} | ${v.worst ?? '(no row measured it)'} | ${v.pass ? 'PASS' : v.rows ? 'FAIL' : 'NOT MEASURED'} |`);
  return lines.join('\n');
}
