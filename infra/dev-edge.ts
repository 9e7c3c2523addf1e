/**
 * `npm run dev:edge`: the edge API under `wrangler dev` (workerd) on http://127.0.0.1:8787 with a local S3
 * server. Render nodes join with `npx tessera node start --api http://127.0.0.1:8787`. Ctrl-C stops both.
 * TESSERA_EDGE_PORT and TESSERA_API_KEY (the key clients must send) change the defaults.
 */
import { startEdgeDev } from './farm/start-edge-dev.ts';

const edge = await startEdgeDev({ port: Number(process.env.TESSERA_EDGE_PORT ?? 8787), apiKey: process.env.TESSERA_API_KEY });
process.stdout.write(`Edge API (workerd) at ${edge.url}, storage ${edge.s3.endpoint}/${edge.s3.bucket}\n`);
process.stdout.write(`Join a render node: npx tessera node start --api ${edge.url}\n`);
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => void edge.close().then(() => process.exit(0)));
}
