/**
 * `npm run dev:edge`: the edge API under `wrangler dev` (workerd) on http://127.0.0.1:8787 with a local S3
 * server. Render nodes join with `npx tessera node start --api http://127.0.0.1:8787`. Ctrl-C stops both.
 * Clients send the operator's key: TESSERA_API_KEY when set, else one made once and kept in .data/edge.
 * TESSERA_EDGE_PORT changes the port.
 */
import { startEdgeDev } from './farm/start-edge-dev.ts';

const edge = await startEdgeDev({ port: Number(process.env.TESSERA_EDGE_PORT ?? 8787), apiKey: process.env.TESSERA_API_KEY });
process.stdout.write(`Edge API (workerd) at ${edge.url}, storage ${edge.s3.endpoint}/${edge.s3.bucket}\n`);
process.stdout.write(`Join a render node: npx tessera node start --api ${edge.url}\n`);
const keyNote = edge.apiKey.source === 'created' ? ' (new; kept in ' + edge.apiKey.file + ')' : edge.apiKey.source === 'file' ? ` (from ${edge.apiKey.file})` : '';
process.stdout.write(`Clients: TESSERA_API_KEY=${edge.apiKey.key}${keyNote}\n`);
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => void edge.close().then(() => process.exit(0)));
}
