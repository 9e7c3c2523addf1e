/**
 * `npx tsx sim/real-data-eval.ts`: routing on the real RTT fixtures in test/routing/data, every scenario
 * of the routing issue, 20 splits (seeds 1–20) merged per row: the tables docs/routing.md
 * shows (the README's routing section keeps the goals). Accuracy only (no timing), so figures do not depend on how busy the machine is.
 * Options: --splits 20 --sessions 3 --reprobe JSON (ReprobeOptions, e.g. '{"stableFactor":0}') --session-gap-min 1440 (time between a client's sessions) --json --only wondernetwork-61|seattle-40|seattle-99 --scenario TEXT (rows whose name or options contain it)
 *          --out FILE (the figures as JSON, with the datasets, splits and seeds: bench/results/routing-real-latest.json)
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { parseHostsCsv, parseRttCsv } from './routing-csv.ts';
import type { RttSource } from './rtt-source.ts';
import { mergeSimReports, simulateRouting, type SimOptions, type SimReport } from './simulate-routing.ts';

const DATA = fileURLToPath(new URL('../test/routing/data/', import.meta.url));

/** A real fixture and the scenarios that apply to it. */
export interface RealDataset {
  dir: string;
  nodes: number;
  /**
   * `slices`: real drift, the client's sessions on these published time slices of the matrix (files under the
   * fixture's folder: from × to in seconds, 0 = not measured), one per session; that row's session-1 figure is
   * on the first slice (every other row's on rtt.csv).
   */
  scenarios: { name: string; options: SimOptions; slices?: string[] }[];
}

export const REAL_DATASETS: RealDataset[] = [
  {
    dir: 'wondernetwork-61',
    nodes: 15,
    scenarios: [
      { name: 'located clients and nodes', options: {} },
      { name: 'same, --no-api-landmark', options: { apiLandmark: false } },
      { name: 'no coordinates, no PoPs (the API is the one landmark, a Node API\'s default)', options: { useLocation: false } },
      { name: 'no coordinates, no landmark at all (--no-api-landmark)', options: { useLocation: false, apiLandmark: false } },
      { name: 'no coordinates, --edge-pops 30 --no-edge-rtts', options: { useLocation: false, edgePops: 30, edgeRtts: false } },
      { name: 'same, --anycast-error 0.1', options: { useLocation: false, edgePops: 30, anycastError: 0.1, edgeRtts: false } },
      { name: 'no coordinates, --edge-pops 30 --no-edge-rtts --pop-learning', options: { useLocation: false, edgePops: 30, edgeRtts: false, popLearning: true } },
      { name: 'same, --anycast-error 0.1', options: { useLocation: false, edgePops: 30, anycastError: 0.1, edgeRtts: false, popLearning: true } },
      { name: 'no coordinates, --edge-pops 30 (the edge times nodes, default)', options: { useLocation: false, edgePops: 30, edgeRtts: true } },
      { name: 'same, --anycast-error 0.1', options: { useLocation: false, edgePops: 30, anycastError: 0.1, edgeRtts: true } },
      { name: 'no coordinates, --edge-pops 30 --pop-learning', options: { useLocation: false, edgePops: 30, edgeRtts: true, popLearning: true } },
    ],
  },
  {
    dir: 'seattle-40',
    nodes: 10,
    scenarios: [
      { name: 'no coordinates, no PoPs (the API is the one landmark, a Node API\'s default)', options: { useLocation: false } },
      { name: 'no coordinates, no landmark at all (--no-api-landmark)', options: { useLocation: false, apiLandmark: false } },
      { name: 'no coordinates, --edge-pops 20 --no-edge-rtts', options: { useLocation: false, edgePops: 20, edgeRtts: false } },
      { name: 'same, --anycast-error 0.1', options: { useLocation: false, edgePops: 20, anycastError: 0.1, edgeRtts: false } },
      { name: 'no coordinates, --edge-pops 20 --no-edge-rtts --pop-learning', options: { useLocation: false, edgePops: 20, edgeRtts: false, popLearning: true } },
      { name: 'same, --anycast-error 0.1', options: { useLocation: false, edgePops: 20, anycastError: 0.1, edgeRtts: false, popLearning: true } },
      { name: 'no coordinates, --edge-pops 20 (the edge times nodes, default)', options: { useLocation: false, edgePops: 20, edgeRtts: true } },
      { name: 'same, --anycast-error 0.1', options: { useLocation: false, edgePops: 20, anycastError: 0.1, edgeRtts: true } },
      { name: 'no coordinates, --edge-pops 20 --pop-learning', options: { useLocation: false, edgePops: 20, edgeRtts: true, popLearning: true } },
      { name: 'no coordinates, no PoPs, sessions on time slices 1 / 344 / 688 (real drift)', options: { useLocation: false }, slices: [1, 344, 688].map((k) => `raw/SeattleData_${k}.first40.csv`) },
    ],
  },
  {
    // The whole Seattle set (seattle-40 is its first 40 hosts): 25 nodes, 74 clients per split, the many-node case.
    dir: 'seattle-99',
    nodes: 25,
    scenarios: [
      { name: 'no coordinates, no PoPs (the API is the one landmark, a Node API\'s default)', options: { useLocation: false } },
      { name: 'no coordinates, no landmark at all (--no-api-landmark)', options: { useLocation: false, apiLandmark: false } },
      { name: 'no coordinates, --edge-pops 50 --no-edge-rtts', options: { useLocation: false, edgePops: 50, edgeRtts: false } },
      { name: 'no coordinates, --edge-pops 50 (the edge times nodes, default)', options: { useLocation: false, edgePops: 50, edgeRtts: true } },
      { name: 'same, --anycast-error 0.1', options: { useLocation: false, edgePops: 50, anycastError: 0.1, edgeRtts: true } },
    ],
  },
];

async function* text(t: string) {
  yield t;
}

/** Loads a fixture: its hosts and RTT source. */
export async function loadRealDataset(dir: string) {
  const hosts = parseHostsCsv(readFileSync(join(DATA, dir, 'hosts.csv'), 'utf8'));
  const truth = await parseRttCsv(text(readFileSync(join(DATA, dir, 'rtt.csv'), 'utf8')), hosts);
  return { hosts, truth };
}

/** A published time slice: a square matrix, rows from, columns to, RTTs in seconds, 0 off the diagonal: not measured. */
export function loadSlice(dir: string, file: string, size: number): RttSource {
  const rows = readFileSync(join(DATA, dir, file), 'utf8').trim().split('\n').map((l) => l.split(',').map(Number));
  if (rows.length !== size || rows.some((r) => r.length !== size)) throw new Error(`${dir}/${file}: expected a ${size}×${size} matrix`);
  return { size, rtt: (a, b) => (a === b ? 0 : rows[a][b] > 0 && Number.isFinite(rows[a][b]) ? rows[a][b] * 1000 : NaN) };
}

/** One scenario over `splits` seeded splits, merged. */
export function runSplits(hosts: Parameters<typeof simulateRouting>[0], truth: Parameters<typeof simulateRouting>[1], options: SimOptions, splits: number, firstSeed = 1): SimReport {
  return mergeSimReports(Array.from({ length: splits }, (_, s) => simulateRouting(hosts, truth, { probes: 3, ...options, seed: firstSeed + s })));
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { splits: { type: 'string', default: '20' }, sessions: { type: 'string', default: '3' }, json: { type: 'boolean', default: false }, only: { type: 'string' }, candidates: { type: 'string' }, seed: { type: 'string', default: '1' }, scenario: { type: 'string' }, out: { type: 'string' }, 'session-gap-min': { type: 'string' }, reprobe: { type: 'string' } } });
  const gap = values['session-gap-min'] === undefined ? {} : { sessionGapMs: Number(values['session-gap-min']) * 60_000 };
  const splits = Number(values.splits);
  const sessions = Number(values.sessions);
  const pct = (x: number) => `${(100 * x).toFixed(1)}%`;
  const out: Record<string, Record<string, unknown>> = {};
  for (const ds of REAL_DATASETS) {
    if (values.only && values.only !== ds.dir) continue;
    const { hosts, truth } = await loadRealDataset(ds.dir);
    console.log(`\n${ds.dir}: ${hosts.length} hosts, ${ds.nodes} nodes, 3 pings, ${splits} splits (seeds ${values.seed}–${Number(values.seed) + splits - 1})${values['session-gap-min'] === undefined ? '' : `, sessions ${values['session-gap-min']} min apart`}`);
    console.log('| within 10%/5 ms (p95 stretch) | Tessera, session 1 | session 2 | session 3 | geo top-3 + 3 probes | geo-nearest | clients whose PoP learned |');
    console.log('|---|---|---|---|---|---|---|');
    for (const sc of ds.scenarios) {
      if (values.scenario && !sc.name.includes(values.scenario) && !JSON.stringify(sc.options).includes(values.scenario)) continue;
      const slices = sc.slices?.map((f) => loadSlice(ds.dir, f, hosts.length));
      const r = runSplits(hosts, truth, { nodes: ds.nodes, sessions, ...gap, ...sc.options, ...(slices ? { sessionTruths: slices } : {}), ...(values.candidates ? { candidates: JSON.parse(values.candidates) } : {}), ...(values.reprobe ? { reprobe: JSON.parse(values.reprobe) } : {}) }, splits, Number(values.seed));
      const s = r.bySession;
      const first = slices ? s[0] : r.tessera;
      console.log(`| ${sc.name} | ${pct(first.within10)} (${first.p95Stretch.toFixed(2)}) | ${s[1] ? pct(s[1].within10) : '—'} | ${s[2] ? pct(s[2].within10) : '—'} | ${slices ? '—' : `${pct(r.geoTop3.within10)} (${r.geoTop3.p95Stretch.toFixed(2)})`} | ${slices ? '—' : `${pct(r.geo.within10)} (${r.geo.p95Stretch.toFixed(2)})`} | ${sc.options.popLearning ? pct(r.edge.withPrior / r.setup.clients) : '—'} |`);
      // "same, ..." rows share a name: keyed by their options too, so none overwrites another.
      const key = sc.name.startsWith('same,') ? `${ds.dir}: ${sc.name} ${JSON.stringify(sc.options)}` : `${ds.dir}: ${sc.name}`;
      out[key] = { ...(sc.slices ? { slices: sc.slices } : {}), tessera: first, bySession: s.map((x) => x.within10), geoTop3: r.geoTop3, geo: r.geo, coordsOnly: r.coordsOnly.within10 };
    }
  }
  if (values.json) console.log(JSON.stringify(out, null, 1));
  if (values.out) {
    const datasets = REAL_DATASETS.filter((ds) => !values.only || values.only === ds.dir).map((ds) => ({
      dir: `test/routing/data/${ds.dir}`,
      source: readFileSync(join(DATA, ds.dir, 'README.md'), 'utf8').split('\n')[0].replace(/^#\s*/, ''),
      nodes: ds.nodes,
    }));
    const report = {
      what: 'routing on real RTT matrices: share of clients within 10% (or 5 ms) of their best node, p95 stretch, by session (sim/real-data-eval.ts)',
      at: new Date().toISOString(),
      probes: 3,
      splits: Number(values.splits),
      sessionGapMin: values['session-gap-min'] === undefined ? 1440 : Number(values['session-gap-min']),
      seeds: [Number(values.seed), Number(values.seed) + Number(values.splits) - 1],
      sessions,
      datasets,
      scenarios: out,
    };
    writeFileSync(values.out, JSON.stringify(report, null, 1) + '\n');
    console.log(`wrote ${values.out}`);
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) await main();
