import { readFile } from 'node:fs/promises';
import { Command } from 'commander';
import { startRenderNode } from '../../render-node/agent/start-render-node.ts';

/** `tessera node start --api URL …`: run a render node until SIGTERM/SIGINT, then drain and exit. */
export function nodeCommand(): Command {
  const node = new Command('node').description('Run a Tessera render node.');
  node
    .command('start')
    .description('Register with a farm API and render its tasks until stopped (SIGTERM drains).')
    .requiredOption('--api <url>', 'the edge API, e.g. http://127.0.0.1:8080')
    .option('--name <name>', 'node name (default: host-pid)')
    .option('--region <region>', 'region label')
    .option('--concurrency <n>', 'tasks in flight', (v) => {
      const n = Number(v);
      if (!Number.isInteger(n) || n < 1 || n > 64) throw new RangeError(`--concurrency is 1 to 64 (got "${v}")`);
      return n;
    })
    .option('--cache <dir>', 'scene cache folder')
    .option('--probe-port <port>', 'port of the node\'s GET /ping, which clients and peers time (default: a free one)', (v) => {
      const n = Number(v);
      if (!Number.isInteger(n) || n < 0 || n > 65535) throw new RangeError(`--probe-port is 0 to 65535 (got "${v}")`);
      return n;
    })
    .option('--probe-host <host>', 'interface GET /ping listens on', '0.0.0.0')
    .option('--probe-url <url>', 'the URL clients should ping, when they reach the node elsewhere (a proxy, NAT); default: http://127.0.0.1:PORT/ping')
    .option('--location <lat,lon>', 'where the node is, e.g. 52.37,4.90 (helps choose which nodes a located client pings)', (v) => {
      const [lat, lon] = v.split(',').map(Number);
      if (v.split(',').length !== 2 || !(Math.abs(lat) <= 90) || !(Math.abs(lon) <= 180)) throw new RangeError(`--location needs LAT,LON in degrees (got "${v}")`);
      return { lat, lon };
    })
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
    .option('--session-slots <n>', 'interactive (VR) sessions served at once, each in its own render process (default 2; 0: none)', (v) => {
      const n = Number(v);
      if (!Number.isInteger(n) || n < 0 || n > 64) throw new RangeError(`--session-slots is 0 to 64 (got "${v}")`);
      return n;
    })
    .option('--tls-cert <file>', 'PEM certificate: serve GET /ping over https and sessions over wss:// (with --tls-key)')
    .option('--tls-key <file>', 'PEM private key for --tls-cert')
    .action(async (o) => {
      if ((o.tlsCert === undefined) !== (o.tlsKey === undefined)) throw new RangeError('--tls-cert and --tls-key go together');
      const tls = o.tlsCert ? { cert: await readFile(o.tlsCert), key: await readFile(o.tlsKey) } : undefined;
      let url: URL;
      try {
        url = new URL(o.api);
      } catch {
        throw new RangeError(`--api "${o.api}" is not a URL`);
      }
      if (o.probeUrl !== undefined) {
        try {
          new URL(o.probeUrl);
        } catch {
          throw new RangeError(`--probe-url "${o.probeUrl}" is not a URL`);
        }
      }
      const handle = await startRenderNode({
        api: url.toString(),
        name: o.name,
        region: o.region,
        concurrency: o.concurrency,
        cacheDir: o.cache,
        probePort: o.probePort,
        probeHost: o.probeHost,
        probeUrl: o.probeUrl,
        location: o.location,
        sessionSlots: o.sessionSlots,
        tls,
        taskTimeCapMs: o.taskTimeout === undefined ? undefined : o.taskTimeout * 1000,
        taskMemoryCapBytes: o.taskMemory === undefined ? undefined : o.taskMemory * 1024 * 1024,
      });
      // Replace the CLI's default signal handling: drain first, then exit.
      for (const signal of ['SIGINT', 'SIGTERM'] as const) {
        process.removeAllListeners(signal);
        process.once(signal, () => {
          handle.stop().then(() => process.exit(0), () => process.exit(1));
        });
      }
      await handle.stopped;
    });
  return node;
}
