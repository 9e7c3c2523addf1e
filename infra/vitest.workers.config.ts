/**
 * The tests that run inside workerd (Cloudflare's runtime) through @cloudflare/vitest-pool-workers, with
 * the bindings of infra/wrangler.jsonc: the coordinator Durable Object on its SQLite storage. Run by
 * `npm run test:workers` and infra/test.sh. 0.12.21 is the last pool release for vitest 3.2.
 */
import { fileURLToPath } from 'node:url';
import { defineWorkersConfig } from '@cloudflare/vitest-pool-workers/config';

const root = fileURLToPath(new URL('..', import.meta.url));

export default defineWorkersConfig({
  root,
  test: {
    include: ['test/workers/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    poolOptions: {
      workers: {
        // Each test opens its own coordinator by a fresh name, so storage needs no per-test snapshots
        // (which SQLite-backed objects do not support with isolated storage).
        isolatedStorage: false,
        singleWorker: true,
        wrangler: { configPath: './wrangler.jsonc' },
        miniflare: {
          bindings: { S3_ACCESS_KEY_ID: 'S3RVER', S3_SECRET_ACCESS_KEY: 'S3RVER', TESSERA_API_KEY: 'tsk_workers_test_operator_key' },
        },
      },
    },
  },
});
