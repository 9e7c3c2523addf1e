// Headroom of the explorer in the new flow (explore first, re-probe last only if nothing fresh beats the best): random and oracle explorers.
import { evalPolicy, currentExplorer, range, type Explorer, type Ctx } from './s9-lab.mts';
import { createRandom, randomInt } from '../../api/core/routing/seeded-random.ts';
const seeds = range(101, 100);
const rng = createRandom('s9-e4');
const random = (ctx: Ctx): Explorer => (c, measured, lost) => {
  const free = c.nodes.map((n) => n.id).filter((id) => !(id in measured) && !lost.includes(id));
  return free.length ? free[randomInt(rng, free.length)] : undefined;
};
const ds = 'seattle-40';
console.log(ds, 'coverage', await evalPolicy(ds, 10, seeds, { explore: currentExplorer(), reprobes: () => 1, reprobeLast: 1 }));
console.log(ds, 'random  ', await evalPolicy(ds, 10, seeds, { explore: random, reprobes: () => 1, reprobeLast: 1 }));
console.log(ds, 'bounded ', await evalPolicy(ds, 10, seeds, { explore: currentExplorer({ posteriorMinMeasured: 0 }), reprobes: () => 1, reprobeLast: 1 }));
