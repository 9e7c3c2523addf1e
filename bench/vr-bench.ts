/**
 * `npm run bench:vr`: interactive sessions against the batch path, on this machine.
 * A local farm (s3rver, API, one render node with 4 session slots) whose public server (GET /ping and the
 * session WebSockets) sits behind a delay proxy: 0 ms ("loopback", through the user-space proxy) or 10 ms
 * each way (20 ms RTT). For each scene (textured sample, 1M-triangle sample), eye size (512², 1024²) and
 * number of concurrent sessions (1, 2, 4): `runSessionBench` (90 Hz smooth head motion, every frame
 * decoded) gives fps per session and pose → frame-decoded p50/p95. Baseline, side by side: the batch path,
 * a one-frame job per pose (same size and format, JPEG q80), submit → frame downloaded and decoded.
 * Writes bench/results/vr-<timestamp>.json and vr-latest.json, and prints the rows and a goals table (the
 * issue's goals, PASS/FAIL, bench/vr-goals.ts).
 * Options: --seconds 5 --scenes textured-pbr,million --eyes 512,1024 --sessions 1,2,4 --rtts 0,20
 *          --shadows on (or off, or on,off: sessions with and without shadow maps side by side) --depth
 *          --fidelity full (or fast, or full,fast: both session looks side by side; goals are checked per look)
 *          --batch-repeats 5 (0: no batch baseline) --strict (exit 1 when a goal fails)
 *          --session-encode overlap (the node's `--session-encode`: serial renders the next pose once a frame is encoded)
 *          --backend headless-gl (the node's `--backend`: chromium renders every session in a Chromium page, auto
 *          those of WebGL 2 scenes such as dispersion; results then go to vr-<backend>-latest.json)
 */
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { createServer, type AddressInfo } from 'node:net';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import sharp from 'sharp';
import { createTesseraClient } from '../api/client/index.ts';
import { SessionFidelity } from '../api/protocol/session.ts';
import { newApiKey } from '../api/core/client-keys.ts';
import { startLocalS3 } from '../api/node/local-s3.ts';
import { startApi } from '../api/node/start-api.ts';
import { runSessionBench, STAGES, type SessionBenchResult } from '../infra/cli/session-bench.ts';
import { startDelayProxy } from '../test/support/delay-proxy.ts';
import { checkVrGoals, goalsTable, rowMeets, VR_GOALS, type VrRow } from './vr-goals.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const { values: args } = parseArgs({
  options: {
    seconds: { type: 'string', default: '5' },
    scenes: { type: 'string', default: 'textured-pbr,million' },
    eyes: { type: 'string', default: '512,1024' },
    sessions: { type: 'string', default: '1,2,4' },
    rtts: { type: 'string', default: '0,20' },
    shadows: { type: 'string', default: 'on' },
    fidelity: { type: 'string', default: 'full' },
    depth: { type: 'boolean', default: false },
    strict: { type: 'boolean', default: false },
    backend: { type: 'string', default: 'headless-gl' },
    'session-encode': { type: 'string', default: 'overlap' },
    'batch-repeats': { type: 'string', default: '5' },
    'results-dir': { type: 'string', default: join(ROOT, 'bench', 'results') },
  },
});
const log = (line: string) => process.stderr.write(line + '\n');
const freePort = () =>
  new Promise<number>((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as AddressInfo;
      s.close(() => resolve(port));
    });
  });
const median = (xs: number[]) => {
  const v = [...xs].sort((a, b) => a - b);
  return v.length ? v[Math.floor(v.length / 2)] : null;
};

/**
 * CPU time (ms) of a process and its descendants: its own and its reaped children's (utime, stime, cutime, cstime),
 * plus the live descendants' own. Linux /proc, clock ticks of 10 ms (USER_HZ 100).
 */
function treeCpuMs(root: number): number {
  const stats = new Map<number, { ppid: number; own: number; reaped: number }>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const text = readFileSync(`/proc/${name}/stat`, 'utf8');
      const f = text.slice(text.lastIndexOf(')') + 2).split(' ');
      // After "pid (comm) ": state ppid … utime (14th field overall → index 11 here) stime cutime cstime.
      stats.set(Number(name), { ppid: Number(f[1]), own: Number(f[11]) + Number(f[12]), reaped: Number(f[13]) + Number(f[14]) });
    } catch {
      // gone meanwhile
    }
  }
  let ticks = 0;
  const walk = (pid: number, top: boolean) => {
    const st = stats.get(pid);
    if (!st) return;
    ticks += st.own + (top ? st.reaped : 0);
    for (const [child, c] of stats) if (c.ppid === pid) walk(child, false);
  };
  walk(root, true);
  return ticks * 10;
}

const dir = await mkdtemp(join(tmpdir(), 'tessera-vr-bench-'));
const apiKey = newApiKey();
const s3 = await startLocalS3({ dir: join(dir, 's3') });
const api = await startApi({ dataDir: join(dir, 'api'), s3, port: 0, api: { apiKeys: [{ key: apiKey, role: 'admin' }], verification: { sampleRate: 0 } } });
const probePort = await freePort();
const proxy = await startDelayProxy({ target: { port: probePort }, delayMs: 0 });
const node = spawn(process.execPath, [join(ROOT, 'infra', 'bin', 'tessera.mjs'), 'node', 'start', '--api', api.url, '--name', 'vr-bench', '--concurrency', '1', '--session-slots', '4', '--cache', join(dir, 'cache'), '--probe-host', '127.0.0.1', '--probe-port', String(probePort), '--probe-url', proxy.url, '--backend', args.backend!, '--session-encode', args['session-encode']!], {
  cwd: ROOT,
  env: { ...process.env, DISPLAY: '', TESSERA_LOG_LEVEL: 'warn' },
  stdio: ['ignore', 'ignore', 'inherit'],
});
const client = createTesseraClient({ baseUrl: api.url, apiKey });
const results: Record<string, unknown>[] = [];
try {
  for (let i = 0; ; i++) {
    if ((await client.nodes({ healthy: true })).nodes.length) break;
    if (i > 600) throw new Error('the node did not register');
    await new Promise((r) => setTimeout(r, 200));
  }
  for (const sceneName of args.scenes!.split(',')) {
    const { sceneId } = await client.uploadScene(new Uint8Array(await readFile(join(ROOT, 'scenes', `${sceneName}.glb`))));
    for (const edge of args.eyes!.split(',').map(Number)) {
      const eye = `${edge}x${edge}`;
      for (const rttMs of args.rtts!.split(',').map(Number)) {
        proxy.setDelay(rttMs / 2);
        // Baseline: the batch path, a one-frame job per pose (same pixels, JPEG q80), submit → decoded.
        const batch: number[] = [];
        for (let r = 0; r < Number(args['batch-repeats']); r++) {
          const t0 = performance.now();
          const { jobId } = await client.submitJob({ sceneId, frames: '0', size: `${2 * edge}x${edge}`, format: 'jpeg', quality: 80, camera: { kind: 'auto', yaw: 30 + r, pitch: 15, fov: 40 }, background: 'environment' });
          const status = await client.waitForJob(jobId);
          const frames = await client.frames(jobId);
          const bytes = await client.downloadFrame(frames.frames[0].url);
          await sharp(bytes).raw().toBuffer();
          if (status.state === 'done') batch.push(performance.now() - t0);
        }
        const looks = args.fidelity!.split(',').map((v) => SessionFidelity.parse(v));
        for (const sessions of args.sessions!.split(',').map(Number)) for (const shadows of args.shadows!.split(',').map((v) => v !== 'off')) for (const fidelity of looks) {
          log(`${sceneName} eye ${eye} RTT ${rttMs} ms: ${sessions} session(s), ${fidelity}, shadows ${shadows ? 'on' : 'off'}${args.depth ? ', depth' : ''}…`);
          let r: SessionBenchResult | { error: string };
          try {
            r = await runSessionBench({ api: api.url, apiKey, sceneId, eye, seconds: Number(args.seconds), sessions, format: 'jpeg', quality: 80, shadows, depth: args.depth, fidelity, serverCpuMs: () => treeCpuMs(node.pid!) });
          } catch (err) {
            r = { error: (err as Error).message };
          }
          const { sessions: perSession, ...summary } = 'error' in r ? { sessions: [], ...r } : r;
          const row = { scene: sceneName, backend: args.backend, sessionEncode: args['session-encode'], eye, rttMs, concurrent: sessions, fidelity, shadows, depth: args.depth, ...summary, perSession, batchP50Ms: median(batch), loadavg: loadavg()[0] };
          results.push(row);
          log(JSON.stringify(row));
          // Written after every row: a long run stopped early keeps what it measured.
          await mkdir(args['results-dir']!, { recursive: true });
          await writeFile(join(args['results-dir']!, 'vr-partial.json'), JSON.stringify({ at: new Date().toISOString(), partial: true, results }, null, 2));
        }
      }
    }
  }
} finally {
  node.kill('SIGTERM');
  await new Promise((r) => setTimeout(r, 2000));
  node.kill('SIGKILL');
  await proxy.close();
  await api.close();
  await s3.close();
}

// Goals of the issue, checked per row where they apply, then per goal.
const short = { fps: 'fps≥30', p50: 'p50', p95: 'p95', batch: '10×' } as const;
const table = results.map((r) => {
  const row = r as Record<string, any>;
  const goals = row.error !== undefined ? `error: ${String(row.error).slice(0, 80)}` : VR_GOALS.map((g) => ({ g, ok: rowMeets(g, row as VrRow) })).filter((x) => x.ok !== null).map((x) => `${short[x.g.id]} ${x.ok ? '✓' : '✗'}`).join(' ');
  return `| ${row.scene} | ${row.eye} | ${row.rttMs} | ${row.concurrent} | ${row.fidelity} | ${row.shadows ? 'on' : 'off'} | ${row.fps ?? '-'} | ${row.p50Ms ?? '-'} | ${row.p95Ms ?? '-'} | ${row.dropped ?? '-'} | ${row.batchP50Ms?.toFixed(0) ?? '-'} | ${row.loadavg.toFixed(1)} | ${goals} |`;
});
const header = '| scene | eye | RTT ms | sessions | fidelity | shadows | fps/session | p50 ms | p95 ms | dropped poses | batch p50 ms | load avg | goals |\n|---|---|---|---|---|---|---|---|---|---|---|---|---|';
const verdicts = checkVrGoals(results as unknown as VrRow[]);
// The developer chooses the look per session: the goals per look too (all rows together above).
const lookNames = [...new Set(results.map((r) => (r as Record<string, any>).fidelity as string))];
const byLook = lookNames.map((look) => ({ look, verdicts: checkVrGoals(results.filter((r) => (r as Record<string, any>).fidelity === look) as unknown as VrRow[]) }));
// Where the time went: per-stage p50 (mean) over every session's frames, and CPU per frame on each side.
const stageHeader = `| scene | eye | RTT ms | sessions | fidelity | ${STAGES.join(' | ')} | total | node CPU ms/frame | bench CPU ms/frame |\n|${'---|'.repeat(STAGES.length + 8)}`;
const cell = (v: { p50: number | null; mean: number | null } | undefined) => (v?.p50 == null ? '-' : `${v.p50.toFixed(1)} (${v.mean!.toFixed(1)})`);
const stageRows = results
  .filter((r) => (r as Record<string, any>).stages)
  .map((r) => {
    const row = r as Record<string, any>;
    return `| ${row.scene} | ${row.eye} | ${row.rttMs} | ${row.concurrent} | ${row.fidelity} | ${STAGES.map((k) => cell(row.stages[k])).join(' | ')} | ${cell(row.stages.total)} | ${row.serverCpuMsPerFrame ?? '-'} | ${row.clientCpuMsPerFrame ?? '-'} |`;
  });
process.stdout.write(`\nPer-stage pose → frame-decoded, ms, p50 (mean):\n${stageHeader}\n${stageRows.join('\n')}\n\n`);
process.stdout.write(`${header}\n${table.join('\n')}\n\nGoals (machine load average ${loadavg()[0].toFixed(1)} on ${cpus().length} cores: figures from a loaded machine say little):\n${goalsTable(verdicts)}\n`);
if (byLook.length > 1) for (const { look, verdicts: v } of byLook) process.stdout.write(`\nGoals, ${look} sessions only:\n${goalsTable(v)}\n`);
const goals = verdicts.map((v) => ({ goal: v.goal.id, text: v.goal.text, rows: v.rows, passed: v.passed, worst: v.worst, pass: v.pass }));
const goalsByFidelity = Object.fromEntries(byLook.map(({ look, verdicts: v }) => [look, v.map((x) => ({ goal: x.goal.id, rows: x.rows, passed: x.passed, worst: x.worst, pass: x.pass }))]));
const out = { at: new Date().toISOString(), backend: args.backend, sessionEncode: args['session-encode'], machine: { cpus: cpus().length, model: cpus()[0]?.model, loadavg: loadavg() }, note: 'machine shared with other work (see loadavg per row)', seconds: Number(args.seconds), goals, goalsByFidelity, results };
await mkdir(args['results-dir']!, { recursive: true });
const stamp = out.at.replace(/[:.]/g, '-');
const prefix = args.backend === 'headless-gl' ? 'vr' : `vr-${args.backend}`;
await writeFile(join(args['results-dir']!, `${prefix}-${stamp}.json`), JSON.stringify(out, null, 2));
await writeFile(join(args['results-dir']!, `${prefix}-latest.json`), JSON.stringify(out, null, 2));
process.exit(args.strict && verdicts.some((v) => !v.pass) ? 1 : 0);
