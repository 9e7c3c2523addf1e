/**
 * `npm run bench:route`: how fast latency routing is, at internet scale.
 *   1. decision time: routeTask over 10,000 registered nodes (varied cards, loads, health; real converged
 *      coordinates; clients that pinged 3 nodes), p50/p99/max, on a frozen snapshot (freezeRouterNodes:
 *      what the target applies to) and on a live array of node objects;
 *      and the probe-candidate search (pickProbeCandidates, locateClient) at the same scale;
 *   2. the simulator on a synthetic internet of 10,000 nodes × 100,000 clients (split across worker threads);
 *   3. routing quality on smaller synthetic internets, with and without lat/lon (the table of the issue).
 * Decision times: one untimed warm-up round over all clients, then `--rounds` timed rounds; each decision's
 * wall time and the process's CPU time over it (process.cpuUsage: time other processes take from the cores
 * does not count, so the CPU figure holds on a shared machine; GC and this process's own work do count).
 * p50/p99 over all timed decisions, and the median of the rounds' p99s (one round preempted by another
 * process does not move it).
 * Prints tables, writes bench/results/route-<timestamp>.json and route-latest.json.
 * Options: --nodes 10000 --clients 100000 --workers 2 --decisions 5000 --rounds 5 --seed 1 --no-quality
 *          --decisions-only (part 1 only) --results-dir DIR
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { cpus, loadavg, totalmem } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { locateClient, pickProbeCandidates } from '../api/core/routing/candidates.ts';
import { createRouterNode, freezeRouterNodes, routeTask, type ClientView, type RouterNode } from '../api/core/routing/router.ts';
import { createRandom, randomInt } from '../api/core/routing/seeded-random.ts';
import { edgeRttView, recordEdgeRtt, type EdgeRttRow } from '../api/core/routing/edge-rtts.ts';
import { generateTopology } from '../sim/generate-topology.ts';
import { pairRtt } from '../sim/rtt-source.ts';
import { convergeNodes, hostLocation, mergeSimReports, METHODS, simulateRouting, splitHosts, type SimOptions, type SimReport } from '../sim/simulate-routing.ts';
import type { NodeCard } from '../api/protocol/node-card.ts';
import { startCpuMonitor } from './cpu-contention.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
/** Targets from the routing issue. */
const TARGETS = { decisionP99Ms: 1, simSeconds: 120, within10: 0.95 };

interface WorkerJob {
  topology: { hosts: number; seed: number };
  sim: SimOptions;
}


function quantiles(times: number[]): { p50: number; p99: number; max: number; mean: number } {
  const s = [...times].sort((a, b) => a - b);
  const at = (q: number) => s[Math.min(s.length - 1, Math.floor(q * s.length))];
  return { p50: at(0.5), p99: at(0.99), max: s[s.length - 1], mean: s.reduce((a, b) => a + b, 0) / s.length };
}

function pad(rows: string[][]): string {
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => (r[c] ?? '').length)));
  return rows.map((r) => r.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]) : cell.padStart(widths[c]))).join('  ')).join('\n');
}

const ms = (x: number) => (x < 1 ? `${(x * 1000).toFixed(0)} µs` : `${x.toFixed(2)} ms`);
const pct = (x: number) => `${(100 * x).toFixed(1)}%`;

async function main(): Promise<void> {
  const { values: args } = parseArgs({
    options: {
      nodes: { type: 'string', default: '10000' },
      clients: { type: 'string', default: '100000' },
      workers: { type: 'string', default: '2' },
      decisions: { type: 'string', default: '5000' },
      rounds: { type: 'string', default: '5' },
      'decisions-only': { type: 'boolean', default: false },
      seed: { type: 'string', default: '1' },
      'no-quality': { type: 'boolean', default: false },
      'results-dir': { type: 'string', default: join(ROOT, 'bench', 'results') },
    },
  });
  const N = Number(args.nodes);
  const C = Number(args.clients);
  const workers = Math.max(1, Number(args.workers));
  const decisions = Number(args.decisions);
  const timedRounds = Math.max(1, Number(args.rounds));
  const seed = Number(args.seed);
  const log = (line: string) => process.stderr.write(line + '\n');
  const started = new Date();
  const monitor = startCpuMonitor();
  const mark0 = monitor.mark();

  // ---- 1. decision time ----
  log(`[route] converging coordinates of ${N} nodes for the decision benchmark…`);
  const topo = generateTopology({ hosts: N + 2000, seed });
  const { nodeHost, clientHosts } = splitHosts(topo.hosts.length, N, seed);
  const converged = convergeNodes(topo.hosts, topo, nodeHost, { seed });
  const rng = createRandom(`bench:${seed}`);
  const regions = ['us-east', 'us-west', 'eu-west', 'eu-central', 'ap-south', 'ap-east', 'sa-east'];
  const cardFor = (i: number): NodeCard => ({
    name: `node-${i}`,
    region: regions[i % regions.length],
    version: 'bench',
    cpu: { model: 'bench', cores: 4 + (i % 4) * 4 },
    ramBytes: (4 + (i % 8) * 8) * 2 ** 30,
    gl: { renderer: 'bench', vendor: 'bench', version: '1', maxTextureSize: i % 5 === 0 ? 4096 : 16384, maxViewport: [16384, 16384] },
    tilesPerSecond: 2 + (i % 13),
    concurrency: 1 + (i % 4),
  });
  const varied: RouterNode[] = converged.nodes.map((n, i) =>
    createRouterNode({
      ...n,
      card: cardFor(i),
      healthy: rng() > 0.05,
      load: { queued: randomInt(rng, 6), running: randomInt(rng, 3), concurrency: 1 + (i % 4) },
    }),
  );
  const frozen = freezeRouterNodes(varied);
  const indexOf = new Map(varied.map((n, i) => [n.id, i]));
  const clients: ClientView[] = [];
  const pickTimes: number[] = [];
  const locateTimes: number[] = [];
  // A PoP's own row (routing/edge-rtts.ts): one host as the PoP, its RTTs to the nodes, capped to the nearest
  // maxNodesPerPop as the API keeps them; a first pick from it (no location, no measurement) is timed too.
  const popHost = clientHosts[clientHosts.length - 1];
  let popRow: EdgeRttRow = {};
  for (let j = 0; j < N; j++) {
    const t = pairRtt(topo, popHost, nodeHost[j]);
    if (!Number.isNaN(t)) popRow = recordEdgeRtt(popRow, varied[j].id, Math.max(0.5, t), 0);
  }
  const popRtts = edgeRttView(popRow, 0);
  const edgePickTimes: number[] = [];
  // The same nodes with no location (no geo lines): a client that knows nothing probes by profile matching
  // against the measured matrix (its first pick: the landmark learned once per node array; later picks: triangle
  // bounds on the probed nodes' peers, coordinate estimates for pairs nobody measured).
  const unlocated = freezeRouterNodes(varied.map((n) => createRouterNode({ ...n, location: undefined, geoLine: undefined })));
  pickProbeCandidates(unlocated, { measuredRttMs: {} }, 1);
  const blindPickTimes: number[] = [];
  // A returning client without a location (3 to 5 RTTs kept): its picks rank a shortlist by coverage over pseudo-clients.
  const returningPickTimes: number[] = [];
  const edgeClients: ClientView[] = [];
  for (let c = 0; c < Math.min(decisions, clientHosts.length); c++) {
    const h = clientHosts[c % clientHosts.length];
    const location = hostLocation(topo.hosts[h]);
    const measured: Record<string, number> = {};
    for (let p = 0; p < 3; p++) {
      const t = performance.now();
      const [id] = pickProbeCandidates(frozen, { measuredRttMs: measured, location }, 1);
      pickTimes.push(performance.now() - t);
      measured[id] = pairRtt(topo, h, nodeHost[indexOf.get(id)!]);
    }
    const blind: Record<string, number> = {};
    for (let p = 0; p < 6; p++) {
      const t = performance.now();
      const [id] = pickProbeCandidates(unlocated, { measuredRttMs: blind }, 1);
      (p < 3 ? blindPickTimes : returningPickTimes).push(performance.now() - t);
      blind[id] = pairRtt(topo, h, nodeHost[indexOf.get(id)!]);
    }
    const toPop = pairRtt(topo, h, popHost);
    if (!Number.isNaN(toPop)) {
      const t0 = performance.now();
      pickProbeCandidates(frozen, { measuredRttMs: {}, edge: { pop: 'bench', rttMs: Math.max(0.5, toPop), nodeRttMs: popRtts } }, 1);
      edgePickTimes.push(performance.now() - t0);
    }
    const t = performance.now();
    const coord = locateClient(frozen, { measuredRttMs: measured, location });
    locateTimes.push(performance.now() - t);
    clients.push({ measuredRttMs: measured, coord });
    // The same client as a job brings it: with its PoP and RTT to it, the PoP's row bounding the other nodes.
    edgeClients.push({ measuredRttMs: measured, coord, edge: { pop: 'bench', rttMs: Math.max(0.5, Number.isNaN(toPop) ? 50 : toPop), nodeRttMs: popRtts } });
  }
  const clientsMeasured = clients;
  const requirements = [undefined, { minRamBytes: 16 * 2 ** 30 }, { minTextureSize: 8192, deniedRegions: ['ap-east'] }, { allowedRegions: ['eu-west', 'eu-central'], maxRttMs: 150 }];
  const timeDecisions = (nodes: readonly RouterNode[], clients: readonly ClientView[] = clientsMeasured) => {
    const wall: number[] = [];
    const cpu: number[] = [];
    const roundP99: number[] = [];
    const roundCpuP99: number[] = [];
    let routed = 0;
    for (let round = 0; round <= timedRounds; round++) {
      // Round 0 warms the JIT (and the node index) up; the others are timed.
      const w: number[] = [];
      const c: number[] = [];
      for (let k = 0; k < clients.length; k++) {
        const c0 = process.cpuUsage();
        const t = performance.now();
        const d = routeTask(nodes, { client: clients[k], taskPixels: 256 * 256, requirements: requirements[k % requirements.length] }, rng);
        const dt = performance.now() - t;
        const dc = process.cpuUsage(c0);
        if (round > 0) {
          w.push(dt);
          c.push((dc.user + dc.system) / 1000);
          if (d) routed++;
        }
      }
      if (round === 0) continue;
      wall.push(...w);
      cpu.push(...c);
      roundP99.push(quantiles(w).p99);
      roundCpuP99.push(quantiles(c).p99);
    }
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
    return { ...quantiles(wall), cpu: quantiles(cpu), medianRoundP99: median(roundP99), medianRoundCpuP99: median(roundCpuP99), rounds: timedRounds, decisions: wall.length, routed };
  };
  const decisionFrozen = timeDecisions(frozen);
  const decisionPlain = timeDecisions(varied);
  const decisionEdge = timeDecisions(frozen, edgeClients);
  const pick = quantiles(pickTimes);
  const edgePick = quantiles(edgePickTimes);
  const blindPick = quantiles(blindPickTimes);
  const returningPick = quantiles(returningPickTimes);
  const locate = quantiles(locateTimes);
  log('');
  const decisionOthersPct = monitor.othersPct(mark0, monitor.mark());
  log(`Routing decision with ${N} registered nodes (${decisionFrozen.decisions} timed decisions: ${timedRounds} rounds of ${clients.length} after a warm-up round; 5% unhealthy, mixed cards/loads/requirements)`);
  log(
    pad([
      ['operation', 'p50', 'p99', 'median round p99', 'max', 'CPU p50', 'CPU p99', 'median round CPU p99', 'target'],
      ...([['routeTask (frozen snapshot)', decisionFrozen, `p99 ≤ ${TARGETS.decisionP99Ms} ms`], [`routeTask (frozen, client's PoP row of ${Object.keys(popRtts).length})`, decisionEdge, '(informative)'], ['routeTask (live array)', decisionPlain, '(informative)']] as const).map(([name, d, target]) => [
        name, ms(d.p50), ms(d.p99), ms(d.medianRoundP99), ms(d.max), ms(d.cpu.p50), ms(d.cpu.p99), ms(d.medianRoundCpuP99), target,
      ]),
      ['pickProbeCandidates (k=1)', ms(pick.p50), ms(pick.p99), '', ms(pick.max), '', '', '', ''],
      [`pickProbeCandidates (k=1, PoP row of ${Object.keys(popRtts).length})`, ms(edgePick.p50), ms(edgePick.p99), '', ms(edgePick.max), '', '', '', ''],
      ['pickProbeCandidates (k=1, no locations: profile matching)', ms(blindPick.p50), ms(blindPick.p99), '', ms(blindPick.max), '', '', '', ''],
      ['pickProbeCandidates (k=1, no locations, 3–5 RTTs kept: coverage)', ms(returningPick.p50), ms(returningPick.p99), '', ms(returningPick.max), '', '', '', ''],
      ['locateClient (3 RTTs)', ms(locate.p50), ms(locate.p99), '', ms(locate.max), '', '', '', ''],
    ]),
  );
  if (decisionOthersPct !== null) log(`(other processes used ${decisionOthersPct.toFixed(0)}% of the CPUs meanwhile: wall-clock figures include their preemptions, CPU figures do not)`);
  if (args['decisions-only']) {
    const met = decisionFrozen.medianRoundCpuP99 <= TARGETS.decisionP99Ms;
    log(`${met ? 'MET   ' : 'MISSED'} decision p99 (frozen snapshot, ${N} nodes, median round CPU p99): ${decisionFrozen.medianRoundCpuP99.toFixed(3)} ms (≤ ${TARGETS.decisionP99Ms} ms)`);
    await monitor.stop();
    const result = {
      startedAt: started.toISOString(),
      finishedAt: new Date().toISOString(),
      host: { cpus: cpus().length, cpuModel: cpus()[0]?.model ?? '', memGiB: Math.round(totalmem() / 2 ** 30), node: process.version, loadavg: loadavg(), othersCpuPctDuringDecisions: decisionOthersPct },
      options: { nodes: N, decisions, rounds: timedRounds, seed, decisionsOnly: true },
      decision: { nodes: N, frozen: decisionFrozen, frozenWithPopRow: decisionEdge, plain: decisionPlain, pickProbeCandidates: pick, pickWithPopRow: edgePick, pickUnlocated: blindPick, pickUnlocatedReturning: returningPick, locateClient: locate },
    };
    await mkdir(args['results-dir']!, { recursive: true });
    const stamp = started.toISOString().replace(/[:.]/g, '-').replace(/-\d{3}Z$/, 'Z');
    const json = JSON.stringify(result, null, 2) + '\n';
    await writeFile(join(args['results-dir']!, `route-decisions-${stamp}.json`), json);
    await writeFile(join(args['results-dir']!, 'route-decisions-latest.json'), json);
    log(`wrote ${join(args['results-dir']!, `route-decisions-${stamp}.json`)} and route-decisions-latest.json`);
    return;
  }

  // ---- 2. the simulator at scale ----
  log('');
  log(`[route] simulating ${N} nodes × ${C} clients on ${workers} worker thread(s)…`);
  const markSim0 = monitor.mark();
  const t0 = performance.now();
  const job = (index: number): WorkerJob => ({ topology: { hosts: N + C, seed }, sim: { nodes: N, seed, shard: { index, count: workers } } });
  const reports = await Promise.all(
    Array.from(
      { length: workers },
      (_, i) =>
        new Promise<SimReport>((resolve, reject) => {
          // tsx's loader does not follow into worker threads: register it there, then load this file.
          const boot = `import('tsx/esm/api').then((m) => { m.register(); return import(${JSON.stringify(import.meta.url)}); });`;
          const w = new Worker(boot, { eval: true, workerData: job(i) });
          w.once('message', resolve);
          w.once('error', reject);
          w.once('exit', (code) => code !== 0 && reject(new Error(`simulation worker ${i} exited with code ${code}`)));
        }),
    ),
  );
  const simWallS = (performance.now() - t0) / 1000;
  const othersPct = monitor.othersPct(markSim0, monitor.mark());
  const big = mergeSimReports(reports);
  log(`Simulator: ${N} nodes × ${big.setup.clients} clients in ${simWallS.toFixed(1)} s wall (target < ${TARGETS.simSeconds} s); converge ${(big.timing.convergeMs / 1000).toFixed(1)} s per worker, route ${(big.timing.routeMs / 1000).toFixed(1)} s`);
  log(pad([['method', 'within 10%/5 ms', 'median stretch', 'p95 stretch'], ...METHODS.map((m) => [m, pct(big[m].within10), big[m].medianStretch.toFixed(2), big[m].p95Stretch.toFixed(2)])]));
  if (othersPct !== null) log(`(other processes used ${othersPct.toFixed(0)}% of the CPUs meanwhile)`);

  // ---- 3. quality at smaller sizes ----
  type LocationMode = 'all' | 'nodes only' | 'none';
  const quality: { hosts: number; nodes: number; location: LocationMode; probes: number; report: Omit<SimReport, 'tallies'> }[] = [];
  if (!args['no-quality']) {
    log('');
    log('[route] routing quality on smaller synthetic internets…');
    const sizes = [
      { hosts: 1000, nodes: 60 },
      { hosts: 2000, nodes: 200 },
      { hosts: 6000, nodes: 1000 },
    ];
    for (const size of sizes) {
      const t = generateTopology({ hosts: size.hosts, seed });
      for (const location of ['all', 'nodes only', 'none'] as const) {
        const { tallies: _t, ...report } = simulateRouting(t.hosts, t, { nodes: size.nodes, seed, useLocation: location !== 'none', clientLocation: location === 'all', clients: 3000 });
        quality.push({ ...size, location, probes: 3, report });
      }
    }
    log(
      pad([
        ['hosts', 'nodes', 'lat/lon known for', 'Tessera', 'geo', 'coords only', 'random', 'Tessera p95', 'geo p95'],
        ...quality.map((q) => [
          String(q.hosts),
          String(q.nodes),
          q.location,
          pct(q.report.tessera.within10),
          q.location === 'all' ? pct(q.report.geo.within10) : '—',
          pct(q.report.coordsOnly.within10),
          pct(q.report.random.within10),
          q.report.tessera.p95Stretch.toFixed(2),
          q.location === 'all' ? q.report.geo.p95Stretch.toFixed(2) : '—',
        ]),
      ]),
    );
  }

  const targets = [
    { name: `decision p99 (frozen snapshot, ${N} nodes, median round CPU p99)`, required: `≤ ${TARGETS.decisionP99Ms} ms`, measured: decisionFrozen.medianRoundCpuP99, met: decisionFrozen.medianRoundCpuP99 <= TARGETS.decisionP99Ms },
    { name: `decision p99 (frozen snapshot, ${N} nodes, wall clock)`, required: `≤ ${TARGETS.decisionP99Ms} ms`, measured: decisionFrozen.p99, met: decisionFrozen.p99 <= TARGETS.decisionP99Ms },
    { name: `simulator ${N} × ${C} wall time (s)`, required: `< ${TARGETS.simSeconds} s`, measured: simWallS, met: simWallS < TARGETS.simSeconds },
    { name: 'Tessera within 10%/5 ms at scale', required: `≥ ${TARGETS.within10}`, measured: big.tessera.within10, met: big.tessera.within10 >= TARGETS.within10 },
  ];
  log('');
  for (const t of targets) log(`${t.met ? 'MET   ' : 'MISSED'} ${t.name}: ${typeof t.measured === 'number' ? t.measured.toFixed(3) : t.measured} (${t.required})`);

  const { tallies: _omit, ...bigReport } = big;
  const result = {
    startedAt: started.toISOString(),
    finishedAt: new Date().toISOString(),
    host: { cpus: cpus().length, cpuModel: cpus()[0]?.model ?? '', memGiB: Math.round(totalmem() / 2 ** 30), node: process.version, loadavg: loadavg(), othersCpuPctDuringSim: othersPct, othersCpuPctWhole: monitor.othersPct(mark0, monitor.mark()) },
    options: { nodes: N, clients: C, workers, decisions, seed },
    decision: { nodes: N, frozen: decisionFrozen, frozenWithPopRow: decisionEdge, plain: decisionPlain, pickProbeCandidates: pick, pickWithPopRow: edgePick, pickUnlocated: blindPick, pickUnlocatedReturning: returningPick, locateClient: locate },
    simulator: { wallS: simWallS, workers, report: bigReport },
    quality,
    targets,
  };
  await monitor.stop();
  await mkdir(args['results-dir']!, { recursive: true });
  const stamp = started.toISOString().replace(/[:.]/g, '-').replace(/-\d{3}Z$/, 'Z');
  const json = JSON.stringify(result, null, 2) + '\n';
  await writeFile(join(args['results-dir']!, `route-${stamp}.json`), json);
  await writeFile(join(args['results-dir']!, 'route-latest.json'), json);
  log(`\nwrote ${join(args['results-dir']!, `route-${stamp}.json`)} and route-latest.json`);
}

// Worker threads run one shard of the big simulation; the main thread runs everything else.
if (!isMainThread) {
  const job = workerData as WorkerJob;
  const topo = generateTopology(job.topology);
  const report = simulateRouting(topo.hosts, topo, job.sim);
  parentPort!.postMessage(report);
} else {
  await main();
}
