import { evalPolicy, currentExplorer, range, SETS } from './s9-lab.mts';
const seeds = range(101, 100);
for (const [ds, n] of SETS) {
  console.log(ds, 'first (current)  ', await evalPolicy(ds, n, seeds, { explore: currentExplorer(), reprobes: () => 1 }));
  console.log(ds, 'last, always     ', await evalPolicy(ds, n, seeds, { explore: currentExplorer(), reprobes: () => 1, reprobeLast: 0 }));
  console.log(ds, 'last, skip if <  ', await evalPolicy(ds, n, seeds, { explore: currentExplorer(), reprobes: () => 1, reprobeLast: 1 }));
  console.log(ds, 'last, skip if <.9', await evalPolicy(ds, n, seeds, { explore: currentExplorer(), reprobes: () => 1, reprobeLast: 1 / 0.9 }));
}
