import { evalPolicy, currentExplorer, range, SETS } from './s9-lab.mts';
const seeds = range(101, 100);
for (const [ds, n] of SETS) console.log(ds, process.env.S9_OBJ ?? 'within', await evalPolicy(ds, n, seeds, { explore: currentExplorer(), reprobes: () => 1, reprobeLast: 1 }));
