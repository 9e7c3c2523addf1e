import { writeFileSync } from 'node:fs';
import { evalPicker, current, range, type Ctx } from './lab.ts';
import { loadRealDataset } from '../real-data-eval.ts';
import { convergeNodes, splitHosts, SIM_DEFAULTS } from '../simulate-routing.ts';
import { pairRtt } from '../rtt-source.ts';
import { estimateRtt } from '../../api/core/routing/vivaldi.ts';
const first = Number(process.argv[2] ?? 101), count = Number(process.argv[3] ?? 100);
const out: Record<string, unknown[]> = {};
for (const [dir, n] of [['wondernetwork-61', 15], ['seattle-40', 10]] as const) {
  const { hosts, truth } = await loadRealDataset(dir);
  const rows: unknown[] = [];
  for (const seed of range(first, count)) {
    const { nodeHost, clientHosts } = splitHosts(hosts.length, n, seed);
    const { nodes, coords } = convergeNodes(hosts, truth, nodeHost, { ...SIM_DEFAULTS, seed, useLocation: false });
    const idOf = new Map(nodeHost.map((h, j) => [hosts[h].id, j]));
    const D: number[][] = nodeHost.map(() => nodeHost.map(() => NaN));
    nodes.forEach((nd, a) => { for (const id in nd.peerRttMs ?? {}) D[a][idOf.get(id)!] = nd.peerRttMs![id]; });
    const T = clientHosts.map((h) => nodeHost.map((nh) => pairRtt(truth, h, nh)));
    const perL: number[] = [];
    for (let L = 0; L < n; L++) {
      const r = await evalPicker(dir, n, [seed], (ctx: Ctx) => (_c: Ctx, m: Record<string, number>, lost: string[]) => Object.keys(m).length === 0 && lost.length === 0 ? ctx.nodes[L].id : current(ctx, m, lost), 1);
      perL.push(r[0].within);
    }
    const cur = (await evalPicker(dir, n, [seed], current, 1))[0].within;
    rows.push({ seed, D, T, E: coords.map((a) => coords.map((b) => estimateRtt(a, b))), perL, cur, curL: idOf.get(current({ nodes, N: n, D: new Float64Array() }, {}, [])!) });
  }
  out[dir] = rows;
  console.log(dir, 'done');
}
writeFileSync(`sim/probe-lab/perL-${first}.json`, JSON.stringify(out));
