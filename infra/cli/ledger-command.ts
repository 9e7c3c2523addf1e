import { Command } from 'commander';
import { createTesseraClient } from '../../api/client/index.ts';
import type { JobLedger, NodeLedger, Usage } from '../../api/protocol/metering.ts';

const seconds = (u: Usage | undefined) => (u ? `${u.renderSeconds.toFixed(3)} s` : '—');

/** One line per node: credited render-seconds, tiles and jobs, its standing, and what is held and forfeited. */
export function formatNodeLedger(ledger: NodeLedger): string {
  const rows = ledger.nodes.map((n) => [n.nodeId, n.standing ?? 'good', `${n.renderSeconds.toFixed(3)} s`, String(n.tiles), String(n.jobs), seconds(n.held), seconds(n.forfeited)]);
  const head = ['node', 'standing', 'credited', 'tiles', 'jobs', 'held', 'forfeited'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  return [head, ...rows].map((r) => r.map((c, i) => c.padEnd(widths[i])).join('  ').trimEnd()).join('\n');
}

/** A job's credited total and per node, then what is held and forfeited. */
export function formatJobLedger(ledger: JobLedger): string {
  const lines = [`job ${ledger.jobId}: ${ledger.total.renderSeconds.toFixed(3)} render-seconds credited, ${ledger.total.megapixels.toFixed(3)} MP, ${ledger.total.tiles} tiles`];
  for (const [nodeId, u] of Object.entries(ledger.byNode)) lines.push(`  ${nodeId}  ${u.renderSeconds.toFixed(3)} s  ${u.tiles} tiles`);
  lines.push(`held ${seconds(ledger.held)} (nodes on probation), forfeited ${seconds(ledger.forfeited)} (nodes proven liars)`);
  return lines.join('\n');
}

/** `tessera ledger [--node ID | --job ID]`: accepted work per node (admin key) or of one job, as the API credits it. */
export function ledgerCommand(): Command {
  return new Command('ledger')
    .description("Credited work per node (admin key), or one job's: what each node earned, what is held (new identities) and what liars forfeited.")
    .requiredOption('--api <url>', 'the API, e.g. http://127.0.0.1:8080')
    .option('--api-key <key>', 'an API key (default: $TESSERA_API_KEY); per-node ledgers need an admin key')
    .option('--node <id>', 'only this node')
    .option('--job <id>', "this job's ledger instead (its owner's key or an admin's)")
    .option('--json', 'print the answer as JSON')
    .action(async (o: { api: string; apiKey?: string; node?: string; job?: string; json?: boolean }) => {
      const client = createTesseraClient({ baseUrl: o.api, apiKey: o.apiKey ?? process.env.TESSERA_API_KEY });
      const answer = o.job ? await client.jobLedger(o.job) : await client.ledger(o.node ? { node: o.node } : {});
      if (o.json) return void process.stdout.write(JSON.stringify(answer) + '\n');
      process.stdout.write((o.job ? formatJobLedger(answer as JobLedger) : formatNodeLedger(answer as NodeLedger)) + '\n');
    });
}
