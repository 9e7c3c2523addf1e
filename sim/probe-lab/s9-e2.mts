import { evalPolicy, currentExplorer, range, SETS } from './s9-lab.mts';
const seeds = range(101, 100);
const variants: [string, object][] = [
  ['lam 0,.25,.5,.75,1', { posteriorLambdas: [0, 0.25, 0.5, 0.75, 1] }],
  ['lam .1,.25,.5,.75,.9', { posteriorLambdas: [0.1, 0.25, 0.5, 0.75, 0.9] }],
  ['lam 0..1 by .125', { posteriorLambdas: [0, 0.125, 0.25, 0.375, 0.5, 0.625, 0.75, 0.875, 1] }],
  ['acc 1,5,15,40,100', { posteriorAccessMs: [1, 5, 15, 40, 100] }],
  ['min 2', { posteriorMinMeasured: 2 }],
];
for (const [ds, n] of SETS) for (const [name, c] of variants) console.log(ds, name.padEnd(24), await evalPolicy(ds, n, seeds, { explore: currentExplorer(c), reprobes: () => 1 }));
