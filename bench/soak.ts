/**
 * `npm run soak`: 200 small jobs (96×96, 3 frames, half of them tiled) on 4 render nodes while nodes are
 * SIGKILLed and restarted at random, storage fails 20% of its requests and the API restarts once. Prints
 * completion rate, p50/p99 job latency, lost and duplicated counts and the faults injected; writes
 * bench/results/soak-<timestamp>.json and soak-latest.json. Exits 1 when a job or frame was lost,
 * duplicated or wrong. Every figure is defined in bench/run-soak.ts.
 * Options: --jobs 200 --nodes 4 --node-concurrency 1 --in-flight 8 --size 96 --frames-per-job 3
 *          --tiled-share 0.5 --kill-every-ms 6000 --s3-failure-rate 0.2 --no-api-restart --seed 1 --results-dir DIR
 *          --liars 0.2 (a share of the nodes lie: wrong pixels, doctored stitches, forged probe answers, hoarded
 *          leases, inflated cards; every result is then verified unless --verify-sample-rate says otherwise)
 *          --max-liar-returns 6 --liar-turn-ms 30000 --lease-lifetime-ms 12000
 * With liars it writes soak-liars-latest.json instead of soak-latest.json, and also exits 1 when an honest
 * node was blamed, any liar was credited a render-second (or the honest nodes nothing), a hoarder completed a
 * task or a task was routed to a fake-probe node on its forged RTT.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { liarProblems, runSoak, type SoakReport } from './run-soak.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const { values: args } = parseArgs({
  options: {
    jobs: { type: 'string' },
    nodes: { type: 'string' },
    'node-concurrency': { type: 'string' },
    'in-flight': { type: 'string' },
    size: { type: 'string' },
    'frames-per-job': { type: 'string' },
    'tiled-share': { type: 'string' },
    'kill-every-ms': { type: 'string' },
    's3-failure-rate': { type: 'string' },
    'no-api-restart': { type: 'boolean', default: false },
    seed: { type: 'string' },
    liars: { type: 'string' },
    'verify-sample-rate': { type: 'string' },
    'max-liar-returns': { type: 'string' },
    'liar-turn-ms': { type: 'string' },
    'lease-lifetime-ms': { type: 'string' },
    'results-dir': { type: 'string', default: join(ROOT, 'bench', 'results') },
  },
});
const num = (v: string | undefined) => (v === undefined ? undefined : Number(v));

const startedAt = new Date();
const report = await runSoak({
  jobs: num(args.jobs),
  nodes: num(args.nodes),
  nodeConcurrency: num(args['node-concurrency']),
  inFlight: num(args['in-flight']),
  size: num(args.size),
  framesPerJob: num(args['frames-per-job']),
  tiledShare: num(args['tiled-share']),
  killEveryMs: num(args['kill-every-ms']),
  s3FailureRate: num(args['s3-failure-rate']),
  apiRestart: !args['no-api-restart'],
  seed: num(args.seed),
  liars: num(args.liars),
  verifySampleRate: num(args['verify-sample-rate']),
  maxLiarReturns: num(args['max-liar-returns']),
  liarTurnMs: num(args['liar-turn-ms']),
  leaseLifetimeMs: num(args['lease-lifetime-ms']),
  log: (line) => process.stderr.write(`soak: ${line}\n`),
});

process.stdout.write(`\n${formatSoak(report)}\n`);
const json = JSON.stringify({ startedAt: startedAt.toISOString(), finishedAt: new Date().toISOString(), host: { cpus: cpus().length, cpuModel: cpus()[0]?.model, memGiB: Math.round(totalmem() / 2 ** 30), node: process.version }, ...report }, null, 2) + '\n';
await mkdir(args['results-dir']!, { recursive: true });
const stamp = startedAt.toISOString().replace(/[:.]/g, '-').replace(/-\d{3}Z$/, 'Z');
const file = join(args['results-dir']!, `soak-${stamp}.json`);
await writeFile(file, json);
await writeFile(join(args['results-dir']!, report.liars ? 'soak-liars-latest.json' : 'soak-latest.json'), json);
process.stdout.write(`results: ${file}\n`);
const clean = report.lost.jobs === 0 && report.lost.frames === 0 && report.duplicated.total === 0 && report.frames.wrongPixels === 0 && (report.liars ? liarProblems(report.liars).length === 0 : true);
process.exit(clean ? 0 : 1);

function formatSoak(r: SoakReport): string {
  const ms = (v: number | null) => (v === null ? '—' : v >= 10_000 ? `${(v / 1000).toFixed(1)} s` : `${v.toFixed(0)} ms`);
  const o = r.options;
  const injected = Object.entries(r.faults.s3Injected).map(([k, v]) => `${k} ${v}`).join(', ');
  const rows: [string, string][] = [
    ['setup', `${o.jobs} jobs × ${o.framesPerJob} frames ${o.size}×${o.size} (${Math.round(o.tiledShare * 100)}% tiled), ${o.nodes} nodes × ${o.nodeConcurrency} slots, ${o.inFlight} in flight`],
    ['wall time', `${r.wallS.toFixed(1)} s`],
    ['completion rate', `${(r.jobs.completionRate * 100).toFixed(1)}% (${r.jobs.done}/${o.jobs} done, ${r.jobs.failed} failed, ${r.jobs.timedOut} timed out)`],
    ['job latency', `p50 ${ms(r.latencyMs.p50)}, p99 ${ms(r.latencyMs.p99)}, max ${ms(r.latencyMs.max)}`],
    ['frames verified', `${r.frames.verified}/${r.frames.expected} equal to the local render (${r.frames.wrongPixels} wrong)`],
    ['lost', `${r.lost.jobs} jobs, ${r.lost.frames} frames`],
    ['duplicated', `${r.duplicated.total} (tasks completed twice ${r.duplicated.tasksCompletedTwice}, frames listed twice ${r.duplicated.framesListedTwice}, stray frame objects ${r.duplicated.strayFrameObjects})`],
    ['rewrites (same key)', `${r.rewrites.objects} objects, ${r.rewrites.extraPuts} extra PUTs`],
    ['node kills', `${r.faults.nodeKills} SIGKILLs, ${r.faults.nodeStarts} node starts`],
    ['API restarts', String(r.faults.apiRestarts)],
    ['storage faults', `${Object.values(r.faults.s3Injected).reduce((a, b) => a + b, 0)} of ${r.faults.s3Requests} requests (${injected})`],
    ['attempts requeued', `${r.faults.attemptsRequeued} (${r.faults.leaseExpiries} lease expiries); ${r.tasks.retried} of ${r.tasks.total} tasks retried`],
    ['results redone', `${r.faults.resultsRedone} accepted results discarded and done again (outvoted, blocklisted nodes' work, re-stitches)`],
  ];
  const l = r.liars;
  if (l) {
    const byKind = (rec: Record<string, number>) => Object.entries(rec).map(([k, v]) => `${k} ${v}`).join(', ');
    const s = (v: number | null) => (v === null ? '—' : `${v.toFixed(1)} s`);
    rows.push(
      ['liars started', `${byKind(l.started)} (every result verified at rate ${l.verifySampleRate})`],
      ['liars blocklisted', `${byKind(l.blocklisted)}; start → blocklist median ${s(l.secondsToBlocklist.median)}, max ${s(l.secondsToBlocklist.max)}`],
      ['liars outvoted', `${l.disproven} results`],
      ['liars credited', `${byKind(l.creditedRenderSeconds)} render-seconds (must all be 0: proven liars forfeit everything, new identities' credit is held)`],
      ['liars forfeited', `${byKind(l.forfeitedRenderSeconds)} render-seconds; held (on probation at the end) ${byKind(l.heldRenderSeconds)}`],
      ['honest credit', `${l.honestCreditedRenderSeconds.toFixed(3)} render-seconds credited, ${l.honestHeldRenderSeconds.toFixed(3)} held`],
      ['fake probes', `${l.fakeProbe.routed} tasks routed to them, ${l.fakeProbe.routedOnMeasuredRtt} on their forged RTT; they did ${(l.fakeProbe.shareDone * 100).toFixed(1)}% of tasks (an honest node ${l.fakeProbe.honestShareDone === null ? '—' : `${(l.fakeProbe.honestShareDone * 100).toFixed(1)}%`}), ${l.fakeProbe.tasksPerMinuteUp ?? '—'} tasks a minute up (an honest node ${l.fakeProbe.honestTasksPerMinuteUp ?? '—'})`],
      ['hoarders', `${l.hoard.leased} leases taken, ${l.hoard.takenBack} taken back and reassigned (lifetime cap ${(l.hoard.leaseLifetimeMs / 1000).toFixed(0)} s; longest hold ${l.hoard.longestHoldS === null ? '—' : `${l.hoard.longestHoldS.toFixed(1)} s`}), ${l.hoard.tasksDone} completed`],
      ['honest nodes blamed', String(l.honestBlamed)],
    );
  }
  const width = Math.max(...rows.map(([k]) => k.length));
  const lines = rows.map(([k, v]) => `${k.padEnd(width)}  ${v}`);
  if (r.problems.length) lines.push('', 'problems:', ...r.problems.slice(0, 20).map((p) => `  ${p}`), ...(r.problems.length > 20 ? [`  … ${r.problems.length - 20} more`] : []));
  return lines.join('\n');
}
