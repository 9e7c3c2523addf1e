import { Command } from 'commander';
import { once } from 'node:events';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { TesseraError } from '../../api/protocol/errors.ts';
import { generateTopology, hostsCsv, rttCsvChunks, TOPOLOGY_DEFAULTS, type TopologyOptions } from '../../sim/generate-topology.ts';
import { parseHostsCsv, parseRttCsv } from '../../sim/routing-csv.ts';
import { METHODS, simulateRouting, SIM_DEFAULTS, type SimReport } from '../../sim/simulate-routing.ts';

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
    `time: converge ${(r.timing.convergeMs / 1000).toFixed(1)} s, route ${(r.timing.routeMs / 1000).toFixed(1)} s (${r.timing.perClientUs.toFixed(0)} µs per client, all methods)`,
  );
  if (s.skippedClients) lines.push(`${s.skippedClients} clients had no measured RTT to any node and were skipped`);
  const unevaluated = METHODS.filter((m) => r[m].unevaluated > 0).map((m) => `${LABELS[m]} ${r[m].unevaluated}`);
  if (unevaluated.length) lines.push(`chosen nodes with no true RTT in the data (not counted): ${unevaluated.join(', ')}`);
  return lines.join('\n');
}

/** `tessera sim routing|gen`: the latency-routing simulator and its synthetic internet. */
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
    .option('--no-location', 'ignore lat/lon (no geography for anyone)')
    .option('--no-client-location', 'hide clients’ lat/lon (nodes keep theirs; clients are placed by their RTTs)')
    .option('--parallel-probes', 'send all pings at once instead of one at a time')
    .option('--json', 'print {tessera, geo, random, coordsOnly, oracle} as JSON on stdout')
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
        useLocation: o.location,
        clientLocation: o.clientLocation,
        adaptive: !o.parallelProbes,
        onProgress: progress ? (done, total, phase) => process.stderr.write(`\r${phase} ${done}/${total}   `) : undefined,
      });
      if (progress) process.stderr.write('\r\x1b[K');
      if (o.report) {
        const { tallies: _omit, ...full } = report;
        await writeFile(o.report, JSON.stringify(full, null, 2) + '\n');
      }
      if (o.json) {
        const out = Object.fromEntries(METHODS.map((m) => [m, { within10: report[m].within10, medianStretch: report[m].medianStretch, p95Stretch: report[m].p95Stretch }]));
        process.stdout.write(JSON.stringify(out) + '\n');
      } else process.stdout.write(formatSimReport(report) + '\n');
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
