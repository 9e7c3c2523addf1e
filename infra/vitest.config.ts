import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

const root = fileURLToPath(new URL('..', import.meta.url));
// Timing-sensitive files (infra/timing-tests.txt). TESSERA_TEST_PHASE=main: all but those (2 forks);
// =timing: only those, one file at a time; unset: everything (a file filter, an editor's test runner).
const timing = readFileSync(new URL('timing-tests.txt', import.meta.url), 'utf8')
  .split('\n')
  .map((l) => l.trim())
  .filter((l) => l && !l.startsWith('#'));
const phase = process.env.TESSERA_TEST_PHASE;

export default defineConfig({
  root,
  test: {
    include: phase === 'timing' ? timing : ['test/**/*.test.ts'],
    // Those run inside workerd (infra/vitest.workers.config.ts).
    exclude: ['test/workers/**', '**/node_modules/**', ...(phase === 'main' ? timing : [])],
    // GL tests start their own Xvfb and context; separate processes keep them apart. 2 cores here.
    pool: 'forks',
    poolOptions: { forks: { maxForks: phase === 'timing' ? 1 : 2, minForks: 1 } },
    fileParallelism: phase !== 'timing',
    testTimeout: 120_000,
    hookTimeout: 120_000,
  },
});
