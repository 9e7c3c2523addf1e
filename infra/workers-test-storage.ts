/**
 * Storage for the workerd suite: a real S3 server (s3rver, as the Node tests use) for the coordinator Durable
 * Object's storage clean-up. The JobStore contract ends jobs at synthetic times (epoch ms 1, 2, …), so their
 * clean-ups are due at once and the coordinator's alarm lists their outputs right away; with nothing listening at
 * wrangler.jsonc's S3_ENDPOINT every such sweep failed ("STORAGE_FAILED … Network connection lost") and was retried.
 * vitest.workers.config.ts starts it on a free port and points the Worker's S3_ENDPOINT at it; the global set-up's
 * teardown below stops it (both run in vitest's main process, so they meet on globalThis).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startLocalS3, type LocalS3 } from '../api/node/local-s3.ts';

const KEY = Symbol.for('tessera.workers-test-storage');
type Held = { s3: LocalS3; dir: string };

/** Start the suite's S3 server (once per process). */
export async function startWorkersTestStorage(): Promise<LocalS3> {
  const g = globalThis as { [KEY]?: Promise<Held> };
  g[KEY] ??= (async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tessera-workers-s3-'));
    return { s3: await startLocalS3({ dir }), dir };
  })();
  return (await g[KEY]).s3;
}

/** vitest global set-up: nothing to start (the config did), and the teardown stops the server. */
export default function setup(): () => Promise<void> {
  return async () => {
    const g = globalThis as { [KEY]?: Promise<Held> };
    const held = await g[KEY];
    delete g[KEY];
    if (!held) return;
    await held.s3.close();
    await rm(held.dir, { recursive: true, force: true });
  };
}
