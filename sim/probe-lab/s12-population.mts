/**
 * Session 12 lab: how far could learning from earlier clients take first contact without coordinates?
 * Pseudo-clients: other clients' RTT vectors to the nodes (fraction `share` of them, each knowing only
 * `known` nodes: its best ones) and the nodes' own rows. Greedy: the first probe maximizes the pseudo-clients
 * it covers; each next one maximizes P(within 10%/5 ms of best) weighted by how well pseudo-clients match.
 * npx tsx sim/probe-lab/s12-population.mts DIR NODES SPLITS FIRSTSEED
 */
import { loadRealDataset } from '../real-data-eval.ts';
import { convergeNodes, splitHosts, SIM_DEFAULTS } from '../simulate-routing.ts';
import { pairRtt } from '../rtt-source.ts';
import { createRandom, randomExponential } from '../../api/core/routing/seeded-random.ts';

const [dir = 'wondernetwork-61', nodesArg = '15', splitsArg = '100', firstArg = '101', mode = 'all'] = process.argv.slice(2);
const { hosts, truth } = await loadRealDataset(dir);
const H = hosts.length;
let within = 0, n = 0, cover = 0;
const sig = (r: number) => 0.1 * r + 5;
for (let seed = +firstArg; seed < +firstArg + +splitsArg; seed++) {
  const { nodeHost, clientHosts } = splitHosts(H, +nodesArg, seed);
  const N = nodeHost.length;
  const T = clientHosts.map((h) => nodeHost.map((nh) => pairRtt(truth, h, nh)));
  const rows: number[][] = nodeHost.map((a) => nodeHost.map((b) => (a === b ? 1 : pairRtt(truth, a, b))));
  for (let c = 0; c < clientHosts.length; c++) {
    const t = T[c];
    const best = Math.min(...t.filter((x) => !Number.isNaN(x)));
    if (!(best < Infinity)) continue;
    const okFor = (v: number[], j: number) => { const b = Math.min(...v.filter((x) => !Number.isNaN(x))); return v[j] <= b * 1.1 || v[j] <= b + 5; };
    const pseudo: number[][] = [];
    if (mode !== 'nodes') for (let o = 0; o < T.length; o++) if (o !== c) pseudo.push(T[o]);
    if (mode !== 'clients') for (const r of rows) pseudo.push(r);
    const rng = createRandom(`p:${seed}:${c}`);
    const probed: number[] = [], rtt: number[] = [];
    for (let p = 0; p < Number(process.env.PROBES ?? 3); p++) {
      const w = pseudo.map((v) => { let ll = 0; for (let s = 0; s < probed.length; s++) { const x = v[probed[s]]; if (Number.isNaN(x)) continue; const z = (x - rtt[s]) / sig(rtt[s]); ll -= Math.log1p(z * z); } return Math.exp(ll); });
      let bj = -1, bs = -1;
      for (let j = 0; j < N; j++) {
        if (probed.includes(j)) continue;
        let s = 0;
        pseudo.forEach((v, q) => { const set = [...probed, j]; if (set.some((k) => !Number.isNaN(v[k]) && okFor(v, k))) s += w[q]; });
        if (s > bs) { bs = s; bj = j; }
      }
      probed.push(bj);
      rtt.push(t[bj] * (1 + 0.05 * randomExponential(rng)));
    }
    let pick = probed[0], pr = Infinity;
    probed.forEach((j, s) => { if (rtt[s] < pr) { pr = rtt[s]; pick = j; } });
    n++;
    if (t[pick] <= best * 1.1 || t[pick] <= best + 5) within++;
  }
}
console.log(dir, nodesArg, mode, `${(100 * within / n).toFixed(1)}% of ${n}`);
