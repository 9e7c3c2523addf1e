import { Command } from 'commander';
import { createTesseraClient, type TesseraClient } from '../../api/client/index.ts';
import { ApiKeyRole } from '../../api/protocol/api-keys.ts';

const positive = (name: string) => (text: string) => {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`--${name} is a whole number of at least 1 (got "${text}")`);
  return n;
};

/** The options every keys subcommand takes: where the API is and the admin key to use. */
function withApi(command: Command): Command {
  return command
    .requiredOption('--api <url>', 'the API, e.g. http://127.0.0.1:8080')
    .option('--api-key <key>', 'an admin API key (default: $TESSERA_API_KEY)');
}

function clientFor(o: { api: string; apiKey?: string }): TesseraClient {
  return createTesseraClient({ baseUrl: o.api, apiKey: o.apiKey ?? process.env.TESSERA_API_KEY });
}

/** `tessera keys create|list|revoke`: manage client API keys with an admin key. */
export function keysCommand(): Command {
  const keys = new Command('keys').description('Manage API keys (needs an admin key: the one farm up prints, or TESSERA_API_KEY).');
  withApi(keys.command('create').description('Create a key and print it (it is shown only once).'))
    .requiredOption('--name <name>', 'who the key is for')
    .option('--role <role>', 'client (sees only its own scenes and jobs), admin, or node (a join token: registers render nodes only)', 'client')
    .option('--requests-per-minute <n>', 'sustained request rate', positive('requests-per-minute'))
    .option('--burst <n>', 'requests allowed at once above the rate', positive('burst'))
    .option('--max-active-jobs <n>', 'jobs queued or running at once', positive('max-active-jobs'))
    .option('--max-priority <n>', 'highest job priority it may ask for (0-100; client keys: 50)', positive('max-priority'))
    .option('--megapixels-per-day <n>', 'megapixels its jobs may add up to in 24 hours', positive('megapixels-per-day'))
    .option('--max-event-streams <n>', 'event streams it may hold open at once', positive('max-event-streams'))
    .option('--json', 'print the answer as JSON')
    .action(async (o) => {
      const role = ApiKeyRole.parse(o.role);
      const limits = {
        requestsPerMinute: o.requestsPerMinute,
        burst: o.burst,
        maxActiveJobs: o.maxActiveJobs,
        maxPriority: o.maxPriority,
        megapixelsPerDay: o.megapixelsPerDay,
        maxEventStreams: o.maxEventStreams,
      };
      const created = await clientFor(o).createKey({ name: o.name, role, limits });
      if (o.json) process.stdout.write(JSON.stringify(created) + '\n');
      else process.stdout.write(`${created.key}\n`);
      process.stderr.write(`tessera: created ${role} key ${created.keyId} for "${created.name}"; it is not shown again\n`);
    });
  withApi(keys.command('list').description('List the stored keys (never the keys themselves).'))
    .option('--json', 'print the answer as JSON')
    .action(async (o) => {
      const list = await clientFor(o).listKeys();
      if (o.json) return void process.stdout.write(JSON.stringify(list) + '\n');
      for (const k of list) {
        const state = k.revokedAt === null ? 'active' : `revoked ${new Date(k.revokedAt).toISOString()}`;
        process.stdout.write(`${k.keyId}  ${k.role.padEnd(6)}  ${state.padEnd(7)}  ${k.name}\n`);
      }
    });
  withApi(keys.command('revoke').description('Revoke a key; requests with it are refused from now on.'))
    .argument('<keyId>', 'the key id (key_…), from keys list')
    .action(async (keyId: string, o) => {
      const k = await clientFor(o).revokeKey(keyId);
      process.stdout.write(`revoked ${k.keyId} ("${k.name}")\n`);
    });
  return keys;
}
