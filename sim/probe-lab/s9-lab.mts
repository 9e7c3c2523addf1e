/**
 * Session-policy lab (issue 15, s9): like lab.ts's evalPicker, with the re-probe rule and the explorer
 * pluggable, on the real fixtures without coordinates or PoPs. Tuning seeds only while exploring.
 */
import { pickProbeCandidates, locateClient, type CandidateOptions } from '../../api/core/routing/candidates.ts';
import { routeTask, type RouterNode } from '../../api/core/routing/router.ts';
import { createRandom, randomExponential } from '../../api/core/routing/seeded-random.ts';
import { loadRealDataset } from '../real-data-eval.ts';
import { convergeNodes, splitHosts, SIM_DEFAULTS } from '../simulate-routing.ts';
import { pairRtt } from '../rtt-source.ts';

export interface Ctx { nodes: readonly RouterNode[]; N: number; D: Float64Array; idOf: Map<string, number>; }
export type Explorer = (ctx: Ctx, measured: Record<string, number>, lost: string[], session: number) => string | undefined;
export interface Policy { explore: Explorer | ((ctx: Ctx) => Explorer); reprobes: (session: number, history: Record<string, number>) => number; sessions?: number;
  /** Re-probe after exploring, and only when no fresh RTT beats the remembered best by this factor (Infinity: never skip). */
  reprobeLast?: number }

export const currentExplorer = (c?: CandidateOptions): Explorer => (ctx, measured, lost) => pickProbeCandidates(ctx.nodes, { measuredRttMs: measured, exclude: lost }, 1, c)[0];

export async function evalPolicy(dir: string, nodesN: number, seeds: number[], pol: Policy) {
  const { hosts, truth } = await loadRealDataset(dir);
  const H = hosts.length;
  const sessions = pol.sessions ?? 3;
  const sess = Array.from({ length: sessions }, () => ({ within: 0, covered: 0, n: 0 }));
  for (const seed of seeds) {
    const { nodeHost, clientHosts } = splitHosts(H, nodesN, seed);
    const { nodes } = convergeNodes(hosts, truth, nodeHost, { ...SIM_DEFAULTS, seed, useLocation: false });
    const N = nodeHost.length;
    const idOf = new Map(nodeHost.map((h, j) => [hosts[h].id, j]));
    const D = new Float64Array(N * N).fill(NaN);
    nodes.forEach((n, a) => { for (const id in n.peerRttMs ?? {}) D[a * N + idOf.get(id)!] = n.peerRttMs![id]; });
    const ctx: Ctx = { nodes, N, D, idOf };
    const explore: Explorer = pol.explore.length === 1 ? (pol.explore as (c: Ctx) => Explorer)(ctx) : (pol.explore as Explorer);
    for (let c = 0; c < clientHosts.length; c++) {
      const h = clientHosts[c];
      const t = nodeHost.map((nh) => pairRtt(truth, h, nh));
      let best = Infinity;
      for (const x of t) if (x < best) best = x;
      if (!(best < Infinity)) continue;
      const ok = (j: number) => t[j] <= best * 1.1 || t[j] <= best + 5;
      const rng = createRandom(`client:${seed}:${c}`);
      let history: Record<string, number> = {};
      for (let s = 0; s < sessions; s++) {
        const measured: Record<string, number> = { ...history };
        const lost: string[] = [];
        let p = 0;
        const ping1 = (id: string) => {
          p++;
          const tt = t[idOf.get(id)!];
          const sample = Number.isNaN(tt) ? NaN : tt * (1 + 0.05 * randomExponential(rng));
          if (Number.isNaN(sample)) { lost.push(id); delete measured[id]; } else measured[id] = Math.min(sample, measured[id] ?? Infinity);
        };
        const rp = s > 0 ? pol.reprobes(s, history) : 0;
        if (s > 0 && pol.reprobeLast !== undefined) {
          while (p < 3 - rp) { const id = explore(ctx, measured, lost, s); if (id === undefined) break; ping1(id); }
          const b = Object.keys(history).sort((a, b) => history[a] - history[b])[0];
          const freshBest = Math.min(...Object.keys(measured).filter((id) => !(id in history) || false).map((id) => measured[id]));
          if (b !== undefined && rp > 0 && !(freshBest * pol.reprobeLast < history[b])) ping1(b);
        } else if (s > 0) {
          const b = Object.keys(history).sort((a, b) => history[a] - history[b]).slice(0, pol.reprobes(s, history));
          for (const id of b) ping1(id);
        }
        while (p < 3) {
          const id = explore(ctx, measured, lost, s);
          if (id === undefined) break;
          ping1(id);
        }
        const coord = locateClient(nodes, { measuredRttMs: measured });
        const d = routeTask(nodes, { client: { measuredRttMs: measured, coord }, taskPixels: 65536 }, rng);
        const chosen = d ? idOf.get(d.nodeId)! : -1;
        sess[s].n++;
        if (chosen >= 0 && ok(chosen)) sess[s].within++;
        if (Object.keys(measured).some((id) => ok(idOf.get(id)!))) sess[s].covered++;
        history = measured;
      }
    }
  }
  return sess.map((x) => `${(100 * x.within / x.n).toFixed(1)}/${(100 * x.covered / x.n).toFixed(1)}`).join('  ');
}

export const range = (a: number, n: number) => Array.from({ length: n }, (_, i) => a + i);
export const SETS = [['seattle-40', 10], ['wondernetwork-61', 15]] as const;
