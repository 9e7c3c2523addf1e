import { Command } from 'commander';
import { once } from 'node:events';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { TesseraError } from '../../api/protocol/errors.ts';
import { generateTopology, hostsCsv, rttCsvChunks, TOPOLOGY_DEFAULTS, type TopologyOptions } from '../../sim/generate-topology.ts';
import { parseHostsCsv, parseRttCsv } from '../../sim/routing-csv.ts';
import { REAL_MATRIX_TARGETS, topologyStats, type Quantiles, type TopologyStats } from '../../sim/topology-stats.ts';
import { METHODS, simulateRouting, SIM_DEFAULTS, type MethodResult, type SimReport } from '../../sim/simulate-routing.ts';

/** The methods `--json` prints at its top level. */
const JSON_METHODS = ['tessera', 'geo', 'random', 'coordsOnly', 'oracle'] as const;

/** Hosts `sim gen` writes at most: RTT.csv has hosts² lines (5,000 hosts ≈ 25 M lines, ~0.6 GB). */
const GEN_MAX_HOSTS = 5000;

const integer = (name: string, min: number, max: number) => (text: string) => {
  const n = Number(text);
  if (!Number.isInteger(n) || n < min || n > max) throw new RangeError(`--${name} is a whole number from ${min} to ${max} (got "${text}")`);
  return n;
};
const number = (name: string, min: number, max: number) => (text: string) => {
  const n = Number(text);
  if (text.trim() === '' || !Number.isFinite(n) || n < min || n > max) throw new RangeError(`--${name} is a number from ${min} to ${max} (got "${text}")`);
  return n;
};

/** Reads a whole text file, or fails with a one-line BAD_REQUEST naming it. */
async function readText(path: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (cause) {
    throw new TesseraError('BAD_REQUEST', `cannot read ${path}: ${(cause as NodeJS.ErrnoException).code ?? (cause as Error).message}`, { cause });
  }
}

/** The file's text in chunks; a missing file fails like readText. */
async function* streamText(path: string): AsyncGenerator<string> {
  const stream = createReadStream(path, { encoding: 'utf8', highWaterMark: 1 << 20 });
  try {
    for await (const chunk of stream) yield chunk as string;
  } catch (cause) {
    throw new TesseraError('BAD_REQUEST', `cannot read ${path}: ${(cause as NodeJS.ErrnoException).code ?? (cause as Error).message}`, { cause });
  }
}

const pct = (x: number) => (Number.isNaN(x) ? '—' : `${(100 * x).toFixed(1)}%`);
const num = (x: number) => (Number.isNaN(x) ? '—' : x.toFixed(2));
const LABELS: Record<(typeof METHODS)[number], string> = {
  tessera: 'Tessera (probes + router)',
  geo: 'geo-nearest',
  geoTop3: 'geo top-3 + 3 probes',
  random: 'random',
  coordsOnly: 'coordinates only',
  oracle: 'oracle',
};

/** The human-readable report: one line per method, then how the run was set up. */
export function formatSimReport(r: SimReport): string {
  const rows = [['method', 'within 10%/5 ms', 'median stretch', 'p95 stretch', 'clients']];
  for (const m of METHODS) rows.push([LABELS[m], pct(r[m].within10), num(r[m].medianStretch), num(r[m].p95Stretch), String(r[m].evaluated)]);
  const widths = rows[0].map((_, c) => Math.max(...rows.map((row) => row[c].length)));
  const lines = rows.map((row) => row.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]) : cell.padStart(widths[c]))).join('  '));
  const s = r.setup;
  lines.push(
    '',
    `${s.hosts} hosts: ${s.nodes} nodes (${s.locatedNodes} located), ${s.clients} clients (${s.locatedClients} located); seed ${s.seed}`,
    `coordinates from ${s.nodeMeasurements} node↔node measurements: median error ${pct(r.coordinateError.median)}, p90 ${pct(r.coordinateError.p90)}`,
    `Tessera: ${s.meanProbes.toFixed(2)} pings per client (at most ${s.probes}); coordinates-only clients: ${s.clientSessionMeasurements} session measurements, no pings`,
    ...(r.bySession.length > 1 ? [`Tessera by session (within 10%/5 ms): ${r.bySession.map((b, i) => `${i + 1}: ${pct(b.within10)}`).join(', ')}`] : []),
    ...(r.edge.pops > 0 ? [`edge: ${r.edge.pops} PoPs, ${pct(r.edge.misrouted)} of hosts anycast to another than their nearest${r.edge.withPrior ? `; ${pct(r.edge.withPrior / r.setup.clients)} of clients reach a PoP that learned from earlier ones` : ''}`] : []),
    `time: converge ${(r.timing.convergeMs / 1000).toFixed(1)} s, route ${(r.timing.routeMs / 1000).toFixed(1)} s (${r.timing.perClientUs.toFixed(0)} µs per client, all methods)`,
  );
  if (s.skippedClients) lines.push(`${s.skippedClients} clients had no measured RTT to any node and were skipped`);
  const unevaluated = METHODS.filter((m) => r[m].unevaluated > 0).map((m) => `${LABELS[m]} ${r[m].unevaluated}`);
  if (unevaluated.length) lines.push(`chosen nodes with no true RTT in the data (not counted): ${unevaluated.join(', ')}`);
  return lines.join('\n');
}

const q3 = (q: Quantiles | null, d = 1) => (q ? [q.p10, q.p50, q.p90].map((x) => x.toFixed(d)).join(' / ') : '—');

/** `sim stats` as a table: this matrix beside the real matrices kept aside (DESIGN.md). */
export function formatTopologyStats(s: TopologyStats, label: string): string {
  const t = REAL_MATRIX_TARGETS;
  const rows: [string, string, string][] = [
    ['', label, 'real A (246 hosts, located)'],
    ['RTT p10 / p50 / p90 / p99 (ms)', `${q3(s.rttMs, 0)} / ${s.rttMs.p99.toFixed(0)}`, `${t.rttMs.p10} / ${t.rttMs.p50} / ${t.rttMs.p90} / ${t.rttMs.p99}`],
    ['triangle-inequality violations (by > 50%)', `${pct(s.triangleViolations.share)} (${pct(s.triangleViolations.over50)})`, `${pct(t.triangleViolations.share)} (${pct(t.triangleViolations.over50)})`],
    ['RTT ÷ fibre over the great circle, pairs > 500 km: p10 / p50 / p90', q3(s.fibreRatio, 2), `${t.fibreRatio.p10} / ${t.fibreRatio.p50} / ${t.fibreRatio.p90}`],
    ['pairs < 100 km apart: RTT p50 / p90 (ms)', s.closePairsMs ? `${s.closePairsMs.p50.toFixed(1)} / ${s.closePairsMs.p90.toFixed(1)} (${s.closePairsMs.pairs} pairs)` : '—', `${t.closePairsMs.p50} / ${t.closePairsMs.p90}`],
    ['access delay per host: p10 / p50 / p90 (ms)', q3(s.accessDelayMs), ''],
    ['per-host detour (median RTT ÷ fibre): p10 / p50 / p90', q3(s.hostDetour, 2), ''],
  ];
  const w0 = Math.max(...rows.map((r) => r[0].length));
  const w1 = Math.max(...rows.map((r) => r[1].length));
  return [...rows.map((r) => `${r[0].padEnd(w0)}  ${r[1].padEnd(w1)}  ${r[2]}`), '', `${s.hosts} hosts, ${s.pairs} pairs with an RTT, ${s.triangleViolations.sampled} triangles sampled`].join('\n');
}

/** `tessera sim routing|gen|stats`: the latency-routing simulator and its synthetic internet. */
export function simCommand(): Command {
  const sim = new Command('sim').description('Simulate latency routing on a real or synthetic RTT matrix.');
  sim
    .command('routing')
    .description('Route every client of an RTT matrix with the real router and compare with geo-nearest, random, coordinates-only and oracle.')
    .requiredOption('--hosts <file>', 'HOSTS.csv: id,name,lat,lon (lat/lon may be empty)')
    .requiredOption('--rtt <file>', 'RTT.csv: src,dst,rtt_ms (directed; pairs may be missing)')
    .option('--nodes <n>', 'hosts that become render nodes (the rest are clients)', integer('nodes', 1, 10_000_000), SIM_DEFAULTS.nodes)
    .option('--probes <n>', 'pings each client may send before routing', integer('probes', 0, 64), SIM_DEFAULTS.probes)
    .option('--seed <n>', 'seed for the split, measurements and ties', integer('seed', 0, 2 ** 31 - 1), SIM_DEFAULTS.seed)
    .option('--clients <n>', 'route at most this many clients', integer('clients', 1, 10_000_000))
    .option('--rounds <n>', 'node↔node measurements per node while coordinates converge', integer('rounds', 0, 100_000), SIM_DEFAULTS.rounds)
    .option('--jitter <x>', 'mean queueing noise of a ping, relative to its RTT', number('jitter', 0, 10), SIM_DEFAULTS.jitter)
    .option('--ping-samples <n>', 'pings per probed node, keeping the minimum (the SDK sends 3)', integer('ping-samples', 1, 16), SIM_DEFAULTS.pingSamples)
    .option('--no-location', 'ignore lat/lon (no geography for anyone)')
    .option('--no-client-location', 'hide clients’ lat/lon (nodes keep theirs; clients are placed by their RTTs)')
    .option('--parallel-probes', 'send all pings at once instead of one at a time')
    .option('--edge-pops <n>', 'hosts that act as edge PoPs: every host and client knows its PoP and RTT to it', integer('edge-pops', 0, 10_000), SIM_DEFAULTS.edgePops)
    .option('--no-api-landmark', 'without --edge-pops, no landmark at all (an API run with TESSERA_EDGE_POP=off); by default the API is one PoP on a seeded host, as a Node API is')
    .option('--anycast-error <p>', 'share of hosts that anycast lands on their second nearest PoP', number('anycast-error', 0, 1), SIM_DEFAULTS.anycastError)
    .option('--pop-learning', 'PoPs learn: the other clients route first and teach their PoP which nodes were best (needs --edge-pops)')
    .option('--edge-rtts', 'the edge times nodes\' challenge pings itself, as the API does by default: every PoP knows its RTT to every node (with --edge-pops; the default)')
    .option('--no-edge-rtts', 'PoPs know only their own RTT to each host, not to nodes (an API run with routing.edgeRtts.enabled false)')
    .option('--sessions <k>', 'route every client k times, each time keeping what it measured before', integer('sessions', 1, 100), SIM_DEFAULTS.sessions)
    .option('--session-gap-min <m>', 'minutes between a client\'s sessions (default a day): a remembered RTT younger than an hour is not re-probed', number('session-gap-min', 0, 525_600))
    .option('--json', 'print {tessera, geo, random, coordsOnly, oracle} as JSON on stdout (tessera.bySession: within10 per session; geo.top3: the geo top-3 + 3 probes baseline)')
    .option('--report <file>', 'also write the full report (setup, coordinate error, timings) as JSON')
    .action(async (o) => {
      const hosts = parseHostsCsv(await readText(o.hosts), o.hosts);
      if (o.nodes >= hosts.length) throw new RangeError(`--nodes must be below the number of hosts (${hosts.length} in ${o.hosts})`);
      const truth = await parseRttCsv(streamText(o.rtt), hosts, o.rtt);
      const progress = process.stderr.isTTY && !o.json;
      const report = simulateRouting(hosts, truth, {
        nodes: o.nodes,
        probes: o.probes,
        seed: o.seed,
        clients: o.clients,
        rounds: o.rounds,
        jitter: o.jitter,
        pingSamples: o.pingSamples,
        useLocation: o.location,
        clientLocation: o.clientLocation,
        adaptive: !o.parallelProbes,
        edgePops: o.edgePops,
        apiLandmark: o.apiLandmark !== false,
        anycastError: o.anycastError,
        popLearning: o.popLearning === true,
        edgeRtts: o.edgeRtts !== false,
        sessions: o.sessions,
        ...(o.sessionGapMin === undefined ? {} : { sessionGapMs: o.sessionGapMin * 60_000 }),
        onProgress: progress ? (done, total, phase) => process.stderr.write(`\r${phase} ${done}/${total}   `) : undefined,
      });
      if (progress) process.stderr.write('\r\x1b[K');
      if (o.report) {
        const { tallies: _omit, sessionTallies: _omit2, ...full } = report;
        await writeFile(o.report, JSON.stringify(full, null, 2) + '\n');
      }
      if (o.json) {
        // The five keys of old (tessera, geo, random, coordsOnly, oracle); Tessera's later sessions and the
        // "geo top-3 + 3 probes" baseline ride inside tessera and geo.
        const brief = (m: MethodResult) => ({ within10: m.within10, medianStretch: m.medianStretch, p95Stretch: m.p95Stretch });
        const out: Record<string, Record<string, unknown>> = Object.fromEntries(JSON_METHODS.map((m) => [m, brief(report[m])]));
        out.tessera.bySession = report.bySession.map((b) => b.within10);
        out.geo.top3 = brief(report.geoTop3);
        process.stdout.write(JSON.stringify(out) + '\n');
      } else process.stdout.write(formatSimReport(report) + '\n');
    });

  sim
    .command('stats')
    .description('What an RTT matrix looks like (RTT spread, triangle-inequality violations, RTT vs great-circle distance, close pairs, access delays, detours), beside the real matrices.')
    .requiredOption('--hosts <file>', 'HOSTS.csv: id,name,lat,lon (lat/lon may be empty)')
    .requiredOption('--rtt <file>', 'RTT.csv: src,dst,rtt_ms')
    .option('--seed <n>', 'seed for the sampled triangles', integer('seed', 0, 2 ** 31 - 1), 1)
    .option('--json', 'print the statistics as JSON')
    .action(async (o) => {
      const hosts = parseHostsCsv(await readText(o.hosts), o.hosts);
      const truth = await parseRttCsv(streamText(o.rtt), hosts, o.rtt);
      const stats = topologyStats(hosts, truth, { seed: o.seed });
      process.stdout.write((o.json ? JSON.stringify(stats) : formatTopologyStats(stats, o.rtt)) + '\n');
    });

  const d = TOPOLOGY_DEFAULTS;
  sim
    .command('gen')
    .description('Write a synthetic internet (hosts.csv and rtt.csv) for `sim routing`: cities, last miles, route inflation, detours, noise.')
    .requiredOption('--hosts <n>', `hosts (2 to ${GEN_MAX_HOSTS}; rtt.csv gets n·(n−1) lines)`, integer('hosts', 2, GEN_MAX_HOSTS))
    .requiredOption('--out <dir>', 'folder for hosts.csv and rtt.csv (created if missing)')
    .option('--seed <n>', 'seed', integer('seed', 0, 2 ** 31 - 1), d.seed)
    .option('--last-mile <ms>', 'median last-mile delay a host adds to every RTT', number('last-mile', 0, 1000), d.lastMileMs)
    .option('--last-mile-spread <sigma>', 'log-normal σ of the last-mile delay across hosts', number('last-mile-spread', 0, 5), d.lastMileSpread)
    .option('--inflation <x>', 'mean route inflation over the great-circle fibre path (0.5: 1.5× as long)', number('inflation', 0, 20), d.inflation)
    .option('--pair-share <f>', 'share of the inflation that is per pair, not per host', number('pair-share', 0, 1), d.pairShare)
    .option('--detour-rate <f>', 'fraction of pairs routed through a detour', number('detour-rate', 0, 1), d.detourRate)
    .option('--detour-ms <ms>', 'mean extra RTT of a detour', number('detour-ms', 0, 1000), d.detourMs)
    .option('--noise <f>', 'mean relative noise of each stored RTT', number('noise', 0, 10), d.noise)
    .option('--missing <f>', 'fraction of directed pairs left out', number('missing', 0, 0.99), d.missing)
    .option('--unlocated <f>', 'fraction of hosts listed without lat/lon', number('unlocated', 0, 1), d.unlocated)
    .option('--spread-km <km>', 'typical distance of a host from its city centre', number('spread-km', 0, 5000), d.spreadKm)
    .option('--congested-share <f>', 'share of cities behind a congested link', number('congested-share', 0, 1), d.congestedShare)
    .option('--congestion-ms <ms>', 'mean extra RTT of a congested link', number('congestion-ms', 0, 1000), d.congestionMs)
    .option('--hubs <n>', 'exchange hubs paths meet at (0: great circles)', integer('hubs', 0, 1000), d.hubs)
    .option('--hub-miss <f>', 'share of hosts whose provider uses their second nearest hub', number('hub-miss', 0, 1), d.hubMiss)
    .option('--peering <f>', 'share of pairs that peer directly instead of through their hubs', number('peering', 0, 1), d.peering)
    .option('--path-factor <x>', 'path length over the great circle before inflation', number('path-factor', 1, 10), d.pathFactor)
    .action(async (o) => {
      const options: TopologyOptions = {
        hosts: o.hosts,
        seed: o.seed,
        lastMileMs: o.lastMile,
        lastMileSpread: o.lastMileSpread,
        inflation: o.inflation,
        pairShare: o.pairShare,
        detourRate: o.detourRate,
        detourMs: o.detourMs,
        noise: o.noise,
        missing: o.missing,
        unlocated: o.unlocated,
        spreadKm: o.spreadKm,
        congestedShare: o.congestedShare,
        congestionMs: o.congestionMs,
        hubs: o.hubs,
        hubMiss: o.hubMiss,
        peering: o.peering,
        pathFactor: o.pathFactor,
      };
      const topo = generateTopology(options);
      try {
        await mkdir(o.out, { recursive: true });
      } catch (cause) {
        throw new TesseraError('BAD_REQUEST', `cannot create ${o.out}: ${(cause as NodeJS.ErrnoException).code ?? (cause as Error).message}`, { cause });
      }
      await writeFile(join(o.out, 'hosts.csv'), hostsCsv(topo.hosts));
      const out = createWriteStream(join(o.out, 'rtt.csv'));
      let lines = -1;
      for (const chunk of rttCsvChunks(topo.hosts, topo)) {
        for (let i = chunk.indexOf('\n'); i >= 0; i = chunk.indexOf('\n', i + 1)) lines++;
        if (!out.write(chunk)) await once(out, 'drain');
      }
      out.end();
      await once(out, 'finish');
      process.stdout.write(`Wrote ${topo.hosts.length} hosts and ${lines} RTTs to ${join(o.out, 'hosts.csv')} and ${join(o.out, 'rtt.csv')}\n`);
    });
  return sim;
}
