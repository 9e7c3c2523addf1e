import { readFile } from 'node:fs/promises';
import { Command } from 'commander';
import { TesseraError } from '../../api/protocol/errors.ts';
import { createLogger } from '../../render-node/logger.ts';
import { runDoctor, type Severity } from '../../render-node/agent/node-doctor.ts';
import { startRenderNode } from '../../render-node/agent/start-render-node.ts';
import { readNodeConfig, type NodeConfigFile } from './node-config.ts';
import { parseBackendChoice } from '../../render-node/chromium/choose-backend.ts';
import { STOP_ON_STDIN_END } from '../farm/farm-node-process.ts';

/** Longest a farm's node drains once its farm process is gone (its tasks' reports have nowhere to go). */
const PARENT_GONE_DRAIN_MS = 5_000;
/** How often a farm's node checks that its parent is still the farm process. */
const PARENT_WATCH_MS = 1_000;

const integer = (flag: string, min: number, max: number) => (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < min || n > max) throw new RangeError(`${flag} is ${min} to ${max} (got "${v}")`);
  return n;
};

/** The options `node start` and `node doctor` share (all optional here: a --config file may give them). */
function nodeOptions(command: Command): Command {
  return command
    .option('--config <file>', 'a JSON file with any of these settings (camelCase names, e.g. "probeUrl"); flags override it')
    .option('--api <url>', 'the edge API, e.g. http://127.0.0.1:8080')
    .option('--join-token <token>', 'join token from the operator (tessera keys create --role node), for APIs that require one; also TESSERA_JOIN_TOKEN or "joinToken" in --config (either keeps it out of ps)')
    .option('--name <name>', 'node name (default: host-pid)')
    .option('--region <region>', 'region label')
    .option('--concurrency <n>', 'tasks in flight', integer('--concurrency', 1, 64))
    .option('--cache <dir>', 'scene cache folder')
    .option('--leasing <mode>', 'batched (default: leases up to the free slots per call, the next tasks with each report, one task ahead) or per-slot (one lease call per task)', (v) => {
      if (v !== 'batched' && v !== 'per-slot') throw new RangeError(`--leasing is batched or per-slot (got "${v}")`);
      return v;
    })
    .option('--probe-port <port>', "port of the node's GET /ping, which clients and peers time (default: a free one)", integer('--probe-port', 0, 65535))
    .option('--probe-host <host>', 'interface GET /ping listens on (default 0.0.0.0)')
    .option('--probe-url <url>', 'the URL clients should ping, when they reach the node elsewhere (a proxy, NAT); default: http://127.0.0.1:PORT/ping')
    .option('--location <lat,lon>', 'where the node is, e.g. 52.37,4.90 (helps choose which nodes a located client pings)', (v) => {
      const [lat, lon] = v.split(',').map(Number);
      if (v.split(',').length !== 2 || !(Math.abs(lat) <= 90) || !(Math.abs(lon) <= 180)) throw new RangeError(`--location needs LAT,LON in degrees (got "${v}")`);
      return { lat, lon };
    });
}

/** What `node start` and `node doctor` both pass on from the settings: where the API is, who the node is, its probe. */
function sharedNodeSettings(o: NodeConfigFile & { api: string }) {
  return {
    api: new URL(o.api).toString(),
    joinToken: o.joinToken,
    name: o.name,
    concurrency: o.concurrency,
    cacheDir: o.cache,
    probePort: o.probePort,
    probeHost: o.probeHost,
    probeUrl: o.probeUrl,
    location: o.location,
  };
}

/** The file's settings, then every flag given on the command line over them; --api checked. */
async function settings(command: Command): Promise<NodeConfigFile & { api: string }> {
  const flags = command.opts() as NodeConfigFile & { config?: string };
  const file = flags.config ? await readNodeConfig(flags.config) : {};
  const given = Object.fromEntries(Object.entries(flags).filter(([k, v]) => k !== 'config' && v !== undefined && command.getOptionValueSource(k) === 'cli'));
  const merged = { ...file, ...given } as NodeConfigFile;
  if (merged.joinToken === undefined && process.env.TESSERA_JOIN_TOKEN) merged.joinToken = process.env.TESSERA_JOIN_TOKEN;
  if (!merged.api) throw new TesseraError('BAD_REQUEST', 'say which API to join: --api URL (or "api" in the --config file)');
  for (const [key, flag] of [['api', '--api'], ['probeUrl', '--probe-url']] as const) {
    const value = merged[key];
    if (value === undefined) continue;
    let url: URL;
    try {
      url = new URL(value);
    } catch {
      throw new RangeError(`${flag} "${value}" is not a URL`);
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new RangeError(`${flag} "${value}" must be an http(s) URL`);
  }
  return merged as NodeConfigFile & { api: string };
}

/** `tessera node start` (run a render node until SIGTERM/SIGINT, then drain) and `tessera node doctor`. */
export function nodeCommand(): Command {
  const node = new Command('node').description('Run a Tessera render node.');
  nodeOptions(node.command('start').description('Register with a farm API and render its tasks until stopped (SIGTERM drains).'))
    .option('--task-timeout <seconds>', 'stop a task (and its render process) after this long (default 600)', (v) => {
      const n = Number(v);
      if (!(n > 0)) throw new RangeError(`--task-timeout needs a positive number of seconds (got "${v}")`);
      return n;
    })
    .option('--task-memory <MiB>', 'stop a render process that uses more memory (default: 60% of RAM over the slots, at least 2048)', (v) => {
      const n = Number(v);
      if (!(n >= 64)) throw new RangeError(`--task-memory needs at least 64 MiB (got "${v}")`);
      return n;
    })
    .option('--metrics-port <port>', 'serve Prometheus GET /metrics on this port (0: a free one; default off)', integer('--metrics-port', 0, 65535))
    .option('--metrics-host <host>', 'interface of the metrics listener (default 127.0.0.1: only local scrapers)')
    .option('--cores <n>', "CPU cores this node's render processes may use (default: all of this machine's); with slots that fill them, each slot draws on one rasterizer thread and a task alone on the node on all of them", integer('--cores', 1, 1024))
    .option('--session-slots <n>', 'interactive (VR) sessions served at once, each in its own render process (default 2; 0: none)', integer('--session-slots', 0, 64))
    .option(
      '--backend <backend>',
      'GL backends each render process runs: headless-gl (WebGL 1, default), chromium (WebGL 2 in headless Chromium for every scene) or auto (both: Chromium for scenes that need WebGL 2, i.e. transmission, volume and dispersion); the card lists them, and only nodes with WebGL 2 are given such scenes; sessions render on the backend a batch render of their scene would use (a session\'s own Chromium)',
      (v) => parseBackendChoice(v),
    )
    .option('--chromium-timeout <seconds>', 'with a Chromium backend: kill Chromium when one call into its page (a scene load, a tile) takes longer, failing the task so it is retried elsewhere (default 300; capped below --task-timeout)', (v) => {
      const n = Number(v);
      if (!(n > 0) || n > 86_400) throw new RangeError(`--chromium-timeout needs a positive number of seconds (got "${v}")`);
      return n;
    })
    .option(
      '--raster-threads <n>',
      "llvmpipe rasterizer threads per batch render process (LP_NUM_THREADS; 0: each draws on its own thread); default: LP_NUM_THREADS when set, else 0 when the slots fill the cores, else one per core. Session render processes keep Mesa's one per core (a person waits on each of their frames) unless LP_NUM_THREADS is set",
      integer('--raster-threads', 0, 256),
    )
    .option('--session-encode <mode>', "overlap (default: a session frame is encoded while the next pose renders) or serial (the next pose renders once the frame is encoded: lower latency per frame where the rasterizer threads fill the cores, fewer frames per second)", (v) => {
      if (v !== 'overlap' && v !== 'serial') throw new RangeError(`--session-encode is overlap or serial (got "${v}")`);
      return v;
    })
    .option('--tls-cert <file>', 'PEM certificate: serve GET /ping over https and sessions over wss:// (with --tls-key)')
    .option('--tls-key <file>', 'PEM private key for --tls-cert')
    .action(async function (this: Command) {
      const o = await settings(this);
      if ((o.tlsCert === undefined) !== (o.tlsKey === undefined)) throw new RangeError('--tls-cert and --tls-key go together');
      const tls = o.tlsCert ? { cert: await readFile(o.tlsCert), key: await readFile(o.tlsKey!) } : undefined;
      // Replace the CLI's default signal handling before starting: a signal during start-up (registration, render
      // processes, Chromium) stops the node as soon as it is up: drain first, then exit.
      let handle: Awaited<ReturnType<typeof startRenderNode>> | undefined;
      let stopRequested = false;
      const stopNode = (h: NonNullable<typeof handle>) => h.stop().then(() => process.exit(0), () => process.exit(1));
      for (const signal of ['SIGINT', 'SIGTERM'] as const) {
        process.removeAllListeners(signal);
        process.once(signal, () => {
          stopRequested = true;
          if (handle) void stopNode(handle);
        });
      }
      // A farm's node (`tessera farm up`): its parent holds the other end of stdin; when the parent dies, however,
      // stdin ends and the node stops (drains for at most PARENT_GONE_DRAIN_MS: the farm's API died with it) rather
      // than orphan. The variable is dropped so the node's own children do not inherit it.
      if (process.env[STOP_ON_STDIN_END] === '1') {
        delete process.env[STOP_ON_STDIN_END];
        // Also watch the parent's pid: a farm killed outright re-parents its nodes, whatever became of the pipe.
        const parent = process.ppid;
        let gone = false;
        const parentGone = (why: string) => {
          if (gone) return;
          gone = true;
          clearInterval(watch);
          // Its stdout and stderr went with it (EPIPE): nothing to tell, and no write may stop the exit.
          for (const stream of [process.stdout, process.stderr]) stream.on('error', () => {});
          process.stderr.write(`tessera node: the farm process is gone (${why}): stopping\n`);
          setTimeout(() => process.exit(1), PARENT_GONE_DRAIN_MS);
          stopRequested = true;
          if (handle) void stopNode(handle);
        };
        const watch = setInterval(() => process.ppid !== parent && parentGone(`re-parented from pid ${parent}`), PARENT_WATCH_MS);
        watch.unref();
        process.stdin.once('end', () => parentGone('stdin closed')).once('error', () => parentGone('stdin failed')).resume();
      }
      handle = await startRenderNode({
        ...sharedNodeSettings(o),
        region: o.region,
        taskTimeCapMs: o.taskTimeout === undefined ? undefined : o.taskTimeout * 1000,
        taskMemoryCapBytes: o.taskMemory === undefined ? undefined : o.taskMemory * 1024 * 1024,
        metricsPort: o.metricsPort,
        metricsHost: o.metricsHost,
        sessionSlots: o.sessionSlots,
        cores: o.cores,
        leasing: o.leasing,
        backend: o.backend,
        chromiumCallTimeoutMs: o.chromiumTimeout === undefined ? undefined : o.chromiumTimeout * 1000,
        rasterThreads: o.rasterThreads,
        sessionEncode: o.sessionEncode,
        tls,
      });
      if (handle.metricsUrl) process.stderr.write(`tessera node: metrics on ${handle.metricsUrl}\n`);
      if (stopRequested) void stopNode(handle);
      await handle.stopped;
    });
  nodeOptions(
    node
      .command('doctor')
      .description(
        'Check this machine as a render node for the API: GL (renderer, reference tile speed), Xvfb, memory, cache disk, ' +
          'whether the API reaches the probe URL, clock skew. Exit code 1 when the node would not work.',
      ),
  ).action(async function (this: Command) {
    const o = await settings(this);
    const findings = await runDoctor({
      ...sharedNodeSettings(o),
      log: createLogger('doctor', 'warn'),
    });
    const tag: Record<Severity, string> = { ok: 'ok  ', warn: 'WARN', fail: 'FAIL' };
    for (const f of findings) process.stdout.write(`${tag[f.severity]}  ${f.check}: ${f.message}\n`);
    const failed = findings.filter((f) => f.severity === 'fail').length;
    process.stdout.write(failed ? `\n${failed} problem(s): this node would not work until they are fixed.\n` : '\nThis node is ready: tessera node start with the same settings.\n');
    process.exit(failed ? 1 : 0);
  });
  return node;
}
