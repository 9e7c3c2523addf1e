import { Command } from 'commander';
import { rename, rm, writeFile } from 'node:fs/promises';
import { hasWebAssets } from '../../api/node/web-assets.ts';
import { resolve } from 'node:path';
import { FARM_DEFAULTS, startFarm, type Farm } from '../farm/start-farm.ts';

const integer = (name: string, min: number, max: number) => (text: string) => {
  const n = Number(text);
  if (!Number.isInteger(n) || n < min || n > max) throw new RangeError(`--${name} is a whole number from ${min} to ${max} (got "${text}")`);
  return n;
};

const share = (name: string) => (text: string) => {
  const n = Number(text);
  if (!(text.trim() !== '' && n >= 0 && n <= 1)) throw new RangeError(`--${name} is a number from 0 to 1 (got "${text}")`);
  return n;
};

/** `tessera farm up`: S3 storage, the API and N render nodes on this machine, one log, one Ctrl-C to stop. */
export function farmCommand(): Command {
  const farm = new Command('farm').description('Run a whole render farm on this machine.');
  farm
    .command('up')
    .description('Start local S3 storage, the API and render nodes; Ctrl-C or SIGTERM stops them (nodes drain first).')
    .option('--nodes <n>', 'render nodes, one process each', integer('nodes', 0, 64), FARM_DEFAULTS.nodes)
    .option('--port <port>', 'API port (0: any free port)', integer('port', 0, 65535), FARM_DEFAULTS.port)
    .option('--host <host>', 'interface the API listens on', FARM_DEFAULTS.host)
    .option('--data <dir>', 'API database, stored objects and scene caches', FARM_DEFAULTS.dataDir)
    .option('--node-concurrency <n>', `tasks each node runs at once (default: the machine's cores shared by the nodes, 1 to ${FARM_DEFAULTS.nodeConcurrency})`, integer('node-concurrency', 1, 64))
    .option('--node-leasing <mode>', 'how nodes lease tasks: batched (default) or per-slot (one lease call per task, as before batching)', (v: string) => {
      if (v !== 'batched' && v !== 'per-slot') throw new RangeError(`--node-leasing is batched or per-slot (got "${v}")`);
      return v;
    })
    .option('--node-backend <backend>', 'the nodes\' GL backends: headless-gl (default), chromium or auto (Chromium for scenes that need WebGL 2: transmission, volume)', (v: string) => {
      if (v !== 'auto' && v !== 'chromium' && v !== 'headless-gl') throw new RangeError(`--node-backend is auto, chromium or headless-gl (got "${v}")`);
      return v;
    })
    .option('--verify-rate <share>', 'share of render results re-issued to another node to verify (0-1)', share('verify-rate'), FARM_DEFAULTS.verifyRate)
    .option('--ready-file <path>', 'write the API URL to this file once every node has registered (for scripts)')
    .action(async (o) => {
      const log = FARM_DEFAULTS.log;
      let farmRef: Farm | undefined;
      let signalled: NodeJS.Signals | undefined;
      const readyFile = o.readyFile ? resolve(o.readyFile) : undefined;
      const shutdown = async (code: number) => {
        if (readyFile) await rm(readyFile, { force: true });
        await farmRef?.stop();
        process.exit(code);
      };
      // First signal: stop in order (nodes drain). Second: kill the nodes and leave at once.
      const onSignal = (signal: NodeJS.Signals) => {
        if (signalled) {
          log(`[farm] ${signal} again: killing the nodes`);
          farmRef?.kill();
          process.exit(130);
        }
        signalled = signal;
        log(`[farm] ${signal}: stopping`);
        if (farmRef) void shutdown(0).catch(fatal);
      };
      process.on('SIGINT', onSignal);
      process.on('SIGTERM', onSignal);
      if (readyFile) await rm(readyFile, { force: true });

      const farm = await startFarm({ nodes: o.nodes, port: o.port, host: o.host, dataDir: o.data, nodeConcurrency: o.nodeConcurrency, nodeLeasing: o.nodeLeasing, nodeBackend: o.nodeBackend, verifyRate: o.verifyRate, log });
      farmRef = farm;
      if (signalled) return shutdown(0);
      try {
        await farm.ready;
      } catch (err) {
        log(`[farm] ${(err as Error).message}`);
        return shutdown(1);
      }
      if (signalled) return;
      log(`[farm] ready: API at ${farm.url} with ${farm.nodes.length} node(s); data in ${farm.dataDir}; Ctrl-C stops the farm`);
      if (hasWebAssets()) log(`[farm] web dashboard: ${farm.url}/ (sign in with the API key below); a browser tab joins as a render node at ${farm.url}/join`);
      const key = farm.apiKey;
      if (key.source === 'env') log('[farm] API key: TESSERA_API_KEY from the environment');
      else log(`[farm] API key (${key.source === 'created' ? 'new' : 'kept'} in ${key.file}): export TESSERA_API_KEY=${key.key}`);
      // The ready file comes last: whoever waits for it has every ready line printed before it.
      if (readyFile) {
        await writeFile(`${readyFile}.tmp`, farm.url + '\n');
        await rename(`${readyFile}.tmp`, readyFile);
      }
      // Runs until a signal: the servers keep the process alive.
    });
  return farm;
}

function fatal(err: unknown): never {
  process.stderr.write(`tessera: farm: ${(err as Error)?.stack ?? err}\n`);
  process.exit(1);
}
