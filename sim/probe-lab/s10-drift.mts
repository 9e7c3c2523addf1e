// Session 10: sessions on the Seattle set's real time slices (1, 344, 688) instead of their median, to see what
// re-probing buys under real drift. Tuning splits only. Usage: npx tsx sim/probe-lab/s10-drift.mts [splits] [firstSeed] [json options]
import { loadRealDataset } from '../real-data-eval.ts';
import { mergeSimReports, simulateRouting, type SimOptions } from '../simulate-routing.ts';
import { sliceSource } from './s10-slices.ts';

const slices = [1, 344, 688].map(sliceSource);
const splits = Number(process.argv[2] ?? 50);
const first = Number(process.argv[3] ?? 101);
const extra: SimOptions = process.argv[4] ? JSON.parse(process.argv[4]) : {};
const { hosts, truth } = await loadRealDataset('seattle-40');
const pct = (x: number) => `${(100 * x).toFixed(1)}%`;
const cases: [string, SimOptions][] = [
  ['median truth, re-probe when stale (current)', {}],
  ['median truth, never re-probe', { reprobes: 0 }],
  ['slices 1/344/688, re-probe when stale (current)', { sessionTruths: slices }],
  ['slices 1/344/688, never re-probe', { sessionTruths: slices, reprobes: 0 }],
];
for (const [name, opt] of cases) {
  const r = mergeSimReports(Array.from({ length: splits }, (_, s) => simulateRouting(hosts, truth, { probes: 3, nodes: 10, sessions: 3, useLocation: false, ...extra, ...opt, seed: first + s })));
  console.log(`${name}: ${r.bySession.map((x) => pct(x.within10)).join(' / ')}`);
}
for (const [name, opt] of [
  ['median truth, stable factor 0 (session 9)', { reprobe: { stableFactor: 0 } }],
  ['slices, stable factor 0 (session 9)', { sessionTruths: slices, reprobe: { stableFactor: 0 } }],
] as [string, SimOptions][]) {
  const r = mergeSimReports(Array.from({ length: splits }, (_, s) => simulateRouting(hosts, truth, { probes: 3, nodes: 10, sessions: 3, useLocation: false, ...extra, ...opt, seed: first + s })));
  console.log(`${name}: ${r.bySession.map((x) => pct(x.within10)).join(' / ')}`);
}
