import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  root: fileURLToPath(new URL('..', import.meta.url)),
  test: {
    include: ['test/**/*.test.ts'],
    // Those run inside workerd (infra/vitest.workers.config.ts).
    exclude: ['test/workers/**', '**/node_modules/**'],
    // GL tests start their own Xvfb and context; separate processes keep them apart. 2 cores here.
    pool: 'forks',
    poolOptions: { forks: { maxForks: 2, minForks: 1 } },
    testTimeout: 120_000,
    hookTimeout: 120_000,
  },
});
