import { evalPolicy, currentExplorer, range, SETS } from './s9-lab.mts';
const seeds = range(101, 100);
for (const [ds, n] of SETS) {
  console.log(ds, 'current       ', await evalPolicy(ds, n, seeds, { explore: currentExplorer(), reprobes: () => 1 }));
  console.log(ds, 'reprobe 0     ', await evalPolicy(ds, n, seeds, { explore: currentExplorer(), reprobes: () => 0 }));
  console.log(ds, 'bounded rp0   ', await evalPolicy(ds, n, seeds, { explore: currentExplorer({ posteriorMinMeasured: 0 }), reprobes: () => 0 }));
}
