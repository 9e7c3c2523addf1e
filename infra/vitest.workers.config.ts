/**
 * The tests that run inside workerd (Cloudflare's runtime) through @cloudflare/vitest-pool-workers, with
 * the bindings of infra/wrangler.jsonc: the coordinator Durable Object on its SQLite storage. Run by
 * `npm run test:workers` and infra/test.sh. 0.12.21 is the last pool release for vitest 3.2. The Worker's storage
 * is a real S3 server started here (workers-test-storage.ts), so the coordinator's storage clean-up meets storage.
 */
import { fileURLToPath } from 'node:url';
import { defineWorkersConfig } from '@cloudflare/vitest-pool-workers/config';
import { startWorkersTestStorage } from './workers-test-storage.ts';

const root = fileURLToPath(new URL('..', import.meta.url));

export default defineWorkersConfig(async () => {
  const s3 = await startWorkersTestStorage();
  return {
    root,
    test: {
      include: ['test/workers/**/*.test.ts'],
      globalSetup: ['infra/workers-test-storage.ts'],
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
            bindings: { S3_ENDPOINT: s3.endpoint, S3_BUCKET: s3.bucket, S3_REGION: s3.region, S3_ACCESS_KEY_ID: s3.accessKeyId, S3_SECRET_ACCESS_KEY: s3.secretAccessKey, TESSERA_API_KEY: 'tsk_workers_test_operator_key' },
          },
        },
      },
    },
  };
});
