import { generateTopology } from '../generate-topology.ts';
import { mergeSimReports, simulateRouting } from '../simulate-routing.ts';
const topo = generateTopology({ hosts: 490, seed: 7 });
const splits = Number(process.argv[2] ?? 36), first = Number(process.argv[3] ?? 1);
for (const c of [{ posteriorMinMeasured: 0 }, {}]) {
  const t = performance.now();
  const r = mergeSimReports(Array.from({ length: splits }, (_, s) => simulateRouting(topo.hosts, topo, { nodes: 60, neighbours: 16, clients: 150, probes: 3, sessions: 3, useLocation: false, seed: first + s, candidates: c })));
  console.log(JSON.stringify(c), r.bySession.map((x) => (100 * x.within10).toFixed(1)), `p95 ${r.tessera.p95Stretch.toFixed(2)}`, `${((performance.now() - t) / 1000).toFixed(0)} s`);
}
