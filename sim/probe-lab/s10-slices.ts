// The Seattle set's published time slices (test/routing/data/seattle-40/raw) as RTT sources, for the drift labs.
import { readFileSync } from 'node:fs';
import type { RttSource } from '../rtt-source.ts';

const dir = 'test/routing/data/seattle-40/raw';
/** A published slice (rows: from, columns: to, seconds; 0 off the diagonal: no measurement) as an RTT source. */
export function sliceSource(k: number): RttSource {
  const rows = readFileSync(`${dir}/SeattleData_${k}.first40.csv`, 'utf8').trim().split('\n').map((l) => l.split(',').map(Number));
  return { size: rows.length, rtt: (a, b) => (a === b ? 0 : rows[a][b] > 0 ? rows[a][b] * 1000 : NaN) };
}
